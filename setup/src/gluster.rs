//! GlusterFS's shared storage as the cluster's state volume (`HA_GLUSTER_SHARED_STORAGE=on`).
//!
//! Before `setup` changes anything it asks the first node's glusterd for the trusted pool
//! (`gluster pool list --xml`) and refuses unless every `HA_CLUSTER_NODES` node is in it as
//! `Peer in Cluster (Connected)`; a pool's peers are known by the names or addresses they
//! were probed with, so a node matches by its name, its `HA_NODE_ADDR_<node>`, or the
//! addresses its name resolves to on the first node. It then enables the shared storage the
//! way glusterfs does (`volume set all cluster.enable-shared-storage enable`, whose hook
//! creates [`SHARED_STORAGE_VOLUME`] and mounts it at [`SHARED_STORAGE_MOUNT`] on every node)
//! when the volume does not exist yet, and waits until every node has it mounted. Nothing
//! here ever disables it: other gluster features (snapshots' scheduler, geo-replication's
//! meta volume) use the same volume.

use std::time::Duration;

use ocf::Deadline;

use crate::error::CliError;
use crate::spec::{ClusterSpec, NodeSpec};
use crate::transport::Transport;

/// The volume `cluster.enable-shared-storage` creates.
pub const SHARED_STORAGE_VOLUME: &str = "gluster_shared_storage";
/// Where glusterfs's hook mounts the shared storage on every node.
pub const SHARED_STORAGE_MOUNT: &str = "/run/gluster/shared_storage";
/// `mount -t` of a gluster volume.
pub const GLUSTER_FSTYPE: &str = "glusterfs";
/// A FUSE-mounted gluster volume's type in mountinfo.
const FUSE_GLUSTERFS: &str = "fuse.glusterfs";
/// The state of a peer that has joined the pool (`<stateStr>`).
const IN_CLUSTER: &str = "Peer in Cluster";
/// Bound on one gluster CLI call or file read on a node.
const CALL_LIMIT: Duration = Duration::from_secs(30);
/// Bound on the shared storage being mounted on every node after it was enabled (the hook
/// on a node that is not the originator waits up to 15 s for the volume to start).
const MOUNT_WAIT: Duration = Duration::from_secs(90);

/// One entry of `gluster pool list --xml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub uuid: String,
    /// The names and addresses glusterd knows the peer by (`localhost` for itself).
    pub hostnames: Vec<String>,
    pub connected: bool,
    /// `<stateStr>`; empty for the node that answered.
    pub state: String,
}

impl Peer {
    /// The glusterd that answered lists itself as `localhost`, with no state.
    pub fn is_local(&self) -> bool {
        self.hostnames.iter().any(|h| h == "localhost") && self.state.is_empty()
    }

    /// `Peer in Cluster (Connected)`, as `gluster peer status` says it.
    pub fn in_cluster(&self) -> bool {
        self.connected && (self.is_local() || self.state == IN_CLUSTER)
    }

    /// The state in `gluster peer status`'s words.
    pub fn describe(&self) -> String {
        let link = if self.connected {
            "Connected"
        } else {
            "Disconnected"
        };
        let state = if self.state.is_empty() {
            "local"
        } else {
            &self.state
        };
        format!("{state} ({link})")
    }
}

/// Parses `gluster pool list --xml` or `gluster peer status --xml`.
pub fn parse_pool(xml: &str) -> Result<Vec<Peer>, CliError> {
    let bad = |why: String| CliError::Cluster(format!("gluster pool list --xml: {why}"));
    let out = georep::xml::parse_cli_output(xml).map_err(|e| bad(e.to_string()))?;
    if out.op_ret != 0 {
        return Err(bad(format!(
            "gluster failed (opRet {}): {}",
            out.op_ret, out.op_errstr
        )));
    }
    let Some(status) = out.body("peerStatus") else {
        return Err(bad("no <peerStatus>".into()));
    };
    Ok(status
        .children_named("peer")
        .map(|p| {
            let mut hostnames = vec![p.text_of(&["hostname"]).trim().to_owned()];
            if let Some(all) = p.child(&["hostnames"]) {
                for h in all.children_named("hostname") {
                    let h = h.text.trim();
                    if !hostnames.iter().any(|k| k == h) {
                        hostnames.push(h.to_owned());
                    }
                }
            }
            hostnames.retain(|h| !h.is_empty());
            Peer {
                uuid: p.text_of(&["uuid"]).trim().to_owned(),
                hostnames,
                connected: p.text_of(&["connected"]).trim() == "1",
                state: p.text_of(&["stateStr"]).trim().to_owned(),
            }
        })
        .collect())
}

/// The nodes of the pool check: each node with the names and addresses it may be known by
/// in the pool. The first node is the one asked, which the pool lists as `localhost`.
pub struct Member<'s> {
    pub node: &'s NodeSpec,
    pub known_as: Vec<String>,
}

/// The nodes that are not `Peer in Cluster (Connected)` in `pool` (seen from `members[0]`),
/// each with what the pool says of it (`None`: not in the pool at all).
pub fn missing<'s>(members: &[Member<'s>], pool: &[Peer]) -> Vec<(&'s NodeSpec, Option<String>)> {
    members
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let peer = if i == 0 {
                pool.iter().find(|p| p.is_local())
            } else {
                pool.iter()
                    .find(|p| p.hostnames.iter().any(|h| m.known_as.contains(h)))
            };
            match peer {
                Some(p) if p.in_cluster() => None,
                Some(p) => Some((m.node, Some(p.describe()))),
                None => Some((m.node, None)),
            }
        })
        .collect()
}

/// `gluster --mode=script ARGS` on `node`, bounded.
fn gluster(
    transport: &dyn Transport,
    node: &NodeSpec,
    args: &[&str],
    deadline: &Deadline,
) -> Result<String, CliError> {
    let mut argv = vec!["gluster", "--mode=script"];
    argv.extend_from_slice(args);
    Ok(transport.run(node, &argv, None, deadline.bound(CALL_LIMIT))?)
}

/// The names and addresses `node` may be known by in the pool.
fn known_as(
    transport: &dyn Transport,
    asked: &NodeSpec,
    node: &NodeSpec,
    deadline: &Deadline,
) -> Vec<String> {
    let mut names = vec![node.name.clone()];
    if let Some(addr) = node.addr {
        names.push(addr.to_string());
    }
    // `getent hosts NAME`: "ADDRESS NAME ALIASES..."; a name that does not resolve (status
    // 2) is matched by its name alone.
    let resolved = transport.output(
        asked,
        &["getent", "hosts", &node.name],
        None,
        deadline.bound(CALL_LIMIT),
    );
    if let Ok(out) = resolved {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(addr) = line.split_whitespace().next() {
                names.push(addr.to_owned());
            }
        }
    }
    names
}

/// Refuses unless every node of `spec` is `Peer in Cluster (Connected)` in the pool the
/// first node's glusterd sees; changes nothing.
pub fn check_pool(
    spec: &ClusterSpec,
    transport: &dyn Transport,
    deadline: &Deadline,
) -> Result<(), CliError> {
    let Some(first) = spec.nodes.first() else {
        return Ok(());
    };
    let xml = gluster(transport, first, &["pool", "list", "--xml"], deadline)
        .map_err(|e| e.context("asking glusterd for the trusted pool"))?;
    let pool = parse_pool(&xml)?;
    let members: Vec<Member<'_>> = spec
        .nodes
        .iter()
        .map(|node| Member {
            node,
            known_as: known_as(transport, first, node, deadline),
        })
        .collect();
    let missing = missing(&members, &pool);
    if missing.is_empty() {
        return Ok(());
    }
    let what: Vec<String> = missing
        .iter()
        .map(|(n, state)| match state {
            Some(s) => format!("{} is {s}", n.name),
            None => format!("{} is not in the pool", n.name),
        })
        .collect();
    let fixes: Vec<String> = missing
        .iter()
        .map(|(n, state)| match state {
            Some(_) => format!(
                "start glusterd on {} and check it reaches {}",
                n.name, first.name
            ),
            None => format!("`gluster peer probe {}` on {}", n.name, first.name),
        })
        .collect();
    Err(CliError::Refused(format!(
        "HA_GLUSTER_SHARED_STORAGE=on needs every HA_CLUSTER_NODES node in the gluster trusted \
         pool as `Peer in Cluster (Connected)`, seen from {}: {}; nothing was changed. Fix: {}",
        first.name,
        what.join(", "),
        fixes.join("; ")
    )))
}

/// Whether the shared storage is mounted (FUSE) at [`SHARED_STORAGE_MOUNT`] on `node`.
fn mounted(transport: &dyn Transport, node: &NodeSpec, deadline: &Deadline) -> bool {
    match transport.read_file(node, "/proc/self/mountinfo", deadline.bound(CALL_LIMIT)) {
        Ok(Some(text)) => ganesha_agents::mount::parse_mountinfo(&String::from_utf8_lossy(&text))
            .iter()
            .any(|m| {
                m.mount_point.as_os_str() == SHARED_STORAGE_MOUNT && m.fstype == FUSE_GLUSTERFS
            }),
        _ => false,
    }
}

/// Checks the pool, enables the shared storage unless its volume exists, and waits (at
/// most [`MOUNT_WAIT`], within `deadline`) until every node has it mounted.
pub fn prepare_shared_storage(
    spec: &ClusterSpec,
    transport: &dyn Transport,
    deadline: &Deadline,
    progress: &dyn Fn(&str),
) -> Result<(), CliError> {
    check_pool(spec, transport, deadline)?;
    let Some(first) = spec.nodes.first() else {
        return Ok(());
    };
    let volumes = gluster(transport, first, &["volume", "list"], deadline)?;
    if volumes.lines().any(|v| v.trim() == SHARED_STORAGE_VOLUME) {
        progress(&format!(
            "gluster shared storage {SHARED_STORAGE_VOLUME} exists"
        ));
    } else {
        gluster(
            transport,
            first,
            &[
                "volume",
                "set",
                "all",
                "cluster.enable-shared-storage",
                "enable",
            ],
            deadline,
        )
        .map_err(|e| e.context("enabling the gluster shared storage"))?;
        progress(&format!(
            "gluster shared storage enabled ({SHARED_STORAGE_VOLUME})"
        ));
    }
    let wait = Deadline::after(deadline.bound(MOUNT_WAIT));
    loop {
        let unmounted: Vec<&str> = spec
            .nodes
            .iter()
            .filter(|n| !mounted(transport, n, &wait))
            .map(|n| n.name.as_str())
            .collect();
        if unmounted.is_empty() {
            progress(&format!(
                "{SHARED_STORAGE_VOLUME} mounted at {SHARED_STORAGE_MOUNT} on every node"
            ));
            return Ok(());
        }
        if wait.expired() {
            return Err(CliError::Timeout(format!(
                "{SHARED_STORAGE_VOLUME} is not mounted at {SHARED_STORAGE_MOUNT} on {} \
                 (glusterfs's hook mounts it; see /var/log/glusterfs on those nodes)",
                unmounted.join(", ")
            )));
        }
        std::thread::sleep(wait.bound(Duration::from_millis(500)));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/gluster/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn node(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            addr: None,
            vip: "192.0.2.200/32".parse().unwrap(),
        }
    }

    /// The lab's nodes: probed by address, `node<i>` resolving to 192.0.2.1<i>.
    fn members(nodes: &[NodeSpec]) -> Vec<Member<'_>> {
        nodes
            .iter()
            .enumerate()
            .map(|(i, node)| Member {
                node,
                known_as: vec![node.name.clone(), format!("192.0.2.{}", 11 + i)],
            })
            .collect()
    }

    fn missing_of(file: &str) -> Vec<(String, Option<String>)> {
        let nodes = [node("node1"), node("node2"), node("node3")];
        let pool = parse_pool(&fixture(file)).unwrap();
        missing(&members(&nodes), &pool)
            .into_iter()
            .map(|(n, s)| (n.name.clone(), s))
            .collect()
    }

    #[test]
    fn parses_the_pool_with_the_local_node() {
        let pool = parse_pool(&fixture("pool-list-connected.xml")).unwrap();
        assert_eq!(pool.len(), 3);
        assert_eq!(pool[0].hostnames, ["192.0.2.12"]);
        assert_eq!(pool[0].state, "Peer in Cluster");
        assert!(pool.iter().all(Peer::in_cluster));
        assert!(pool[2].is_local() && !pool[0].is_local());
        assert_eq!(pool[0].uuid, "0dbb8dd1-5b25-42d1-a8b1-b269892ddfc6");
        // peer status lists the others only.
        let peers = parse_pool(&fixture("peer-status-connected.xml")).unwrap();
        assert_eq!(peers.len(), 2);
        assert!(!peers.iter().any(Peer::is_local));
    }

    #[test]
    fn a_full_connected_pool_misses_nobody() {
        assert_eq!(missing_of("pool-list-connected.xml"), []);
    }

    #[test]
    fn a_disconnected_peer_is_named_with_its_state() {
        assert_eq!(
            missing_of("pool-list-disconnected.xml"),
            [(
                "node3".to_owned(),
                Some("Peer in Cluster (Disconnected)".to_owned())
            )]
        );
    }

    #[test]
    fn a_detached_node_is_not_in_the_pool() {
        assert_eq!(
            missing_of("pool-list-detached.xml"),
            [("node3".to_owned(), None)]
        );
        // Asked with peer status (no local entry), the asking node itself is missing too:
        // the check must use pool list.
        assert_eq!(missing_of("peer-status-detached.xml").len(), 2);
    }

    #[test]
    fn gluster_failures_and_other_xml_are_errors() {
        let failed = "<cliOutput><opRet>-1</opRet><opErrno>0</opErrno>\
                      <opErrstr>Connection failed</opErrstr></cliOutput>";
        let e = parse_pool(failed).unwrap_err().to_string();
        assert!(e.contains("Connection failed"), "{e}");
        assert!(parse_pool("<volInfo/>").is_err());
        assert!(parse_pool("Connection failed. Please check if gluster daemon").is_err());
    }
}
