//! `ganesha_mon`: publishes the local ganesha.nfsd's health as transient node attributes.
//!
//! Two attributes, names configurable (defaults `ganesha-active` and `grace-active`), are
//! `1` while the daemon is healthy and absent otherwise.
//!
//! ## Ordering without a sleep
//!
//! The glusterfs agent deleted `grace-active`, slept `grace_delay` (5 s) inside its monitor,
//! then deleted `ganesha-active`, hoping the survivors' grace notifications ran in between.
//! Pacemaker's model can order this itself: with
//!
//! - `nfs-grace-clone` banned where `grace-active ne 1`,
//! - each VIP banned where `ganesha-active ne 1` **or** `grace-active ne 1`, and
//! - `order nfs-grace-clone(stop) then VIP(start)`, kind Optional,
//!
//! deleting `grace-active` alone produces **one** transition in which the failed node's grace
//! instance stops, every survivor runs its post-stop notify (grace), and only then
//! (`nfs-grace-clone_confirmed-post_notify_stopped_0`) the VIP starts on a survivor. The
//! project's `crm_simulate` proof (`setup/tests/ordering.rs`) checks that edge of the
//! transition graph.
//!
//! So on failure this agent deletes `grace-active` at once and `ganesha-active` at the
//! **next** monitor. Writing the second attribute immediately would abort the running
//! failover transition (any transient attribute change does), and an aborted transition can
//! lose the post-stop notifications of an instance that already stopped. One monitor
//! interval later the failover is long complete; nothing waits in the meantime. With the
//! legacy glusterfs constraints (VIP rule on `ganesha-active` only) the VIP then follows one
//! interval after grace, the role the 5 s sleep played there.
//!
//! Attributes are written only when the published state changes, plus a refresh every
//! `refresh_interval` seconds in case the attribute manager lost them, so a steady-state
//! monitor reads three small files and calls nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ocf::attrs::{AttrdUpdater, NodeAttributes};
use ocf::{
    Action, ActionSpec, Agent, CheckLevel, Context, Deadline, ExitCode, Metadata, OcfError,
    ParamSpec,
};

use crate::daemon::{self, DaemonState};
use crate::dbus::GaneshaAdmin;
use crate::names::{GANESHA_ACTIVE, GANESHA_PID_FILE, GRACE_ACTIVE, MON_AGENT};
use crate::state;

static PARAMS: [ParamSpec; 6] = [
    ParamSpec::string("ganesha_active")
        .default(GANESHA_ACTIVE)
        .describe(
            "daemon-health attribute",
            "Node attribute set to 1 while ganesha.nfsd is healthy. Deleted one monitor after \
         grace_active when the daemon fails.",
        ),
    ParamSpec::string("grace_active")
        .default(GRACE_ACTIVE)
        .describe(
            "grace attribute",
            "Node attribute set to 1 while ganesha.nfsd is healthy; deleting it is what triggers \
         grace on the survivors and the VIP move.",
        ),
    ParamSpec::string("pid_file")
        .default(GANESHA_PID_FILE)
        .describe("pid file", "The pid file of ganesha.nfsd."),
    ParamSpec::string("binary")
        .default("/usr/bin/ganesha.nfsd")
        .describe(
            "ganesha.nfsd binary",
            "The daemon's program; its name identifies the process behind the pid file.",
        ),
    ParamSpec::integer("refresh_interval")
        .default("300")
        .describe(
            "attribute refresh (s)",
            "Rewrite the attributes at least this often even when nothing changed, in case the \
         attribute manager lost them. 0 disables the refresh.",
        ),
    ParamSpec::integer("dbus_timeout").default("5").describe(
        "D-Bus bound (s)",
        "At OCF_CHECK_LEVEL 10 the daemon must answer get_grace on D-Bus within this bound to \
         count as healthy (this catches a hung daemon).",
    ),
];

static ACTIONS: [ActionSpec; 5] = [
    ActionSpec::new(Action::Start, 20),
    ActionSpec::new(Action::Stop, 20),
    ActionSpec::new(Action::Monitor, 10).every(5, 0),
    ActionSpec::new(Action::ValidateAll, 10),
    ActionSpec::new(Action::MetaData, 5),
];

static METADATA: Metadata = Metadata {
    name: MON_AGENT,
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Publishes NFS-Ganesha health as node attributes",
    longdesc: "Watches the local ganesha.nfsd (pid file, process identity, and at \
               OCF_CHECK_LEVEL 10 its D-Bus answer) and publishes the result as the transient \
               node attributes ganesha_active and grace_active. Run it as a clone. Location \
               rules on these attributes stop the local ganesha_grace instance (so survivors \
               enter grace) and move the VIP in one transition; see the README for the \
               constraints. Its monitor returns 7 when the agent is not started and an error \
               when the attributes cannot be published.",
    params: &PARAMS,
    actions: &ACTIONS,
};

/// The agent.
#[derive(Debug, Default)]
pub struct GaneshaMon;

/// What this agent last wrote, kept in its state file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    pub ganesha_active: bool,
    pub grace_active: bool,
    /// Unix seconds of the last full write.
    pub at: u64,
}

impl Published {
    fn from_entries(entries: &BTreeMap<String, String>) -> Published {
        let flag = |k: &str| entries.get(k).is_some_and(|v| v == "1");
        Published {
            ganesha_active: flag("ganesha_active"),
            grace_active: flag("grace_active"),
            at: entries.get("at").and_then(|v| v.parse().ok()).unwrap_or(0),
        }
    }

    fn to_entries(&self) -> BTreeMap<String, String> {
        let flag = |b: bool| if b { "1" } else { "0" }.to_owned();
        [
            ("ganesha_active".to_owned(), flag(self.ganesha_active)),
            ("grace_active".to_owned(), flag(self.grace_active)),
            ("at".to_owned(), self.at.to_string()),
        ]
        .into_iter()
        .collect()
    }
}

/// The attribute names.
#[derive(Clone, Debug)]
pub struct Names {
    pub ganesha_active: String,
    pub grace_active: String,
}

/// How forcefully to publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Write what changed; on failure only `grace_active` this time (see module docs).
    Monitor,
    /// Write everything (start, refresh).
    Full,
}

/// Brings the attributes to what `healthy` means, starting from `published`, and returns
/// the new published state.
pub fn publish(
    attrs: &dyn NodeAttributes,
    names: &Names,
    published: &Published,
    healthy: bool,
    mode: Mode,
    now: u64,
    deadline: Deadline,
) -> Result<Published, OcfError> {
    let mut next = published.clone();
    let full = mode == Mode::Full;
    if healthy {
        // ganesha-active first: grace-active is the one that lets the VIP come back.
        if full || !published.ganesha_active {
            attrs.update(&names.ganesha_active, "1", deadline)?;
            next.ganesha_active = true;
        }
        if full || !published.grace_active {
            attrs.update(&names.grace_active, "1", deadline)?;
            next.grace_active = true;
        }
    } else {
        let grace_was_set = published.grace_active;
        if full || published.grace_active {
            attrs.delete(&names.grace_active, deadline)?;
            next.grace_active = false;
        }
        // Not in the same call that withdrew grace-active, unless forced: that write would
        // abort the failover transition it just triggered.
        if full || (published.ganesha_active && !grace_was_set) {
            attrs.delete(&names.ganesha_active, deadline)?;
            next.ganesha_active = false;
        }
    }
    if full {
        next.at = now;
    }
    Ok(next)
}

/// Withdraws both attributes (stop).
pub fn withdraw(
    attrs: &dyn NodeAttributes,
    names: &Names,
    deadline: Deadline,
) -> Result<(), OcfError> {
    attrs.delete(&names.grace_active, deadline)?;
    attrs.delete(&names.ganesha_active, deadline)?;
    Ok(())
}

struct Config {
    names: Names,
    pid_file: PathBuf,
    comm: String,
    refresh: Duration,
    dbus_timeout: Duration,
    state_file: PathBuf,
}

impl Config {
    fn read(ctx: &Context) -> Result<Config, OcfError> {
        let p = ctx.params();
        let name = |param: &str| -> Result<String, OcfError> {
            let value = p.require(param)?;
            if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(OcfError::configured(
                    param,
                    format!("must be an attribute name without spaces, got '{value}'"),
                ));
            }
            Ok(value.to_owned())
        };
        let names = Names {
            ganesha_active: name("ganesha_active")?,
            grace_active: name("grace_active")?,
        };
        if names.ganesha_active == names.grace_active {
            return Err(OcfError::configured(
                "grace_active",
                "must differ from ganesha_active",
            ));
        }
        let pid_file = PathBuf::from(p.require("pid_file")?);
        if !pid_file.is_absolute() {
            return Err(OcfError::configured("pid_file", "must be an absolute path"));
        }
        Ok(Config {
            names,
            pid_file,
            comm: ocf::process::comm_of(std::path::Path::new(p.require("binary")?)),
            refresh: p.seconds("refresh_interval")?.unwrap_or_default(),
            dbus_timeout: p
                .seconds("dbus_timeout")?
                .filter(|d| !d.is_zero())
                .ok_or_else(|| OcfError::configured("dbus_timeout", "must be at least 1"))?,
            state_file: ctx.state_file(MON_AGENT),
        })
    }

    fn healthy(&self, ctx: &Context) -> bool {
        let pid = match daemon::state(&self.pid_file, &self.comm) {
            DaemonState::Running(pid) => pid,
            DaemonState::Stopped(reason) => {
                tracing::debug!("ganesha.nfsd unhealthy: {reason}");
                return false;
            }
        };
        if ctx.check_level() >= CheckLevel::THOROUGH {
            let bound = ctx.deadline().portion(0.5).bound(self.dbus_timeout);
            if let Err(e) = GaneshaAdmin::connect(bound).and_then(|a| a.get_grace(bound)) {
                tracing::warn!("ganesha.nfsd (pid {pid}) unhealthy: {e}");
                return false;
            }
        }
        true
    }

    fn load(&self) -> Result<Option<Published>, OcfError> {
        state::read(&self.state_file)
            .map(|entries| entries.as_ref().map(Published::from_entries))
            .map_err(|e| OcfError::io(format!("reading {}", self.state_file.display()), e))
    }

    fn save(&self, published: &Published) -> Result<(), OcfError> {
        state::write(&self.state_file, &published.to_entries())
            .map_err(|e| OcfError::io(format!("writing {}", self.state_file.display()), e))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl GaneshaMon {
    /// `start`, with the attribute store given (tests use a recording one).
    pub fn start_with(&self, ctx: &Context, attrs: &dyn NodeAttributes) -> Result<(), OcfError> {
        let cfg = Config::read(ctx)?;
        let healthy = cfg.healthy(ctx);
        let published = publish(
            attrs,
            &cfg.names,
            &Published::default(),
            healthy,
            Mode::Full,
            now(),
            ctx.deadline(),
        )?;
        tracing::info!("started; ganesha.nfsd healthy: {healthy}");
        cfg.save(&published)
    }

    /// `monitor`, with the attribute store given.
    pub fn monitor_with(
        &self,
        ctx: &Context,
        attrs: &dyn NodeAttributes,
    ) -> Result<ExitCode, OcfError> {
        let cfg = Config::read(ctx)?;
        let Some(published) = cfg.load()? else {
            return Err(OcfError::NotRunning("ganesha_mon is not started".into()));
        };
        let healthy = cfg.healthy(ctx);
        let now = now();
        let refresh_due =
            !cfg.refresh.is_zero() && now.saturating_sub(published.at) >= cfg.refresh.as_secs();
        let mode = if refresh_due {
            Mode::Full
        } else {
            Mode::Monitor
        };
        let next = publish(
            attrs,
            &cfg.names,
            &published,
            healthy,
            mode,
            now,
            ctx.deadline(),
        )?;
        if next != published {
            if next.grace_active != published.grace_active
                || next.ganesha_active != published.ganesha_active
            {
                tracing::info!(
                    "ganesha.nfsd healthy: {healthy}; published {}={} {}={}",
                    cfg.names.ganesha_active,
                    u8::from(next.ganesha_active),
                    cfg.names.grace_active,
                    u8::from(next.grace_active)
                );
            }
            cfg.save(&next)?;
        }
        Ok(ExitCode::Success)
    }

    /// `stop`, with the attribute store given.
    pub fn stop_with(&self, ctx: &Context, attrs: &dyn NodeAttributes) -> Result<(), OcfError> {
        let cfg = Config::read(ctx)?;
        // Nobody watches the daemon once we are gone, so the node stops advertising it. If
        // the cluster itself is going away the attributes go with it: do not fail the stop.
        if let Err(e) = withdraw(attrs, &cfg.names, ctx.deadline()) {
            tracing::warn!("could not withdraw the attributes: {e}");
        }
        state::remove(&cfg.state_file)
            .map_err(|e| OcfError::io(format!("removing {}", cfg.state_file.display()), e))
    }
}

impl Agent for GaneshaMon {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn validate(&self, ctx: &Context) -> Result<(), OcfError> {
        Config::read(ctx).map(drop)
    }

    fn start(&self, ctx: &Context) -> Result<(), OcfError> {
        self.start_with(ctx, &AttrdUpdater::default())
    }

    fn stop(&self, ctx: &Context) -> Result<(), OcfError> {
        self.stop_with(ctx, &AttrdUpdater::default())
    }

    fn monitor(&self, ctx: &Context) -> Result<ExitCode, OcfError> {
        self.monitor_with(ctx, &AttrdUpdater::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf::attrs::{AttrCall, RecordingAttributes};

    fn names() -> Names {
        Names {
            ganesha_active: GANESHA_ACTIVE.into(),
            grace_active: GRACE_ACTIVE.into(),
        }
    }

    fn d() -> Deadline {
        Deadline::after(Duration::from_secs(5))
    }

    fn step(
        attrs: &RecordingAttributes,
        state: &Published,
        healthy: bool,
        mode: Mode,
    ) -> (Published, Vec<AttrCall>) {
        attrs.clear_calls();
        let next = publish(attrs, &names(), state, healthy, mode, 100, d())
            .unwrap_or_else(|_| state.clone());
        (next, attrs.calls())
    }

    fn upd(n: &str) -> AttrCall {
        AttrCall::Update(n.into(), "1".into())
    }
    fn del(n: &str) -> AttrCall {
        AttrCall::Delete(n.into())
    }

    #[test]
    fn failure_withdraws_grace_first_and_daemon_attribute_one_monitor_later() {
        let attrs = RecordingAttributes::default();
        let (s, calls) = step(&attrs, &Published::default(), true, Mode::Full);
        assert_eq!(calls, [upd(GANESHA_ACTIVE), upd(GRACE_ACTIVE)]);
        // Steady state: no calls at all.
        let (s, calls) = step(&attrs, &s, true, Mode::Monitor);
        assert!(calls.is_empty());
        // The daemon dies: only grace-active goes, which triggers grace then the VIP move.
        let (s, calls) = step(&attrs, &s, false, Mode::Monitor);
        assert_eq!(calls, [del(GRACE_ACTIVE)]);
        assert_eq!(attrs.value(GANESHA_ACTIVE).as_deref(), Some("1"));
        // Next monitor: ganesha-active follows.
        let (s, calls) = step(&attrs, &s, false, Mode::Monitor);
        assert_eq!(calls, [del(GANESHA_ACTIVE)]);
        let (s, calls) = step(&attrs, &s, false, Mode::Monitor);
        assert!(calls.is_empty());
        // The daemon returns: ganesha-active first, grace-active last.
        let (_, calls) = step(&attrs, &s, true, Mode::Monitor);
        assert_eq!(calls, [upd(GANESHA_ACTIVE), upd(GRACE_ACTIVE)]);
    }

    #[test]
    fn full_mode_rewrites_everything() {
        let attrs = RecordingAttributes::default();
        let healthy = Published {
            ganesha_active: true,
            grace_active: true,
            at: 0,
        };
        let (s, calls) = step(&attrs, &healthy, true, Mode::Full);
        assert_eq!(calls, [upd(GANESHA_ACTIVE), upd(GRACE_ACTIVE)]);
        assert_eq!(s.at, 100);
        let (_, calls) = step(&attrs, &healthy, false, Mode::Full);
        assert_eq!(calls, [del(GRACE_ACTIVE), del(GANESHA_ACTIVE)]);
    }

    #[test]
    fn publish_failure_is_an_error_and_state_is_not_advanced() {
        let attrs = RecordingAttributes::default();
        attrs.set_unavailable(true);
        let r = publish(
            &attrs,
            &names(),
            &Published::default(),
            true,
            Mode::Monitor,
            1,
            d(),
        );
        assert!(matches!(r, Err(OcfError::Attribute(_))));
    }

    #[test]
    fn withdraw_deletes_grace_then_daemon_attribute() {
        let attrs = RecordingAttributes::default();
        assert!(withdraw(&attrs, &names(), d()).is_ok());
        assert_eq!(attrs.calls(), [del(GRACE_ACTIVE), del(GANESHA_ACTIVE)]);
    }
}
