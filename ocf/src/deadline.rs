//! The time budget of one action.
//!
//! Pacemaker's executor SIGKILLs the agent's whole process group when the operation timeout
//! (`OCF_RESKEY_CRM_meta_timeout`, ms) expires, so the agent cannot clean up afterwards. Every
//! external call therefore gets `min(its own bound, what is left)` and the agent keeps a margin
//! to report its result.

use std::time::{Duration, Instant};

/// Pacemaker's default operation timeout when none is configured.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

/// A point in time by which the current action must have finished.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + budget,
        }
    }

    /// The deadline for an operation whose timeout is `timeout`: we keep a margin of a tenth
    /// of it (at least 200 ms, at most 2 s) to log, clean up and report.
    pub fn for_operation(timeout: Duration) -> Deadline {
        let margin = (timeout / 10).clamp(Duration::from_millis(200), Duration::from_secs(2));
        Deadline::after(timeout.saturating_sub(margin))
    }

    /// Time left, zero once passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// `limit`, or what is left if that is shorter.
    pub fn bound(&self, limit: Duration) -> Duration {
        self.remaining().min(limit)
    }

    /// An earlier deadline: `fraction` (0.0..=1.0) of the remaining time from now.
    pub fn portion(&self, fraction: f64) -> Deadline {
        Deadline::after(self.remaining().mul_f64(fraction.clamp(0.0, 1.0)))
    }

    /// The instant itself.
    pub fn instant(&self) -> Instant {
        self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_deadline_keeps_a_margin() {
        let d = Deadline::for_operation(Duration::from_secs(20));
        assert!(d.remaining() <= Duration::from_secs(18));
        assert!(d.remaining() > Duration::from_secs(17));
        let tiny = Deadline::for_operation(Duration::from_millis(100));
        assert!(tiny.expired());
    }

    #[test]
    fn bound_never_exceeds_remaining() {
        let d = Deadline::after(Duration::from_secs(1));
        assert!(d.bound(Duration::from_secs(10)) <= Duration::from_secs(1));
        assert_eq!(d.bound(Duration::ZERO), Duration::ZERO);
        assert!(d.portion(0.5).remaining() <= Duration::from_millis(500));
    }
}
