//! The session status, rolled up from the workers per replica group (sub-volume).
//!
//! A replica (or disperse) group needs one Active worker to be synced; the others are
//! Passive standbys. The rule, in order:
//!
//! 1. No workers: UNKNOWN.
//! 2. Every worker Created, or every one Stopped, or every one Paused: that state (gluster
//!    sets these for the whole session). When no worker runs and the states are mixed, or
//!    some node did not answer: UNKNOWN.
//! 3. Otherwise each group gets a health:
//!    - *healthy*: an Active worker and every other one Active, Passive or Initializing;
//!    - *degraded*: an Active worker, but another one Faulty, unreachable or not running;
//!    - *initializing*: no Active worker, one Initializing (starting, or respawning after Faulty);
//!    - *failed*: no Active or Initializing worker and one Faulty, or only workers that
//!      do not run (a dead monitor's Created/Stopped/Paused inside a running session);
//!    - *unreachable*: no Active, Initializing or Faulty worker and one unreachable
//!      (node down, or a status gluster could not give);
//!    - *standby*: only Passive workers.
//!
//!    The session is FAULTY if a group failed (a group has no working worker), else
//!    UNKNOWN if a group is unreachable, else INITIALIZING if a group is initializing,
//!    else PASSIVE if a group is on standby, else PARTIAL_FAULTY if a group is degraded
//!    (a worker is down but every group still has an Active one), else ACTIVE.

use crate::model::{SessionDetail, SessionStatus, WorkerStatus};

/// How one replica group fares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupHealth {
    Healthy,
    Degraded,
    Initializing,
    Failed,
    Unreachable,
    Standby,
}

fn unreachable(w: &WorkerStatus) -> bool {
    matches!(w, WorkerStatus::Offline | WorkerStatus::Unknown(_))
}

fn administrative(w: &WorkerStatus) -> bool {
    matches!(
        w,
        WorkerStatus::Created | WorkerStatus::Stopped | WorkerStatus::Paused
    )
}

/// The health of one group of workers (the bricks of one replica/disperse sub-volume).
pub fn group_health(workers: &[WorkerStatus]) -> GroupHealth {
    let any = |f: fn(&WorkerStatus) -> bool| workers.iter().any(f);
    if any(|w| *w == WorkerStatus::Active) {
        let fine = workers.iter().all(|w| {
            matches!(
                w,
                WorkerStatus::Active | WorkerStatus::Passive | WorkerStatus::Initializing
            )
        });
        return if fine {
            GroupHealth::Healthy
        } else {
            GroupHealth::Degraded
        };
    }
    if any(|w| *w == WorkerStatus::Initializing) {
        GroupHealth::Initializing
    } else if any(|w| *w == WorkerStatus::Faulty) {
        GroupHealth::Failed
    } else if any(unreachable) {
        GroupHealth::Unreachable
    } else if !workers.is_empty() && workers.iter().all(|w| *w == WorkerStatus::Passive) {
        GroupHealth::Standby
    } else {
        GroupHealth::Failed
    }
}

/// The session status from its workers, grouped by replica group.
pub fn roll_up(groups: &[Vec<WorkerStatus>]) -> SessionStatus {
    let all: Vec<&WorkerStatus> = groups.iter().flatten().collect();
    let Some(first) = all.first() else {
        return SessionStatus::Unknown;
    };
    if all.iter().all(|w| w == first) {
        match first {
            WorkerStatus::Created => return SessionStatus::Created,
            WorkerStatus::Stopped => return SessionStatus::Stopped,
            WorkerStatus::Paused => return SessionStatus::Paused,
            _ => {}
        }
    }
    if all.iter().all(|w| administrative(w) || unreachable(w)) {
        return SessionStatus::Unknown;
    }
    let health: Vec<GroupHealth> = groups
        .iter()
        .filter(|g| !g.is_empty())
        .map(|g| group_health(g))
        .collect();
    let has = |h: GroupHealth| health.contains(&h);
    if has(GroupHealth::Failed) {
        SessionStatus::Faulty
    } else if has(GroupHealth::Unreachable) {
        SessionStatus::Unknown
    } else if has(GroupHealth::Initializing) {
        SessionStatus::Initializing
    } else if has(GroupHealth::Standby) {
        SessionStatus::Passive
    } else if has(GroupHealth::Degraded) {
        SessionStatus::PartialFaulty
    } else {
        SessionStatus::Active
    }
}

/// The primary volume's bricks in order and the size of its replica/disperse groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub volume_id: Option<String>,
    /// `(node, brick path)` in `volume info` order.
    pub bricks: Vec<(String, String)>,
    /// Bricks per sub-volume: the replica count, the disperse count, or 1 for distribute.
    pub group_size: usize,
}

/// Orders `details` by the layout (adding an Offline detail for every brick no node
/// reported) and rolls the status up per group. Without a layout every brick is its own
/// group (plain distribute), which is right for single-brick and distribute volumes.
pub fn apply_layout(
    details: Vec<SessionDetail>,
    layout: Option<&Layout>,
) -> (SessionStatus, Vec<SessionDetail>) {
    let Some(layout) = layout.filter(|l| !l.bricks.is_empty()) else {
        let groups: Vec<Vec<WorkerStatus>> =
            details.iter().map(|d| vec![d.status.clone()]).collect();
        return (roll_up(&groups), details);
    };
    let mut rest = details;
    let mut ordered = Vec::new();
    for (node, brick) in &layout.bricks {
        let found = rest
            .iter()
            .position(|d| d.primary_brick == *brick && d.primary_node == *node)
            .or_else(|| rest.iter().position(|d| d.primary_brick == *brick));
        ordered.push(match found {
            Some(i) => rest.remove(i),
            None => SessionDetail::offline(node, brick),
        });
    }
    let size = layout.group_size.max(1);
    let mut groups: Vec<Vec<WorkerStatus>> = ordered
        .chunks(size)
        .map(|c| c.iter().map(|d| d.status.clone()).collect())
        .collect();
    // Bricks gluster reported that the layout does not know (it changed meanwhile).
    groups.extend(rest.iter().map(|d| vec![d.status.clone()]));
    ordered.extend(rest);
    (roll_up(&groups), ordered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus as S;
    use WorkerStatus as W;

    fn all_workers() -> Vec<W> {
        vec![
            W::Created,
            W::Initializing,
            W::Active,
            W::Passive,
            W::Faulty,
            W::Paused,
            W::Stopped,
            W::Offline,
            W::Unknown("N/A".into()),
        ]
    }

    #[test]
    fn empty_is_unknown() {
        assert_eq!(roll_up(&[]), S::Unknown);
        assert_eq!(roll_up(&[vec![]]), S::Unknown);
    }

    #[test]
    fn single_worker_sessions() {
        let expect = [
            (W::Created, S::Created),
            (W::Initializing, S::Initializing),
            (W::Active, S::Active),
            (W::Passive, S::Passive),
            (W::Faulty, S::Faulty),
            (W::Paused, S::Paused),
            (W::Stopped, S::Stopped),
            (W::Offline, S::Unknown),
            (W::Unknown("defunct".into()), S::Unknown),
        ];
        assert_eq!(expect.len(), all_workers().len());
        for (w, s) in expect {
            assert_eq!(roll_up(&[vec![w.clone()]]), s, "{w:?}");
        }
    }

    #[test]
    fn replica_pairs_exhaustively() {
        // Every ordered pair of worker states in one replica-2 group.
        for a in all_workers() {
            for b in all_workers() {
                let got = roll_up(&[vec![a.clone(), b.clone()]]);
                let pair = [&a, &b];
                let has = |w: &W| pair.contains(&w);
                let expected = if a == b && administrative(&a) {
                    match a {
                        W::Created => S::Created,
                        W::Stopped => S::Stopped,
                        _ => S::Paused,
                    }
                } else if pair.iter().all(|w| administrative(w) || unreachable(w)) {
                    S::Unknown
                } else if has(&W::Active) {
                    if pair
                        .iter()
                        .all(|w| matches!(w, W::Active | W::Passive | W::Initializing))
                    {
                        S::Active
                    } else {
                        S::PartialFaulty
                    }
                } else if has(&W::Initializing) {
                    S::Initializing
                } else if has(&W::Faulty) {
                    S::Faulty
                } else if pair.iter().any(|w| unreachable(w)) {
                    S::Unknown
                } else if pair.iter().all(|w| **w == W::Passive) {
                    S::Passive
                } else {
                    S::Faulty
                };
                assert_eq!(got, expected, "{a:?} + {b:?}");
            }
        }
    }

    #[test]
    fn named_replica_cases() {
        let cases = [
            (vec![vec![W::Active, W::Passive]], S::Active),
            (vec![vec![W::Active, W::Active]], S::Active),
            (vec![vec![W::Active, W::Faulty]], S::PartialFaulty),
            (vec![vec![W::Passive, W::Faulty]], S::Faulty),
            (vec![vec![W::Faulty, W::Faulty]], S::Faulty),
            (vec![vec![W::Faulty, W::Initializing]], S::Initializing),
            (vec![vec![W::Active, W::Offline]], S::PartialFaulty),
            (vec![vec![W::Passive, W::Offline]], S::Unknown),
            (vec![vec![W::Paused, W::Offline]], S::Unknown),
            (vec![vec![W::Created, W::Stopped]], S::Unknown),
            (vec![vec![W::Active, W::Created]], S::PartialFaulty),
        ];
        for (groups, s) in cases {
            assert_eq!(roll_up(&groups), s, "{groups:?}");
        }
    }

    #[test]
    fn distributed_replicated_groups() {
        let healthy = vec![W::Active, W::Passive];
        let degraded = vec![W::Active, W::Faulty];
        let failed = vec![W::Faulty, W::Passive];
        let starting = vec![W::Initializing, W::Passive];
        let standby = vec![W::Passive, W::Passive];
        let unreachable = vec![W::Offline, W::Offline];
        let g =
            |groups: &[&Vec<W>]| roll_up(&groups.iter().map(|g| (*g).clone()).collect::<Vec<_>>());
        assert_eq!(g(&[&healthy, &healthy]), S::Active);
        assert_eq!(g(&[&healthy, &degraded]), S::PartialFaulty);
        assert_eq!(g(&[&degraded, &degraded]), S::PartialFaulty);
        assert_eq!(g(&[&healthy, &failed]), S::Faulty);
        assert_eq!(g(&[&degraded, &failed]), S::Faulty);
        assert_eq!(g(&[&healthy, &starting]), S::Initializing);
        assert_eq!(g(&[&degraded, &starting]), S::Initializing);
        assert_eq!(g(&[&healthy, &standby]), S::Passive);
        assert_eq!(g(&[&healthy, &unreachable]), S::Unknown);
        assert_eq!(g(&[&failed, &unreachable]), S::Faulty);
        // Every pair of the six group kinds: the worst kind wins, in the documented order.
        let kinds = [
            &failed,
            &unreachable,
            &starting,
            &standby,
            &degraded,
            &healthy,
        ];
        let order = [
            S::Faulty,
            S::Unknown,
            S::Initializing,
            S::Passive,
            S::PartialFaulty,
            S::Active,
        ];
        for (i, a) in kinds.iter().enumerate() {
            for (j, b) in kinds.iter().enumerate() {
                assert_eq!(g(&[a, b]), order[i.min(j)], "{a:?} + {b:?}");
            }
        }
    }

    #[test]
    fn layout_orders_groups_and_marks_missing_bricks_offline() {
        let detail = |brick: &str, status: W| SessionDetail {
            status,
            ..SessionDetail::offline("n1", brick)
        };
        let layout = Layout {
            volume_id: None,
            bricks: vec![
                ("n1".into(), "/b1".into()),
                ("n2".into(), "/b2".into()),
                ("n1".into(), "/b3".into()),
                ("n2".into(), "/b4".into()),
            ],
            group_size: 2,
        };
        // n2 did not answer: its bricks are missing from gluster's reply.
        let (status, details) = apply_layout(
            vec![detail("/b3", W::Active), detail("/b1", W::Active)],
            Some(&layout),
        );
        assert_eq!(status, S::PartialFaulty);
        let got: Vec<_> = details
            .iter()
            .map(|d| (d.primary_brick.as_str(), d.status.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/b1", W::Active),
                ("/b2", W::Offline),
                ("/b3", W::Active),
                ("/b4", W::Offline)
            ]
        );
        let (status, _) = apply_layout(vec![detail("/b1", W::Passive)], Some(&layout));
        assert_eq!(status, S::Unknown);
        let (status, _) = apply_layout(vec![detail("/b1", W::Active)], None);
        assert_eq!(status, S::Active);
    }
}
