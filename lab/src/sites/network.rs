//! The sites' network: the wan namespace `<sites>-wan` (a bridge every site's switch and the
//! arbitrator hang on) and the arbitrator's namespace `<sites>-arb` with its holder and its
//! private `/run` and `/etc/booth`. IPv6 is disabled in both before any interface exists.
//! Every interface lives in a namespace created here or by a lab: nothing reaches the host.

use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use crate::lab::namespaces::{disable_ipv6, spawn_holder, BRIDGE};
use crate::node::SETUP_TIMEOUT;
use crate::state::{LabState, NodeState};
use crate::util::run_checked;
use crate::{io_err, sys, LabError, Node, Tools};

/// The arbitrator's node name (its hostname) and directory under the sites' root.
pub(crate) const ARBITRATOR: &str = "arbitrator";
/// The arbitrator's port on the wan bridge.
pub(crate) const ARBITRATOR_PORT: &str = "arb";
/// The name of each site's link on its lab's switch.
pub(crate) const SWITCH_UPLINK: &str = "wan";

/// Runs `ip args...`, bounded.
pub(crate) fn ip(tools: &Tools, args: &[&str]) -> Result<(), LabError> {
    run_checked(Command::new(tools.get("ip")).args(args), SETUP_TIMEOUT)?;
    Ok(())
}

/// Creates network namespace `netns` with IPv6 disabled; returns its inode.
pub(crate) fn add_netns(tools: &Tools, netns: &str) -> Result<u64, LabError> {
    ip(tools, &["netns", "add", netns]).map_err(|e| LabError::NoNetns(e.to_string()))?;
    let ino = sys::ns_inode(&Path::new("/run/netns").join(netns))
        .map_err(io_err(format!("stat /run/netns/{netns}")))?;
    disable_ipv6(tools, netns)?;
    Ok(ino)
}

/// The wan bridge inside `netns`, up.
pub(crate) fn add_wan_bridge(tools: &Tools, netns: &str) -> Result<(), LabError> {
    ip(
        tools,
        &["-n", netns, "link", "add", BRIDGE, "type", "bridge"],
    )?;
    ip(tools, &["-n", netns, "link", "set", BRIDGE, "up"])
}

/// The wan bridge's name in the wan namespace.
pub(crate) fn wan_bridge() -> &'static str {
    BRIDGE
}

/// The arbitrator's namespace (already created, inode `ino`): `eth0` with `addr`/24 on the
/// wan bridge, a holder, a private `/run` and `/etc/booth` (the host directory
/// `<dir>/etc-booth`), hostname `arbitrator`. Returns it as a [`Node`] (commands inside it,
/// daemons), its holder recorded.
pub(crate) fn add_arbitrator(
    tools: &Arc<Tools>,
    root: &Path,
    netns: &str,
    ino: u64,
    wan: &str,
    addr: Ipv4Addr,
) -> Result<Node, LabError> {
    let dir = root.join(ARBITRATOR);
    for sub in ["logs", "etc-booth"] {
        let p = dir.join(sub);
        fs::create_dir_all(&p).map_err(io_err(format!("create {}", p.display())))?;
    }
    ip(
        tools,
        &[
            "-n",
            wan,
            "link",
            "add",
            ARBITRATOR_PORT,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            netns,
        ],
    )?;
    ip(
        tools,
        &["-n", wan, "link", "set", ARBITRATOR_PORT, "master", BRIDGE],
    )?;
    ip(tools, &["-n", wan, "link", "set", ARBITRATOR_PORT, "up"])?;
    let cidr = format!("{addr}/24");
    ip(tools, &["-n", netns, "addr", "add", &cidr, "dev", "eth0"])?;
    ip(tools, &["-n", netns, "link", "set", "eth0", "up"])?;
    ip(tools, &["-n", netns, "link", "set", "lo", "up"])?;
    let (child, pid, start) = spawn_holder(tools, netns, ino, &dir.join("logs/holder.out"))?;
    let st = NodeState {
        index: 1,
        name: ARBITRATOR.to_string(),
        addr,
        netns: netns.to_string(),
        netns_ino: ino,
        dir: dir.clone(),
        holder_pid: pid,
        holder_start: start,
    };
    let mut node = arbitrator_node(&st, tools.clone(), root);
    node.holder = Some(child);
    node.fresh_run(false)?;
    let booth = dir.join("etc-booth").to_string_lossy().into_owned();
    node.run_setup(tools.get("mount"), &["--bind", &booth, "/etc/booth"])?;
    node.run_setup(tools.get("hostname"), &[ARBITRATOR])?;
    Ok(node)
}

/// The arbitrator recorded as `st`, as a [`Node`] (no gluster, no ganesha).
pub(crate) fn arbitrator_node(st: &NodeState, tools: Arc<Tools>, root: &Path) -> Node {
    let lab = LabState::new(ARBITRATOR, root, root, String::new());
    Node::new(st, tools, &lab)
}
