//! The lab's namespaces: a switch namespace with a bridge, and per node a network namespace
//! linked to it and a holder process in new mount and UTS namespaces, each recorded for
//! teardown as soon as it exists.

use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use super::Lab;
use crate::state::NodeState;
use crate::{io_err, spawn_logged, sys, LabError, Node};

impl Lab {
    /// Creates the switch namespace `<lab>-sw` with bridge `br0`; returns its name.
    pub(super) fn add_switch(&mut self) -> Result<String, LabError> {
        let switch = format!("{}-sw", self.name);
        self.ip(&["netns", "add", &switch])
            .map_err(|e| LabError::NoNetns(e.to_string()))?;
        self.state.switch_netns = Some(switch.clone());
        self.state.switch_ino = sys::ns_inode(&Path::new("/run/netns").join(&switch)).ok();
        self.save()?;
        self.ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        self.ip(&["-n", &switch, "link", "set", "br0", "up"])?;
        Ok(switch)
    }

    /// Creates node `i`'s namespace, link and holder, and records it for teardown at once.
    pub(super) fn add_node(
        &mut self,
        i: usize,
        name: String,
        addr: Ipv4Addr,
        switch: &str,
    ) -> Result<(), LabError> {
        let netns = format!("{}-n{i}", self.name);
        let dir = self.root_path.join(&name);
        fs::create_dir_all(dir.join("logs"))
            .map_err(io_err(format!("create {}", dir.display())))?;
        self.ip(&["netns", "add", &netns])?;
        let netns_ino = sys::ns_inode(&Path::new("/run/netns").join(&netns))
            .map_err(io_err(format!("stat /run/netns/{netns}")))?;
        let st = NodeState {
            index: i,
            name,
            addr,
            netns: netns.clone(),
            netns_ino,
            dir: dir.clone(),
            holder_pid: 0,
            holder_start: 0,
        };
        self.nodes
            .push(Node::new(&st, self.tools.clone(), &self.state));
        self.link_node(i, &netns, addr, switch)?;
        self.start_holder(&netns, netns_ino, &dir)
    }

    /// Links node `i`'s `eth0` (with `addr`/24) to port `p<i>` of the switch's bridge.
    fn link_node(
        &self,
        i: usize,
        netns: &str,
        addr: Ipv4Addr,
        switch: &str,
    ) -> Result<(), LabError> {
        let port = format!("p{i}");
        let cidr = format!("{addr}/24");
        self.ip(&[
            "-n", netns, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns",
            switch,
        ])?;
        self.ip(&["-n", switch, "link", "set", &port, "master", "br0"])?;
        self.ip(&["-n", switch, "link", "set", &port, "up"])?;
        self.ip(&["-n", netns, "addr", "add", &cidr, "dev", "eth0"])?;
        self.ip(&["-n", netns, "link", "set", "eth0", "up"])?;
        self.ip(&["-n", netns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// Starts the last node's holder and waits until it sits in the node's network namespace
    /// and in mount and UTS namespaces of its own.
    fn start_holder(&mut self, netns: &str, netns_ino: u64, dir: &Path) -> Result<(), LabError> {
        // The holder, in a session of its own: `setsid`, `ip netns exec` and `unshare` (no
        // --fork) all exec, so the child's pid ends up being `sleep`'s, inside the new
        // namespaces.
        let mut cmd = Command::new(self.tools.get("setsid"));
        cmd.arg(self.tools.get("ip"))
            .args(["netns", "exec", netns])
            .arg(self.tools.get("unshare"))
            .args(["--mount", "--uts", "--propagation", "private", "--"])
            .arg(self.tools.get("sleep"))
            .arg("infinity");
        let log = dir.join("logs").join("holder.out");
        let child = spawn_logged(cmd, &log)?;
        let pid = child.id();
        if let Some(node) = self.nodes.last_mut() {
            node.holder = Some(child);
            node.holder_pid = pid;
        }
        let pid = i32::try_from(pid).map_err(|_| LabError::Setup(format!("odd pid {pid}")))?;
        let my_mnt = sys::ns_inode(Path::new("/proc/self/ns/mnt"));
        let my_uts = sys::ns_inode(Path::new("/proc/self/ns/uts"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = sys::comm(pid).as_deref() == Some("sleep")
                && sys::proc_ns(pid, "net").ok() == Some(netns_ino)
                && sys::proc_ns(pid, "mnt").ok() != my_mnt.as_ref().ok().copied()
                && sys::proc_ns(pid, "uts").ok() != my_uts.as_ref().ok().copied();
            if ready {
                if let Some(node) = self.nodes.last_mut() {
                    node.holder_start = sys::start_time(pid).unwrap_or(0);
                }
                return Ok(());
            }
            let exited = self
                .nodes
                .last_mut()
                .and_then(|n| n.holder.as_mut())
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited || Instant::now() >= deadline {
                return Err(LabError::Setup(format!(
                    "the holder of {netns} (pid {pid}) did not settle in its namespaces; {}:\n{}",
                    log.display(),
                    sys::tail(&log, 20)
                )));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}
