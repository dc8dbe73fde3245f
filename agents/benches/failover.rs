//! End-to-end failover with this project's agents, beside the glusterfs shell agents
//! measured in the same kind of lab (3 nodes, kill -9 of ganesha.nfsd on node1, 5 runs; the
//! figures are in docs/failover.md).
//!
//! `cargo bench -p ganesha-agents --bench failover` (root): a 3-node lab; Pacemaker runs
//! ganesha_nfsd, ganesha_mon (monitor every 2 s) and ganesha_grace (notify) as clones and one
//! IPaddr2 VIP per node, configured as `ganesha-ha setup` does (`ganesha_ha::model::model`,
//! no sleep anywhere). Each run kills
//! ganesha.nfsd on node1 and measures, from the kill:
//! - grace: both survivors report `get_grace` true;
//! - VIP + read: node1's VIP is up on a survivor and `nfs-cat` reads a file through it;
//! - failback: Pacemaker has restarted ganesha on node1, the VIP is home and a read works.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use ganesha_agents::names::GANESHA_PID_FILE;
use ganesha_ha::model::{model, NFSD_CLONE};
use ganesha_lab::{ha_model, write_ganesha_conf, GaneshaConf, Lab, LabOptions, Node};
use ganesha_testkit::{Ran, TestCommand};

const RUNS: usize = 5;

/// The stdout of `program args` inside `node` when it exits 0 within 5 s.
fn out(node: &Node, program: &str, args: &[&str]) -> Option<String> {
    TestCommand::new(node.command(program))
        .args(args)
        .timeout(Duration::from_secs(5))
        .try_run()
        .ok()
        .filter(Ran::success)
        .map(|r| r.stdout().to_owned())
}

fn in_grace(node: &Node) -> bool {
    out(
        node,
        "dbus-send",
        &[
            "--system",
            "--print-reply",
            "--reply-timeout=2000",
            "--dest=org.ganesha.nfsd",
            "/org/ganesha/nfsd/admin",
            "org.ganesha.nfsd.admin.get_grace",
        ],
    )
    .and_then(|o| {
        o.lines()
            .find_map(|l| l.trim().strip_prefix("boolean ").map(|b| b == "true"))
    })
    .unwrap_or(false)
}

fn holder<'a>(lab: &'a Lab, vip: &str) -> Option<&'a Node> {
    lab.nodes().iter().find(|n| {
        out(n, "ip", &["-o", "-4", "addr", "show", "dev", "eth0"])
            .is_some_and(|o| o.contains(&format!(" {vip}/")))
    })
}

fn read_through(client: &Node, vip: &str) -> bool {
    out(
        client,
        "nfs-cat",
        &[&format!("nfs://{vip}/export/hello.txt?version=4")],
    )
    .is_some_and(|o| o.contains("hello"))
}

fn wait(what: &str, bound: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    t.elapsed()
}

/// Configures the cluster as `ganesha-ha setup` would; unmanaged, without the ganesha_nfsd
/// clone (no constraint refers to it). Returns node1's VIP.
fn configure(lab: &Lab, managed: bool) -> String {
    let spec = ha_model::cluster_spec(lab).unwrap_or_else(|e| panic!("{e}"));
    let mut model = model(&spec);
    if !managed {
        model.resources.retain(|r| r.id() != NFSD_CLONE);
    }
    ha_model::load(lab.node(0), &model).unwrap_or_else(|e| panic!("{e}"));
    spec.nodes[0].vip.ip().to_string()
}

fn stats(label: &str, values: &[Duration], reference: &str) {
    if values.is_empty() {
        println!("| {label} | never seen | | | {reference} |");
        return;
    }
    let mut v: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    v.sort_by(f64::total_cmp);
    println!(
        "| {label} | {:.1} s | {:.1} s | {:.1} s | {reference} |",
        v[v.len() / 2],
        v[0],
        v[v.len() - 1]
    );
}

fn main() {
    if nix::unistd::geteuid().as_raw() != 0 {
        eprintln!("failover bench: needs root (it builds a cluster in namespaces); skipped");
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    scenario(true);
    scenario(false);
}

/// Runs ganesha_nfsd `action` on `node` directly (unmanaged scenario).
fn nfsd(node: &Node, shared: &Path, action: &str) {
    let agent = Path::new(env!("CARGO_BIN_EXE_ganesha_nfsd"));
    TestCommand::new(node.command(agent))
        .arg(action)
        .env("OCF_RESKEY_state_mount", shared)
        .env("OCF_RESKEY_CRM_meta_timeout", "30000")
        .env("OCF_RESKEY_node_name", node.name())
        .run()
        .expect_success();
}

/// `managed`: Pacemaker runs ganesha_nfsd (this project's design). Otherwise nothing restarts
/// a dead ganesha.nfsd, as in the glusterfs design the reference figures come from.
fn scenario(managed: bool) {
    let lab = Lab::up(LabOptions {
        nodes: 3,
        ..LabOptions::default()
    })
    .unwrap_or_else(|e| panic!("lab up: {e}"));
    let export = lab.shared_dir().join("export");
    std::fs::create_dir_all(&export).unwrap();
    std::fs::write(export.join("hello.txt"), "hello\n").unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_ganesha_nfsd"))
        .parent()
        .unwrap()
        .to_path_buf();
    for node in lab.nodes() {
        // The node's own /etc/ganesha/ganesha.conf and /var/lib/nfs (ganesha_nfsd defaults).
        let conf = GaneshaConf::new("/var/lib/nfs/ganesha", &export);
        write_ganesha_conf(&node.host_path("/etc/ganesha/ganesha.conf"), &conf).unwrap();
        ganesha_ha::install::install_agents(&bin_dir, &node.host_path("/usr/lib/ocf")).unwrap();
        if !managed {
            nfsd(node, lab.shared_dir(), "start");
        }
    }
    let vip = configure(&lab, managed);
    let vip = vip.as_str();
    let (n1, n2, n3) = (lab.node(0), lab.node(1), lab.node(2));
    let healthy = |bound| {
        wait("healthy cluster", bound, || {
            holder(&lab, vip).is_some_and(|h| h.name() == "node1") && read_through(n2, vip)
        })
    };
    let first = healthy(Duration::from_secs(120));
    let title = if managed {
        "A. managed: Pacemaker runs ganesha_nfsd, ganesha_mon, ganesha_grace"
    } else {
        "B. unmanaged daemon (the glusterfs model): only ganesha_mon and ganesha_grace"
    };
    println!("\n{title}\n3-node lab up in {:.1?}; resources started and a read through node1's VIP after {first:.1?}", lab.startup_time());

    let (mut graces, mut vips, mut reads, mut backs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 1..=RUNS {
        // Let the previous failback's grace period pass so each run starts from steady state.
        wait("survivors out of grace", Duration::from_secs(60), || {
            !in_grace(n2) && !in_grace(n3)
        });
        let pid: i32 = n1
            .read_to_string_in_node(GANESHA_PID_FILE)
            .trim()
            .parse()
            .unwrap();
        let killed = Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        // First time each event is seen after the kill.
        let (mut grace, mut moved, mut read, mut home) = (None, None, None, None);
        let mut last = String::new();
        while home.is_none() {
            let t = killed.elapsed();
            assert!(
                t < Duration::from_secs(120),
                "run {run}: stuck; last state: {last}"
            );
            let (g2, g3) = (in_grace(n2), in_grace(n3));
            let at = holder(&lab, vip)
                .map(|h| h.name().to_owned())
                .unwrap_or_default();
            let ok = read_through(n2, vip);
            last = format!("{t:.1?}: grace node2={g2} node3={g3}, VIP on {at:?}, read ok={ok}");
            if grace.is_none() && g2 && g3 {
                grace = Some(t);
            }
            if moved.is_none() && !at.is_empty() && at != "node1" {
                moved = Some(t);
            }
            if read.is_none() && ok && t > Duration::from_millis(200) {
                read = Some((t, at.clone()));
                if !managed {
                    // The administrator (or systemd) restarts the daemon: failback.
                    nfsd(n1, lab.shared_dir(), "start");
                }
            }
            if read.is_some()
                && at == "node1"
                && ok
                && (managed || read.as_ref().is_some_and(|(r, _)| t > *r))
            {
                home = Some(t);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let (read_at, read_via) = read.clone().unwrap_or_default();
        println!(
            "run {run}: grace on both survivors {:?}, VIP on a survivor {:?}, first read through the VIP {read_at:.1?} (served by {read_via}), failback complete {:.1?}",
            grace.map(|d| format!("{d:.1?}")),
            moved.map(|d| format!("{d:.1?}")),
            home.unwrap_or_default()
        );
        if let Some(g) = grace {
            graces.push(g);
        }
        if let Some(m) = moved {
            vips.push(m);
        }
        reads.push(read_at);
        // Managed: from the kill (Pacemaker restarts ganesha itself). Unmanaged: from the
        // restart, which happens right after the read through the survivor.
        let home = home.unwrap_or_default();
        backs.push(if managed {
            home
        } else {
            home.saturating_sub(read_at)
        });
    }
    println!("\n| from kill -9 of ganesha.nfsd on node1 | median | min | max | glusterfs shell agents (median, min-max) |");
    println!("|---|---|---|---|---|");
    stats(
        "survivors in grace (get_grace true on both)",
        &graces,
        "4.0 s (1.6-11.8 s)",
    );
    stats("VIP up on a survivor", &vips, "-");
    stats(
        "first NFS read through the VIP that succeeds (client outage)",
        &reads,
        "9.2 s (6.6-16.8 s), read via the survivor",
    );
    let back_label = if managed {
        "failback complete: VIP home, read works"
    } else {
        "failback after ganesha is restarted on node1: VIP home, read works"
    };
    stats(back_label, &backs, "13-15 s after the restart");
    let _ = lab.down();
}

/// Reading a node's files from the host.
trait NodeFiles {
    fn read_to_string_in_node(&self, path: &str) -> String;
}

impl NodeFiles for Node {
    fn read_to_string_in_node(&self, path: &str) -> String {
        std::fs::read_to_string(self.host_path(path)).unwrap_or_default()
    }
}
