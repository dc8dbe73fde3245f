//! FSAL_GLUSTER exports and the gluster shared storage on 3-node gluster labs (every node a
//! GlusterFS server, the volume `data` replica 3), after `ganesha-ha setup`:
//!
//! - `export add NAME --volume data` serves the volume on every node, through each node's
//!   address and VIP, what a FUSE client wrote reading back byte for byte; the export is
//!   added and refreshed live (ganesha keeps its pid) and `export remove` withdraws it
//!   everywhere.
//! - `HA_GLUSTER_SHARED_STORAGE=on`: with a node detached from the trusted pool, `setup`
//!   refuses, naming it and the fix, and changes nothing (CIB, shared storage); with the pool
//!   whole again it enables the shared storage glusterfs's way, waits until every node has
//!   it mounted, and the cluster becomes HEALTHY with ganesha_nfsd's state on it.
//!
//! Root; CI runs as root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use ganesha_e2e::lab::{ganesha_ha, gluster_lab_with_agents, in_node};
use ganesha_lab::{Lab, Node, DATA_VOLUME, SHARED_STORAGE_MOUNT, SHARED_STORAGE_VOLUME};
use ganesha_testkit::Ran;

const VIPS: [&str; 3] = ["192.0.2.101", "192.0.2.102", "192.0.2.103"];
/// Where the test mounts the data volume in node1 (FUSE), to write through gluster.
const FUSE_AT: &str = "/run/e2e-data";
/// ganesha's pid file in every lab node.
const GANESHA_PID_FILE: &str = "/run/ganesha/ganesha.pid";
/// How long a node may take to serve, or stop serving, an export (a daemon may still be in
/// its start-up grace period).
const SERVE_WAIT: Duration = Duration::from_secs(40);

/// `ganesha-ha.conf` for the lab's three nodes; `extra` is appended.
fn write_conf(lab: &Lab, extra: &str) -> String {
    let fencing = if lab.fencing_enabled() {
        format!(
            "HA_FENCE_lab-fencing=\"fence_ganesha_lab state_file={} pcmk_host_list=node1,node2,node3\"\n",
            lab.state_file().display()
        )
    } else {
        "HA_STONITH=off\n".to_owned()
    };
    let conf = lab.root_dir().join("ganesha-ha.conf");
    std::fs::write(
        &conf,
        format!(
            "HA_NAME=lab\nHA_CLUSTER_NODES=node1,node2,node3\nVIP_node1={}/24\n\
             VIP_node2={}/24\nVIP_node3={}/24\nHA_VIP_NIC=eth0\n{fencing}HA_MON_INTERVAL=2s\n\
             HA_TRANSPORT=lab:{}\n{extra}",
            VIPS[0],
            VIPS[1],
            VIPS[2],
            lab.state_file().display()
        ),
    )
    .unwrap();
    conf.display().to_string()
}

/// `program args` inside `node`, which must succeed; its stdout.
fn stdout(node: &Node, program: &str, args: &[&str]) -> String {
    in_node(node, program)
        .args(args)
        .run()
        .expect_success()
        .stdout()
        .to_owned()
}

fn gluster(node: &Node, args: &[&str]) -> String {
    let mut all = vec!["--mode=script"];
    all.extend_from_slice(args);
    stdout(node, "gluster", &all)
}

fn ganesha_pid(node: &Node) -> String {
    node.read_file(GANESHA_PID_FILE).unwrap().trim().to_owned()
}

fn cib_epoch(node: &Node) -> String {
    let text = stdout(node, "cibadmin", &["--query"]);
    let head = text.lines().next().unwrap_or_default().to_owned();
    head.split_whitespace()
        .find(|w| w.starts_with("epoch="))
        .unwrap_or_default()
        .to_owned()
}

/// Text of a few hundred KiB, every line different, so that a read over NFS spans many
/// READs and a misplaced byte shows.
fn content() -> String {
    (0..8000)
        .map(|i| format!("line {i:05}: {}\n", "abcdefghij".repeat(1 + i % 5)))
        .collect()
}

/// What `nfs-cat` (run in node2) reads at `url`, if it succeeds.
fn nfs_read(lab: &Lab, url: &str) -> Option<String> {
    in_node(lab.node(1), "nfs-cat")
        .arg(url)
        .timeout(Duration::from_secs(10))
        .try_run()
        .ok()
        .filter(Ran::success)
        .map(|r| r.stdout().to_owned())
}

/// Waits until every one of `servers` serves `want` at `path` (`Some`) or none does.
fn wait_all(lab: &Lab, servers: &[String], path: &str, want: Option<&str>) {
    let t = Instant::now();
    loop {
        let now: Vec<bool> = servers
            .iter()
            .map(|s| nfs_read(lab, &format!("nfs://{s}{path}?version=4")).as_deref() == want)
            .collect();
        if now.iter().all(|&ok| ok) {
            return;
        }
        assert!(
            t.elapsed() < SERVE_WAIT,
            "want {} at {path}; as wanted per server {servers:?}: {now:?}",
            if want.is_some() {
                "the file"
            } else {
                "nothing"
            }
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Waits (bounded) until the shared storage is mounted on every node (`true`) or on none.
fn wait_shared_storage(lab: &Lab, mounted: bool) {
    let t = Instant::now();
    loop {
        let now: Vec<bool> = lab
            .nodes()
            .iter()
            .map(Node::shared_storage_mounted)
            .collect();
        if now.iter().all(|&m| m == mounted) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "want {SHARED_STORAGE_MOUNT} mounted={mounted}, nodes: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn volumes(node: &Node) -> Vec<String> {
    gluster(node, &["volume", "list"])
        .lines()
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn a_gluster_volume_is_exported_on_every_node_without_a_restart() {
    let lab = gluster_lab_with_agents(3);
    let conf = write_conf(
        &lab,
        &format!("HA_STATE_MOUNT={}\n", lab.shared_dir().display()),
    );
    let node1 = lab.node(0);
    let started = Instant::now();
    ganesha_ha(node1, &["setup", "--config", &conf])
        .expect_success()
        .expect_stdout_contains("cluster HEALTHY");
    println!("setup on the gluster lab: {:.1?}", started.elapsed());

    // A file written through gluster (FUSE), not through ganesha.
    node1
        .mount_volume(DATA_VOLUME, Path::new(FUSE_AT))
        .unwrap_or_else(|e| panic!("{e}"));
    let text = content();
    in_node(node1, "dd")
        .args([&format!("of={FUSE_AT}/f.txt"), "status=none", "conv=fsync"])
        .stdin(text.as_bytes())
        .run()
        .expect_success();

    let pids: Vec<String> = lab.nodes().iter().map(ganesha_pid).collect();
    let started = Instant::now();
    let added = ganesha_ha(
        node1,
        &[
            "export",
            "add",
            "vol",
            "--volume",
            DATA_VOLUME,
            "--config",
            &conf,
        ],
    );
    added.expect_success();
    assert_eq!(added.stdout().matches(": ok").count(), 3, "{added}");
    let pseudo = format!("/{DATA_VOLUME}");
    added.expect_stdout_contains(&format!("{pseudo} -> {pseudo}"));
    let servers: Vec<String> = lab
        .nodes()
        .iter()
        .map(|n| n.addr().to_string())
        .chain(VIPS.iter().map(|v| v.to_string()))
        .collect();
    let file = format!("{pseudo}/f.txt");
    wait_all(&lab, &servers, &file, Some(&text));
    println!(
        "export add --volume to served by {} addresses: {:.1?}",
        servers.len(),
        started.elapsed()
    );
    let exported = lab.shared_dir().join("nfs-ganesha/exports/export.vol.conf");
    let block = std::fs::read_to_string(&exported).unwrap();
    for line in [
        "Name = GLUSTER;",
        "Hostname = \"localhost\";",
        "Volume = \"data\";",
        "Disable_ACL = true;",
    ] {
        assert!(block.contains(line), "{line} not in {block}");
    }

    // A change made through the volume is seen through ganesha; refresh-config is live.
    let refreshed = ganesha_ha(node1, &["refresh-config", "vol", "--config", &conf]);
    refreshed.expect_success();
    assert_eq!(
        refreshed.stdout().matches("UpdateExport: ok").count(),
        3,
        "{refreshed}"
    );
    wait_all(&lab, &servers[..3], &file, Some(&text));
    let after: Vec<String> = lab.nodes().iter().map(ganesha_pid).collect();
    assert_eq!(pids, after, "ganesha restarted while the export was added");

    let started = Instant::now();
    ganesha_ha(node1, &["export", "remove", "vol", "--config", &conf]).expect_success();
    let removed = started.elapsed();
    wait_all(&lab, &servers, &file, None);
    println!(
        "export remove: {removed:.1?}, withdrawn from {} addresses: {:.1?}",
        servers.len(),
        started.elapsed()
    );
    assert!(!exported.exists());
    assert_eq!(
        pids,
        lab.nodes().iter().map(ganesha_pid).collect::<Vec<_>>()
    );

    // What gluster refuses as a volume name is refused before anything is written.
    ganesha_ha(
        node1,
        &["export", "add", "bad", "--volume", "a.b", "--config", &conf],
    )
    .expect_code(1)
    .expect_stderr_contains("contains '.'");
    node1.unmount(Path::new(FUSE_AT)).unwrap();
    lab.down().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn setup_enables_the_shared_storage_only_with_every_node_in_the_pool() {
    let lab = gluster_lab_with_agents(3);
    let (node1, node3) = (lab.node(0), lab.node(2));
    // No shared storage, and node3 out of the pool: it holds bricks of both volumes, which
    // go first (glusterd detaches only a peer without bricks).
    gluster(
        node1,
        &[
            "volume",
            "set",
            "all",
            "cluster.enable-shared-storage",
            "disable",
        ],
    );
    wait_shared_storage(&lab, false);
    gluster(node1, &["volume", "stop", DATA_VOLUME]);
    gluster(node1, &["volume", "delete", DATA_VOLUME]);
    let node3_addr = node3.addr().to_string();
    gluster(node1, &["peer", "detach", &node3_addr]);
    assert!(volumes(node1).is_empty(), "{:?}", volumes(node1));

    let conf = write_conf(&lab, "HA_GLUSTER_SHARED_STORAGE=on\n");
    let before = cib_epoch(node1);
    let refused = ganesha_ha(node1, &["setup", "--config", &conf]);
    refused
        .expect_code(1)
        .expect_stderr_contains("node3 is not in the pool")
        .expect_stderr_contains("gluster peer probe node3");
    assert!(
        !refused.stderr().contains("node2"),
        "only node3 is missing: {refused}"
    );
    assert_eq!(
        cib_epoch(node1),
        before,
        "the refused setup changed the CIB"
    );
    assert!(volumes(node1).is_empty(), "{:?}", volumes(node1));

    // The pool whole again: setup brings the shared storage back, mounted on every node.
    gluster(node1, &["peer", "probe", &node3_addr]);
    let t = Instant::now();
    while !node1
        .gluster_peers()
        .is_ok_and(|p| p.len() == 2 && p.iter().all(|(_, s)| s == "Peer in Cluster (Connected)"))
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "node3 does not rejoin"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let started = Instant::now();
    let set_up = ganesha_ha(node1, &["setup", "--config", &conf]);
    set_up
        .expect_success()
        .expect_stdout_contains("gluster shared storage enabled")
        .expect_stdout_contains("cluster HEALTHY");
    println!(
        "setup enabling the shared storage: {:.1?}",
        started.elapsed()
    );
    assert_eq!(volumes(node1), [SHARED_STORAGE_VOLUME]);
    for n in lab.nodes() {
        assert!(n.shared_storage_mounted(), "{}: not mounted", n.name());
        // ganesha_nfsd keeps the node's NFSv4 recovery records on it.
        let records = format!("{SHARED_STORAGE_MOUNT}/nfs-ganesha/{}", n.name());
        in_node(n, "test")
            .args(["-d", &records])
            .run()
            .expect_success();
    }
    let cib = stdout(node1, "cibadmin", &["--query", "--scope", "resources"]);
    assert!(
        cib.contains("value=\"localhost:/gluster_shared_storage\""),
        "{cib}"
    );

    // Idempotent: the volume exists, so nothing is enabled again.
    ganesha_ha(node1, &["setup", "--config", &conf])
        .expect_success()
        .expect_stdout_contains("nothing to change")
        .expect_stdout_contains(&format!("{SHARED_STORAGE_VOLUME} exists"));

    // Teardown leaves the shared storage to gluster.
    ganesha_ha(node1, &["teardown", "--config", &conf]).expect_success();
    assert_eq!(volumes(node1), [SHARED_STORAGE_VOLUME]);
    let mounted: Vec<bool> = lab
        .nodes()
        .iter()
        .map(Node::shared_storage_mounted)
        .collect();
    // Mounted by gluster's hook before ganesha_nfsd started: its stop leaves it.
    assert_eq!(
        mounted,
        [true, true, true],
        "shared storage mounted per node"
    );
    lab.down().unwrap_or_else(|e| panic!("{e}"));
}
