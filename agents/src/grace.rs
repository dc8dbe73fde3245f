//! `ganesha_grace`: puts the local ganesha.nfsd into NFS grace when a peer stops serving or
//! comes back (a clone with `notify=true`).
//!
//! - pre-stop and post-stop notifications: for every peer in `notify_stop_uname` (exact
//!   names, several in one transition allowed) the local daemon gets `grace("5:<peer>")`,
//!   EVENT_TAKE_IP: enter grace and load the peer's client records from
//!   `RecoveryRoot/<peer>/v4recov`, which ganesha_nfsd's layout links to the peer's own
//!   directory. Both, because Pacemaker 2.1.5's controller on the DC can discard a
//!   notification for its own instance while a node joins (S_INTEGRATION) and still confirm
//!   it (docs/failover.md); the post-stop call is skipped when the pre-stop one of the same
//!   stop was made (recorded with its time), since loading a peer's records twice keeps
//!   grace from ending early.
//! - pre-start notification: for every peer in `notify_start_uname` that this node took over,
//!   `grace("2:<peer>")`, EVENT_RELEASE_IP: enter grace and release that peer's clients
//!   before its VIP returns. Takeovers are remembered in the instance's state file, so a peer
//!   starting for the first time (cluster start, a node added) does not put healthy servers
//!   into a grace period, during which they refuse new opens and locks.
//!
//! The event prefix is always explicit (ganesha 4.3 took a bare argument as event 5; newer
//! releases reject it). The reply's `(status, error)` pair is checked: a D-Bus call that
//! works but returns `status = false` is an error in the log, not a silent success. Every call
//! is bounded by `dbus_timeout` and the notify timeout. Notify itself always succeeds, since a
//! failed notify makes Pacemaker recover this instance, which helps nobody.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ocf::notify::{others, NotifyOperation, NotifyType};
use ocf::{
    attrs, Action, ActionSpec, Agent, CheckLevel, Context, Deadline, ExitCode, Metadata,
    Notification, OcfError, ParamSpec,
};

use crate::dbus::{DbusError, GaneshaAdmin};
use crate::names::GRACE_AGENT;
use crate::recovery;
use crate::state;

static PARAMS: [ParamSpec; 2] = [
    ParamSpec::integer("dbus_timeout").default("10").describe(
        "D-Bus call bound (s)",
        "Longest wait for one grace call to the local ganesha.nfsd (also capped by the \
         notify timeout).",
    ),
    ParamSpec::boolean("release_on_start")
        .default("true")
        .describe(
            "release returning peers",
            "On pre-start notifications, send grace 2:<peer> (release) for each returning peer.",
        ),
];

static ACTIONS: [ActionSpec; 6] = [
    ActionSpec::new(Action::Start, 20),
    ActionSpec::new(Action::Stop, 20),
    ActionSpec::new(Action::Monitor, 10).every(20, 0),
    ActionSpec::new(Action::Notify, 30),
    ActionSpec::new(Action::ValidateAll, 10),
    ActionSpec::new(Action::MetaData, 5),
];

static METADATA: Metadata = Metadata {
    name: GRACE_AGENT,
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Puts NFS-Ganesha into grace when a peer fails or returns",
    longdesc: "Run as a clone with notify=true, banned where the grace-active node attribute \
               (published by ganesha_mon) is not 1. When peers' instances stop, each survivor \
               calls org.ganesha.nfsd.admin.grace(\"5:<peer>\") on its local ganesha.nfsd over \
               the system bus (take over the peer's NFSv4 clients); before peers' instances \
               start, grace(\"2:<peer>\") (release them). The key is the peer's Pacemaker node \
               name, which names its recovery directory in ganesha_nfsd's layout.",
    params: &PARAMS,
    actions: &ACTIONS,
};

/// How long a pre-stop takeover stands for the post-stop notification of the same stop.
pub const EARLY_TAKEOVER_WINDOW: u64 = 300;

/// What an instance remembers between notifications.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Takeovers {
    /// Peers taken over and not yet released.
    pub taken: BTreeSet<String>,
    /// Peers taken over on a pre-stop notification, with the time (Unix seconds), whose
    /// post-stop notification has not come yet.
    pub early: BTreeMap<String, u64>,
}

/// The grace calls a notification asks this node to make, in order, at time `now`.
pub fn grace_events(
    n: &Notification,
    me: &str,
    release_on_start: bool,
    state: &Takeovers,
    now: u64,
) -> Vec<String> {
    let (event, peers) = if n.is(NotifyType::Pre, NotifyOperation::Stop)
        || n.is(NotifyType::Post, NotifyOperation::Stop)
    {
        (5, &n.stop_uname)
    } else if release_on_start && n.is(NotifyType::Pre, NotifyOperation::Start) {
        (2, &n.start_uname)
    } else {
        return Vec::new();
    };
    let post = n.is(NotifyType::Post, NotifyOperation::Stop);
    others(peers, me)
        .filter(|peer| match event {
            5 if post => state
                .early
                .get(*peer)
                .is_none_or(|&t| now.saturating_sub(t) > EARLY_TAKEOVER_WINDOW),
            5 => true,
            _ => state.taken.contains(*peer),
        })
        .filter(|peer| {
            let ok = recovery::valid_key(peer);
            if !ok {
                tracing::error!("node name {peer:?} cannot be a grace key; skipped");
            }
            ok
        })
        .map(|peer| format!("{event}:{peer}"))
        .collect()
}

/// What the instance remembers after `n` and the `events` sent for it at `now`.
pub fn after_events(
    state: &Takeovers,
    n: &Notification,
    me: &str,
    events: &[String],
    now: u64,
) -> Takeovers {
    let mut next = state.clone();
    if n.is(NotifyType::Post, NotifyOperation::Stop) {
        for peer in others(&n.stop_uname, me) {
            next.early.remove(peer);
        }
    }
    if n.is(NotifyType::Pre, NotifyOperation::Start) {
        // Returning peers are no longer taken over, released or not.
        for peer in others(&n.start_uname, me) {
            next.taken.remove(peer);
            next.early.remove(peer);
        }
    }
    let early = n.is(NotifyType::Pre, NotifyOperation::Stop);
    for e in events {
        if let Some(("5", peer)) = e.split_once(':') {
            next.taken.insert(peer.to_owned());
            if early {
                next.early.insert(peer.to_owned(), now);
            }
        }
    }
    next
}

const TAKEN: &str = "taken";
const EARLY: &str = "early";

fn read_takeovers(file: &std::path::Path) -> Option<Takeovers> {
    let entries = state::read(file).ok().flatten()?;
    let list = |key: &str| -> Vec<String> {
        entries
            .get(key)
            .map(|v| {
                v.split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(Takeovers {
        taken: list(TAKEN).into_iter().collect(),
        early: list(EARLY)
            .iter()
            .filter_map(|e| {
                let (peer, t) = e.rsplit_once('@')?;
                Some((peer.to_owned(), t.parse().ok()?))
            })
            .collect(),
    })
}

fn write_takeovers(file: &std::path::Path, t: &Takeovers) -> std::io::Result<()> {
    let taken: Vec<&str> = t.taken.iter().map(String::as_str).collect();
    let early: Vec<String> = t.early.iter().map(|(p, at)| format!("{p}@{at}")).collect();
    let entries = [
        (TAKEN.to_owned(), taken.join(",")),
        (EARLY.to_owned(), early.join(",")),
    ]
    .into_iter()
    .collect();
    state::write(file, &entries)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The one D-Bus method this agent needs, so that the logic can be tested without a bus.
pub trait GraceBus {
    /// `grace(arg)` → `(status, error)`.
    fn grace(&self, arg: &str, bound: Duration) -> Result<(bool, String), DbusError>;
}

impl GraceBus for GaneshaAdmin {
    fn grace(&self, arg: &str, bound: Duration) -> Result<(bool, String), DbusError> {
        GaneshaAdmin::grace(self, arg, bound)
    }
}

/// What happened to one grace call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Started(String),
    Refused(String),
    Failed(String),
    /// Not attempted: the notify timeout was used up.
    Skipped,
}

/// Sends every call in turn, each bounded by `per_call` and the deadline.
pub fn send_all(
    bus: &dyn GraceBus,
    events: &[String],
    per_call: Duration,
    deadline: Deadline,
) -> Vec<(String, Outcome)> {
    events
        .iter()
        .map(|arg| {
            if deadline.expired() {
                tracing::error!("grace({arg}) not sent: the notify timeout is used up");
                return (arg.clone(), Outcome::Skipped);
            }
            let outcome = match bus.grace(arg, deadline.bound(per_call)) {
                Ok((true, msg)) => {
                    tracing::info!("grace({arg}): {msg}");
                    Outcome::Started(msg)
                }
                Ok((false, error)) => {
                    tracing::error!("ganesha.nfsd refused grace({arg}): {error}");
                    Outcome::Refused(error)
                }
                Err(e) => {
                    tracing::error!("grace({arg}) failed: {e}");
                    Outcome::Failed(e.to_string())
                }
            };
            (arg.clone(), outcome)
        })
        .collect()
}

/// The agent.
#[derive(Debug, Default)]
pub struct GaneshaGrace;

fn dbus_timeout(ctx: &Context) -> Result<Duration, OcfError> {
    ctx.params()
        .seconds("dbus_timeout")?
        .filter(|d| !d.is_zero())
        .ok_or_else(|| OcfError::configured("dbus_timeout", "must be at least 1 second"))
}

impl Agent for GaneshaGrace {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn validate(&self, ctx: &Context) -> Result<(), OcfError> {
        dbus_timeout(ctx)?;
        ctx.params().boolean("release_on_start")?;
        Ok(())
    }

    fn start(&self, ctx: &Context) -> Result<(), OcfError> {
        let file = ctx.state_file(GRACE_AGENT);
        state::write(&file, &Default::default())
            .map_err(|e| OcfError::io(format!("writing {}", file.display()), e))
    }

    fn stop(&self, ctx: &Context) -> Result<(), OcfError> {
        let file = ctx.state_file(GRACE_AGENT);
        state::remove(&file).map_err(|e| OcfError::io(format!("removing {}", file.display()), e))
    }

    fn monitor(&self, ctx: &Context) -> Result<ExitCode, OcfError> {
        let file = ctx.state_file(GRACE_AGENT);
        if !file.exists() {
            return Err(OcfError::NotRunning("ganesha_grace is not started".into()));
        }
        if ctx.check_level() >= CheckLevel::THOROUGH {
            // The instance is only useful if the local daemon can take a grace call.
            let bound = ctx.deadline().bound(dbus_timeout(ctx)?);
            GaneshaAdmin::connect(bound)
                .and_then(|admin| admin.get_grace(bound))
                .map_err(|e| OcfError::generic(format!("local ganesha.nfsd unreachable: {e}")))?;
        }
        Ok(ExitCode::Success)
    }

    fn notify(&self, ctx: &Context, n: &Notification) -> Result<(), OcfError> {
        let release = ctx.params().boolean("release_on_start")?.unwrap_or(true);
        let me = attrs::local_node_name(ctx.on_node(), ctx.deadline());
        let file = ctx.state_file(GRACE_AGENT);
        // No state file: the instance is not started (e.g. a test harness calling notify
        // alone); nothing was taken over and nothing is recorded.
        let state = read_takeovers(&file);
        let now = unix_now();
        let events = grace_events(n, &me, release, &state.clone().unwrap_or_default(), now);
        if let Some(state) = &state {
            let next = after_events(state, n, &me, &events, now);
            if &next != state {
                if let Err(e) = write_takeovers(&file, &next) {
                    tracing::warn!("cannot record taken-over peers in {}: {e}", file.display());
                }
            }
        }
        if events.is_empty() {
            tracing::debug!("notification {:?}-{:?}: nothing to do", n.kind, n.operation);
            return Ok(());
        }
        let per_call = dbus_timeout(ctx)?;
        let deadline = ctx.deadline();
        match GaneshaAdmin::connect(deadline.bound(per_call)) {
            Ok(admin) => {
                send_all(&admin, &events, per_call, deadline);
            }
            Err(e) => tracing::error!("cannot send {events:?} to ganesha.nfsd: {e}"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ocf::Env;
    use std::cell::RefCell;

    fn notification(pairs: &[(&str, &str)]) -> Notification {
        Notification::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn post_stop_takes_over_every_stopped_peer_but_not_self() {
        let n = notification(&[
            ("OCF_RESKEY_CRM_meta_notify_type", "post"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "stop"),
            (
                "OCF_RESKEY_CRM_meta_notify_stop_uname",
                "node1 node10 node3",
            ),
            ("OCF_RESKEY_CRM_meta_notify_start_uname", "node7"),
        ]);
        assert_eq!(
            grace_events(&n, "node3", true, &Takeovers::default(), 0),
            ["5:node1", "5:node10"]
        );
    }

    #[test]
    fn fully_qualified_node_names_are_used_as_pacemaker_gives_them() {
        let n = notification(&[
            ("OCF_RESKEY_CRM_meta_notify_type", "post"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "stop"),
            (
                "OCF_RESKEY_CRM_meta_notify_stop_uname",
                "a.lab.example.com a",
            ),
        ]);
        assert_eq!(
            grace_events(&n, "a", true, &Takeovers::default(), 0),
            ["5:a.lab.example.com"]
        );
    }

    #[test]
    fn pre_start_releases_returning_peers() {
        let n = notification(&[
            ("OCF_RESKEY_CRM_meta_notify_type", "pre"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "start"),
            ("OCF_RESKEY_CRM_meta_notify_start_uname", "node1"),
            ("OCF_RESKEY_CRM_meta_notify_stop_uname", ""),
        ]);
        let taken = Takeovers {
            taken: ["node1".to_string()].into(),
            ..Takeovers::default()
        };
        assert_eq!(grace_events(&n, "node2", true, &taken, 0), ["2:node1"]);
        assert!(grace_events(&n, "node2", false, &taken, 0).is_empty());
        // Released or not, a returning peer is no longer taken over.
        let after = after_events(&taken, &n, "node2", &[], 0);
        assert!(after.taken.is_empty());
        // A peer never taken over (cluster start, a node added): no needless grace.
        assert!(grace_events(&n, "node2", true, &Takeovers::default(), 0).is_empty());
    }

    fn stop(kind: &str, peers: &str) -> Notification {
        notification(&[
            ("OCF_RESKEY_CRM_meta_notify_type", kind),
            ("OCF_RESKEY_CRM_meta_notify_operation", "stop"),
            ("OCF_RESKEY_CRM_meta_notify_stop_uname", peers),
        ])
    }

    #[test]
    fn a_stop_takes_over_once_on_pre_stop_or_else_on_post_stop() {
        let (pre, post) = (stop("pre", "node1 node2"), stop("post", "node1 node2"));
        let none = Takeovers::default();
        // Both notifications delivered: one grace call per peer, on pre-stop.
        let events = grace_events(&pre, "node2", true, &none, 100);
        assert_eq!(events, ["5:node1"]);
        let state = after_events(&none, &pre, "node2", &events, 100);
        assert_eq!(state.early.get("node1"), Some(&100));
        assert!(grace_events(&post, "node2", true, &state, 101).is_empty());
        let state = after_events(&state, &post, "node2", &[], 101);
        assert!(state.early.is_empty() && state.taken.contains("node1"));
        // The pre-stop was discarded (the DC's own instance while a node joins): post-stop
        // takes over.
        assert_eq!(grace_events(&post, "node2", true, &none, 100), ["5:node1"]);
        // A pre-stop record from long ago (its post-stop was lost) does not hide a new stop.
        let stale = after_events(&none, &pre, "node2", &events, 100);
        let later = 100 + EARLY_TAKEOVER_WINDOW + 1;
        assert_eq!(
            grace_events(&post, "node2", true, &stale, later),
            ["5:node1"]
        );
    }

    #[test]
    fn other_notifications_do_nothing() {
        for (t, op) in [("post", "start"), ("post", "promote"), ("", "")] {
            let n = notification(&[
                ("OCF_RESKEY_CRM_meta_notify_type", t),
                ("OCF_RESKEY_CRM_meta_notify_operation", op),
                ("OCF_RESKEY_CRM_meta_notify_stop_uname", "node1"),
                ("OCF_RESKEY_CRM_meta_notify_start_uname", "node1"),
            ]);
            let all = Takeovers {
                taken: ["node1".to_string()].into(),
                ..Takeovers::default()
            };
            assert!(
                grace_events(&n, "node2", true, &all, 0).is_empty(),
                "{t}-{op}"
            );
        }
    }

    #[test]
    fn takeovers_are_remembered_until_released() {
        let none = Takeovers::default();
        let post = stop("post", "node1 node3");
        let taken = after_events(
            &none,
            &post,
            "node2",
            &["5:node1".into(), "5:node3".into()],
            0,
        );
        assert_eq!(
            taken.taken,
            ["node1".to_string(), "node3".to_string()].into()
        );
        let start = notification(&[
            ("OCF_RESKEY_CRM_meta_notify_type", "pre"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "start"),
            ("OCF_RESKEY_CRM_meta_notify_start_uname", "node1"),
        ]);
        let after = after_events(&taken, &start, "node2", &["2:node1".into()], 0);
        assert_eq!(after.taken, ["node3".to_string()].into());
    }

    #[test]
    fn takeovers_survive_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("grace.state");
        let t = Takeovers {
            taken: ["a".to_string(), "b.example".to_string()].into(),
            early: [("a".to_string(), 42)].into(),
        };
        write_takeovers(&file, &t).unwrap();
        assert_eq!(read_takeovers(&file), Some(t));
    }

    struct FakeBus {
        calls: RefCell<Vec<String>>,
        answer: fn(&str) -> Result<(bool, String), DbusError>,
    }

    impl GraceBus for FakeBus {
        fn grace(&self, arg: &str, _: Duration) -> Result<(bool, String), DbusError> {
            self.calls.borrow_mut().push(arg.to_owned());
            (self.answer)(arg)
        }
    }

    #[test]
    fn status_false_is_a_refusal_and_later_peers_are_still_sent() {
        let bus = FakeBus {
            calls: RefCell::default(),
            answer: |arg| {
                if arg == "5:node1" {
                    Ok((false, "Unable to start grace".into()))
                } else {
                    Ok((true, "Started grace period".into()))
                }
            },
        };
        let events = ["5:node1".to_string(), "5:node2".to_string()];
        let out = send_all(
            &bus,
            &events,
            Duration::from_secs(1),
            Deadline::after(Duration::from_secs(5)),
        );
        assert_eq!(
            out,
            [
                (
                    "5:node1".to_string(),
                    Outcome::Refused("Unable to start grace".into())
                ),
                (
                    "5:node2".to_string(),
                    Outcome::Started("Started grace period".into())
                ),
            ]
        );
    }

    #[test]
    fn nothing_is_sent_once_the_deadline_has_passed() {
        let bus = FakeBus {
            calls: RefCell::default(),
            answer: |_| Err(DbusError::TimedOut(Duration::from_secs(1))),
        };
        let out = send_all(
            &bus,
            &["5:a".to_string()],
            Duration::from_secs(1),
            Deadline::after(Duration::ZERO),
        );
        assert_eq!(out, [("5:a".to_string(), Outcome::Skipped)]);
        assert!(bus.calls.borrow().is_empty());
    }
}
