//! The lab's error type: what went wrong, worded for the person who runs the lab.

use std::io;
use std::time::Duration;

use crate::util::CommandFailed;

/// Errors of the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab creates namespaces and mounts: it must run as root.
    #[error("ganesha-lab needs root (it creates network namespaces and mounts); run as root")]
    NotRoot,
    /// Required programs or accounts are missing.
    #[error("missing: {missing}; install with: apt-get install -y {packages}")]
    Missing {
        /// What is missing.
        missing: String,
        /// The Debian packages that provide it.
        packages: String,
    },
    /// Network namespaces do not work on this host.
    #[error("network namespaces do not work here (the lab needs them): {0}")]
    NoNetns(String),
    /// A lab with this name already runs.
    #[error("a lab named {name:?} is already running: {detail}")]
    AlreadyRunning {
        /// The lab's name.
        name: String,
        /// Its state file, or what else shows it runs.
        detail: String,
    },
    /// A node address of the lab is in use on the host.
    #[error(
        "an address of subnet {subnet} is in use on this host ({detail}); choose another subnet"
    )]
    AddressInUse {
        /// The lab's subnet.
        subnet: String,
        /// The host's interface and address.
        detail: String,
    },
    /// The options do not describe a lab that can be built.
    #[error("invalid lab options: {0}")]
    Options(String),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An external command failed (its Display shows command, status, stdout and stderr).
    #[error(transparent)]
    Command(Box<CommandFailed>),
    /// Something did not happen within its time bound.
    #[error("timed out after {waited:?} waiting for {what}\n{detail}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
        /// Last observations and log tails.
        detail: String,
    },
    /// A daemon or setup step failed in another way.
    #[error("{0}")]
    Setup(String),
    /// Teardown could not undo everything.
    #[error("lab teardown left problems:\n{}", .0.join("\n"))]
    Teardown(Vec<String>),
}

impl From<CommandFailed> for LabError {
    fn from(e: CommandFailed) -> Self {
        LabError::Command(Box::new(e))
    }
}

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}
