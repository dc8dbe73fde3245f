//! External commands with a time bound.
//!
//! Every command an agent runs gets at most what is left of the action's [`Deadline`]. The
//! child runs in its own process group so that, on timeout, it and anything it started are
//! killed together; failures carry the command line, status and output so that logs show
//! what went wrong.
//!
//! One runner, two reports: [`output`] and [`run`] fail with a [`CommandError`], one line
//! for an agent's log; [`run_bounded`] and [`run_checked`] fail with a [`CommandFailed`],
//! which shows the full command line, the status and both output streams, for tests and
//! tools whose reader wants to know what happened without a re-run.
//!
//! [`Deadline`]: crate::Deadline

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::process::wait_child;

/// How long [`output`] waits for the output pipes once the child has ended (a grandchild that
/// escaped the process group may hold them open): short, it spends the action's deadline.
const LOG_PIPE_GRACE: Duration = Duration::from_millis(200);

/// The same for [`run_bounded`], whose reader wants the output more than the time.
const REPORT_PIPE_GRACE: Duration = Duration::from_secs(2);

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

/// Renders a command for humans in full: `env K=V ... program arg ...`, quoted where needed,
/// and the working directory when one is set.
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
    let mut running = Running::start(cmd, input).map_err(|e| {
        fail(if e.kind() == io::ErrorKind::NotFound {
            CommandErrorKind::NotFound
        } else {
            CommandErrorKind::Spawn(e)
        })
    })?;
    match running.wait(bound) {
        Ok(Some(status)) => {
            let (stdout, stderr) = running.output(LOG_PIPE_GRACE);
            Ok(Output {
                status,
                stdout,
                stderr,
            })
        }
        Ok(None) => Err(fail(CommandErrorKind::TimedOut(bound))),
        Err(e) => Err(fail(CommandErrorKind::Spawn(e))),
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

/// Why a command did not succeed, as [`CommandFailed`] reports it.
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

/// A command that failed, with everything needed to understand why: its Display shows the
/// full command line, the status and both output streams.
#[derive(Debug)]
pub struct CommandFailed {
    /// The command line, shell-quoted for reading (environment overrides first), as
    /// [`command_line`] renders it.
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

/// Runs `cmd` for at most `bound` and returns its output whatever its exit status; only
/// failing to start, failing to wait and running past the bound are errors, reported in full
/// (with the output so far).
///
/// stdin is `/dev/null`, stdout and stderr are captured.
pub fn run_bounded(cmd: &mut Command, bound: Duration) -> Result<Output, CommandFailed> {
    let fail = |cmd: &Command, failure, (stdout, stderr)| CommandFailed {
        command: command_line(cmd),
        failure,
        stdout,
        stderr,
    };
    let mut running = match Running::start(cmd, None) {
        Ok(r) => r,
        Err(e) => return Err(fail(cmd, Failure::Spawn(e), Default::default())),
    };
    let waited = running.wait(bound);
    let output = running.output(REPORT_PIPE_GRACE);
    match waited {
        Ok(Some(status)) => Ok(Output {
            status,
            stdout: output.0,
            stderr: output.1,
        }),
        Ok(None) => Err(fail(cmd, Failure::TimedOut(bound), output)),
        Err(e) => Err(fail(cmd, Failure::Wait(e), output)),
    }
}

/// [`run_bounded`], and a non-zero exit is an error too.
pub fn run_checked(cmd: &mut Command, bound: Duration) -> Result<Output, CommandFailed> {
    let out = run_bounded(cmd, bound)?;
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

/// A started child, in a process group of its own, its stdout and stderr read on threads.
struct Running {
    child: Child,
    stdout: mpsc::Receiver<Vec<u8>>,
    stderr: mpsc::Receiver<Vec<u8>>,
}

impl Running {
    /// Starts `cmd` with `input` on its stdin (written on a thread), or `/dev/null`.
    fn start(cmd: &mut Command, input: Option<&[u8]>) -> io::Result<Running> {
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
        let mut child = cmd.spawn()?;
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            let data = data.to_vec();
            thread::spawn(move || {
                // A command that exits without reading gets EPIPE here; its status tells.
                let _ = stdin.write_all(&data);
            });
        }
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        Ok(Running {
            child,
            stdout,
            stderr,
        })
    }

    /// Waits at most `bound` for the child; `None` when it was still running. Unless it
    /// ended, its whole group is killed.
    fn wait(&mut self, bound: Duration) -> io::Result<Option<ExitStatus>> {
        let waited = wait_child(&mut self.child, bound);
        if !matches!(waited, Ok(Some(_))) {
            kill_group(&mut self.child);
        }
        waited
    }

    /// What the child wrote to stdout and stderr. The readers finish when the pipes close; a
    /// grandchild that kept them open must not hold us beyond `grace`.
    fn output(self, grace: Duration) -> (Vec<u8>, Vec<u8>) {
        let until = Instant::now() + grace;
        (collect(&self.stdout, until), collect(&self.stderr, until))
    }
}

/// How long a killed child is waited for. One blocked in the kernel (a FUSE request its
/// server already took, an NFS hard mount) ends only when that request does; it is left
/// unreaped rather than holding the caller past its own deadline.
const REAP_KILLED: Duration = Duration::from_secs(2);

/// Kills the child's process group (the child is its leader) and reaps the child, waiting
/// at most [`REAP_KILLED`].
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // The child is not reaped yet, so its pid (= the group id) cannot have been reused.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = wait_child(child, REAP_KILLED);
}

/// Reads a pipe to its end on a helper thread; the receiver gets the bytes.
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        let spawned = thread::Builder::new()
            .name("command-pipe".into())
            .spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                let _ = tx.send(buf);
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start a pipe reader thread: {e}");
        }
    }
    rx
}

fn collect(rx: &mpsc::Receiver<Vec<u8>>, until: Instant) -> Vec<u8> {
    rx.recv_timeout(until.saturating_duration_since(Instant::now()))
        .unwrap_or_default()
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

    #[test]
    fn full_report_shows_everything() {
        let err = run_checked(
            Command::new("ls")
                .arg("/nonexistent path")
                .env("LC_ALL", "C"),
            Duration::from_secs(5),
        )
        .err();
        let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(
            text.contains("env LC_ALL=C ls '/nonexistent path'"),
            "{text}"
        );
        assert!(text.contains("exit status: 2"), "{text}");
        assert!(text.contains("No such file"), "{text}");
        assert!(err.is_some_and(|e| e.status().is_some()));
    }

    #[test]
    fn full_report_success_returns_output() {
        let out = run_checked(Command::new("echo").arg("hi there"), Duration::from_secs(5));
        assert_eq!(out.map(|o| o.stdout).ok(), Some(b"hi there\n".to_vec()));
    }

    #[test]
    fn full_report_timeout_kills() {
        let started = Instant::now();
        let err = run_checked(Command::new("sleep").arg("30"), Duration::from_millis(200)).err();
        assert!(matches!(
            err.as_ref().map(|e| &e.failure),
            Some(Failure::TimedOut(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("killed after its timeout"), "{text}");
    }

    #[test]
    fn full_report_spawn_error() {
        let err = run_checked(
            &mut Command::new("/nonexistent/prog"),
            Duration::from_secs(1),
        )
        .err();
        assert!(matches!(
            err.as_ref().map(|e| &e.failure),
            Some(Failure::Spawn(_))
        ));
    }

    #[test]
    fn a_non_zero_exit_is_output_for_run_bounded() {
        let out = run_bounded(
            Command::new("sh").args(["-c", "echo partial; exit 4"]),
            Duration::from_secs(5),
        );
        assert_eq!(
            out.map(|o| (o.status.code(), o.stdout)).ok(),
            Some((Some(4), b"partial\n".to_vec()))
        );
    }
}
