//! Building a command and running it bounded.

use std::ffi::OsStr;
use std::process::Command;
use std::time::{Duration, Instant};

use ocf::command::{CommandError, CommandErrorKind};

use crate::Ran;

/// How long a command may run unless [`TestCommand::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A command under test: a [`Command`], what to write to its stdin, and its time bound.
#[derive(Debug)]
pub struct TestCommand {
    cmd: Command,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl TestCommand {
    /// Wraps a prepared command, e.g. a lab node's `Node::command(...)`.
    pub fn new(cmd: Command) -> TestCommand {
        TestCommand {
            cmd,
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// A command that runs `program`.
    pub fn program(program: impl AsRef<OsStr>) -> TestCommand {
        TestCommand::new(Command::new(program))
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut TestCommand {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut TestCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets one variable; a later call for the same key wins.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut TestCommand {
        self.cmd.env(key, value);
        self
    }

    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut TestCommand
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.cmd.envs(vars);
        self
    }

    /// Starts from an empty environment: only what is set afterwards is passed.
    pub fn env_clear(&mut self) -> &mut TestCommand {
        self.cmd.env_clear();
        self
    }

    /// Starts from an empty environment plus this process's `PATH`, as Pacemaker runs an
    /// agent: the test states every other variable.
    pub fn env_clear_keep_path(&mut self) -> &mut TestCommand {
        self.cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            self.cmd.env("PATH", path);
        }
        self
    }

    /// Writes `input` to the command's stdin (then closes it); without it stdin is
    /// `/dev/null`.
    pub fn stdin(&mut self, input: impl Into<Vec<u8>>) -> &mut TestCommand {
        self.stdin = Some(input.into());
        self
    }

    /// The time after which the command and everything it started are killed.
    pub fn timeout(&mut self, bound: Duration) -> &mut TestCommand {
        self.timeout = bound;
        self
    }

    /// Runs the command to its end, whatever its exit status; check that with `Ran`'s
    /// `expect_*`. Panics, with the command line, only when it cannot be started or does
    /// not finish within its timeout.
    #[track_caller]
    pub fn run(&mut self) -> Ran {
        match self.try_run() {
            Ok(ran) => ran,
            Err(unfinished) => fail(&unfinished),
        }
    }

    /// [`TestCommand::run`] that reports a command that could not be started or did not
    /// finish as `Err` instead of panicking: for polls that retry a hung attempt and for
    /// teardown, which must not panic.
    pub fn try_run(&mut self) -> Result<Ran, String> {
        // Debug shows what a reader needs to rerun it: cleared environment, variables, argv.
        let line = format!("{:?}", self.cmd);
        let started = Instant::now();
        match ocf::command::output_with_input(&mut self.cmd, self.stdin.as_deref(), self.timeout) {
            Ok(out) => Ok(Ran::new(line, out, started.elapsed())),
            Err(e) => Err(unfinished(&line, &e)),
        }
    }
}

fn unfinished(line: &str, e: &CommandError) -> String {
    match e.kind() {
        CommandErrorKind::TimedOut(after) => {
            format!("--- command: {line}\n--- timed out: killed after {after:?} without finishing")
        }
        _ => format!("--- command: {line}\n--- did not run: {e}"),
    }
}

#[allow(clippy::panic, reason = "a test helper fails the test by panicking")]
#[track_caller]
fn fail(message: &str) -> ! {
    panic!("{message}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::ran::tests::panic_message;

    #[test]
    fn passes_args_env_and_stdin() {
        let ran = TestCommand::program("sh")
            .args([
                "-c",
                "printf '%s %s ' \"$1\" \"$GREETING\"; cat",
                "sh",
                "one arg",
            ])
            .env("GREETING", "hello")
            .stdin("from stdin")
            .run();
        ran.expect_success();
        assert_eq!(ran.stdout(), "one arg hello from stdin");
    }

    #[test]
    fn env_clear_keep_path_passes_only_path_and_what_is_set() {
        let ran = TestCommand::program("env")
            .env_clear_keep_path()
            .env("ONLY", "this")
            .run();
        let mut names: Vec<&str> = ran
            .stdout()
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["ONLY", "PATH"], "{ran}");
    }

    #[test]
    fn stdin_is_empty_unless_given() {
        let ran = TestCommand::program("cat").run();
        ran.expect_success();
        assert_eq!(ran.stdout(), "");
    }

    #[test]
    fn timeout_is_reported_with_the_command_line_in_time() {
        let started = Instant::now();
        let err = TestCommand::program("sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .timeout(Duration::from_millis(300))
            .try_run()
            .err()
            .unwrap_or_default();
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        assert!(err.contains("timed out"), "{err}");
        assert!(err.contains("\"sleep 30 & sleep 30\""), "{err}");

        let message = panic_message(|| {
            TestCommand::program("sleep")
                .arg("30")
                .timeout(Duration::from_millis(100))
                .run();
        });
        assert!(
            message.contains("timed out") && message.contains("\"sleep\" \"30\""),
            "{message}"
        );
    }

    #[test]
    fn a_missing_program_is_reported_with_its_name() {
        let message = panic_message(|| {
            TestCommand::program("/nonexistent/prog").run();
        });
        assert!(
            message.contains("did not run") && message.contains("/nonexistent/prog"),
            "{message}"
        );
    }
}
