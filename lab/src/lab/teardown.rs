//! Tearing a lab down from its state alone: kill every process in its namespaces (by pid),
//! delete the namespaces, remove its root directory; never signal anything else.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::root::remove_lab_root;
use super::Lab;
use crate::state::STOPPING_MARKER;
use crate::sys;

/// Bound on killing a lab's processes at teardown.
const TEARDOWN_KILL: Duration = Duration::from_secs(15);

impl Lab {
    /// Stops everything; returns what could not be undone. Never panics.
    pub(super) fn teardown(&mut self) -> Vec<String> {
        let t0 = Instant::now();
        let mut problems = Vec::new();
        if self.root_path.is_dir() {
            // No node may be powered on again (e.g. by a fence agent still running).
            let _ = fs::write(self.root_path.join(STOPPING_MARKER), "");
        }
        // The namespaces confirmed to be the lab's: by their /run/netns file or by a live
        // holder. An inode of a namespace that no longer exists may be reused by another.
        let mut inodes = Vec::new();
        for node in &self.nodes {
            let file = Path::new("/run/netns").join(&node.netns);
            if sys::ns_inode(&file).ok() == Some(node.netns_ino) || node.holder_alive() {
                inodes.push(node.netns_ino);
            }
        }
        problems.extend(self.unmount_gluster());
        let left = sys::kill_in_netns(&inodes, &[], TEARDOWN_KILL);
        if !left.is_empty() {
            problems.push(format!(
                "processes {left:?} in the lab's namespaces survived SIGKILL"
            ));
        }
        for node in &mut self.nodes {
            node.reap_all();
        }
        let mut names: Vec<(String, Option<u64>)> = self
            .nodes
            .iter()
            .map(|n| (n.netns.clone(), Some(n.netns_ino)))
            .collect();
        if let Some(sw) = &self.state.switch_netns {
            names.push((sw.clone(), self.state.switch_ino));
        }
        for (ns, ino) in names {
            let file = Path::new("/run/netns").join(&ns);
            let Ok(found) = sys::ns_inode(&file) else {
                continue;
            };
            if ino.is_some_and(|i| i != found) {
                problems.push(format!(
                    "network namespace {ns} is not the lab's (another inode); left alone"
                ));
                continue;
            }
            if let Err(e) = self.ip(&["netns", "del", &ns]) {
                problems.push(e.to_string());
            }
            if file.exists() {
                problems.push(format!("network namespace {ns} is still there"));
            }
        }
        let leaked = sys::mounts_under(&self.root_path);
        if !leaked.is_empty() {
            // Never delete through a mount point: keep the directory.
            if let Some(tmp) = self.root.take() {
                let _ = tmp.keep();
            }
            problems.push(format!(
                "mounts {leaked:?} are visible on the host; kept {}",
                self.root_path.display()
            ));
        } else if let Some(tmp) = self.root.take() {
            if let Err(e) = tmp.close() {
                problems.push(format!("remove {}: {e}", self.root_path.display()));
            }
        } else if let Err(e) = remove_lab_root(&self.root_path, &self.name) {
            problems.push(e);
        }
        tracing::info!("lab {} torn down in {:.1?}", self.name, t0.elapsed());
        problems
    }
}
