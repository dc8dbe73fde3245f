//! Is ganesha.nfsd running? Pid file plus identity, so that a pid reused by another program
//! never counts as a live daemon (the glusterfs ganesha_mon only checked `/proc/<pid>`).

use std::path::Path;

use nix::unistd::Pid;
use ocf::process::{self, PidFile, ProcessState};

/// What the pid file and `/proc` say about the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonState {
    /// The pid file names a live process with the daemon's command name.
    Running(Pid),
    /// Not running, and why (for logs and exit reasons).
    Stopped(String),
}

/// Checks the daemon whose pid file is `pid_file` and whose command name is `comm`.
pub fn state(pid_file: &Path, comm: &str) -> DaemonState {
    match process::read_pid_file(pid_file) {
        Ok(PidFile::Missing) => {
            DaemonState::Stopped(format!("pid file {} does not exist", pid_file.display()))
        }
        Ok(PidFile::Invalid(text)) => DaemonState::Stopped(format!(
            "pid file {} holds no process id ({text:?})",
            pid_file.display()
        )),
        Err(e) => DaemonState::Stopped(format!("cannot read pid file {}: {e}", pid_file.display())),
        Ok(PidFile::Pid(pid)) => match process::process_state(pid) {
            ProcessState::Running { comm: actual } if actual == comm => DaemonState::Running(pid),
            ProcessState::Running { comm: actual } => DaemonState::Stopped(format!(
                "pid {pid} from {} is '{actual}', not {comm} (stale pid file)",
                pid_file.display()
            )),
            ProcessState::Zombie => DaemonState::Stopped(format!("{comm} (pid {pid}) has exited")),
            ProcessState::Absent => DaemonState::Stopped(format!(
                "{comm} (pid {pid} from {}) is not running",
                pid_file.display()
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reused_pid_of_another_program_is_not_the_daemon() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let pid_file = dir.path().join("ganesha.pid");
        // Our own pid: alive, but not ganesha.nfsd.
        let _ = fs::write(&pid_file, format!("{}\n", std::process::id()));
        assert!(matches!(
            state(&pid_file, "ganesha.nfsd"),
            DaemonState::Stopped(reason) if reason.contains("stale pid file")
        ));
        let me = match process::process_state(Pid::this()) {
            ProcessState::Running { comm } => comm,
            _ => return,
        };
        assert_eq!(state(&pid_file, &me), DaemonState::Running(Pid::this()));
    }

    #[test]
    fn missing_or_garbage_pid_file_is_stopped() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let pid_file = dir.path().join("ganesha.pid");
        assert!(matches!(state(&pid_file, "x"), DaemonState::Stopped(_)));
        let _ = fs::write(&pid_file, "not a pid");
        assert!(matches!(state(&pid_file, "x"), DaemonState::Stopped(_)));
        let _ = fs::write(&pid_file, "999999999");
        assert!(matches!(state(&pid_file, "x"), DaemonState::Stopped(_)));
    }
}
