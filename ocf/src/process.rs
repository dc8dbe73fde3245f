//! Processes the agent does not own: pid files, identity checks, bounded waits and
//! escalating termination (the `ocf_pidfile_status` / `ocf_stop_processes` of
//! ocf-shellfuncs, with deadlines).

use std::fs;
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::Deadline;

/// What a pid file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PidFile {
    /// No pid file.
    Missing,
    /// A pid file whose content is not a positive process id.
    Invalid(String),
    /// A process id.
    Pid(Pid),
}

/// Reads a pid file.
pub fn read_pid_file(path: &Path) -> io::Result<PidFile> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(match text.trim().parse::<i32>() {
            Ok(pid) if pid > 0 => PidFile::Pid(Pid::from_raw(pid)),
            _ => PidFile::Invalid(text.trim().chars().take(40).collect()),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(PidFile::Missing),
        Err(e) => Err(e),
    }
}

/// What runs under a pid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// No such process.
    Absent,
    /// Exited but not reaped.
    Zombie,
    /// A live process with this command name (`/proc/<pid>/comm`).
    Running { comm: String },
}

/// Looks a process up in `/proc`.
pub fn process_state(pid: Pid) -> ProcessState {
    let stat = match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat,
        Err(_) => return ProcessState::Absent,
    };
    // Format: "pid (comm) S ...": comm may hold spaces and parentheses, so split at the
    // last ')'.
    let (head, tail) = match stat.rsplit_once(')') {
        Some(parts) => parts,
        None => return ProcessState::Absent,
    };
    let comm = head.split_once('(').map(|(_, c)| c).unwrap_or_default();
    match tail.split_whitespace().next() {
        Some("Z") | Some("X") | Some("x") => ProcessState::Zombie,
        _ => ProcessState::Running {
            comm: comm.to_owned(),
        },
    }
}

/// The `comm` the kernel records for an executable: its file name cut to 15 bytes.
pub fn comm_of(program: &Path) -> String {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// Whether `pid` is alive and runs the program whose comm is `expected` (a reused pid of
/// another program does not count).
pub fn is_running_as(pid: Pid, expected: &str) -> bool {
    matches!(process_state(pid), ProcessState::Running { comm } if comm == expected)
}

/// A pidfd, so that a process we did not start can be waited for with a timeout.
fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new file descriptor or -1; the
    // descriptor is owned by nothing else, so OwnedFd may take it.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
    // SAFETY: fd was just returned by the kernel and is valid and unowned.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Blocks until `fd` is readable (the process exited) or `bound` passes. `true` if it did.
fn poll_readable(fd: &OwnedFd, bound: Duration) -> io::Result<bool> {
    let started = Instant::now();
    loop {
        let left = bound.saturating_sub(started.elapsed());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) if started.elapsed() >= bound => return Ok(false),
            Ok(0) => continue,
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits for a process that is not our child to end, until `deadline`. `true` if it ended.
pub fn wait_for_exit(pid: Pid, deadline: Deadline) -> bool {
    match pidfd_open(pid) {
        Ok(fd) => poll_readable(&fd, deadline.remaining()).unwrap_or(false) || !is_alive(pid),
        Err(e) if e.raw_os_error() == Some(nix::libc::ESRCH) => true,
        // Kernels without pidfd: poll /proc.
        Err(_) => loop {
            if !is_alive(pid) {
                return true;
            }
            if deadline.expired() {
                return false;
            }
            std::thread::sleep(deadline.bound(Duration::from_millis(10)));
        },
    }
}

/// Alive and not a zombie.
pub fn is_alive(pid: Pid) -> bool {
    matches!(process_state(pid), ProcessState::Running { .. })
}

/// Waits for our own child for at most `bound`; `None` if it is still running.
pub fn wait_child(child: &mut Child, bound: Duration) -> io::Result<Option<ExitStatus>> {
    if let Some(status) = child.try_wait()? {
        return Ok(Some(status));
    }
    let pid = i32::try_from(child.id()).map_err(|_| io::Error::other("pid out of range"))?;
    match pidfd_open(Pid::from_raw(pid)) {
        Ok(fd) => {
            if poll_readable(&fd, bound)? {
                child.wait().map(Some)
            } else {
                child.try_wait()
            }
        }
        Err(_) => {
            let started = Instant::now();
            let mut pause = Duration::from_micros(200);
            loop {
                if let Some(status) = child.try_wait()? {
                    return Ok(Some(status));
                }
                if started.elapsed() >= bound {
                    return Ok(None);
                }
                std::thread::sleep(pause.min(bound.saturating_sub(started.elapsed())));
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    }
}

/// How a [`terminate`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// The process was not running.
    NotRunning,
    /// It exited after this signal (or on its own, `None`).
    Exited(Option<Signal>),
    /// It survived everything until the deadline.
    Survived,
}

/// Sends each signal in turn, giving the process until that step's deadline to exit, and
/// ends with SIGKILL if it is still there. Steps share the overall `deadline`. Each signal is
/// followed by SIGCONT (as systemd does): a stopped process would otherwise keep the signal
/// pending until its step's deadline.
pub fn terminate(pid: Pid, steps: &[(Signal, Deadline)], deadline: Deadline) -> Termination {
    if !is_alive(pid) {
        return Termination::NotRunning;
    }
    for (signal, step_deadline) in steps {
        match kill(pid, *signal) {
            Err(Errno::ESRCH) => return Termination::Exited(None),
            Err(e) => tracing::warn!("sending {signal} to {pid}: {e}"),
            Ok(()) => {
                let _ = kill(pid, Signal::SIGCONT);
            }
        }
        if wait_for_exit(pid, *step_deadline) {
            return Termination::Exited(Some(*signal));
        }
        tracing::warn!("process {pid} still running after {signal}");
    }
    match kill(pid, Signal::SIGKILL) {
        Err(Errno::ESRCH) => return Termination::Exited(None),
        Err(e) => tracing::warn!("sending SIGKILL to {pid}: {e}"),
        Ok(()) => {}
    }
    if wait_for_exit(pid, deadline) {
        Termination::Exited(Some(Signal::SIGKILL))
    } else {
        Termination::Survived
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn pid_file_states() {
        let dir = tempfile::tempdir().ok();
        let Some(dir) = dir else { return };
        let path = dir.path().join("p.pid");
        assert_eq!(read_pid_file(&path).ok(), Some(PidFile::Missing));
        let _ = fs::write(&path, "garbage\n");
        assert_eq!(
            read_pid_file(&path).ok(),
            Some(PidFile::Invalid("garbage".into()))
        );
        let _ = fs::write(&path, " 42\n");
        assert_eq!(
            read_pid_file(&path).ok(),
            Some(PidFile::Pid(Pid::from_raw(42)))
        );
    }

    #[test]
    fn identity_check_rejects_other_programs() {
        let me = Pid::this();
        let comm = match process_state(me) {
            ProcessState::Running { comm } => comm,
            other => {
                assert_eq!(other, ProcessState::Absent, "unexpected state");
                return;
            }
        };
        assert!(is_running_as(me, &comm));
        assert!(!is_running_as(me, "ganesha.nfsd"));
        assert_eq!(comm_of(Path::new("/usr/bin/ganesha.nfsd")), "ganesha.nfsd");
        assert_eq!(
            comm_of(Path::new("/x/a-very-long-program-name")),
            "a-very-long-pro"
        );
    }

    #[test]
    fn terminate_ends_a_stopped_process_with_its_first_signal() {
        let child = Command::new("sleep").arg("30").spawn();
        let Ok(mut child) = child else { return };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGSTOP);
        let reaper = std::thread::spawn(move || child.wait());
        let result = terminate(
            pid,
            &[(Signal::SIGTERM, Deadline::after(Duration::from_secs(5)))],
            Deadline::after(Duration::from_secs(10)),
        );
        assert_eq!(result, Termination::Exited(Some(Signal::SIGTERM)));
        let _ = reaper.join();
    }

    #[test]
    fn terminate_escalates_to_sigkill_within_deadline() {
        // A shell that ignores SIGTERM.
        let child = Command::new("sh")
            .args(["-c", "trap '' TERM; while :; do sleep 0.05; done"])
            .spawn();
        let Ok(mut child) = child else { return };
        std::thread::sleep(Duration::from_millis(100));
        let pid = Pid::from_raw(child.id() as i32);
        // Reap in the background so the zombie does not count as alive forever.
        let reaper = std::thread::spawn(move || child.wait());
        let started = Instant::now();
        let overall = Deadline::after(Duration::from_secs(5));
        let result = terminate(
            pid,
            &[(Signal::SIGTERM, Deadline::after(Duration::from_millis(300)))],
            overall,
        );
        assert_eq!(result, Termination::Exited(Some(Signal::SIGKILL)));
        assert!(started.elapsed() < Duration::from_secs(3));
        let _ = reaper.join();
    }
}
