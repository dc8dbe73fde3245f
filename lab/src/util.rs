//! The lab's external commands: bounded runs are `ocf::command`'s (the project's one runner:
//! own process group, killed at the deadline, failures shown with command line, status and
//! both output streams), re-exported under the names the lab's callers use; daemons are
//! started with their output appended to a log.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use ocf::command::{command_line, quote, run_bounded, run_checked, CommandFailed, Failure};

use crate::{io_err, LabError};

/// The deadline [`crate::Node::run`] uses.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts `cmd` detached from our pipes, stdout and stderr appended to `log`; stdin is
/// `/dev/null`. Not bounded: what it starts runs in the background (a daemon, a node's
/// holder) until the lab kills it at teardown.
pub(crate) fn spawn_logged(mut cmd: Command, log: &Path) -> Result<Child, LabError> {
    let what = || format!("open log {}", log.display());
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_err(what()))?;
    let err = out.try_clone().map_err(io_err(what()))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    cmd.spawn().map_err(|e| {
        LabError::Command(Box::new(CommandFailed {
            command: command_line(&cmd),
            failure: Failure::Spawn(e),
            stdout: Vec::new(),
            stderr: Vec::new(),
        }))
    })
}
