//! [`Lab::up`]'s GlusterFS step ([`LabOptions::gluster`](crate::LabOptions::gluster)): glusterd
//! on every node, one trusted pool, the data volume and the shared storage volume, each
//! waited for; and its part of the teardown.
//!
//! The shared storage is created the way glusterfs creates it, by
//! `volume set all cluster.enable-shared-storage enable`, whose hook (in every node's own
//! `/var/lib/glusterd/hooks`) creates `gluster_shared_storage` (a replica of up to three
//! bricks) and mounts it on every node. glusterd refuses that option with a single node
//! ("More than one node should be up/present in the cluster"), so a one-node lab creates the
//! same volume with the hook's brick and mounts it at the same place itself.
//!
//! Both volumes get `network.ping-timeout` [`PING_TIMEOUT`] instead of glusterfs's 42 s, as
//! HA deployments set it: a crashed node answers no TCP, so until the timeout every
//! client of its bricks (the survivors' ganesha.nfsd through libgfapi, their shared storage
//! mounts) blocks the calls that need that brick, which would stall the survivors' NFS
//! service and their agents' state volume checks for longer than a failover takes.

use std::fs;
use std::path::Path;
use std::time::Duration;

use super::build::PlannedNode;
use super::Lab;
use crate::gluster::{brick_path, shared_storage_brick, wait_bounded, GLUSTERD_WAIT, PING_TIMEOUT};
use crate::state::GlusterState;
use crate::{
    io_err, LabError, DATA_VOLUME, HELLO_FILE, HELLO_TEXT, SHARED_STORAGE_MOUNT,
    SHARED_STORAGE_VOLUME,
};

/// The data volume's replica count at most (and the shared storage hook's).
const MAX_REPLICA: usize = 3;
/// Bound on every node seeing every other as `Peer in Cluster (Connected)`.
const POOL_WAIT: Duration = Duration::from_secs(30);
/// Bound on the shared storage being mounted on every node (the hook on a node that is not
/// the originator waits 5 s at a time, up to three times, for the volume to start).
const SHARED_STORAGE_WAIT: Duration = Duration::from_secs(60);
/// Where [`Lab::up`] mounts the data volume for a moment to write the export's file, inside
/// the first node (in its own `/run`).
const HELLO_MOUNT: &str = "/run/ganesha-lab/data";
/// A peer that has joined the pool and is reachable.
const IN_CLUSTER: &str = "Peer in Cluster (Connected)";

/// The lab's gluster, planned from its nodes: replica 3 (one replica per node when fewer),
/// bricks on as many nodes as fill whole replica sets, in node order.
pub(super) fn plan(root: &Path, members: &[PlannedNode]) -> GlusterState {
    let replica = members.len().clamp(1, MAX_REPLICA);
    let used = members.len() - members.len() % replica;
    let bricks = members[..used]
        .iter()
        .map(|(_, name, addr)| {
            format!(
                "{addr}:{}",
                brick_path(&root.join(name), DATA_VOLUME).display()
            )
        })
        .collect();
    GlusterState {
        volume: DATA_VOLUME.to_string(),
        replica,
        bricks,
    }
}

/// The `/etc/hosts` lines naming every node.
pub(super) fn hosts_lines(members: &[PlannedNode]) -> String {
    members
        .iter()
        .map(|(_, name, addr)| format!("{addr} {name}\n"))
        .collect()
}

impl Lab {
    /// Starts glusterd on every node, forms the pool, creates and starts the data volume and
    /// the shared storage, and waits until every node has it mounted.
    pub(super) fn start_gluster(&self, say: &dyn Fn(&str)) -> Result<(), LabError> {
        let Some((first, plan)) = self.nodes.first().zip(self.state.gluster.as_ref()) else {
            return Ok(());
        };
        let mut pids = Vec::new();
        for node in &self.nodes {
            pids.push(node.start_glusterd()?);
        }
        for (node, pid) in self.nodes.iter().zip(&pids) {
            node.wait_glusterd(*pid, GLUSTERD_WAIT)?;
        }
        for node in &self.nodes[1..] {
            first.gluster(&["peer", "probe", &node.addr().to_string()])?;
        }
        let others = self.nodes.len() - 1;
        wait_bounded(
            &format!("a pool of {} seen from every node", self.nodes.len()),
            POOL_WAIT,
            || {
                self.nodes.iter().all(|n| {
                    n.gluster_peers().is_ok_and(|p| {
                        p.len() == others && p.iter().all(|(_, state)| state == IN_CLUSTER)
                    })
                })
            },
        )?;
        say(&if others == 0 {
            format!("glusterd on {}, a pool of one", first.name())
        } else {
            format!(
                "glusterd on every node, pool of {} ({IN_CLUSTER}, seen from every node)",
                self.nodes.len()
            )
        });

        let mut create = vec!["volume", "create", &plan.volume];
        let replica = plan.replica.to_string();
        if plan.replica > 1 {
            create.extend(["replica", &replica]);
        }
        create.extend(plan.bricks.iter().map(String::as_str));
        // The bricks are on the root file system, which glusterd refuses without force.
        create.push("force");
        first.gluster(&create)?;
        let ping_timeout = PING_TIMEOUT.to_string();
        first.gluster(&[
            "volume",
            "set",
            &plan.volume,
            "network.ping-timeout",
            &ping_timeout,
        ])?;
        first.gluster(&["volume", "start", &plan.volume])?;
        let info = first.volume_info(&plan.volume)?;
        say(&format!(
            "volume {} ({} {}) {}",
            plan.volume,
            info.kind,
            info.layout,
            info.status.to_lowercase()
        ));

        if self.nodes.len() > 1 {
            first.gluster(&[
                "volume",
                "set",
                "all",
                "cluster.enable-shared-storage",
                "enable",
            ])?;
        } else {
            let brick = shared_storage_brick(&first.addr().to_string());
            first.gluster(&["volume", "create", SHARED_STORAGE_VOLUME, &brick, "force"])?;
            first.gluster(&["volume", "start", SHARED_STORAGE_VOLUME])?;
            first.mount_shared_storage()?;
        }
        wait_bounded(
            &format!("{SHARED_STORAGE_VOLUME} mounted at {SHARED_STORAGE_MOUNT} on every node"),
            SHARED_STORAGE_WAIT,
            || self.nodes.iter().all(|n| n.shared_storage_mounted()),
        )?;
        // Set once it exists (the hook creates it); its mounted clients take the new graph.
        first.gluster(&[
            "volume",
            "set",
            SHARED_STORAGE_VOLUME,
            "network.ping-timeout",
            &ping_timeout,
        ])?;
        say(&format!(
            "shared storage {SHARED_STORAGE_VOLUME} mounted at {SHARED_STORAGE_MOUNT} on every node; \
             network.ping-timeout {PING_TIMEOUT} s on both volumes"
        ));
        Ok(())
    }

    /// Writes [`HELLO_FILE`] into the data volume through a short FUSE mount in the first
    /// node, for the FSAL GLUSTER export to serve.
    pub(super) fn write_hello_into_volume(&self) -> Result<(), LabError> {
        let Some(first) = self.nodes.first() else {
            return Ok(());
        };
        let at = Path::new(HELLO_MOUNT);
        first.mount_volume(DATA_VOLUME, at)?;
        let file = first.host_path(at.join(HELLO_FILE));
        let written =
            fs::write(&file, HELLO_TEXT).map_err(io_err(format!("write {}", file.display())));
        // Unmounted whether or not the write worked: a mount left behind would outlive
        // the error.
        let unmounted = first.unmount(at);
        written.and(unmounted)
    }

    /// Unmounts the gluster FUSE mounts in every node before its processes are killed;
    /// returns what failed.
    pub(super) fn unmount_gluster(&self) -> Vec<String> {
        if self.state.gluster.is_none() {
            return Vec::new();
        }
        self.nodes
            .iter()
            .flat_map(|n| n.unmount_glusterfs())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::net::Ipv4Addr;

    fn members(n: u8) -> Vec<PlannedNode> {
        (1..=n)
            .map(|i| {
                (
                    usize::from(i),
                    format!("node{i}"),
                    Ipv4Addr::new(192, 0, 2, 10 + i),
                )
            })
            .collect()
    }

    #[test]
    fn plans_replica_three_or_one_per_node() {
        let root = Path::new("/l");
        let one = plan(root, &members(1));
        assert_eq!((one.replica, one.bricks.len()), (1, 1));
        assert_eq!(one.bricks[0], "192.0.2.11:/l/node1/bricks/data");
        let two = plan(root, &members(2));
        assert_eq!((two.replica, two.bricks.len()), (2, 2));
        let three = plan(root, &members(3));
        assert_eq!((three.replica, three.bricks.len()), (3, 3));
        assert_eq!(three.bricks[2], "192.0.2.13:/l/node3/bricks/data");
        let four = plan(root, &members(4));
        assert_eq!((four.replica, four.bricks.len()), (3, 3));
        let six = plan(root, &members(6));
        assert_eq!((six.replica, six.bricks.len()), (3, 6));
        assert_eq!(
            hosts_lines(&members(2)),
            "192.0.2.11 node1\n192.0.2.12 node2\n"
        );
    }
}
