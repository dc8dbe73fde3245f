//! What can go wrong, with gluster's own words where gluster said something.

use std::time::Duration;

use crate::options::ConfigError;

/// A geo-replication operation that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The secondary is not `[USER@]HOST::VOLUME`.
    #[error("invalid secondary {0:?}: expected [USER@]HOST::VOLUME")]
    InvalidSecondary(String),
    /// A name gluster would reject (volume, host or user), refused before calling it.
    #[error("invalid {what} {value:?}: {why}")]
    InvalidName {
        what: &'static str,
        value: String,
        why: &'static str,
    },
    /// A config key or value refused by the option table; nothing was sent to gluster.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// gluster could not be run, or was killed when its time was up.
    #[error("{0}")]
    Run(#[from] ocf::command::CommandError),
    /// gluster answered with a failure: `opRet`/`opErrno`/`opErrstr` from its XML, or its
    /// exit code (1, 2, 255, ...) and message when it printed no XML.
    #[error("{command}: gluster failed (exit {exit_code}{}{}): {message}",
        op_ret.map(|r| format!(", opRet {r}")).unwrap_or_default(),
        op_errno.map(|r| format!(", opErrno {r}")).unwrap_or_default())]
    Gluster {
        command: String,
        exit_code: i32,
        op_ret: Option<i32>,
        op_errno: Option<i32>,
        message: String,
    },
    /// gluster has no such session.
    #[error("no geo-replication session {0}")]
    NoSession(String),
    /// gluster's output could not be understood.
    #[error("cannot read gluster's output: {0}")]
    Parse(String),
    /// A wait ran out of time.
    #[error("gave up after {after:.0?} waiting for {what}")]
    Timeout { after: Duration, what: String },
    /// The secondary's rsync is known to sync empty files.
    #[error("{0}")]
    BrokenRsync(String),
}

impl Error {
    /// gluster's own message, when the error came from gluster.
    pub fn gluster_message(&self) -> Option<&str> {
        match self {
            Error::Gluster { message, .. } => Some(message),
            _ => None,
        }
    }

    /// gluster refused because another operation held the cluster lock ("Another
    /// transaction is in progress", "Locking failed on ..."): the same command succeeds
    /// when retried a moment later. Several clone instances acting at once hit this.
    pub fn is_busy(&self) -> bool {
        self.gluster_message().is_some_and(is_busy_message)
    }

    /// gluster answered (opRet ≠ 0) that the volume does not exist.
    pub fn is_no_such_volume(&self) -> bool {
        matches!(self, Error::Gluster { op_ret: Some(_), message, .. }
            if message.starts_with("Volume ") && message.ends_with("does not exist"))
    }

    /// gluster itself did not answer: it could not be run, was killed at its bound, or
    /// printed no XML (glusterd down: "Connection failed. Please check if gluster daemon
    /// is operational."). Whatever was asked is unknown, not false.
    pub fn is_no_answer(&self) -> bool {
        matches!(self, Error::Run(_) | Error::Gluster { op_ret: None, .. })
    }
}

/// Whether gluster's text (its message, or a raw reply) says another transaction holds the
/// cluster lock: the same command succeeds when retried a moment later.
pub fn is_busy_message(text: &str) -> bool {
    text.contains("Another transaction is in progress")
        || text.contains("Locking failed")
        || text.contains("locking failed")
        || text.contains("Unable to acquire lock")
}
