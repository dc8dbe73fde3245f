//! gluster calls as the agent makes them: every call bounded by the action's deadline, and
//! retried while gluster is busy (another clone instance holds the cluster lock) or does
//! not answer, for as long as the deadline allows.

use std::time::Duration;

use georep::{CommandRunner, Error, Gluster, Output, Runner};
use ocf::Deadline;

/// The longest one gluster call may take, even when the action has more time: a CLI that
/// has not answered by then is retried.
pub const CALL_LIMIT: Duration = Duration::from_secs(15);

/// A [`Runner`] whose calls never outlive the deadline.
#[derive(Clone, Debug)]
pub struct Bounded<R: Runner = CommandRunner> {
    pub inner: R,
    pub deadline: Deadline,
}

impl<R: Runner> Runner for Bounded<R> {
    fn run(&self, argv: &[String], timeout: Duration) -> Result<Output, Error> {
        self.inner
            .run(argv, self.deadline.bound(timeout.min(CALL_LIMIT)))
    }
}

/// The gluster CLI for one action: calls bounded by `deadline`, waits inside the driver
/// (a session start settling) at most a third of it.
pub fn gluster_for(deadline: Deadline) -> Gluster<Bounded> {
    let mut g = Gluster::new(Bounded {
        inner: CommandRunner::default(),
        deadline,
    });
    g.timeout = CALL_LIMIT;
    g.settle_timeout = deadline.remaining() / 3;
    g
}

/// How long to keep retrying, and the pause between tries.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    pub deadline: Deadline,
    pub pause: Duration,
}

impl Retry {
    /// Sleeps one pause (less if the deadline is nearer).
    pub fn pause(&self) {
        std::thread::sleep(self.deadline.bound(self.pause));
    }
}

/// Runs `call` until it succeeds, fails for a reason a retry cannot change, or there is no
/// time left for another try.
pub fn retried<T>(retry: &Retry, mut call: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    loop {
        match call() {
            Err(e) if retryable(&e) && retry.deadline.remaining() > retry.pause => {
                tracing::debug!("gluster: {e}; retrying");
                retry.pause();
            }
            other => return other,
        }
    }
}

/// Busy, or no answer; a gluster that is not installed stays so.
fn retryable(e: &Error) -> bool {
    let missing = matches!(e, Error::Run(c)
        if matches!(c.kind(), ocf::command::CommandErrorKind::NotFound));
    (e.is_busy() || e.is_no_answer()) && !missing
}
