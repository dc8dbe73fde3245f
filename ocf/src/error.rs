//! Agent errors and the one place that decides their OCF exit code.

use std::time::Duration;

use crate::attrs::AttrError;
use crate::command::{CommandError, CommandErrorKind};
use crate::{Action, ExitCode};

/// Why an action failed. [`OcfError::exit_code`] is the only mapping from failures to OCF
/// codes; adding a variant forces a decision there.
#[derive(Debug, thiserror::Error)]
pub enum OcfError {
    /// A parameter is missing or inherently invalid: wrong everywhere, so Pacemaker stops the
    /// resource on every node (OCF_ERR_CONFIGURED).
    #[error("parameter {param}: {problem}")]
    Configured { param: String, problem: String },
    /// The configuration is valid in general but cannot work on this host.
    #[error("{0}")]
    InvalidHere(String),
    /// Software the agent needs is missing here.
    #[error("{what} is not installed: {detail}")]
    NotInstalled { what: String, detail: String },
    /// The agent lacks a privilege it needs.
    #[error("insufficient privileges: {0}")]
    Permission(String),
    /// The agent does not implement the action.
    #[error("action '{0}' is not implemented by this agent")]
    Unimplemented(Action),
    /// Monitor: the resource is not running, and this says why (reported unless probing).
    #[error("{0}")]
    NotRunning(String),
    /// A bounded wait ran out of time.
    #[error("{what} did not complete within {after:.1?}")]
    Timeout { what: String, after: Duration },
    /// An external command failed.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A node attribute could not be read or written.
    #[error(transparent)]
    Attribute(#[from] AttrError),
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Any other failure of the managed service.
    #[error("{0}")]
    Generic(String),
}

impl OcfError {
    /// A parameter problem (exit 6).
    pub fn configured(param: impl Into<String>, problem: impl Into<String>) -> OcfError {
        OcfError::Configured {
            param: param.into(),
            problem: problem.into(),
        }
    }

    /// An I/O failure with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> OcfError {
        OcfError::Io {
            context: context.into(),
            source,
        }
    }

    /// A generic failure (exit 1).
    pub fn generic(message: impl Into<String>) -> OcfError {
        OcfError::Generic(message.into())
    }

    /// The OCF code this failure is reported as.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            OcfError::Configured { .. } => ExitCode::ErrConfigured,
            OcfError::InvalidHere(_) => ExitCode::ErrArgs,
            OcfError::NotInstalled { .. } => ExitCode::ErrInstalled,
            OcfError::Permission(_) => ExitCode::ErrPerm,
            OcfError::Unimplemented(_) => ExitCode::ErrUnimplemented,
            OcfError::NotRunning(_) => ExitCode::NotRunning,
            OcfError::Timeout { .. } => ExitCode::ErrGeneric,
            OcfError::Command(e) => match e.kind() {
                CommandErrorKind::NotFound => ExitCode::ErrInstalled,
                CommandErrorKind::Spawn(_)
                | CommandErrorKind::TimedOut(_)
                | CommandErrorKind::Failed { .. } => ExitCode::ErrGeneric,
            },
            OcfError::Attribute(_) => ExitCode::ErrGeneric,
            OcfError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::PermissionDenied => ExitCode::ErrPerm,
                _ => ExitCode::ErrGeneric,
            },
            OcfError::Generic(_) => ExitCode::ErrGeneric,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_problems_are_err_configured_and_name_the_parameter() {
        let e = OcfError::configured("pid_file", "must be an absolute path");
        assert_eq!(e.exit_code(), ExitCode::ErrConfigured);
        assert_eq!(
            e.to_string(),
            "parameter pid_file: must be an absolute path"
        );
    }

    #[test]
    fn missing_software_is_err_installed() {
        let e = OcfError::NotInstalled {
            what: "ganesha.nfsd".into(),
            detail: "/usr/bin/ganesha.nfsd does not exist".into(),
        };
        assert_eq!(e.exit_code(), ExitCode::ErrInstalled);
        let io = OcfError::io(
            "reading x",
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert_eq!(io.exit_code(), ExitCode::ErrPerm);
    }
}
