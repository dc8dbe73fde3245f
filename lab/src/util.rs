//! The lab's bounded commands: `ocf::command`'s runner (the project's one: own process group,
//! killed at the deadline, failures shown with command line, status and both output
//! streams), re-exported under the names the lab's callers use.

use std::time::Duration;

pub use ocf::command::{command_line, quote, run_bounded, run_checked, CommandFailed, Failure};

/// The deadline [`crate::Node::run`] uses.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
