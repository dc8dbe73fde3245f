//! The instance's role, kept in its state file under `/run` (gone at reboot, so a node that
//! boots knows nothing until Pacemaker starts it), and the volume checks the role is held
//! against.

use georep::{Error, Gluster, Runner};
use ocf::OcfError;
use std::collections::BTreeMap;
use std::path::Path;

use super::gluster::{retried, Retry};
use crate::state;

/// The gluster option that keeps a copy unwritable.
pub const READ_ONLY: &str = "features.read-only";

/// The instance's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Unpromoted,
    Promoted,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Unpromoted => "Unpromoted",
            Role::Promoted => "Promoted",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "Unpromoted" => Some(Role::Unpromoted),
            "Promoted" => Some(Role::Promoted),
            _ => None,
        }
    }
}

/// What the state file holds: the role, whether the promotion score is set, and what was
/// last published (so that nothing is rewritten while it stays the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub role: Role,
    pub score_set: bool,
    /// The node attributes last written, by name.
    pub attributes: BTreeMap<String, String>,
    /// `repl_state` last written to the other site's booth.
    pub repl_state: Option<String>,
    /// `last_synced` last written to the other site's booth.
    pub last_synced: Option<String>,
}

impl State {
    /// A fresh state in `role`.
    pub fn new(role: Role) -> State {
        State {
            role,
            score_set: false,
            attributes: BTreeMap::new(),
            repl_state: None,
            last_synced: None,
        }
    }

    fn from_entries(entries: &BTreeMap<String, String>) -> State {
        let role = entries
            .get("role")
            .and_then(|r| Role::parse(r))
            .unwrap_or(Role::Unpromoted);
        State {
            role,
            score_set: entries.get("score").is_some_and(|v| v == "1"),
            attributes: entries
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("attr.")?.to_owned(), v.clone())))
                .collect(),
            repl_state: entries.get("published.repl_state").cloned(),
            last_synced: entries.get("published.last_synced").cloned(),
        }
    }

    fn to_entries(&self) -> BTreeMap<String, String> {
        let mut e = BTreeMap::new();
        e.insert("role".to_owned(), self.role.as_str().to_owned());
        e.insert(
            "score".to_owned(),
            if self.score_set { "1" } else { "0" }.into(),
        );
        for (k, v) in &self.attributes {
            e.insert(format!("attr.{k}"), v.clone());
        }
        if let Some(v) = &self.repl_state {
            e.insert("published.repl_state".to_owned(), v.clone());
        }
        if let Some(v) = &self.last_synced {
            e.insert("published.last_synced".to_owned(), v.clone());
        }
        e
    }

    /// The state file's content; `None` when the instance is not started.
    pub fn load(path: &Path) -> Result<Option<State>, OcfError> {
        state::read(path)
            .map(|e| e.as_ref().map(State::from_entries))
            .map_err(|e| OcfError::io(format!("reading {}", path.display()), e))
    }

    /// Replaces the state file.
    pub fn save(&self, path: &Path) -> Result<(), OcfError> {
        state::write(path, &self.to_entries())
            .map_err(|e| OcfError::io(format!("writing {}", path.display()), e))
    }

    /// Forgets the role.
    pub fn remove(path: &Path) -> Result<(), OcfError> {
        state::remove(path).map_err(|e| OcfError::io(format!("removing {}", path.display()), e))
    }
}

/// What gluster says about the local volume.
#[derive(Debug)]
pub enum VolumeCheck {
    /// It exists and is started; `read_only` is `features.read-only`.
    Usable { read_only: bool },
    /// gluster answered that it does not exist or is not started.
    Gone(String),
    /// gluster did not answer (failed, crashed, timed out) within the bound.
    Unknown(Error),
}

fn is_on(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "on" | "yes" | "true" | "enable" | "1"
    )
}

fn check_once<R: Runner>(g: &Gluster<R>, volume: &str, retry: &Retry) -> VolumeCheck {
    let started = match retried(retry, || g.volume_started(volume)) {
        Ok(started) => started,
        Err(e) if e.is_no_such_volume() => {
            return VolumeCheck::Gone(format!("volume {volume} does not exist"))
        }
        Err(e) => return VolumeCheck::Unknown(e),
    };
    if !started {
        return VolumeCheck::Gone(format!("volume {volume} is not started"));
    }
    match retried(retry, || g.volume_get(volume, READ_ONLY)) {
        Ok(value) => VolumeCheck::Usable {
            read_only: is_on(&value),
        },
        Err(e) if e.is_no_such_volume() => {
            VolumeCheck::Gone(format!("volume {volume} does not exist"))
        }
        Err(e) => VolumeCheck::Unknown(e),
    }
}

/// The volume's state; "gone" only when two answers in a row agree (a volume being
/// recreated, or a glusterd restarting, answers wrongly once).
pub fn check_volume<R: Runner>(g: &Gluster<R>, volume: &str, retry: &Retry) -> VolumeCheck {
    match check_once(g, volume, retry) {
        VolumeCheck::Gone(first) => {
            retry.pause();
            match check_once(g, volume, retry) {
                VolumeCheck::Gone(_) => VolumeCheck::Gone(first),
                other => other,
            }
        }
        other => other,
    }
}

/// Sets a volume option unless it already has that value (each step checks before it
/// changes, so an interrupted action finishes when rerun).
pub fn ensure_option<R: Runner>(
    g: &Gluster<R>,
    volume: &str,
    option: &str,
    on: bool,
    retry: &Retry,
) -> Result<bool, OcfError> {
    let value = if on { "on" } else { "off" };
    let current = retried(retry, || g.volume_get(volume, option))
        .map_err(|e| OcfError::generic(format!("reading {option} of {volume}: {e}")))?;
    if is_on(&current) == on {
        return Ok(false);
    }
    retried(retry, || g.volume_set(volume, option, value))
        .map_err(|e| OcfError::generic(format!("setting {option} {value} on {volume}: {e}")))?;
    tracing::info!("{volume}: {option} {value}");
    Ok(true)
}
