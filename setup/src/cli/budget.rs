//! A command's `--timeout` bounds the whole command: one [`Deadline`] made from it is passed
//! down to every step, each external call gets its own limit or what is left, whichever is
//! shorter, and a step the budget cut short is reported as a timeout.

use std::time::Duration;

use ocf::Deadline;

use crate::error::CliError;

/// The longest budget taken as given: `Instant` arithmetic overflows for absurd `--timeout`s.
const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The time budget of one command.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    timeout: Duration,
    deadline: Deadline,
}

impl Budget {
    /// A budget of `--timeout SECONDS` from now.
    pub fn seconds(seconds: u64) -> Budget {
        let timeout = Duration::from_secs(seconds).min(LONGEST);
        Budget {
            timeout,
            deadline: Deadline::after(timeout),
        }
    }

    /// The deadline every step of the command shares.
    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    /// `e`, or, once the budget has run out, `e` as the step it cut short (a call killed at
    /// the deadline says only that it was killed; the budget is why).
    pub fn judge(&self, e: CliError) -> CliError {
        if self.deadline.expired() && !e.is_timeout() {
            CliError::CutShort {
                timeout: self.timeout,
                source: Box::new(e),
            }
        } else {
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_after_the_deadline_are_timeouts() {
        let spent = Budget::seconds(0);
        let e = spent.judge(CliError::Cluster("cibadmin killed".into()));
        assert!(e.is_timeout());
        assert_eq!(
            e.to_string(),
            "timed out after 0s (--timeout): cibadmin killed"
        );
        let wait = spent.judge(CliError::Timeout("not every resource started".into()));
        assert_eq!(wait.to_string(), "not every resource started");
        let left = Budget::seconds(60);
        assert!(!left.judge(CliError::Refused("no".into())).is_timeout());
        assert!(Budget::seconds(u64::MAX).deadline().remaining() > Duration::from_secs(60));
    }
}
