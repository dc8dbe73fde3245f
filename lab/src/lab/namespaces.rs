//! The lab's namespaces: a switch namespace with a bridge, and per node a network namespace
//! linked to it and a holder process in new mount and UTS namespaces, each recorded for
//! teardown as soon as it exists; and the one hook to the world outside the lab, an uplink
//! from the switch's bridge to a bridge in another namespace ([`Lab::uplink`], used by the
//! sites to join two labs).

use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

use super::Lab;
use crate::node::SETUP_TIMEOUT;
use crate::state::NodeState;
use crate::util::run_checked;
use crate::{io_err, spawn_logged, sys, LabError, Node, Tools};

/// The switch's bridge, in `<lab>-sw`.
pub(crate) const BRIDGE: &str = "br0";

/// Disables IPv6 in network namespace `netns` (`all` and `default`), so that no interface
/// there has or gets an IPv6 address, `lo` included.
pub(crate) fn disable_ipv6(tools: &Tools, netns: &str) -> Result<(), LabError> {
    run_checked(
        Command::new(tools.get("ip"))
            .args(["netns", "exec", netns])
            .arg(tools.get("sysctl"))
            .args([
                "-q",
                "-w",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ]),
        SETUP_TIMEOUT,
    )?;
    Ok(())
}

/// Starts a holder in network namespace `netns` (inode `netns_ino`): `sleep infinity` in a
/// session of its own and in new mount (private propagation) and UTS namespaces; waits until
/// it sits there. Returns the child, its pid and its start time.
pub(crate) fn spawn_holder(
    tools: &Tools,
    netns: &str,
    netns_ino: u64,
    log: &Path,
) -> Result<(Child, u32, u64), LabError> {
    // `setsid`, `ip netns exec` and `unshare` (no --fork) all exec, so the child's pid ends
    // up being `sleep`'s, inside the new namespaces.
    let mut cmd = Command::new(tools.get("setsid"));
    cmd.arg(tools.get("ip"))
        .args(["netns", "exec", netns])
        .arg(tools.get("unshare"))
        .args(["--mount", "--uts", "--propagation", "private", "--"])
        .arg(tools.get("sleep"))
        .arg("infinity");
    let mut child = spawn_logged(cmd, log)?;
    let raw = child.id();
    let pid = i32::try_from(raw).map_err(|_| LabError::Setup(format!("odd pid {raw}")))?;
    let my_mnt = sys::ns_inode(Path::new("/proc/self/ns/mnt"));
    let my_uts = sys::ns_inode(Path::new("/proc/self/ns/uts"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = sys::comm(pid).as_deref() == Some("sleep")
            && sys::proc_ns(pid, "net").ok() == Some(netns_ino)
            && sys::proc_ns(pid, "mnt").ok() != my_mnt.as_ref().ok().copied()
            && sys::proc_ns(pid, "uts").ok() != my_uts.as_ref().ok().copied();
        if ready {
            return Ok((child, raw, sys::start_time(pid).unwrap_or(0)));
        }
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        if exited || Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.try_wait();
            return Err(LabError::Setup(format!(
                "the holder of {netns} (pid {pid}) did not settle in its namespaces; {}:\n{}",
                log.display(),
                sys::tail(log, 20)
            )));
        }
        thread::sleep(Duration::from_millis(5));
    }
}

impl Lab {
    /// Creates the switch namespace `<lab>-sw` with bridge [`BRIDGE`]; returns its name.
    /// Without `ipv6`, IPv6 is disabled there first.
    pub(super) fn add_switch(&mut self, ipv6: bool) -> Result<String, LabError> {
        let switch = format!("{}-sw", self.name);
        self.ip(&["netns", "add", &switch])
            .map_err(|e| LabError::NoNetns(e.to_string()))?;
        self.state.switch_netns = Some(switch.clone());
        self.state.switch_ino = sys::ns_inode(&Path::new("/run/netns").join(&switch)).ok();
        self.save()?;
        if !ipv6 {
            disable_ipv6(&self.tools, &switch)?;
        }
        self.ip(&["-n", &switch, "link", "add", BRIDGE, "type", "bridge"])?;
        self.ip(&["-n", &switch, "link", "set", BRIDGE, "up"])?;
        Ok(switch)
    }

    /// Links the lab's switch to the bridge `bridge` of another namespace `netns` (created
    /// by the caller): a veth pair, `port` on the lab's bridge and `peer` on `bridge`, both
    /// up. Every node of the lab then reaches what hangs on `bridge`, on the same subnet.
    /// The pair is deleted with the switch namespace at teardown; taking `peer` down
    /// (`ip -n NETNS link set PEER down`) cuts the lab off again.
    pub fn uplink(
        &self,
        port: &str,
        netns: &str,
        bridge: &str,
        peer: &str,
    ) -> Result<(), LabError> {
        let switch = self.state.switch_netns.as_deref().ok_or_else(|| {
            LabError::Setup(format!("lab {}: no switch namespace to link", self.name))
        })?;
        self.ip(&[
            "-n", switch, "link", "add", port, "type", "veth", "peer", "name", peer, "netns", netns,
        ])?;
        self.ip(&["-n", switch, "link", "set", port, "master", BRIDGE])?;
        self.ip(&["-n", switch, "link", "set", port, "up"])?;
        self.ip(&["-n", netns, "link", "set", peer, "master", bridge])?;
        self.ip(&["-n", netns, "link", "set", peer, "up"])?;
        Ok(())
    }

    /// Creates node `i`'s namespace, link and holder, and records it for teardown at once.
    pub(super) fn add_node(
        &mut self,
        i: usize,
        name: String,
        addr: Ipv4Addr,
        switch: &str,
        ipv6: bool,
    ) -> Result<(), LabError> {
        let netns = format!("{}-n{i}", self.name);
        let dir = self.root_path.join(&name);
        fs::create_dir_all(dir.join("logs"))
            .map_err(io_err(format!("create {}", dir.display())))?;
        self.ip(&["netns", "add", &netns])?;
        let netns_ino = sys::ns_inode(&Path::new("/run/netns").join(&netns))
            .map_err(io_err(format!("stat /run/netns/{netns}")))?;
        if !ipv6 {
            disable_ipv6(&self.tools, &netns)?;
        }
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
        self.ip(&["-n", switch, "link", "set", &port, "master", BRIDGE])?;
        self.ip(&["-n", switch, "link", "set", &port, "up"])?;
        self.ip(&["-n", netns, "addr", "add", &cidr, "dev", "eth0"])?;
        self.ip(&["-n", netns, "link", "set", "eth0", "up"])?;
        self.ip(&["-n", netns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// Starts the last node's holder ([`spawn_holder`]) and records it.
    fn start_holder(&mut self, netns: &str, netns_ino: u64, dir: &Path) -> Result<(), LabError> {
        let log = dir.join("logs").join("holder.out");
        let (child, pid, start) = spawn_holder(&self.tools, netns, netns_ino, &log)?;
        if let Some(node) = self.nodes.last_mut() {
            node.holder = Some(child);
            node.holder_pid = pid;
            node.holder_start = start;
        }
        Ok(())
    }
}
