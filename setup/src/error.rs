//! Why a `ganesha-ha` command failed, and the one place that decides its exit status.

use std::time::Duration;

use ganesha_agents::dbus::DbusError;
use ocf::command::CommandError;

use crate::cib::CibError;
use crate::config::ConfigErrors;
use crate::install::InstallError;
use crate::status::StatusError;
use crate::transport::TransportError;

/// Exit status of every failure but geo-replication's.
const FAILED: u8 = 1;
/// `georep`: input refused before gluster was called.
const GEOREP_REFUSED: u8 = 3;
/// `georep`: gluster failed, or another error.
const GEOREP_FAILED: u8 = 4;
/// `georep`: a wait ran out of time.
const GEOREP_TIMED_OUT: u8 = 5;

/// A failed command. [`CliError::exit_code`] is the only mapping from failures to exit
/// statuses; adding a variant forces a decision there.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration file is unreadable or invalid: every problem with its line.
    #[error("{0}")]
    Config(ConfigErrors),
    /// Editing the configuration (`add`, `delete`) would make it invalid.
    #[error("{edit} would make the configuration invalid:\n{errors}")]
    InvalidEdit { edit: String, errors: ConfigErrors },
    /// Input refused before anything was changed (a node already in, a bad export name).
    #[error("{0}")]
    Refused(String),
    /// A local program failed, could not be run or was killed when its time was up.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A command on a node failed, or the node could not be reached.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The cluster, a node or the shared state is not in a state the command can work from.
    #[error("{0}")]
    Cluster(String),
    /// crm_mon's XML could not be read.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// The live CIB could not be read.
    #[error(transparent)]
    Cib(#[from] CibError),
    /// A wait ran out of time before what it waited for happened.
    #[error("{0}")]
    Timeout(String),
    /// The command's `--timeout` ran out during `source`, which it cut short.
    #[error("timed out after {}s (--timeout): {source}", .timeout.as_secs())]
    CutShort {
        timeout: Duration,
        source: Box<CliError>,
    },
    /// ganesha's D-Bus interface on this node.
    #[error(transparent)]
    Dbus(#[from] DbusError),
    /// A geo-replication operation.
    #[error(transparent)]
    Georep(#[from] georep::Error),
    /// Installing the agents.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// A file-system operation.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// `source`, while doing `context`.
    #[error("{context}: {source}")]
    Context {
        context: String,
        source: Box<CliError>,
    },
    /// A membership change failed and left the configuration file as it was.
    #[error("{0}\nthe configuration file is unchanged; rerun the command after fixing this")]
    ConfigKept(Box<CliError>),
}

impl From<ConfigErrors> for CliError {
    fn from(errors: ConfigErrors) -> CliError {
        CliError::Config(errors)
    }
}

impl CliError {
    /// An I/O failure with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> CliError {
        CliError::Io {
            context: context.into(),
            source,
        }
    }

    /// This error as the cause of a failure while doing `context`.
    pub fn context(self, context: impl Into<String>) -> CliError {
        CliError::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// Whether a wait or the command's budget ran out (through any context).
    pub fn is_timeout(&self) -> bool {
        match self {
            CliError::Timeout(_) | CliError::CutShort { .. } => true,
            CliError::Context { source, .. } | CliError::ConfigKept(source) => source.is_timeout(),
            _ => false,
        }
    }

    /// The exit status this failure ends the command with.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_)
            | CliError::InvalidEdit { .. }
            | CliError::Refused(_)
            | CliError::Command(_)
            | CliError::Transport(_)
            | CliError::Cluster(_)
            | CliError::Status(_)
            | CliError::Cib(_)
            | CliError::Timeout(_)
            | CliError::Dbus(_)
            | CliError::Install(_)
            | CliError::Io { .. } => FAILED,
            CliError::Georep(e) => match e {
                georep::Error::Config(_)
                | georep::Error::InvalidSecondary(_)
                | georep::Error::InvalidName { .. } => GEOREP_REFUSED,
                georep::Error::Timeout { .. } => GEOREP_TIMED_OUT,
                georep::Error::Run(_)
                | georep::Error::Gluster { .. }
                | georep::Error::NoSession(_)
                | georep::Error::Parse(_)
                | georep::Error::BrokenRsync(_) => GEOREP_FAILED,
            },
            CliError::CutShort { source, .. }
            | CliError::Context { source, .. }
            | CliError::ConfigKept(source) => source.exit_code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_and_budget_keep_the_cause_and_its_exit_status() {
        let refused = georep::Error::InvalidSecondary("h:v".into());
        let e = CliError::from(refused).context("ganesha-ha georep");
        assert_eq!(e.exit_code(), GEOREP_REFUSED);
        assert!(e
            .to_string()
            .starts_with("ganesha-ha georep: invalid secondary"));
        let slow = CliError::CutShort {
            timeout: Duration::from_secs(3),
            source: Box::new(CliError::Cluster("x".into()).context("reading")),
        };
        assert_eq!(
            slow.to_string(),
            "timed out after 3s (--timeout): reading: x"
        );
        assert_eq!(slow.exit_code(), FAILED);
        assert!(CliError::ConfigKept(Box::new(slow)).is_timeout());
        assert!(!CliError::Refused("no".into()).is_timeout());
    }
}
