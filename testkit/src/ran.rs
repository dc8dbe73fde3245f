//! What a finished command produced, and the expectations a test checks on it.

use std::fmt;
use std::process::{ExitStatus, Output};
use std::time::Duration;

/// A command that ran to its end. Its `Display` is the full report that every failed
/// expectation prints.
#[derive(Debug)]
pub struct Ran {
    command: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// The prefix of an OCF agent's exit reason on stderr.
const EXIT_REASON: &str = "ocf-exit-reason:";

impl Ran {
    pub(crate) fn new(command: String, out: Output, elapsed: Duration) -> Ran {
        Ran {
            command,
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed,
        }
    }

    /// The exit code; `None` when a signal ended the command.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn stdout(&self) -> &str {
        &self.stdout
    }

    pub fn stderr(&self) -> &str {
        &self.stderr
    }

    /// From just before the start to the end of its output.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The `ocf-exit-reason:` lines an agent printed, without the prefix.
    pub fn ocf_exit_reasons(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix(EXIT_REASON))
            .map(str::to_owned)
            .collect()
    }

    /// `Ok` when it exited 0, else the full report as the error: for harness code that
    /// passes failures on with `?` rather than failing the test where they happen.
    pub fn checked(self) -> Result<Ran, String> {
        if self.success() {
            Ok(self)
        } else {
            Err(self.to_string())
        }
    }

    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Ran {
        self.expect(self.code() == Some(code), &format!("exit code {code}"))
    }

    #[track_caller]
    pub fn expect_success(&self) -> &Ran {
        self.expect(self.success(), "success")
    }

    #[track_caller]
    pub fn expect_failure(&self) -> &Ran {
        self.expect(!self.success(), "failure")
    }

    #[track_caller]
    pub fn expect_stdout_contains(&self, text: &str) -> &Ran {
        self.expect(
            self.stdout.contains(text),
            &format!("stdout to contain {text:?}"),
        )
    }

    #[track_caller]
    pub fn expect_stderr_contains(&self, text: &str) -> &Ran {
        self.expect(
            self.stderr.contains(text),
            &format!("stderr to contain {text:?}"),
        )
    }

    #[allow(clippy::panic, reason = "a test helper fails the test by panicking")]
    #[track_caller]
    fn expect(&self, held: bool, expectation: &str) -> &Ran {
        if !held {
            panic!("expected {expectation}\n{self}");
        }
        self
    }
}

impl fmt::Display for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- command: {}", self.command)?;
        writeln!(f, "--- status: {} after {:.1?}", self.status, self.elapsed)?;
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if text.is_empty() {
                writeln!(f, "--- {name}: (empty)")?;
            } else {
                writeln!(f, "--- {name}:\n{}", text.trim_end())?;
            }
        }
        write!(f, "---")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use crate::TestCommand;

    /// Runs `f`, which must panic, and returns its panic message.
    pub(crate) fn panic_message(f: impl FnOnce()) -> String {
        let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .expect_err("it should have panicked");
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    }

    fn failing() -> crate::Ran {
        TestCommand::program("sh")
            .args(["-c", "echo to-out; echo to-err >&2; exit 3"])
            .env("MARK", "x")
            .run()
    }

    #[test]
    fn a_failed_expectation_shows_command_status_time_and_both_streams() {
        let ran = failing();
        let expectations: [fn(&crate::Ran); 4] = [
            |r| {
                r.expect_code(0);
            },
            |r| {
                r.expect_success();
            },
            |r| {
                r.expect_stdout_contains("absent");
            },
            |r| {
                r.expect_stderr_contains("absent");
            },
        ];
        for expectation in expectations {
            let message = panic_message(|| expectation(&ran));
            for part in [
                "expected ",
                "MARK=\"x\" \"sh\" \"-c\"",
                "exit status: 3 after ",
                "--- stdout:\nto-out",
                "--- stderr:\nto-err",
            ] {
                assert!(message.contains(part), "{part:?} not in:\n{message}");
            }
        }
    }

    #[test]
    fn expectations_that_hold_chain() {
        let ran = failing();
        ran.expect_code(3)
            .expect_failure()
            .expect_stdout_contains("to-out")
            .expect_stderr_contains("to-err");
        assert_eq!(ran.code(), Some(3));
        assert!(!ran.success());
        let report = ran.checked().err().unwrap_or_default();
        assert!(report.contains("exit status: 3"), "{report}");
        let ran = TestCommand::program("true").run();
        let message = panic_message(|| {
            ran.expect_failure();
        });
        assert!(message.contains("expected failure"), "{message}");
        assert!(ran.checked().is_ok());
    }

    #[test]
    fn a_signal_has_no_code() {
        let ran = TestCommand::program("sh").args(["-c", "kill -9 $$"]).run();
        assert_eq!(ran.code(), None);
        let message = panic_message(|| {
            ran.expect_code(0);
        });
        assert!(message.contains("signal: 9"), "{message}");
    }

    #[test]
    fn ocf_exit_reasons_are_the_prefixed_stderr_lines() {
        let ran = TestCommand::program("sh")
            .args([
                "-c",
                "echo 'ocf-exit-reason:first' >&2; echo noise >&2; \
                 echo 'ocf-exit-reason:second' >&2; echo 'ocf-exit-reason:not on stdout'",
            ])
            .run();
        assert_eq!(ran.ocf_exit_reasons(), ["first", "second"]);
    }
}
