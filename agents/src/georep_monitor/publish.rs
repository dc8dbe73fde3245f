//! What the promoted instance publishes about its outgoing session: node attributes
//! (`georep-<volume>-status`, `-lag`, `-checkpoint`) and, at the other site's booth,
//! `repl_state` and `last_synced` (geostore).
//!
//! The lag changes at every monitor. A transient attribute written to the CIB aborts the
//! running transition, so the lag goes to attrd as a *private* attribute (`attrd_updater
//! --private`: kept and queryable in attrd, never written to the CIB); status and checkpoint
//! change rarely and are ordinary transient attributes that rules may use.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use georep::{Session, SessionStatus};
use ocf::attrs::{AttrError, NodeAttributes};
use ocf::{Deadline, OcfError};

use super::role::State;
use crate::names::{
    georep_checkpoint_attr, georep_lag_attr, georep_status_attr, LAST_SYNCED, REPL_STATE,
};

/// `repl_state` and the status attribute when the volume has no outgoing session.
pub const NO_SESSION: &str = "NONE";
/// `repl_state` of a session that is Active but further behind than `max_lag`.
pub const STALE: &str = "STALE";

/// What a session's status amounts to, ready to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The roll-up (`ACTIVE`, `FAULTY`, ...), `NONE` without a session.
    pub status: String,
    /// The oldest last-synced time of the Active workers, seconds since the epoch.
    pub last_synced: Option<u64>,
    /// Seconds since `last_synced`.
    pub lag: Option<u64>,
    /// `completed`, `pending` or `none`.
    pub checkpoint: &'static str,
    /// `ACTIVE` only while the roll-up is ACTIVE and the lag within the bound.
    pub repl_state: String,
}

/// gluster's UTC `YYYY-mm-dd HH:MM:SS` as seconds since the epoch.
pub use georep::time::parse_utc as parse_gluster_time;

impl Report {
    /// The report of `session` (`None`: the volume has no session to the other site) at
    /// `now` (seconds since the epoch).
    pub fn of(session: Option<&Session>, now: u64, max_lag: Duration) -> Report {
        let Some(session) = session else {
            return Report {
                status: NO_SESSION.to_owned(),
                last_synced: None,
                lag: None,
                checkpoint: "none",
                repl_state: NO_SESSION.to_owned(),
            };
        };
        let last_synced = session.last_synced();
        let lag = last_synced.map(|t| now.saturating_sub(t));
        let checkpoint = if session.details.iter().all(|d| d.checkpoint_time.is_none()) {
            "none"
        } else if session.checkpoint_completed() {
            "completed"
        } else {
            "pending"
        };
        let repl_state = match (session.status, lag) {
            (SessionStatus::Active, Some(lag)) if lag <= max_lag.as_secs() => "ACTIVE",
            (SessionStatus::Active, _) => STALE,
            (other, _) => other.label(),
        };
        Report {
            status: session.status.label().to_owned(),
            last_synced,
            lag,
            checkpoint,
            repl_state: repl_state.to_owned(),
        }
    }
}

/// Writes the node attributes that differ from what `state` says was written, and records
/// them there. `lag_attrs` takes the lag (a private attribute, see the module docs).
pub fn publish_attributes(
    attrs: &dyn NodeAttributes,
    lag_attrs: &dyn NodeAttributes,
    volume: &str,
    report: &Report,
    state: &mut State,
    deadline: Deadline,
) -> Result<(), AttrError> {
    let lag = report.lag.map(|l| l.to_string());
    let wanted: [(String, Option<String>, &dyn NodeAttributes); 3] = [
        (
            georep_status_attr(volume),
            Some(report.status.clone()),
            attrs,
        ),
        (georep_lag_attr(volume), lag, lag_attrs),
        (
            georep_checkpoint_attr(volume),
            Some(report.checkpoint.to_owned()),
            attrs,
        ),
    ];
    for (name, value, store) in wanted {
        if state.attributes.get(&name) == value.as_ref() {
            continue;
        }
        match &value {
            Some(v) => store.update(&name, v, deadline)?,
            None => store.delete(&name, deadline)?,
        }
        match value {
            Some(v) => state.attributes.insert(name, v),
            None => state.attributes.remove(&name),
        };
    }
    Ok(())
}

/// Removes the node attributes (demote, stop).
pub fn withdraw_attributes(
    attrs: &dyn NodeAttributes,
    lag_attrs: &dyn NodeAttributes,
    volume: &str,
    state: &mut State,
    deadline: Deadline,
) -> Result<(), AttrError> {
    attrs.delete(&georep_status_attr(volume), deadline)?;
    lag_attrs.delete(&georep_lag_attr(volume), deadline)?;
    attrs.delete(&georep_checkpoint_attr(volume), deadline)?;
    state.attributes.clear();
    Ok(())
}

/// booth's attribute store at a site.
pub trait Geostore {
    /// `geostore set -c CONF -t TICKET -s SITE NAME VALUE`.
    fn set(
        &self,
        ticket: &str,
        site: &str,
        name: &str,
        value: &str,
        deadline: Deadline,
    ) -> Result<(), OcfError>;
}

/// Longest a geostore call may take: the other site is across a WAN, and booth's client
/// gives up on its own only much later.
const GEOSTORE_LIMIT: Duration = Duration::from_secs(10);

/// The `geostore` program with booth's configuration.
#[derive(Clone, Debug)]
pub struct GeostoreCli {
    pub program: PathBuf,
    pub booth_conf: PathBuf,
}

impl Geostore for GeostoreCli {
    fn set(
        &self,
        ticket: &str,
        site: &str,
        name: &str,
        value: &str,
        deadline: Deadline,
    ) -> Result<(), OcfError> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("set")
            .arg("-c")
            .arg(&self.booth_conf)
            .args(["-t", ticket, "-s", site, name, value]);
        ocf::command::run(&mut cmd, deadline.bound(GEOSTORE_LIMIT))?;
        Ok(())
    }
}

/// Publishes `repl_state` and `last_synced` to the other site's booth when they changed
/// since the last publish (recorded in `state` only once written). A failure is a warning:
/// the next monitor tries again, and the monitor's result does not depend on it.
pub fn publish_geostore(
    store: &dyn Geostore,
    ticket: &str,
    other_site: &str,
    report: &Report,
    state: &mut State,
    deadline: Deadline,
) {
    let last_synced = report.last_synced.map(|t| t.to_string());
    let items = [
        (REPL_STATE, Some(report.repl_state.clone())),
        (LAST_SYNCED, last_synced),
    ];
    for (name, value) in items {
        let Some(value) = value else { continue };
        let published = match name {
            REPL_STATE => &mut state.repl_state,
            _ => &mut state.last_synced,
        };
        if published.as_ref() == Some(&value) {
            continue;
        }
        match store.set(ticket, other_site, name, &value, deadline) {
            Ok(()) => *published = Some(value),
            Err(e) => tracing::warn!("geostore {name}={value} at {other_site}: {e}"),
        }
    }
}

/// Longest one attribute call may take.
const ATTR_LIMIT: Duration = Duration::from_secs(10);

/// `attrd_updater --private`: attributes kept in attrd (and answered by `attrd_updater
/// --query`) but never written to the CIB, so they never abort a transition.
#[derive(Clone, Debug)]
pub struct PrivateAttrd {
    pub program: PathBuf,
}

impl PrivateAttrd {
    fn call(&self, name: &str, args: &[&str], deadline: Deadline) -> Result<String, AttrError> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("--name").arg(name).args(args);
        ocf::command::run(&mut cmd, deadline.bound(ATTR_LIMIT))
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .map_err(|source| AttrError::Failed {
                name: name.to_owned(),
                source,
            })
    }
}

impl NodeAttributes for PrivateAttrd {
    fn update(&self, name: &str, value: &str, deadline: Deadline) -> Result<(), AttrError> {
        self.call(name, &["--private", "--update", value], deadline)
            .map(drop)
    }

    fn delete(&self, name: &str, deadline: Deadline) -> Result<(), AttrError> {
        self.call(name, &["--delete"], deadline).map(drop)
    }

    fn query(&self, name: &str, deadline: Deadline) -> Result<Option<String>, AttrError> {
        let answer = self.call(name, &["--query"], deadline)?;
        ocf::attrs::parse_attrd_query(name, &answer)
    }
}
