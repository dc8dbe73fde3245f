//! Labs with this build's agents and fence agent, and commands (`ganesha-ha` among them) run
//! inside a node.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use ganesha_lab::util::DEFAULT_TIMEOUT;
use ganesha_lab::{Lab, LabOptions, Node};
use ganesha_testkit::{Ran, TestCommand};

use crate::bins::{bin_dir, ganesha_ha_bin};

/// Whether this process runs as root (the benches skip otherwise).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A lab of `nodes` nodes running ganesha as a service, with this build's agents and fence
/// agent installed (from [`bin_dir`]).
pub fn lab_with_agents(nodes: usize) -> Lab {
    Lab::up(LabOptions {
        nodes,
        agents_dir: Some(bin_dir().to_path_buf()),
        ganesha_service: true,
        ..LabOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`lab_with_agents`], with every node a GlusterFS server (`LabOptions::gluster`): the
/// volume `data` and the shared storage volume mounted at `/run/gluster/shared_storage`.
pub fn gluster_lab_with_agents(nodes: usize) -> Lab {
    Lab::up(LabOptions {
        nodes,
        agents_dir: Some(bin_dir().to_path_buf()),
        ganesha_service: true,
        gluster: true,
        ..LabOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`lab_with_agents`], but bare: no corosync.conf and no cluster stack.
pub fn bare_lab_with_agents(nodes: usize) -> Lab {
    Lab::up(LabOptions {
        nodes,
        agents_dir: Some(bin_dir().to_path_buf()),
        ganesha_service: true,
        form_cluster: false,
        ..LabOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// How long `ganesha-ha` may run in a node: longer than its own default `--timeout` (120 s),
/// so that a step that hangs is reported by `ganesha-ha` itself.
pub const GANESHA_HA_BOUND: Duration = Duration::from_secs(180);

/// `program` inside `node`, bounded as `Node::run` is.
pub fn in_node(node: &Node, program: impl AsRef<OsStr>) -> TestCommand {
    let mut cmd = TestCommand::new(node.command(program));
    cmd.timeout(DEFAULT_TIMEOUT);
    cmd
}

/// This build's `ganesha-ha` inside `node`, bounded by [`GANESHA_HA_BOUND`].
pub fn ganesha_ha_in(node: &Node) -> TestCommand {
    let mut cmd = in_node(node, ganesha_ha_bin());
    cmd.timeout(GANESHA_HA_BOUND);
    cmd
}

/// Runs this build's `ganesha-ha args` inside `node` to its end; check it with `Ran`'s
/// `expect_*`.
pub fn ganesha_ha(node: &Node, args: &[&str]) -> Ran {
    ganesha_ha_in(node).args(args).run()
}

/// Waits (at most 40 s, for a grace period) until `nfs-cat` reads the lab's hello file
/// through `vip` from node 2.
pub fn wait_serving(lab: &Lab, vip: &str) {
    let url = format!("nfs://{vip}/export/hello.txt?version=4");
    let t = Instant::now();
    loop {
        let read = in_node(lab.node(1), "nfs-cat")
            .arg(&url)
            .timeout(Duration::from_secs(5))
            .try_run()
            .and_then(Ran::checked);
        if read.as_ref().is_ok_and(|r| r.stdout().contains("hello")) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "{vip} does not serve: {}",
            read.map_or_else(|e| e, |r| r.to_string())
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
