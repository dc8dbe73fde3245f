//! Sessions and their per-brick details, as a management layer keeps them.

use std::fmt;

use serde::Serialize;

use crate::error::Error;

/// The far end of a session: `[USER@]HOST::VOLUME`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Secondary {
    /// `root` unless a non-root (mountbroker) user was given.
    pub user: String,
    pub host: String,
    pub volume: String,
}

impl Secondary {
    /// Parses `[USER@]HOST::VOLUME` (an `ssh://` prefix, as gluster prints it, is accepted),
    /// with gluster's CLI rules: exactly one `::`, never `:::`.
    pub fn parse(text: &str) -> Result<Secondary, Error> {
        let bad = || Error::InvalidSecondary(text.to_owned());
        let url = text.strip_prefix("ssh://").unwrap_or(text);
        if url.contains(":::") {
            return Err(bad());
        }
        let (user_host, volume) = url.split_once("::").ok_or_else(bad)?;
        let (user, host) = match user_host.split_once('@') {
            Some((user, host)) => (user, host),
            None => ("root", user_host),
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        let host_ok = plain(host)
            || (host.contains(':') && host.chars().all(|c| c.is_ascii_hexdigit() || c == ':'));
        if !plain(user) || !host_ok || !plain(volume) {
            return Err(bad());
        }
        Ok(Secondary {
            user: user.to_owned(),
            host: host.to_owned(),
            volume: volume.to_owned(),
        })
    }

    /// True for a non-root (mountbroker) session.
    pub fn is_non_root(&self) -> bool {
        self.user != "root"
    }
}

impl fmt::Display for Secondary {
    /// The form the gluster CLI takes: the `root@` prefix is left out, as gluster does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_non_root() {
            write!(f, "{}@", self.user)?;
        }
        write!(f, "{}::{}", self.host, self.volume)
    }
}

/// Checks a volume name before it reaches gluster's argv.
pub fn check_volume_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "volume name",
            value: name.to_owned(),
            why: "use letters, digits, '-', '_' and '.', not starting with '-'",
        })
    }
}

/// One worker's state, as `status` reports it for its brick.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkerStatus {
    Created,
    Initializing,
    Active,
    Passive,
    Faulty,
    Paused,
    Stopped,
    /// The brick is in the volume but no node reported it (node down or unreachable).
    Offline,
    /// Anything else gluster printed (`N/A`, `defunct`, `Config Corrupted`, ...).
    Unknown(String),
}

impl WorkerStatus {
    /// From gluster's text; both `Initializing...` (gsyncd) and `Initializing..` (GD2).
    pub fn parse(text: &str) -> WorkerStatus {
        match text.trim() {
            "Created" => WorkerStatus::Created,
            t if t.starts_with("Initializing") => WorkerStatus::Initializing,
            "Active" => WorkerStatus::Active,
            "Passive" => WorkerStatus::Passive,
            "Faulty" => WorkerStatus::Faulty,
            "Paused" => WorkerStatus::Paused,
            "Stopped" => WorkerStatus::Stopped,
            "Offline" => WorkerStatus::Offline,
            other => WorkerStatus::Unknown(other.to_owned()),
        }
    }

    /// For tables.
    pub fn label(&self) -> &str {
        match self {
            WorkerStatus::Created => "Created",
            WorkerStatus::Initializing => "Initializing",
            WorkerStatus::Active => "Active",
            WorkerStatus::Passive => "Passive",
            WorkerStatus::Faulty => "Faulty",
            WorkerStatus::Paused => "Paused",
            WorkerStatus::Stopped => "Stopped",
            WorkerStatus::Offline => "Offline",
            WorkerStatus::Unknown(text) => text,
        }
    }
}

/// How a worker finds changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CrawlStatus {
    HybridCrawl,
    HistoryCrawl,
    ChangelogCrawl,
    NotApplicable,
    Other(String),
}

impl CrawlStatus {
    pub fn parse(text: &str) -> CrawlStatus {
        match text.trim() {
            "Hybrid Crawl" => CrawlStatus::HybridCrawl,
            "History Crawl" => CrawlStatus::HistoryCrawl,
            "Changelog Crawl" => CrawlStatus::ChangelogCrawl,
            "N/A" | "" => CrawlStatus::NotApplicable,
            other => CrawlStatus::Other(other.to_owned()),
        }
    }

    pub fn label(&self) -> &str {
        match self {
            CrawlStatus::HybridCrawl => "Hybrid Crawl",
            CrawlStatus::HistoryCrawl => "History Crawl",
            CrawlStatus::ChangelogCrawl => "Changelog Crawl",
            CrawlStatus::NotApplicable => "N/A",
            CrawlStatus::Other(text) => text,
        }
    }
}

/// One primary brick's worker. Times are UTC `YYYY-mm-dd HH:MM:SS` as gluster's XML gives
/// them; `None` where gluster printed `N/A` (the worker is not Active, or the session is
/// Paused, Stopped or Created).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionDetail {
    pub primary_node: String,
    pub primary_node_uuid: Option<String>,
    pub primary_brick: String,
    /// `None` while Active (gluster leaves it blank) and when not applicable.
    pub secondary_node: Option<String>,
    pub status: WorkerStatus,
    pub crawl_status: CrawlStatus,
    pub last_synced: Option<String>,
    pub checkpoint_time: Option<String>,
    pub checkpoint_completed: Option<bool>,
    pub checkpoint_completion_time: Option<String>,
    /// Entry operations (creates, deletes, renames) waiting to be synced.
    pub entry_pending: Option<u64>,
    /// Data operations (files with changed content) waiting to be synced.
    pub data_pending: Option<u64>,
    /// Metadata operations (permissions, ownership, times) waiting to be synced.
    pub meta_pending: Option<u64>,
    /// Entries that failed to sync.
    pub failures: Option<u64>,
}

impl SessionDetail {
    /// A brick of the volume that no node reported on.
    pub fn offline(node: &str, brick: &str) -> SessionDetail {
        SessionDetail {
            primary_node: node.to_owned(),
            primary_node_uuid: None,
            primary_brick: brick.to_owned(),
            secondary_node: None,
            status: WorkerStatus::Offline,
            crawl_status: CrawlStatus::NotApplicable,
            last_synced: None,
            checkpoint_time: None,
            checkpoint_completed: None,
            checkpoint_completion_time: None,
            entry_pending: None,
            data_pending: None,
            meta_pending: None,
            failures: None,
        }
    }
}

/// The session's health, rolled up from its workers (see [`crate::rollup`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionStatus {
    Initializing,
    Created,
    Active,
    Passive,
    Paused,
    Stopped,
    PartialFaulty,
    Faulty,
    Unknown,
}

impl SessionStatus {
    pub fn label(self) -> &'static str {
        match self {
            SessionStatus::Initializing => "INITIALIZING",
            SessionStatus::Created => "CREATED",
            SessionStatus::Active => "ACTIVE",
            SessionStatus::Passive => "PASSIVE",
            SessionStatus::Paused => "PAUSED",
            SessionStatus::Stopped => "STOPPED",
            SessionStatus::PartialFaulty => "PARTIAL_FAULTY",
            SessionStatus::Faulty => "FAULTY",
            SessionStatus::Unknown => "UNKNOWN",
        }
    }

    /// Whether the session's workers run (possibly degraded). Created after a `start` means
    /// the monitor died at once: not running.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            SessionStatus::Initializing
                | SessionStatus::Active
                | SessionStatus::Passive
                | SessionStatus::PartialFaulty
                | SessionStatus::Faulty
        )
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One geo-replication session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Session {
    /// gluster's session directory name, `<primary vol>_<secondary host>_<secondary vol>`.
    pub id: String,
    pub primary_volume: String,
    /// From `volume info` when the driver looked it up.
    pub primary_volume_id: Option<String>,
    /// `<primary node uuid>:ssh://<secondary host>::<secondary volume>` as gluster prints it.
    pub session_key: String,
    pub secondary_host: String,
    pub secondary_user: String,
    pub secondary_volume: String,
    pub secondary_volume_id: Option<String>,
    pub status: SessionStatus,
    /// One per primary brick, in the volume's brick order when it is known.
    pub details: Vec<SessionDetail>,
}

impl Session {
    pub fn secondary(&self) -> Secondary {
        Secondary {
            user: self.secondary_user.clone(),
            host: self.secondary_host.clone(),
            volume: self.secondary_volume.clone(),
        }
    }

    /// True when every Active worker has completed the current checkpoint and none is
    /// Faulty (oVirt's `isCheckPointCompleted`, schedule_georep's `checkpoints_ok`).
    /// The oldest last-synced time any worker reports (seconds since the epoch): every
    /// change before it is at the secondary. A stopped session keeps its workers' times; a
    /// passive worker reports none. `None` when no worker has synced.
    pub fn last_synced(&self) -> Option<u64> {
        self.details
            .iter()
            .filter_map(|d| d.last_synced.as_deref().and_then(crate::time::parse_utc))
            .min()
    }

    pub fn checkpoint_completed(&self) -> bool {
        let active: Vec<_> = self
            .details
            .iter()
            .filter(|d| d.status == WorkerStatus::Active)
            .collect();
        !active.is_empty()
            && active.iter().all(|d| d.checkpoint_completed == Some(true))
            && !self
                .details
                .iter()
                .any(|d| matches!(d.status, WorkerStatus::Faulty | WorkerStatus::Offline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secondary_forms() {
        let s = Secondary::parse("geo@10.0.0.5::backup").ok();
        assert_eq!(
            s.as_ref()
                .map(|s| (s.user.as_str(), s.host.as_str(), s.volume.as_str())),
            Some(("geo", "10.0.0.5", "backup"))
        );
        assert_eq!(
            s.map(|s| s.to_string()),
            Some("geo@10.0.0.5::backup".into())
        );
        let root = Secondary::parse("root@h::v").ok();
        assert_eq!(root.map(|s| s.to_string()), Some("h::v".into()));
        assert!(Secondary::parse("ssh://h.example::v").is_ok());
        for bad in [
            "h:v", "h:::v", "::v", "h::", "h::v w", "@h::v", "h::-v;x", "u@@h::v",
        ] {
            assert!(Secondary::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volume_names() {
        assert!(check_volume_name("gv0").is_ok());
        for bad in ["", "-x", "a b", "a/b"] {
            assert!(check_volume_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn worker_status_spellings() {
        assert_eq!(
            WorkerStatus::parse("Initializing..."),
            WorkerStatus::Initializing
        );
        assert_eq!(
            WorkerStatus::parse("Initializing.."),
            WorkerStatus::Initializing
        );
        assert_eq!(
            WorkerStatus::parse("Config Corrupted"),
            WorkerStatus::Unknown("Config Corrupted".into())
        );
    }
}
