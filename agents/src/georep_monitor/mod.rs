//! `georep_monitor`: one geo-replicated volume pair at one site, as a promotable clone
//! (`docs/sites.md`). Promoted: this site owns the writes (the volume writable, the outgoing
//! session kept running, its state published); Unpromoted: the volume is a read-only copy.
//!
//! - `params.rs`: the parameter table and its checks;
//! - `role.rs`: the state file (role, what was published) and the volume checks;
//! - `gluster.rs`: bounded, retried gluster calls;
//! - `publish.rs`: the session's report, node attributes and geostore;
//! - `score.rs`: the promotion score.
//!
//! Each action below takes its tools ([`Tools`]) so that tests can script gluster and
//! record what is published.

pub mod gluster;
pub mod params;
pub mod publish;
pub mod role;
pub mod score;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use georep::{Gluster, Runner, Session, SessionStatus};
use ocf::attrs::{AttrdUpdater, NodeAttributes};
use ocf::{Action, ActionSpec, Agent, Context, ExitCode, Metadata, OcfError};

use crate::names::{georep_handover_attr, GEOREP_AGENT};
use gluster::{gluster_for, retried, Retry};
use params::{Config, PARAMS};
use publish::{
    publish_attributes, publish_geostore, withdraw_attributes, Geostore, GeostoreCli, PrivateAttrd,
    Report,
};
use role::{check_volume, ensure_option, Role, State, VolumeCheck, READ_ONLY};
use score::{CrmPromotion, Promotion, PROMOTION_SCORE};

/// The options promote turns on (the RHGS "Disaster Recovery" sequence) after
/// `features.read-only off`: a new owner's changes must be recorded for the session.
pub const PROMOTE_OPTIONS: [&str; 2] = ["geo-replication.indexing", "changelog.changelog"];

static ACTIONS: [ActionSpec; 8] = [
    ActionSpec::new(Action::Start, 60),
    ActionSpec::new(Action::Stop, 60),
    ActionSpec::new(Action::Promote, 60),
    ActionSpec::new(Action::Demote, 60),
    ActionSpec::new(Action::Monitor, 30)
        .every(10, 0)
        .role("Promoted"),
    ActionSpec::new(Action::Monitor, 30)
        .every(11, 0)
        .role("Unpromoted"),
    ActionSpec::new(Action::ValidateAll, 10),
    ActionSpec::new(Action::MetaData, 5),
];

static METADATA: Metadata = Metadata {
    name: GEOREP_AGENT,
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "A geo-replicated gluster volume pair at one site (promotable)",
    longdesc: "Run as a promotable clone (promoted-max=1) per volume pair and site, promoted \
               only where the pair's booth ticket is (rsc_ticket rsc-role=Promoted \
               loss-policy=demote). Start and demote make the local volume read-only and stop \
               the outgoing geo-replication session; promote makes it writable, enables \
               indexing and changelog, and starts the session if it exists. The promoted \
               monitor keeps the session running and publishes its state as node attributes \
               and, with other_site, as repl_state and last_synced at the other site's booth. \
               A gluster CLI that does not answer is reported as the last known role.",
    params: &PARAMS,
    actions: &ACTIONS,
};

/// What an action works with.
pub struct Tools<'a, R: Runner> {
    pub gluster: &'a Gluster<R>,
    /// Status and checkpoint attributes.
    pub attrs: &'a dyn NodeAttributes,
    /// The lag attribute (private: see `publish.rs`).
    pub lag_attrs: &'a dyn NodeAttributes,
    pub promotion: &'a dyn Promotion,
    pub geostore: &'a dyn Geostore,
    pub retry: Retry,
    /// Seconds since the epoch.
    pub now: u64,
}

/// The agent.
#[derive(Debug, Default)]
pub struct GeorepMonitor;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn gluster_error(what: &str, e: georep::Error) -> OcfError {
    OcfError::generic(format!("{what}: {e}"))
}

/// The outgoing session, `None` when there is none.
fn session<R: Runner>(cfg: &Config, t: &Tools<R>) -> Result<Option<Session>, georep::Error> {
    retried(&t.retry, || t.gluster.session(&cfg.volume, &cfg.secondary))
}

/// Stops the outgoing session unless it is stopped or was never started.
fn stop_session<R: Runner>(cfg: &Config, t: &Tools<R>) -> Result<(), OcfError> {
    let what = format!("the session {} {}", cfg.volume, cfg.secondary);
    let current = session(cfg, t).map_err(|e| gluster_error(&format!("reading {what}"), e))?;
    match current {
        Some(s) if !matches!(s.status, SessionStatus::Stopped | SessionStatus::Created) => {
            retried(&t.retry, || {
                t.gluster.stop(&cfg.volume, &cfg.secondary, true)
            })
            .map_err(|e| gluster_error(&format!("stopping {what}"), e))?;
            tracing::info!("stopped {what} (was {})", s.status);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Starts the outgoing session if it exists and is Stopped or Created; returns it as it is
/// afterwards.
fn keep_session_running<R: Runner>(
    cfg: &Config,
    t: &Tools<R>,
) -> Result<Option<Session>, georep::Error> {
    let current = session(cfg, t)?;
    match &current {
        Some(s) if matches!(s.status, SessionStatus::Stopped | SessionStatus::Created) => {
            tracing::info!(
                "starting the session {} {} (was {})",
                cfg.volume,
                cfg.secondary,
                s.status
            );
            let outcome = retried(&t.retry, || {
                t.gluster.start(&cfg.volume, &cfg.secondary, false)
            })?;
            for note in outcome.notes {
                tracing::warn!("{note}");
            }
            session(cfg, t)
        }
        _ => Ok(current),
    }
}

fn set_score<R: Runner>(t: &Tools<R>, state: &mut State) {
    match t.promotion.set(PROMOTION_SCORE, t.retry.deadline) {
        Ok(()) => state.score_set = true,
        Err(e) => tracing::warn!("could not set the promotion score: {e}"),
    }
}

/// `start`: converges to Unpromoted: the volume read-only, the outgoing session stopped.
pub fn start<R: Runner>(cfg: &Config, state_file: &Path, t: &Tools<R>) -> Result<(), OcfError> {
    match check_volume(t.gluster, &cfg.volume, &t.retry) {
        VolumeCheck::Usable { .. } => {}
        VolumeCheck::Gone(why) => return Err(OcfError::generic(why)),
        VolumeCheck::Unknown(e) => return Err(gluster_error("gluster did not answer", e)),
    }
    ensure_option(t.gluster, &cfg.volume, READ_ONLY, true, &t.retry)?;
    stop_session(cfg, t)?;
    let mut state = State::new(Role::Unpromoted);
    set_score(t, &mut state);
    state.save(state_file)?;
    tracing::info!("started Unpromoted: {} is read-only", cfg.volume);
    Ok(())
}

/// `promote`: the volume writable, indexing and changelog on, the session started if it
/// exists. Each step checks first, so a rerun finishes an interrupted promote.
pub fn promote<R: Runner>(cfg: &Config, state_file: &Path, t: &Tools<R>) -> Result<(), OcfError> {
    ensure_option(t.gluster, &cfg.volume, READ_ONLY, false, &t.retry)?;
    for option in PROMOTE_OPTIONS {
        ensure_option(t.gluster, &cfg.volume, option, true, &t.retry)?;
    }
    let mut state = State::load(state_file)?.unwrap_or_else(|| State::new(Role::Promoted));
    state.role = Role::Promoted;
    state.save(state_file)?;
    if let Err(e) = keep_session_running(cfg, t) {
        tracing::warn!(
            "promoted, but the session {} {} is not started (the monitor retries): {e}",
            cfg.volume,
            cfg.secondary
        );
    }
    tracing::info!("promoted: {} is writable", cfg.volume);
    Ok(())
}

/// `demote`: the volume read-only first (no write can diverge once the ticket is gone),
/// then the session stopped.
pub fn demote<R: Runner>(cfg: &Config, state_file: &Path, t: &Tools<R>) -> Result<(), OcfError> {
    ensure_option(t.gluster, &cfg.volume, READ_ONLY, true, &t.retry)?;
    stop_session(cfg, t)?;
    let mut state = State::load(state_file)?.unwrap_or_else(|| State::new(Role::Unpromoted));
    state.role = Role::Unpromoted;
    if let Err(e) = t
        .attrs
        .delete(&georep_handover_attr(&cfg.volume), t.retry.deadline)
    {
        tracing::warn!("could not remove the handover attribute: {e}");
    }
    if let Err(e) = withdraw_attributes(
        t.attrs,
        t.lag_attrs,
        &cfg.volume,
        &mut state,
        t.retry.deadline,
    ) {
        tracing::warn!("could not withdraw the session attributes: {e}");
    }
    state.save(state_file)?;
    tracing::info!("demoted: {} is read-only", cfg.volume);
    Ok(())
}

/// `stop`: forgets the role; the volume is left as it is (the next start converges).
pub fn stop<R: Runner>(cfg: &Config, state_file: &Path, t: &Tools<R>) -> Result<(), OcfError> {
    let mut state = State::new(Role::Unpromoted);
    if let Err(e) = withdraw_attributes(
        t.attrs,
        t.lag_attrs,
        &cfg.volume,
        &mut state,
        t.retry.deadline,
    ) {
        tracing::warn!("could not withdraw the session attributes: {e}");
    }
    if let Err(e) = t.promotion.clear(t.retry.deadline) {
        tracing::warn!("could not remove the promotion score: {e}");
    }
    State::remove(state_file)
}

fn running(role: Role) -> ExitCode {
    match role {
        Role::Unpromoted => ExitCode::Success,
        Role::Promoted => ExitCode::RunningPromoted,
    }
}

/// `monitor`: the role from the state file, held against the volume.
pub fn monitor<R: Runner>(
    cfg: &Config,
    state_file: &Path,
    t: &Tools<R>,
) -> Result<ExitCode, OcfError> {
    let Some(mut state) = State::load(state_file)? else {
        return Err(OcfError::NotRunning(format!(
            "{GEOREP_AGENT} is not started"
        )));
    };
    let read_only = match check_volume(t.gluster, &cfg.volume, &t.retry) {
        VolumeCheck::Usable { read_only } => read_only,
        VolumeCheck::Unknown(e) => {
            tracing::warn!(
                "gluster did not answer, reporting the last known role {:?}: {e}",
                state.role
            );
            return Ok(running(state.role));
        }
        VolumeCheck::Gone(why) => {
            return match state.role {
                Role::Unpromoted => Err(OcfError::generic(why)),
                Role::Promoted => {
                    tracing::error!("promoted, but {why}");
                    Ok(ExitCode::FailedPromoted)
                }
            };
        }
    };
    let before = state.clone();
    if !state.score_set {
        set_score(t, &mut state);
    }
    let code = match (state.role, read_only) {
        (Role::Unpromoted, ro) => {
            if !ro {
                tracing::warn!("unpromoted, but {} is writable", cfg.volume);
            }
            ExitCode::Success
        }
        (Role::Promoted, true) if handing_over(cfg, t) => {
            tracing::info!(
                "{} is read-only while the pair is handed back (failback commit)",
                cfg.volume
            );
            publish(cfg, t, &mut state);
            ExitCode::RunningPromoted
        }
        (Role::Promoted, true) => {
            tracing::error!("promoted, but {} is read-only", cfg.volume);
            ExitCode::FailedPromoted
        }
        (Role::Promoted, false) => {
            publish(cfg, t, &mut state);
            ExitCode::RunningPromoted
        }
    };
    if state != before {
        state.save(state_file)?;
    }
    Ok(code)
}

/// Whether `site failback commit` is handing the pair back from this node (its
/// [`georep_handover_attr`] set): read-only while promoted is then on purpose. An attribute
/// store that does not answer means no.
fn handing_over<R: Runner>(cfg: &Config, t: &Tools<R>) -> bool {
    t.attrs
        .query(&georep_handover_attr(&cfg.volume), t.retry.deadline)
        .ok()
        .flatten()
        .is_some_and(|v| !v.is_empty())
}

/// The promoted monitor's work on the session: kept running, its state published. Nothing
/// here fails the monitor.
fn publish<R: Runner>(cfg: &Config, t: &Tools<R>, state: &mut State) {
    let session = match keep_session_running(cfg, t) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(
                "the session {} {} is unknown, nothing published: {e}",
                cfg.volume,
                cfg.secondary
            );
            return;
        }
    };
    let report = Report::of(session.as_ref(), t.now, cfg.max_lag);
    if let Err(e) = publish_attributes(
        t.attrs,
        t.lag_attrs,
        &cfg.volume,
        &report,
        state,
        t.retry.deadline,
    ) {
        tracing::warn!("could not publish the session attributes: {e}");
    }
    if let Some(site) = &cfg.other_site {
        publish_geostore(
            t.geostore,
            &cfg.ticket,
            site,
            &report,
            state,
            t.retry.deadline,
        );
    }
}

/// The pause between gluster retries.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

impl GeorepMonitor {
    fn run<T>(
        &self,
        ctx: &Context,
        action: impl FnOnce(&Config, &Path, &Tools<gluster::Bounded>) -> Result<T, OcfError>,
    ) -> Result<T, OcfError> {
        let cfg = Config::read(ctx)?;
        let deadline = ctx.deadline();
        let g = gluster_for(deadline);
        let attrs = AttrdUpdater::default();
        let lag_attrs = PrivateAttrd {
            program: PathBuf::from("attrd_updater"),
        };
        let promotion = CrmPromotion {
            node: ctx.on_node().map(str::to_owned),
        };
        let geostore = GeostoreCli {
            program: PathBuf::from("geostore"),
            booth_conf: cfg.booth_conf.clone(),
        };
        let tools = Tools {
            gluster: &g,
            attrs: &attrs,
            lag_attrs: &lag_attrs,
            promotion: &promotion,
            geostore: &geostore,
            retry: Retry {
                deadline,
                pause: RETRY_PAUSE,
            },
            now: unix_now(),
        };
        action(&cfg, &ctx.state_file(GEOREP_AGENT), &tools)
    }
}

impl Agent for GeorepMonitor {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn validate(&self, ctx: &Context) -> Result<(), OcfError> {
        Config::read(ctx).map(drop)
    }

    fn start(&self, ctx: &Context) -> Result<(), OcfError> {
        self.run(ctx, start)
    }

    fn stop(&self, ctx: &Context) -> Result<(), OcfError> {
        self.run(ctx, stop)
    }

    fn monitor(&self, ctx: &Context) -> Result<ExitCode, OcfError> {
        self.run(ctx, monitor)
    }

    fn promote(&self, ctx: &Context) -> Result<(), OcfError> {
        self.run(ctx, promote)
    }

    fn demote(&self, ctx: &Context) -> Result<(), OcfError> {
        self.run(ctx, demote)
    }
}
