//! The lab's state file: everything needed to find, operate and tear down a lab from another
//! process (the CLI's later commands, the fence agent), pid-based.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{io_err, sys, LabError};

/// Name of the state file in the lab's root directory.
pub const STATE_FILE: &str = "state.json";

/// Created in the lab's root while it is torn down: no node may be powered on any more.
pub(crate) const STOPPING_MARKER: &str = "stopping";

/// Version of the state file format.
const FORMAT: u32 = 1;

/// A lab as recorded in its state file (`<root>/state.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    /// Format version (1).
    pub format: u32,
    /// The lab's name (prefix of its namespace names).
    pub name: String,
    /// The lab's root directory (node directories, shared directory, this file).
    pub root: PathBuf,
    /// The directory standing in for the shared state volume.
    pub shared: PathBuf,
    /// The switch namespace (holding the bridge), once created.
    pub switch_netns: Option<String>,
    /// Its inode, to recognize it.
    pub switch_ino: Option<u64>,
    /// The node network, `A.B.C.0/24`.
    pub subnet: String,
    /// Whether each node runs ganesha.nfsd as a service.
    pub ganesha_service: bool,
    /// Whether the `lab-fencing` stonith device is configured (stonith-enabled=true).
    pub fencing: bool,
    /// The nodes' GlusterFS, when the lab has it (absent from state files of labs without).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gluster: Option<GlusterState>,
    /// Whether `Lab::up` completed.
    pub complete: bool,
    /// Whether the lab was detached from the process that built it (it then lives on).
    pub detached: bool,
    /// The process that built the lab, and its start time (while it builds, the lab is alive).
    pub builder_pid: u32,
    /// Start time of `builder_pid` (`/proc/<pid>/stat` field 22).
    pub builder_start: u64,
    /// The nodes created so far.
    pub nodes: Vec<NodeState>,
}

/// One node as recorded in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// 1-based node number (corosync nodeid).
    pub index: usize,
    /// Node name (`node1`, ...).
    pub name: String,
    /// Address on `eth0`.
    pub addr: Ipv4Addr,
    /// Network namespace name (`ip netns list`).
    pub netns: String,
    /// Inode of that network namespace: a process is in the node when its
    /// `/proc/<pid>/ns/net` has this inode.
    pub netns_ino: u64,
    /// Host-side node directory.
    pub dir: PathBuf,
    /// The holder process whose namespaces are the node.
    pub holder_pid: u32,
    /// Its start time (`/proc/<pid>/stat` field 22), to detect pid reuse.
    pub holder_start: u64,
}

/// A lab's GlusterFS as planned before its first glusterd starts (so that a teardown from
/// another process knows of it): every node a server of one trusted pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlusterState {
    /// The data volume ([`DATA_VOLUME`](crate::DATA_VOLUME)).
    pub volume: String,
    /// Its replica count: 3, or the number of nodes when fewer; 1 is a plain (Distribute)
    /// volume.
    pub replica: usize,
    /// Its bricks, `address:path` (path inside the node, the same on the host).
    pub bricks: Vec<String>,
}

impl LabState {
    pub(crate) fn new(name: &str, root: &Path, shared: &Path, subnet: String) -> LabState {
        let me = std::process::id();
        LabState {
            format: FORMAT,
            name: name.to_string(),
            root: root.to_path_buf(),
            shared: shared.to_path_buf(),
            switch_netns: None,
            switch_ino: None,
            subnet,
            ganesha_service: false,
            fencing: false,
            gluster: None,
            complete: false,
            detached: false,
            builder_pid: me,
            builder_start: i32::try_from(me)
                .ok()
                .and_then(sys::start_time)
                .unwrap_or(0),
            nodes: Vec::new(),
        }
    }

    /// Reads a state file.
    pub fn read(path: &Path) -> Result<LabState, LabError> {
        let text = fs::read_to_string(path).map_err(io_err(format!("read {}", path.display())))?;
        let state: LabState = serde_json::from_str(&text).map_err(|e| {
            LabError::Setup(format!("{} is not a lab state file: {e}", path.display()))
        })?;
        if state.format != FORMAT {
            return Err(LabError::Setup(format!(
                "{}: state format {} is not supported (expected {FORMAT})",
                path.display(),
                state.format
            )));
        }
        Ok(state)
    }

    /// Writes the state file atomically (a temporary file renamed into place).
    pub(crate) fn write(&self) -> Result<(), LabError> {
        let path = self.root.join(STATE_FILE);
        let tmp = self.root.join(format!(".{STATE_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| LabError::Setup(format!("serialize the lab state: {e}")))?;
        fs::write(&tmp, text + "\n").map_err(io_err(format!("write {}", tmp.display())))?;
        fs::rename(&tmp, &path).map_err(io_err(format!("write {}", path.display())))
    }

    /// The state file's path.
    pub fn path(&self) -> PathBuf {
        self.root.join(STATE_FILE)
    }

    /// Whether anything of the lab is still alive: a node's holder process (same pid and start
    /// time as recorded), or the process building it while `up` has not completed.
    pub fn is_alive(&self) -> bool {
        let builder_alive = !self.complete
            && i32::try_from(self.builder_pid)
                .ok()
                .and_then(sys::start_time)
                .is_some_and(|t| t == self.builder_start)
            && sys::pid_alive(self.builder_pid);
        builder_alive || self.nodes.iter().any(NodeState::holder_alive)
    }
}

impl NodeState {
    /// Whether the recorded holder process still exists (same start time, same namespace).
    pub fn holder_alive(&self) -> bool {
        let Ok(pid) = i32::try_from(self.holder_pid) else {
            return false;
        };
        sys::pid_alive(self.holder_pid)
            && sys::start_time(pid) == Some(self.holder_start)
            && sys::proc_ns(pid, "net").ok() == Some(self.netns_ino)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn round_trips_and_sees_the_builder_alive() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = LabState::new(
            "t1",
            dir.path(),
            &dir.path().join("shared"),
            "192.0.2.0/24".into(),
        );
        st.nodes.push(NodeState {
            index: 1,
            name: "node1".into(),
            addr: Ipv4Addr::new(192, 0, 2, 11),
            netns: "t1-n1".into(),
            netns_ino: 1,
            dir: dir.path().join("node1"),
            holder_pid: u32::MAX - 1,
            holder_start: 5,
        });
        st.write().unwrap();
        let back = LabState::read(&st.path()).unwrap();
        assert_eq!(back, st);
        // This process builds it and `up` has not completed.
        assert!(back.is_alive());
        let done = LabState {
            complete: true,
            ..back
        };
        assert!(!done.is_alive(), "no holder is alive");
        assert!(LabState::read(&dir.path().join("nope.json")).is_err());
        fs::write(dir.path().join("bad.json"), "{}").unwrap();
        let err = LabState::read(&dir.path().join("bad.json")).unwrap_err();
        assert!(err.to_string().contains("not a lab state file"), "{err}");
    }
}
