//! External commands with a time bound.
//!
//! Every command an agent runs gets at most what is left of the action's [`Deadline`]. The
//! child runs in its own process group so that, on timeout, it and anything it started are
//! killed together; failures carry the command line, status and output so that logs show
//! what went wrong.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::process::wait_child;

/// Why a command did not succeed.
#[derive(Debug)]
pub enum CommandErrorKind {
    /// The program does not exist.
    NotFound,
    /// It could not be started for another reason.
    Spawn(io::Error),
    /// It was still running when its time was up, and was killed.
    TimedOut(Duration),
    /// It exited unsuccessfully.
    Failed {
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },
}

/// A command that failed, with its command line.
#[derive(Debug)]
pub struct CommandError {
    command: String,
    kind: CommandErrorKind,
}

impl CommandError {
    /// What went wrong.
    pub fn kind(&self) -> &CommandErrorKind {
        &self.kind
    }

    /// The command line, for messages.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The exit code, if the command ran and exited.
    pub fn exit_code(&self) -> Option<i32> {
        match &self.kind {
            CommandErrorKind::Failed { status, .. } => status.code(),
            _ => None,
        }
    }

    /// The command's stderr, if it ran.
    pub fn stderr(&self) -> &str {
        match &self.kind {
            CommandErrorKind::Failed { stderr, .. } => stderr,
            _ => "",
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CommandErrorKind::NotFound => write!(f, "{}: program not found", self.command),
            CommandErrorKind::Spawn(e) => write!(f, "{}: could not start: {e}", self.command),
            CommandErrorKind::TimedOut(after) => {
                write!(
                    f,
                    "{}: killed after {after:.1?} without finishing",
                    self.command
                )
            }
            CommandErrorKind::Failed {
                status,
                stdout,
                stderr,
            } => {
                write!(f, "{}: {}", self.command, describe_status(status))?;
                let detail = one_line(if stderr.trim().is_empty() {
                    stdout
                } else {
                    stderr
                });
                if !detail.is_empty() {
                    write!(f, ": {detail}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for CommandError {}

impl CommandError {
    /// A stand-in for an unreachable cluster tool, for recording test doubles.
    pub fn fake_unreachable() -> CommandError {
        CommandError {
            command: "(test double)".to_owned(),
            kind: CommandErrorKind::NotFound,
        }
    }
}

fn describe_status(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "ended abnormally".to_owned(),
    }
}

/// Collapses output to one line, as `ocf_run` does, so a log record stays one record.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Renders a command line for messages (not for execution: nothing here goes through a shell).
pub fn display(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Runs `cmd` for at most `bound` and returns its output whatever its exit status.
pub fn output(cmd: &mut Command, bound: Duration) -> Result<Output, CommandError> {
    output_with_input(cmd, None, bound)
}

/// [`output`] with `input` written to the command's stdin (then closed); `None`: stdin is
/// `/dev/null`. The write happens on a thread, so a command that never reads cannot block us
/// beyond `bound`.
pub fn output_with_input(
    cmd: &mut Command,
    input: Option<&[u8]>,
    bound: Duration,
) -> Result<Output, CommandError> {
    let command = display(cmd);
    let fail = |kind| CommandError {
        command: command.clone(),
        kind,
    };
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        fail(if e.kind() == io::ErrorKind::NotFound {
            CommandErrorKind::NotFound
        } else {
            CommandErrorKind::Spawn(e)
        })
    })?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        let data = data.to_vec();
        thread::spawn(move || {
            // A command that exits without reading gets EPIPE here; its status tells.
            let _ = stdin.write_all(&data);
        });
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    match wait_child(&mut child, bound) {
        Ok(Some(status)) => Ok(Output {
            status,
            // The readers finish when the pipes close; a grandchild that kept them open must
            // not hold us beyond a short grace period.
            stdout: collect(stdout, Duration::from_millis(200)),
            stderr: collect(stderr, Duration::from_millis(200)),
        }),
        Ok(None) => {
            kill_group(&mut child);
            Err(fail(CommandErrorKind::TimedOut(bound)))
        }
        Err(e) => {
            kill_group(&mut child);
            Err(fail(CommandErrorKind::Spawn(e)))
        }
    }
}

/// Runs `cmd` for at most `bound`; a non-zero exit is an error.
pub fn run(cmd: &mut Command, bound: Duration) -> Result<Output, CommandError> {
    let out = output(cmd, bound)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(CommandError {
            command: display(cmd),
            kind: CommandErrorKind::Failed {
                status: out.status,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            },
        })
    }
}

fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    rx
}

fn collect(rx: mpsc::Receiver<Vec<u8>>, grace: Duration) -> Vec<u8> {
    rx.recv_timeout(grace).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn captures_output_and_status() {
        let out = run(Command::new("printf").arg("a b"), Duration::from_secs(5));
        assert_eq!(out.map(|o| o.stdout).ok(), Some(b"a b".to_vec()));
    }

    #[test]
    fn failure_reports_command_status_and_stderr() {
        let err = run(
            Command::new("sh").args(["-c", "echo boom >&2; exit 3"]),
            Duration::from_secs(5),
        )
        .err()
        .map(|e| (e.exit_code(), e.to_string()));
        assert_eq!(
            err,
            Some((
                Some(3),
                "sh -c 'echo boom >&2; exit 3': exited with status 3: boom".to_string()
            ))
        );
    }

    #[test]
    fn missing_program_is_not_found() {
        let err = run(
            &mut Command::new("/nonexistent/prog"),
            Duration::from_secs(1),
        )
        .err();
        assert!(matches!(
            err.as_ref().map(|e| e.kind()),
            Some(CommandErrorKind::NotFound)
        ));
    }

    #[test]
    fn timeout_kills_the_whole_process_group_in_time() {
        let started = Instant::now();
        let err = run(
            // The grandchild holds the pipes open; it must die with the group.
            Command::new("sh").args(["-c", "sleep 30 & sleep 30"]),
            Duration::from_millis(300),
        )
        .err();
        assert!(matches!(
            err.as_ref().map(|e| e.kind()),
            Some(CommandErrorKind::TimedOut(_))
        ));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
    }
}
