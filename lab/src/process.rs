//! Looking processes up by pid, for callers outside the lab (tests, the CLI).

use nix::unistd::Pid;

use crate::sys;

/// The state letter of a process (`R`, `S`, `T` for stopped, `Z` for a zombie, ...), `None`
/// when it does not exist.
pub fn process_state(pid: Pid) -> Option<char> {
    sys::process_state(pid.as_raw())
}

/// The command name of a process (`/proc/<pid>/comm`), `None` when it does not exist.
pub fn process_name(pid: Pid) -> Option<String> {
    sys::comm(pid.as_raw())
}
