//! Running external commands with a deadline, in the spirit of ripgrep's test utilities.
//!
//! Every external call the lab makes goes through [`run_bounded`] or [`run_checked`]: the child
//! runs in its own process group, its stdout and stderr are captured, and when the deadline
//! passes the whole group is killed with `SIGKILL`. The error type, [`CommandFailed`], prints
//! the full command line, the exit status and both output streams, so a failing test tells
//! what happened without a re-run.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// The deadline [`crate::Node::run`] uses.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long to wait for the output pipes to close after the child itself has ended
/// (a grandchild that escaped the process group may hold them open).
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// It could not be started.
    Spawn(io::Error),
    /// Waiting for it failed.
    Wait(io::Error),
    /// It ran past its deadline and was killed.
    TimedOut(Duration),
    /// It ended with a non-zero status or by a signal.
    Status(ExitStatus),
}

/// A command that failed, with everything needed to understand why.
#[derive(Debug)]
pub struct CommandFailed {
    /// The command line, shell-quoted for reading (environment overrides first).
    pub command: String,
    /// What went wrong.
    pub failure: Failure,
    /// What it wrote to stdout (possibly partial).
    pub stdout: Vec<u8>,
    /// What it wrote to stderr (possibly partial).
    pub stderr: Vec<u8>,
}

impl CommandFailed {
    /// The exit status, when the command ran to its end.
    pub fn status(&self) -> Option<ExitStatus> {
        match self.failure {
            Failure::Status(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for CommandFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command failed: {}", self.command)?;
        match &self.failure {
            Failure::Spawn(e) => writeln!(f, "status: could not start: {e}")?,
            Failure::Wait(e) => writeln!(f, "status: could not wait: {e}")?,
            Failure::TimedOut(t) => writeln!(f, "status: killed after its timeout of {t:?}")?,
            Failure::Status(s) => writeln!(f, "status: {s}")?,
        }
        write_stream(f, "stdout", &self.stdout)?;
        write_stream(f, "stderr", &self.stderr)
    }
}

fn write_stream(f: &mut fmt::Formatter<'_>, name: &str, data: &[u8]) -> fmt::Result {
    let text = String::from_utf8_lossy(data);
    let text = text.trim_end();
    if text.is_empty() {
        writeln!(f, "{name}: (empty)")
    } else {
        writeln!(f, "---- {name} ----")?;
        writeln!(f, "{text}")?;
        writeln!(f, "---- end {name} ----")
    }
}

impl std::error::Error for CommandFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            Failure::Spawn(e) | Failure::Wait(e) => Some(e),
            _ => None,
        }
    }
}

/// Runs `cmd` to its end (or its deadline) and fails unless it exits with status 0.
///
/// stdin is `/dev/null`, stdout and stderr are captured. The command is put in a new process
/// group; on timeout that group is killed with `SIGKILL`.
pub fn run_checked(cmd: &mut Command, timeout: Duration) -> Result<Output, CommandFailed> {
    let out = run_bounded(cmd, timeout)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(CommandFailed {
            command: command_line(cmd),
            failure: Failure::Status(out.status),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// Like [`run_checked`] but a non-zero exit is not an error: only failing to start, failing to
/// wait and running past the deadline are.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<Output, CommandFailed> {
    let fail = |cmd: &Command, failure, stdout, stderr| CommandFailed {
        command: command_line(cmd),
        failure,
        stdout,
        stderr,
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Err(fail(cmd, Failure::Spawn(e), Vec::new(), Vec::new())),
    };
    let out_rx = child.stdout.take().map(drain);
    let err_rx = child.stderr.take().map(drain);
    let start = Instant::now();
    let deadline = start + timeout;
    let mut pause = Duration::from_millis(1);
    let result = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&mut child);
                break Err(Failure::TimedOut(timeout));
            }
            Ok(None) => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(25));
            }
            Err(e) => {
                kill_group(&mut child);
                break Err(Failure::Wait(e));
            }
        }
    };
    let grace_end = Instant::now() + PIPE_GRACE;
    let stdout = collect(out_rx, grace_end);
    let stderr = collect(err_rx, grace_end);
    match result {
        Ok(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        Err(failure) => Err(fail(cmd, failure, stdout, stderr)),
    }
}

/// Kills the child's process group (the child is its leader) and reaps the child.
fn kill_group(child: &mut std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // The child is not reaped yet, so its pid (= the group id) cannot have been reused.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads a pipe to its end on a helper thread; the receiver gets the bytes.
fn drain<R: Read + Send + 'static>(mut pipe: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name("lab-pipe".into())
        .spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start a pipe reader thread: {e}");
    }
    rx
}

fn collect(rx: Option<mpsc::Receiver<Vec<u8>>>, until: Instant) -> Vec<u8> {
    rx.and_then(|rx| {
        rx.recv_timeout(until.saturating_duration_since(Instant::now()))
            .ok()
    })
    .unwrap_or_default()
}

/// Renders a command for humans: `K=V ... program arg ...`, quoted where needed.
pub fn command_line(cmd: &Command) -> String {
    let mut parts = Vec::new();
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => parts.push(format!("{}={}", k.to_string_lossy(), quote(v))),
            None => parts.push(format!("-u {}", k.to_string_lossy())),
        }
    }
    if !parts.is_empty() {
        parts.insert(0, "env".to_string());
    }
    parts.push(quote(cmd.get_program()));
    parts.extend(cmd.get_args().map(quote));
    let mut line = parts.join(" ");
    if let Some(dir) = cmd.get_current_dir() {
        line.push_str(&format!("  (in {})", dir.display()));
    }
    line
}

/// Quotes one word the way a POSIX shell would need it.
pub fn quote(word: impl AsRef<OsStr>) -> String {
    let s = word.as_ref().to_string_lossy();
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '+' | '@' | '%')
        });
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn success_returns_output() {
        let out =
            run_checked(Command::new("echo").arg("hi there"), Duration::from_secs(5)).unwrap();
        assert_eq!(out.stdout, b"hi there\n");
    }

    #[test]
    fn failure_shows_everything() {
        let err = run_checked(
            Command::new("ls")
                .arg("/nonexistent path")
                .env("LC_ALL", "C"),
            Duration::from_secs(5),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("env LC_ALL=C ls '/nonexistent path'"),
            "{text}"
        );
        assert!(text.contains("exit status: 2"), "{text}");
        assert!(text.contains("No such file"), "{text}");
        assert!(err.status().is_some());
    }

    #[test]
    fn timeout_kills() {
        let start = Instant::now();
        let err =
            run_checked(Command::new("sleep").arg("30"), Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err.failure, Failure::TimedOut(_)));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("killed after its timeout"));
    }

    #[test]
    fn spawn_error() {
        let err = run_checked(
            &mut Command::new("/nonexistent/prog"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(matches!(err.failure, Failure::Spawn(_)));
    }
}
