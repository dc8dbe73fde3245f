//! The project's agents a lab installs in its nodes, and where OCF agents live.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where OCF resource agents live.
pub const OCF_RESOURCE_D: &str = "/usr/lib/ocf/resource.d";

/// The OCF provider of this project's agents; in a node it is always the node's own
/// directory, never the host's.
pub use ganesha_agents::names::PROVIDER as OWN_PROVIDER;

/// The project's OCF agents that
/// [`LabOptions::agents_dir`](crate::LabOptions::agents_dir) installs.
pub use ganesha_agents::names::AGENTS as OCF_AGENTS;

/// The lab's fence agent (a binary in
/// [`LabOptions::agents_dir`](crate::LabOptions::agents_dir)), visible in every node as
/// `/usr/sbin/fence_ganesha_lab`.
pub const FENCE_AGENT: &str = "fence_ganesha_lab";

/// What [`LabOptions::agents_dir`](crate::LabOptions::agents_dir) provides.
#[derive(Debug, Default)]
pub(crate) struct Agents {
    /// OCF agents found: (name, path).
    pub(crate) ocf: Vec<(&'static str, PathBuf)>,
    /// The fence agent, when found.
    pub(crate) fence: Option<PathBuf>,
}

impl Agents {
    /// The agents `dir` holds (executable files of the expected names); none without `dir`.
    pub(crate) fn find(dir: Option<&Path>) -> Agents {
        let Some(dir) = dir else {
            return Agents::default();
        };
        let ok = |p: &Path| {
            fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        Agents {
            ocf: OCF_AGENTS
                .iter()
                .map(|&a| (a, dir.join(a)))
                .filter(|(_, p)| ok(p))
                .collect(),
            fence: Some(dir.join(FENCE_AGENT)).filter(|p| ok(p)),
        }
    }
}
