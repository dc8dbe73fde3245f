//! `ganesha_nfsd` with its state on the deployment's volume: the GlusterFS shared storage
//! `gluster_shared_storage`, mounted by FUSE at `/run/gluster/shared_storage` by the agent
//! itself, in a one-node lab whose node is a glusterd (real glusterd, glusterfsd, FUSE client
//! and ganesha.nfsd). Then stop in the hard cases: the brick dead, the FUSE client hung, a
//! process holding the volume. Each stop must succeed within its timeout, leave nothing
//! mounted and say what it did. Needs root; CI runs as root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use ganesha_agents::names::{GANESHA_PID_FILE, NFSD_AGENT};
use ganesha_lab::{Node, Pid, Signal, SHARED_STORAGE_MOUNT, SHARED_STORAGE_VOLUME};
use ganesha_testkit::Ran;
use util::cluster::AgentLab;
use util::wait_until;

/// The operation timeout the tests give the agent (`OCF_RESKEY_CRM_meta_timeout`, ms).
const TIMEOUT_MS: u64 = 20_000;

fn timeout() -> Duration {
    Duration::from_millis(TIMEOUT_MS)
}

/// No FUSE client serves the shared storage's mount point any more.
fn no_fuse_client(node: &Node) -> bool {
    node.fuse_client_pids(Path::new(SHARED_STORAGE_MOUNT))
        .is_empty()
}

/// The parameters of the deployment: the shared storage volume, mounted by the agent.
fn params(lab: &AgentLab) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = lab
        .nfsd_params()
        .into_iter()
        .filter(|(k, _)| k != "state_mount")
        .collect();
    p.push((
        "state_device".into(),
        format!("localhost:/{SHARED_STORAGE_VOLUME}"),
    ));
    p.push(("state_fstype".into(), "glusterfs".into()));
    p.push(("state_mount".into(), SHARED_STORAGE_MOUNT.into()));
    p
}

fn run(lab: &AgentLab, action: &str, p: &[(String, String)], level: &str) -> Ran {
    let ran = lab
        .agent(NFSD_AGENT, action, p)
        .env("OCF_RESKEY_CRM_meta_timeout", TIMEOUT_MS.to_string())
        .env("OCF_CHECK_LEVEL", level)
        .run();
    eprintln!(
        "--- {action} (level {level}): exit {:?} in {:.1?}\n{}",
        ran.code(),
        ran.elapsed(),
        ran.stderr().trim_end()
    );
    ran
}

/// The mounts at the state mount point, from the node's mountinfo (never blocks).
fn mounted(node: &Node) -> usize {
    let at = Path::new(SHARED_STORAGE_MOUNT);
    node.glusterfs_mounts().iter().filter(|m| *m == at).count()
}

/// A gluster lab whose shared storage the agent mounts: the lab's own mount is removed
/// first, then the agent starts. Returns the lab and the agent's parameters.
fn started() -> (AgentLab, Vec<(String, String)>) {
    let lab = AgentLab::up_gluster();
    let node = lab.node();
    assert!(node.shared_storage_mounted());
    node.unmount(Path::new(SHARED_STORAGE_MOUNT)).unwrap();
    assert_eq!(mounted(node), 0);
    let p = params(&lab);
    run(&lab, "start", &p, "0").expect_code(0);
    assert_eq!(mounted(node), 1, "the agent mounted the shared storage");
    assert!(node.shared_storage_mounted(), "served by a FUSE client");
    run(&lab, "monitor", &p, "0").expect_code(0);
    (lab, p)
}

/// Stop in a hard case: 0 within the timeout, nothing left mounted, the daemon gone.
fn stop_within_timeout(lab: &AgentLab, p: &[(String, String)], case: &str) -> Ran {
    let started = Instant::now();
    let ran = run(lab, "stop", p, "0");
    let took = started.elapsed();
    eprintln!("MEASURED stop with {case}: {took:.1?}");
    ran.expect_code(0);
    assert!(
        took < timeout(),
        "stop with {case} took {took:.1?}, over its timeout"
    );
    assert_eq!(mounted(lab.node()), 0, "{case}: still mounted");
    assert!(
        lab.node().pids_named(ganesha_lab::GANESHA).is_empty(),
        "{case}: ganesha.nfsd still runs"
    );
    ran
}

/// A process of the node that the test stops or starts, killed (and continued, so that the
/// kill is delivered) when the test ends whichever way.
struct Reap<'a> {
    node: &'a Node,
    pid: Pid,
    child: Option<Child>,
}

impl Drop for Reap<'_> {
    fn drop(&mut self) {
        let _ = self.node.kill(self.pid, Signal::SIGCONT);
        let _ = self.node.kill(self.pid, Signal::SIGKILL);
        if let Some(child) = &mut self.child {
            let until = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn nfsd_keeps_its_recovery_state_on_the_gluster_shared_storage() {
    let t0 = Instant::now();
    let (lab, p) = started();
    let node = lab.node();
    run(&lab, "monitor", &p, "10").expect_code(0);

    // The layout is on the volume: seen through a second mount of it.
    let check = node.dir().join("mnt/check");
    node.mount_volume(SHARED_STORAGE_VOLUME, &check).unwrap();
    let own = node.host_path(check.join("nfs-ganesha/node1/ganesha"));
    assert!(own.join("v4recov").is_dir(), "{}", own.display());
    assert!(own.join("v4old").is_dir(), "{}", own.display());
    node.unmount(&check).unwrap();
    // ganesha's RecoveryRoot points into the agent's mount.
    assert_eq!(
        std::fs::read_link(&lab.recovery_root).unwrap(),
        Path::new(SHARED_STORAGE_MOUNT).join("nfs-ganesha/node1/ganesha")
    );

    let stop = run(&lab, "stop", &p, "0");
    stop.expect_code(0)
        .expect_stderr_contains("unmounted /run/gluster/shared_storage");
    assert_eq!(mounted(node), 0);
    assert!(no_fuse_client(node));
    assert!(!node.host_path(GANESHA_PID_FILE).exists());
    run(&lab, "stop", &p, "0").expect_code(0);
    run(&lab, "monitor", &p, "0").expect_code(7);
    lab.lab.down().unwrap();
    eprintln!("test took {:.1?}", t0.elapsed());
}

#[test]
fn stop_unmounts_the_volume_when_its_brick_is_dead() {
    let t0 = Instant::now();
    let (lab, p) = started();
    let node = lab.node();
    node.kill_brick(SHARED_STORAGE_VOLUME).unwrap();
    // The mount answers ENOTCONN: monitor sees it.
    let ls = lab
        .command("ls")
        .arg(SHARED_STORAGE_MOUNT)
        .timeout(Duration::from_secs(10))
        .run();
    ls.expect_failure()
        .expect_stderr_contains("Transport endpoint is not connected");
    run(&lab, "monitor", &p, "20")
        .expect_code(1)
        .expect_stderr_contains("does not answer");

    stop_within_timeout(&lab, &p, "the brick dead")
        .expect_stderr_contains("Transport endpoint is not connected")
        .expect_stderr_contains("unmounted /run/gluster/shared_storage");
    run(&lab, "stop", &p, "0").expect_code(0);
    run(&lab, "monitor", &p, "0").expect_code(7);
    lab.lab.down().unwrap();
    eprintln!("test took {:.1?}", t0.elapsed());
}

#[test]
fn monitor_fails_and_stop_unmounts_when_the_fuse_client_hangs() {
    let t0 = Instant::now();
    let (lab, p) = started();
    let node = lab.node();
    let clients = node.fuse_client_pids(Path::new(SHARED_STORAGE_MOUNT));
    assert_eq!(clients.len(), 1, "{clients:?}");
    let client = Reap {
        node,
        pid: clients[0],
        child: None,
    };
    node.kill(client.pid, Signal::SIGSTOP).unwrap();
    // Anything that touches the mount point blocks.
    let blocked = lab
        .command("stat")
        .arg(SHARED_STORAGE_MOUNT)
        .timeout(Duration::from_secs(2))
        .try_run();
    assert!(
        blocked.as_ref().is_err_and(|e| e.contains("timed out")),
        "{blocked:?}"
    );

    // Depth 20 reads the volume and fails; the lower depths never touch it (a peer's crash
    // stalls it for gluster's ping-timeout) and still answer, within the timeout.
    for (level, code) in [("0", 0), ("10", 0), ("20", 1)] {
        let started = Instant::now();
        let ran = run(&lab, "monitor", &p, level);
        ran.expect_code(code);
        if code == 1 {
            ran.expect_stderr_contains("does not answer");
        }
        let took = started.elapsed();
        eprintln!("MEASURED monitor (level {level}) on the hung mount: {took:.1?}");
        assert!(took < timeout(), "monitor took {took:.1?}");
    }

    stop_within_timeout(&lab, &p, "the FUSE client hung")
        .expect_stderr_contains("aborted the FUSE connection");
    run(&lab, "stop", &p, "0").expect_code(0);
    run(&lab, "monitor", &p, "0").expect_code(7);
    // The aborted client, continued, finds its connection gone and exits.
    node.kill(client.pid, Signal::SIGCONT).unwrap();
    wait_until(
        "the aborted client to exit",
        Duration::from_secs(10),
        || no_fuse_client(node),
    );
    drop(client);
    lab.lab.down().unwrap();
    eprintln!("test took {:.1?}", t0.elapsed());
}

#[test]
fn stop_detaches_the_volume_a_process_keeps_open() {
    let t0 = Instant::now();
    let (lab, p) = started();
    let node = lab.node();
    // cwd on the volume and a file open there.
    let script = format!("cd {SHARED_STORAGE_MOUNT} && exec 3>>held && exec sleep 600");
    let log = node.dir().join("holder.log");
    let child = node.spawn("sh", &["-c", &script], &log).unwrap();
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    let holder = Reap {
        node,
        pid,
        child: Some(child),
    };
    let cwd = node.host_path(format!("/proc/{pid}/cwd"));
    let until = Instant::now() + Duration::from_secs(10);
    while std::fs::read_link(&cwd).ok().as_deref() != Some(Path::new(SHARED_STORAGE_MOUNT)) {
        assert!(Instant::now() < until, "the holder did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A plain umount refuses.
    lab.command("umount")
        .arg(SHARED_STORAGE_MOUNT)
        .timeout(Duration::from_secs(10))
        .run()
        .expect_failure();

    stop_within_timeout(&lab, &p, "a process holding the volume")
        .expect_stderr_contains(&format!("pid {pid} (sleep): cwd fd 3"))
        .expect_stderr_contains("detaching /run/gluster/shared_storage lazily");
    run(&lab, "stop", &p, "0").expect_code(0);
    run(&lab, "monitor", &p, "0").expect_code(7);
    drop(holder);
    lab.lab.down().unwrap();
    eprintln!("test took {:.1?}", t0.elapsed());
}

#[test]
fn start_replaces_a_mount_whose_client_died() {
    let t0 = Instant::now();
    let (lab, p) = started();
    let node = lab.node();
    run(&lab, "stop", &p, "0").expect_code(0);
    // Mounted by someone else (the boot's fstab, an administrator), then its client crashed:
    // the mount point answers ENOTCONN.
    node.mount_volume(SHARED_STORAGE_VOLUME, Path::new(SHARED_STORAGE_MOUNT))
        .unwrap();
    let clients = node.fuse_client_pids(Path::new(SHARED_STORAGE_MOUNT));
    assert_eq!(clients.len(), 1, "{clients:?}");
    node.kill(clients[0], Signal::SIGKILL).unwrap();
    wait_until("the killed client to exit", Duration::from_secs(10), || {
        no_fuse_client(node)
    });
    assert_eq!(mounted(node), 1, "the dead mount stays in the mount table");

    run(&lab, "start", &p, "0")
        .expect_code(0)
        .expect_stderr_contains("to mount afresh");
    assert_eq!(mounted(node), 1);
    assert!(
        node.shared_storage_mounted(),
        "served by a live FUSE client"
    );
    run(&lab, "monitor", &p, "10").expect_code(0);
    run(&lab, "stop", &p, "0").expect_code(0);
    assert_eq!(mounted(node), 0);
    lab.lab.down().unwrap();
    eprintln!("test took {:.1?}", t0.elapsed());
}

#[test]
fn stop_leaves_a_volume_that_was_mounted_before_start() {
    let lab = AgentLab::up_gluster();
    let node = lab.node();
    // Mounted by gluster's shared-storage hook, as on every gluster server.
    assert_eq!(mounted(node), 1);
    let p = params(&lab);
    run(&lab, "start", &p, "0")
        .expect_code(0)
        .expect_stderr_contains("already mounted");
    run(&lab, "monitor", &p, "10").expect_code(0);
    run(&lab, "stop", &p, "0")
        .expect_code(0)
        .expect_stderr_contains("left mounted");
    assert_eq!(mounted(node), 1, "gluster's mount stays");
    assert!(node.shared_storage_mounted());
    run(&lab, "monitor", &p, "0").expect_code(7);
    lab.lab.down().unwrap();
}
