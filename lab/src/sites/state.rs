//! The sites' state file (`<root>/sites.json`): what another process (the CLI) needs to act
//! on running sites and to tear them down: the two labs' state files, the wan namespace and
//! the arbitrator, pid- and inode-based like the lab's own state.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::state::NodeState;
use crate::{io_err, LabError};

/// Name of the sites' state file in their root directory.
pub const SITES_STATE_FILE: &str = "sites.json";

/// Version of the format.
const FORMAT: u32 = 1;

/// One of the two sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Site {
    /// Site `a` (hosts `.11` on).
    A,
    /// Site `b` (hosts `.31` on).
    B,
}

impl Site {
    /// Both, `a` first.
    pub const ALL: [Site; 2] = [Site::A, Site::B];

    /// `a` or `b`.
    pub fn as_str(self) -> &'static str {
        match self {
            Site::A => "a",
            Site::B => "b",
        }
    }

    /// The other site.
    pub fn other(self) -> Site {
        match self {
            Site::A => Site::B,
            Site::B => Site::A,
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Site {
    type Err = LabError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "a" => Ok(Site::A),
            "b" => Ok(Site::B),
            _ => Err(LabError::Options(format!("unknown site {s:?}; a or b"))),
        }
    }
}

/// A site's lab as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteLab {
    /// Which site.
    pub site: Site,
    /// The lab's name (`<sites>-a`).
    pub lab_name: String,
    /// The lab's state file (`<root>/<site>/state.json`).
    pub state_file: PathBuf,
    /// The site's link on the wan bridge (in the wan namespace): down is cut.
    pub wan_port: String,
}

/// The sites as recorded in their state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SitesState {
    /// Format version (1).
    pub format: u32,
    /// The sites' name (prefix of every namespace name).
    pub name: String,
    /// Their root directory (this file, the labs' roots, the arbitrator, booth's key).
    pub root: PathBuf,
    /// Nodes per site.
    pub nodes_per_site: usize,
    /// Whether the data ticket moves automatically (no `mode = manual`).
    pub auto_ticket: bool,
    /// Whether the ticket has `attr-prereq = auto repl_state eq ACTIVE`.
    pub attr_prereq: bool,
    /// The two sites.
    pub labs: Vec<SiteLab>,
    /// The wan namespace (the bridge joining the sites and the arbitrator), once created.
    pub wan_netns: Option<String>,
    /// Its inode, to recognize it.
    pub wan_ino: Option<u64>,
    /// The arbitrator's namespace and holder, once created.
    pub arbitrator: Option<NodeState>,
    /// Whether `Sites::up` completed.
    pub complete: bool,
}

impl SitesState {
    /// Reads a state file.
    pub fn read(path: &Path) -> Result<SitesState, LabError> {
        let text = fs::read_to_string(path).map_err(io_err(format!("read {}", path.display())))?;
        let state: SitesState = serde_json::from_str(&text).map_err(|e| {
            LabError::Setup(format!("{} is not a sites state file: {e}", path.display()))
        })?;
        if state.format != FORMAT {
            return Err(LabError::Setup(format!(
                "{}: sites state format {} is not supported (expected {FORMAT})",
                path.display(),
                state.format
            )));
        }
        Ok(state)
    }

    pub(crate) fn new(name: &str, root: &Path, nodes_per_site: usize) -> SitesState {
        SitesState {
            format: FORMAT,
            name: name.to_string(),
            root: root.to_path_buf(),
            nodes_per_site,
            auto_ticket: false,
            attr_prereq: false,
            labs: Vec::new(),
            wan_netns: None,
            wan_ino: None,
            arbitrator: None,
            complete: false,
        }
    }

    /// Writes the state file atomically.
    pub(crate) fn write(&self) -> Result<(), LabError> {
        let path = self.path();
        let tmp = self.root.join(format!(".{SITES_STATE_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| LabError::Setup(format!("serialize the sites' state: {e}")))?;
        fs::write(&tmp, text + "\n").map_err(io_err(format!("write {}", tmp.display())))?;
        fs::rename(&tmp, &path).map_err(io_err(format!("write {}", path.display())))
    }

    /// The state file's path.
    pub fn path(&self) -> PathBuf {
        self.root.join(SITES_STATE_FILE)
    }

    /// The recorded lab of `site`.
    pub fn lab(&self, site: Site) -> Option<&SiteLab> {
        self.labs.iter().find(|l| l.site == site)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = SitesState::new("s1", dir.path(), 1);
        st.labs.push(SiteLab {
            site: Site::B,
            lab_name: "s1-b".into(),
            state_file: dir.path().join("b/state.json"),
            wan_port: "site-b".into(),
        });
        st.write().unwrap();
        let back = SitesState::read(&st.path()).unwrap();
        assert_eq!(back, st);
        assert!(back.lab(Site::B).is_some() && back.lab(Site::A).is_none());
        let text = fs::read_to_string(st.path()).unwrap();
        assert!(text.contains("\"site\": \"b\""), "{text}");
        assert_eq!("a".parse::<Site>().unwrap(), Site::A);
        assert!("c".parse::<Site>().is_err());
        assert_eq!(Site::A.other(), Site::B);
    }
}
