//! Labs whose nodes are GlusterFS servers (`LabOptions::gluster`): real glusterd, bricks,
//! FUSE clients and the shared storage hook in the nodes' namespaces. They need root (CI runs
//! them as root) and glusterfs-server and glusterfs-client (`scripts/install-deps`). Each
//! test builds its own lab, so they run in parallel threads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use ganesha_lab::{
    FailMode, Lab, LabOptions, Node, Progress, DATA_VOLUME, GANESHA_CONF, GANESHA_LOG, GLUSTERD,
    GLUSTERFS, GLUSTERFSD, HELLO_FILE, HELLO_TEXT, SHARED_STORAGE_MOUNT, SHARED_STORAGE_VOLUME,
};
use ganesha_testkit::TestCommand;

/// Builds a gluster lab, printing its phases with their elapsed time.
fn up(nodes: usize, form_cluster: bool) -> Lab {
    let _ = ganesha_lab::cleanup_stale_labs();
    let opts = LabOptions {
        nodes,
        form_cluster,
        gluster: true,
        progress: Some(Progress::new(move |line| {
            eprintln!("[{nodes} node(s)] {line}")
        })),
        ..LabOptions::default()
    };
    match Lab::up(opts) {
        Ok(lab) => {
            eprintln!("gluster lab of {nodes} up in {:.1?}", lab.startup_time());
            lab
        }
        Err(e) => panic!("Lab::up failed:\n{e}"),
    }
}

/// Every entry under the host's `/var/lib/glusterd`: path -> (size, mtime, mode).
fn host_glusterd() -> BTreeMap<PathBuf, (u64, SystemTime, u32)> {
    fn walk(dir: &Path, into: &mut BTreeMap<PathBuf, (u64, SystemTime, u32)>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let m = e.metadata().unwrap();
            into.insert(e.path(), (m.len(), m.modified().unwrap(), m.mode()));
            if m.is_dir() {
                walk(&e.path(), into);
            }
        }
    }
    let mut all = BTreeMap::new();
    walk(Path::new("/var/lib/glusterd"), &mut all);
    all
}

/// The host's own FUSE gluster mounts (mount points), as this process sees them.
fn host_glusterfs_mounts() -> HashSet<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            l.split_once(" - ")
                .is_some_and(|(_, r)| r.starts_with("fuse.glusterfs "))
        })
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect()
}

/// A process: its pid, start time (pids are reused within seconds) and command name.
type Proc = (i32, u64, String);

fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Alive and the same process (a zombie no longer counts).
fn still_alive(&(pid, started, _): &Proc) -> bool {
    let state = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next())
        });
    state.is_some_and(|s| s != 'Z' && s != 'X') && start_time(pid) == Some(started)
}

/// What must be gone after the lab is down.
struct Footprint {
    root: PathBuf,
    netns: Vec<String>,
    netns_inodes: HashSet<u64>,
    procs: Vec<Proc>,
}

impl Footprint {
    fn of(lab: &Lab) -> Footprint {
        let mut procs = Vec::new();
        for n in lab.nodes() {
            let holder = i32::try_from(n.holder_pid()).unwrap();
            for p in n.pids().into_iter().map(|p| p.as_raw()).chain([holder]) {
                let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                if let Some(t) = start_time(p) {
                    procs.push((p, t, comm.trim_end().to_string()));
                }
            }
        }
        let names: Vec<&str> = procs.iter().map(|p| p.2.as_str()).collect();
        for daemon in [GLUSTERD, GLUSTERFSD, GLUSTERFS] {
            assert!(names.contains(&daemon), "no {daemon} in the lab: {names:?}");
        }
        Footprint {
            root: lab.root_dir().to_path_buf(),
            netns: lab.netns_names(),
            netns_inodes: lab.nodes().iter().map(Node::netns_inode).collect(),
            procs,
        }
    }

    /// No process of the lab (glusterd, bricks, FUSE clients included) and none in its
    /// namespaces, no namespace, no mount under its root, no root directory.
    fn assert_gone(&self) {
        let alive: Vec<&Proc> = self.procs.iter().filter(|p| still_alive(p)).collect();
        assert!(alive.is_empty(), "processes of the lab survived: {alive:?}");
        let others: HashSet<u64> = fs::read_dir("/run/netns")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                !self
                    .netns
                    .contains(&e.file_name().to_string_lossy().into_owned())
            })
            .filter_map(|e| fs::metadata(e.path()).ok().map(|m| m.ino()))
            .collect();
        let in_ns: Vec<String> = fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
            .filter(|pid| {
                fs::metadata(format!("/proc/{pid}/ns/net")).is_ok_and(|m| {
                    self.netns_inodes.contains(&m.ino()) && !others.contains(&m.ino())
                })
            })
            .map(|pid| pid.to_string())
            .collect();
        assert!(
            in_ns.is_empty(),
            "processes left in the lab's namespaces: {in_ns:?}"
        );
        for ns in &self.netns {
            assert!(!Path::new("/run/netns").join(ns).exists(), "{ns} remains");
        }
        let root = self.root.to_string_lossy().into_owned();
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let under: Vec<&str> = mounts
            .lines()
            .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&root)))
            .collect();
        assert!(under.is_empty(), "mounts under {root}: {under:?}");
        assert!(!self.root.exists(), "{} remains", self.root.display());
    }
}

/// A mount point for `node` under its own directory (the same path inside the node).
fn mount_point(node: &Node, name: &str) -> PathBuf {
    node.dir().join("mnt").join(name)
}

/// Mounts the data volume on `node` and returns the mount point.
fn mount_data(node: &Node) -> PathBuf {
    let at = mount_point(node, DATA_VOLUME);
    node.mount_volume(DATA_VOLUME, &at).unwrap();
    assert!(node.glusterfs_mounts().contains(&at), "{}", node.name());
    at
}

fn write_in(node: &Node, at: &Path, file: &str, text: &str) {
    fs::write(node.host_path(at.join(file)), text).unwrap();
}

fn read_in(node: &Node, at: &Path, file: &str) -> String {
    fs::read_to_string(node.host_path(at.join(file)))
        .unwrap_or_else(|e| panic!("{}: read {file}: {e}", node.name()))
}

#[test]
fn three_gluster_servers_replicate_and_survive_a_brick() {
    let host_state = host_glusterd();
    let host_mounts = host_glusterfs_mounts();
    let t0 = Instant::now();
    let lab = up(3, true);
    let (n1, n2, n3) = (lab.node(0), lab.node(1), lab.node(2));
    let plan = lab
        .state()
        .gluster
        .clone()
        .expect("the state records gluster");
    assert_eq!((plan.volume.as_str(), plan.replica), (DATA_VOLUME, 3));

    // One pool of three, seen from every node.
    for node in lab.nodes() {
        let peers = node.gluster_peers().unwrap();
        assert_eq!(peers.len(), 2, "{}: {peers:?}", node.name());
        assert!(
            peers
                .iter()
                .all(|(_, s)| s == "Peer in Cluster (Connected)"),
            "{}: {peers:?}",
            node.name()
        );
    }

    // The data volume: Replicate 1 x 3, started, one brick per node.
    let info = n3.volume_info(DATA_VOLUME).unwrap();
    assert_eq!(info.kind, "Replicate", "{info:?}");
    assert_eq!(info.layout, "1 x 3 = 3", "{info:?}");
    assert_eq!(info.status, "Started", "{info:?}");
    assert_eq!(info.bricks, plan.bricks);
    for node in lab.nodes() {
        assert_eq!(node.brick_pids(DATA_VOLUME).len(), 1, "{}", node.name());
    }

    // Shared storage on every node, a FUSE mount of the volume glusterfs created.
    let ss = n1.volume_info(SHARED_STORAGE_VOLUME).unwrap();
    assert_eq!(
        (ss.kind.as_str(), ss.status.as_str()),
        ("Replicate", "Started")
    );
    for node in lab.nodes() {
        assert!(node.shared_storage_mounted(), "{}", node.name());
    }
    let shared = Path::new(SHARED_STORAGE_MOUNT);
    write_in(n1, shared, "from-node1", "shared\n");
    assert_eq!(read_in(n2, shared, "from-node1"), "shared\n");

    // Written through a mount on node1, read back through a mount on node3.
    let (m1, m3) = (mount_data(n1), mount_data(n3));
    write_in(n1, &m1, "hello.txt", "hello through gluster\n");
    assert_eq!(read_in(n3, &m3, "hello.txt"), "hello through gluster\n");

    // A brick killed on node2: the volume stays readable and writable from the others.
    n2.fail(FailMode::KillBrick).unwrap();
    assert!(n2.brick_pids(DATA_VOLUME).is_empty());
    assert_eq!(n2.failures(), ["kill-brick"]);
    assert_eq!(read_in(n3, &m3, "hello.txt"), "hello through gluster\n");
    write_in(n1, &m1, "after.txt", "written with a brick down\n");
    assert_eq!(read_in(n3, &m3, "after.txt"), "written with a brick down\n");
    n2.heal().unwrap();
    assert_eq!(n2.brick_pids(DATA_VOLUME).len(), 1);
    assert!(n2.failures().is_empty());

    // A crashed server boots like one: glusterd, its bricks and the shared storage again.
    // (No I/O on the survivors' mounts meanwhile: without a TCP reset their clients wait
    // network.ping-timeout, 42 s, before giving up on the dead node's brick.)
    n3.fail(FailMode::Crash).unwrap();
    assert!(n3.pids_named(GLUSTERD).is_empty());
    assert!(!n3.shared_storage_mounted(), "its FUSE client is dead");
    let t = Instant::now();
    n3.heal().unwrap();
    eprintln!("node3 booted its gluster in {:.1?}", t.elapsed());
    assert_eq!(n3.pids_named(GLUSTERD).len(), 1);
    assert_eq!(n3.brick_pids(DATA_VOLUME).len(), 1);
    assert!(n3.shared_storage_mounted());
    assert_eq!(read_in(n3, shared, "from-node1"), "shared\n");
    let booted = mount_point(n3, "after-boot");
    n3.mount_volume(DATA_VOLUME, &booted).unwrap();
    assert_eq!(
        read_in(n3, &booted, "after.txt"),
        "written with a brick down\n"
    );

    n1.unmount(&m1).unwrap();
    assert!(!n1.glusterfs_mounts().contains(&m1));
    // Nodes are private: the host sees no mount of the lab.
    assert_eq!(host_glusterfs_mounts(), host_mounts);
    // A mount point on the host's file system is refused.
    assert!(n1.mount_volume(DATA_VOLUME, Path::new("/mnt/x")).is_err());

    let gone = Footprint::of(&lab);
    let t = Instant::now();
    lab.down().unwrap();
    eprintln!(
        "3-node gluster lab down in {:.1?}; test took {:.1?}",
        t.elapsed(),
        t0.elapsed()
    );
    gone.assert_gone();
    assert_eq!(host_glusterfs_mounts(), host_mounts);
    assert_eq!(
        host_glusterd(),
        host_state,
        "the host's /var/lib/glusterd changed"
    );
}

#[test]
fn one_gluster_server_has_a_plain_volume_and_shared_storage() {
    let host_state = host_glusterd();
    let t0 = Instant::now();
    let lab = up(1, false);
    let node = lab.node(0);
    assert!(node.gluster_peers().unwrap().is_empty());
    let info = node.volume_info(DATA_VOLUME).unwrap();
    assert_eq!(
        (
            info.kind.as_str(),
            info.layout.as_str(),
            info.status.as_str()
        ),
        ("Distribute", "1", "Started"),
        "{info:?}"
    );
    // glusterfs refuses enable-shared-storage with one node; the lab makes the same volume.
    let ss = node.volume_info(SHARED_STORAGE_VOLUME).unwrap();
    assert_eq!(ss.status, "Started", "{ss:?}");
    assert!(node.shared_storage_mounted());
    let at = mount_data(node);
    write_in(node, &at, "one.txt", "one\n");
    write_in(node, Path::new(SHARED_STORAGE_MOUNT), "state", "kept\n");

    // Another process attaches through the state file alone and tears the lab down.
    let gone = Footprint::of(&lab);
    let state_file = lab.detach();
    let attached = Lab::attach(&state_file).unwrap();
    assert!(attached.state().gluster.is_some());
    let node = attached.node(0);
    assert!(node.shared_storage_mounted());
    assert_eq!(node.brick_pids(DATA_VOLUME).len(), 1);
    assert_eq!(read_in(node, &at, "one.txt"), "one\n");
    assert_eq!(
        read_in(node, Path::new(SHARED_STORAGE_MOUNT), "state"),
        "kept\n"
    );
    attached.down().unwrap();
    eprintln!("1-node gluster test took {:.1?}", t0.elapsed());
    gone.assert_gone();
    assert_eq!(
        host_glusterd(),
        host_state,
        "the host's /var/lib/glusterd changed"
    );
}

/// With `ganesha_service`, every node's ganesha.nfsd exports the volume `data` through
/// FSAL GLUSTER (libgfapi to its own glusterd) at the usual pseudo path: the lab's file,
/// written into the volume, reads back through NFS from every node via every node.
#[test]
fn ganesha_exports_the_data_volume_through_fsal_gluster() {
    let t0 = Instant::now();
    let _ = ganesha_lab::cleanup_stale_labs();
    let lab = Lab::up(LabOptions {
        nodes: 3,
        form_cluster: false,
        gluster: true,
        ganesha_service: true,
        progress: Some(Progress::new(|line| eprintln!("[fsal gluster] {line}"))),
        ..LabOptions::default()
    })
    .unwrap_or_else(|e| panic!("Lab::up failed:\n{e}"));
    let up = t0.elapsed();
    for client in lab.nodes() {
        for server in lab.nodes() {
            let url = format!("nfs://{}/export/{HELLO_FILE}?version=4", server.addr());
            // The first reads may meet the servers' grace period.
            let t = Instant::now();
            let read = loop {
                let read = TestCommand::new(client.command("nfs-cat"))
                    .arg(&url)
                    .timeout(Duration::from_secs(10))
                    .run();
                if read.success() || t.elapsed() > Duration::from_secs(40) {
                    break read;
                }
                std::thread::sleep(Duration::from_millis(500));
            };
            read.expect_success();
            assert_eq!(read.stdout(), HELLO_TEXT, "{} via {url}", client.name());
        }
    }
    for node in lab.nodes() {
        let conf = node.read_file(GANESHA_CONF).unwrap();
        assert!(conf.contains("Name = GLUSTER;"), "{}: {conf}", node.name());
        assert!(
            conf.contains(&format!("Volume = \"{DATA_VOLUME}\";")),
            "{conf}"
        );
        let log = node.read_file(GANESHA_LOG).unwrap_or_default();
        assert!(
            log.contains(&format!("Volume {DATA_VOLUME} exported at : '/'")),
            "{}: {log}",
            node.name()
        );
        // The write went through a short mount: none is left but the shared storage.
        assert_eq!(
            node.glusterfs_mounts(),
            [PathBuf::from(SHARED_STORAGE_MOUNT)],
            "{}",
            node.name()
        );
    }
    lab.down().unwrap();
    eprintln!(
        "FSAL GLUSTER lab of 3 up in {up:.1?}; test took {:.1?}",
        t0.elapsed()
    );
}
