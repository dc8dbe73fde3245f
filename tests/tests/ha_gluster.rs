//! The failover fault matrix on the GlusterFS stack (`Ha::up_gluster`): ganesha.nfsd exports
//! the replica-3 volume `data` through FSAL GLUSTER and keeps its recovery records on the
//! shared storage volume, which ganesha_nfsd mounts. The same assertions as `ha_faults.rs`
//! (no VIP on two nodes, grace before the VIP moves, files read back byte for byte through
//! every VIP, HEALTHY at the end), plus gluster's own faults, which must move no VIP:
//! - a daemon killed and a node crashed (fenced), each followed by failback; the failed
//!   node's recovery records are on the shared storage volume (a survivor's mount, its peer
//!   link, every brick);
//! - a node's bricks killed: the other two replicas keep serving, no VIP moves, a file
//!   written meanwhile is healed onto the restarted brick;
//! - a node's shared storage mount hung (its FUSE client stopped): the cluster does not
//!   notice (at the default depths no monitor reads the volume; depth 20 would), that node's VIP stops serving new clients until
//!   the mount answers again, the others serve throughout; all healthy after.
//!
//! The lab's volumes have `network.ping-timeout` 10 s (`lab/src/lab/gluster.rs`): a crashed
//! node's bricks stall the survivors' clients that long, not 42 s. Root only; one lab per
//! test, the scenarios in sequence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ganesha_e2e::faults::{daemon_failure, node_failure};
use ganesha_e2e::ha::{assert_others_stayed_home, read_within, vip_of, Ha, LabSlot, SERVE_BOUND};
use ganesha_e2e::lab::in_node;
use ganesha_e2e::watch::Watch;
use ganesha_lab::{
    FailMode, Node, Signal, DATA_VOLUME, SHARED_STORAGE_MOUNT, SHARED_STORAGE_VOLUME,
};

#[test]
fn daemon_killed_then_node_crashed_on_gluster() {
    let _slot = LabSlot::take();
    let t0 = Instant::now();
    let ha = Ha::up_gluster(3);
    println!("gluster cluster set up in {:.1?}", t0.elapsed());
    let t = Instant::now();
    daemon_failure(&ha, 0, FailMode::KillGanesha, &["nfs-ganesha_monitor"]);
    println!("{}", ha.assert_records_on_shared_storage("node1"));
    println!("scenario kill -9 on gluster: {:.1?}", t.elapsed());
    let t = Instant::now();
    node_failure(&ha, 2, FailMode::Crash);
    println!("{}", ha.assert_records_on_shared_storage("node3"));
    println!("scenario node crash on gluster: {:.1?}", t.elapsed());
    ha.down();
    println!("test took {:.1?}", t0.elapsed());
}

/// What a client saw reading every test file through every VIP in a loop.
#[derive(Debug, Default)]
struct Reads {
    ok: usize,
    /// Per VIP: reads that failed or timed out (5 s).
    failed: Vec<(Ipv4Addr, usize)>,
    wrong: Vec<String>,
}

/// A client in `client`'s network namespace reading every file through every VIP until
/// stopped.
struct Reader {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Reads>,
}

impl Reader {
    fn start(ha: &Ha, client: &Node) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let holder = client.holder_pid();
        let files = ha.files.clone();
        let vips: Vec<Ipv4Addr> = (0..ha.lab.nodes().len()).map(vip_of).collect();
        let handle = std::thread::spawn(move || {
            let mut r = Reads {
                failed: vips.iter().map(|v| (*v, 0)).collect(),
                ..Reads::default()
            };
            while !flag.load(Ordering::Relaxed) {
                for (i, vip) in vips.iter().enumerate() {
                    for (name, data) in &files {
                        match read_within(holder, *vip, name, Duration::from_secs(5)) {
                            Ok(bytes) if bytes == *data => r.ok += 1,
                            Ok(bytes) => r
                                .wrong
                                .push(format!("{name} through {vip}: {} bytes", bytes.len())),
                            Err(_) => r.failed[i].1 += 1,
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            r
        });
        Reader { stop, handle }
    }

    fn finish(self) -> Reads {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// `gluster volume heal VOLUME info` from `node`: each of the `bricks` connected with no
/// entry to heal.
fn healed(node: &Node, volume: &str, bricks: usize) -> bool {
    let info = in_node(node, "gluster")
        .args(["--mode=script", "volume", "heal", volume, "info"])
        .timeout(Duration::from_secs(30))
        .try_run();
    let Ok(info) = info else { return false };
    let counts: Vec<&str> = info
        .stdout()
        .lines()
        .filter_map(|l| l.strip_prefix("Number of entries:"))
        .map(str::trim)
        .collect();
    info.success() && counts.len() == bricks && counts.iter().all(|c| *c == "0")
}

/// node2's bricks (of both volumes) killed: the replica-3 volumes keep serving from the two
/// others, nothing the agents check fails, so no VIP moves; a file written meanwhile is
/// healed onto node2's brick once the bricks are back.
fn bricks_killed(ha: &Ha) {
    let t = Instant::now();
    let (node1, node2, node3) = (ha.lab.node(0), ha.lab.node(1), ha.lab.node(2));
    ha.wait_out_of_grace();
    let watch = Watch::start(&ha.lab);
    let reader = Reader::start(ha, node3);
    let mut killed = node2.kill_brick(DATA_VOLUME).unwrap();
    killed.extend(node2.kill_brick(SHARED_STORAGE_VOLUME).unwrap());
    // Written with node2's brick down: only the other two replicas have it until heal.
    let during = (
        "during-brick-outage.txt",
        "written while node2's bricks were down\n",
    );
    let at = Path::new("/run/ganesha-e2e/outage");
    node1.mount_volume(DATA_VOLUME, at).unwrap();
    std::fs::write(node1.host_path(at.join(during.0)), during.1).unwrap();
    node1.unmount(at).unwrap();
    // Longer than ganesha_nfsd's monitor interval (10 s) and many of ganesha_mon's (1 s).
    std::thread::sleep(Duration::from_secs(25));
    let down_reads = reader.finish();
    let (vips, _) = watch.finish();
    let doubles = vips.doubles(
        t,
        &(0..ha.lab.nodes().len()).map(vip_of).collect::<Vec<_>>(),
    );
    assert!(doubles.is_empty(), "a VIP on two nodes: {doubles:?}");
    assert_others_stayed_home(ha, &vips, &[]);
    assert!(down_reads.wrong.is_empty(), "{down_reads:?}");
    assert!(
        down_reads.failed.iter().all(|(_, n)| *n == 0),
        "reads failed with a brick down: {down_reads:?}\n{}",
        ha.context()
    );
    for i in 0..ha.lab.nodes().len() {
        let got = ha.read(node3, vip_of(i), during.0).unwrap();
        assert_eq!(
            got,
            during.1.as_bytes(),
            "{} through {}",
            during.0,
            vip_of(i)
        );
    }
    let brick_file = node2.dir().join("bricks").join(DATA_VOLUME).join(during.0);
    assert!(
        !brick_file.exists(),
        "node2's brick was down, yet has {}",
        during.0
    );
    // Heal: the bricks start again (`volume start force`), the self-heal daemon copies
    // what they missed.
    node2.heal().unwrap();
    let heal = ha.wait_until(
        "volumes healed, every brick connected",
        Duration::from_secs(120),
        || {
            for volume in [DATA_VOLUME, SHARED_STORAGE_VOLUME] {
                if !healed(node1, volume, ha.lab.nodes().len()) {
                    // Ask for an index heal now rather than at the next crawl.
                    let _ = in_node(node1, "gluster")
                        .args(["--mode=script", "volume", "heal", volume])
                        .timeout(Duration::from_secs(30))
                        .try_run();
                    return false;
                }
            }
            true
        },
    );
    assert_eq!(
        std::fs::read_to_string(&brick_file).unwrap_or_default(),
        during.1,
        "{during:?} not healed onto node2's brick"
    );
    let served = ha.wait_serving(SERVE_BOUND);
    let cleaned = ha.assert_healthy(&[]);
    println!(
        "bricks {killed:?} of node2 killed: no VIP moved in 25 s, reads {} ok, 0 failed, 0 wrong; healed {heal:.1?} after restart; served {served:.1?}; cleaned {cleaned:?}; scenario {:.1?}",
        down_reads.ok,
        t.elapsed()
    );
}

/// node2's FUSE client of the shared storage stopped (SIGSTOP) for 30 s: every access to the
/// state volume on node2 hangs (the volume itself is fine).
///
/// What the cluster does: nothing. Neither ganesha_mon nor ganesha_nfsd's monitor touches
/// the volume's data (the mount is found in mountinfo, the recovery root is a local link),
/// so node2 keeps its VIP, while its ganesha.nfsd blocks each new client on writing the
/// client's record into the hung mount: reads through node2's VIP time out for the whole
/// hang. The other VIPs serve throughout. Asserted: no VIP ever on two nodes, the other
/// VIPs stay home and serve every read, no read returns other bytes, and once the client
/// runs again (SIGCONT) every file reads back through every VIP and the cluster ends
/// HEALTHY. (A monitor that moved node2's VIP would fail none of these.)
fn hung_shared_storage_mount(ha: &Ha) {
    let t = Instant::now();
    let (node2, node3) = (ha.lab.node(1), ha.lab.node(2));
    let vip2 = ha.vip("node2");
    ha.wait_out_of_grace();
    let watch = Watch::start(&ha.lab);
    let reader = Reader::start(ha, node3);
    let client = node2.fuse_client_pids(Path::new(SHARED_STORAGE_MOUNT));
    assert_eq!(client.len(), 1, "node2's shared storage client: {client:?}");
    node2.kill(client[0], Signal::SIGSTOP).unwrap();
    let stopped_at = Instant::now();
    std::thread::sleep(Duration::from_secs(30));
    let held = ha.holders()[&vip2].clone();
    node2.kill(client[0], Signal::SIGCONT).unwrap();
    let hung_reads = reader.finish();
    let served = ha.wait_serving(SERVE_BOUND);
    let (vips, _) = watch.finish();
    let doubles = vips.doubles(
        stopped_at,
        &(0..ha.lab.nodes().len()).map(vip_of).collect::<Vec<_>>(),
    );
    assert!(doubles.is_empty(), "a VIP on two nodes: {doubles:?}");
    assert_others_stayed_home(ha, &vips, &[vip2]);
    assert!(hung_reads.wrong.is_empty(), "{hung_reads:?}");
    for (vip, failed) in &hung_reads.failed {
        assert!(
            *vip == vip2 || *failed == 0,
            "{failed} reads through {vip} failed while only node2's mount hung: {hung_reads:?}\n{}",
            ha.context()
        );
    }
    let vip2_moved = vips.moved(vip2, "node2", stopped_at).is_some();
    let cleaned = ha.assert_healthy(&["nfs-ganesha_monitor", "nfs-ganesha_stop"]);
    println!(
        "node2's shared storage client stopped 30 s: {vip2} {} (held by {held:?} at the end of the hang); reads {} ok, failed per VIP {:?}; all served {served:.1?} after SIGCONT; cleaned {cleaned:?}; scenario {:.1?}",
        if vip2_moved { "moved off node2" } else { "stayed on node2" },
        hung_reads.ok,
        hung_reads.failed,
        t.elapsed(),
    );
}

#[test]
fn gluster_faults_move_no_vip_and_heal() {
    let _slot = LabSlot::take();
    let t0 = Instant::now();
    let ha = Ha::up_gluster(3);
    println!("gluster cluster set up in {:.1?}", t0.elapsed());
    bricks_killed(&ha);
    hung_shared_storage_mount(&ha);
    ha.down();
    println!("test took {:.1?}", t0.elapsed());
}
