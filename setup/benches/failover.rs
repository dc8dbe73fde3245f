//! Failover time on a 3-node lab cluster set up with `ganesha-ha setup` (its default
//! intervals, fencing through the lab fence device), beside the glusterfs shell agents
//! measured in the same kind of lab (shared/notes/cluster-in-a-box.md).
//!
//! `cargo bench -p ganesha-ha --bench failover` (root; build the workspace first).
//! `FAILOVER_RUNS` (default 10) kills of ganesha.nfsd (`kill -9`) on node1, each from steady
//! state (no daemon in grace). From each kill:
//! - every survivor reports `get_grace` true;
//! - node1's VIP is up on a survivor;
//! - the first `nfs-cat` through that VIP that succeeds (a one-shot NFSv4.0 client);
//! - after Pacemaker restarted the daemon and it answers on D-Bus again ("healthy"), the VIP
//!   is back on node1 (failback, measured from "healthy") and the first read through it.
//!
//! Then `CRASH_RUNS` (default 3) power-offs of node3 (fenced by the lab device): VIP up on a
//! survivor and the first read, with the fencing time from the controller's log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/util/mod.rs"]
mod util;

use std::time::{Duration, Instant};

use ganesha_lab::FailMode;
use util::ha::{first_logged, log_time, Ha, Watch};

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn runs(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn stats(label: &str, values: &[Duration], reference: &str, target: &str) {
    if values.is_empty() {
        println!("| {label} | never seen | | {reference} | {target} |");
        return;
    }
    let mut v: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    v.sort_by(f64::total_cmp);
    println!(
        "| {label} | {:.2} s | {:.2} s | {:.2} s | {reference} | {target} |",
        v[v.len() / 2],
        v[0],
        v[v.len() - 1],
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !root() {
        eprintln!("failover bench: needs root (it builds a cluster in namespaces); skipped");
        return;
    }
    let ha = Ha::up(3);
    daemon_kills(&ha, runs("FAILOVER_RUNS", 10));
    node_crashes(&ha, runs("CRASH_RUNS", 3));
    ha.down();
}

/// When the reader first succeeded through `vip` while `ok_holder` held it.
fn first_read(
    ha: &Ha,
    vip: std::net::Ipv4Addr,
    file: &str,
    from: Instant,
    bound: Duration,
    mut ok_holder: impl FnMut(&[String]) -> bool,
) -> Option<Duration> {
    let client = ha.lab.node(1);
    while from.elapsed() < bound {
        let holders = ha.holders()[&vip].clone();
        if ok_holder(&holders) && ha.read(client, vip, file).is_ok() {
            let t = from.elapsed();
            // The read succeeded while this node held the VIP (checked again after it).
            if ha.holders()[&vip] == holders {
                return Some(t);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn daemon_kills(ha: &Ha, runs: usize) {
    let vip = ha.vip("node1");
    let file = ha.files[0].0.clone();
    let (mut graces, mut vips, mut reads, mut backs, mut back_reads, mut restarts) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut skipped = 0;
    for run in 1..=runs {
        ha.wait_out_of_grace();
        let log_marks = ha.log_marks();
        let survivor_log = ha.ganesha_log(ha.lab.node(1)).len();
        let watch = Watch::start(&ha.lab);
        let killed = Instant::now();
        ha.lab.node(0).fail(FailMode::KillGanesha).unwrap();
        let read = first_read(ha, vip, &file, killed, Duration::from_secs(60), |h| {
            h.len() == 1 && h[0] != "node1"
        });
        // Healthy again: the restarted daemon on node1 answers get_grace.
        ha.wait_until(
            "ganesha.nfsd on node1 answers again",
            Duration::from_secs(90),
            || ha.in_grace(ha.lab.node(0)).is_some(),
        );
        let healthy = killed.elapsed();
        ha.wait_until("node1's VIP home", Duration::from_secs(90), || {
            ha.holders()[&vip] == ["node1".to_owned()]
        });
        let back_read = first_read(ha, vip, &file, killed, Duration::from_secs(90), |h| {
            h == ["node1".to_owned()]
        });
        let (vip_history, grace_history) = watch.finish();
        let moved = vip_history
            .moved(vip, "node1", killed)
            .map(|(_, seen, _)| seen.saturating_duration_since(killed));
        let home = vip_history
            .seen_on(vip, "node1", killed + moved.unwrap_or_default())
            .map(|t| t.saturating_duration_since(killed));
        let grace = ["node2", "node3"]
            .iter()
            .map(|n| grace_history.first_grace(n, killed))
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().max())
            .map(|t| t.saturating_duration_since(killed));
        // When the controller restarted the daemon, from its log (before ganesha_mon noticed,
        // there is no failover at all).
        let restart = first_logged(
            ha,
            &log_marks,
            &["Result of start operation for nfs-ganesha on node1: ok"],
        );
        println!(
            "run {run}: survivors in grace {grace:.2?}, VIP on a survivor {moved:.2?}, first read through it {read:.2?}, daemon answers again {healthy:.2?}, VIP home {home:.2?}, read through it at home {back_read:.2?}"
        );
        if run == 1 {
            // What the survivor's daemon did with node1's clients (why reads wait for grace).
            println!("node2's ganesha.log during run 1 (grace and recovery):");
            for l in ha
                .ganesha_log(ha.lab.node(1))
                .get(survivor_log..)
                .unwrap_or_default()
                .lines()
            {
                let lower = l.to_lowercase();
                if ["grace", "recov", "reclaim", "clid", "client"]
                    .iter()
                    .any(|k| lower.contains(k))
                {
                    println!("  {l}");
                }
            }
        }
        if moved.is_none() {
            skipped += 1;
            println!("run {run}: Pacemaker restarted ganesha on node1 before ganesha_mon noticed: no failover");
            continue;
        }
        graces.extend(grace);
        vips.extend(moved);
        reads.extend(read);
        if let Some(h) = home {
            backs.push(h.saturating_sub(healthy));
        }
        back_reads.extend(back_read.map(|r| r.saturating_sub(healthy)));
        restarts.extend(restart.map(|(t, _)| t));
        // Let the cleanup of the failed monitor not count against the next run.
        ha.assert_healthy(&["nfs-ganesha_monitor"]);
    }
    let _ = restarts;
    println!(
        "\nganesha-ha setup defaults, 3 nodes, kill -9 of ganesha.nfsd on node1, {} runs with a failover ({skipped} without)\n",
        vips.len()
    );
    println!("| figure (from kill -9) | median | min | max | glusterfs shell agents | target |");
    println!("|---|---|---|---|---|---|");
    stats(
        "every survivor in grace (get_grace)",
        &graces,
        "4.0 s (max 11.8 s)",
        "",
    );
    stats("VIP up on a survivor", &vips, "-", "");
    stats(
        "first successful nfs-cat through the VIP on its new node",
        &reads,
        "9.2 s (max 16.8 s)",
        "median <= 1.5 s, max <= 3 s",
    );
    stats(
        "failback: VIP home, after the restarted daemon answers D-Bus",
        &backs,
        "13-15 s",
        "<= 3 s",
    );
    stats(
        "first successful nfs-cat through the VIP at home, after the daemon answers",
        &back_reads,
        "-",
        "",
    );
}

fn node_crashes(ha: &Ha, runs: usize) {
    let vip = ha.vip("node3");
    let file = ha.files[0].0.clone();
    let (mut vips, mut reads, mut fenced) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        ha.wait_out_of_grace();
        let marks = ha.log_marks();
        let crashed = Instant::now();
        let wall = std::time::SystemTime::now();
        ha.lab.node(2).fail(FailMode::Crash).unwrap();
        ha.wait_until("node3's VIP on a survivor", Duration::from_secs(90), || {
            ha.holders()[&vip].iter().any(|h| h != "node3")
        });
        let moved = crashed.elapsed();
        let read = first_read(ha, vip, &file, crashed, Duration::from_secs(60), |h| {
            h.len() == 1 && h[0] != "node3"
        });
        // Fencing completed, from the controller's log (wall clock, milliseconds).
        let fence = first_logged(ha, &marks, &["node3 was terminated", "OK"]);
        let fence_at = fence.and_then(|(t, _)| {
            let since_epoch = wall.duration_since(std::time::UNIX_EPOCH).ok()?;
            let stamp = chrono_like(since_epoch.as_millis() as i64);
            let crash_ms = log_time(&stamp)?;
            Some(Duration::from_millis(u64::try_from(t - crash_ms).ok()?))
        });
        println!(
            "crash {run}: node3 fenced {fence_at:.2?} after the crash, VIP on a survivor {moved:.2?}, first read through it {read:.2?}"
        );
        vips.push(moved);
        reads.extend(read);
        fenced.extend(fence_at);
        let node = ha.lab.node(2);
        ha.wait_until("node3 back", Duration::from_secs(120), || {
            node.heal().is_ok() && node.is_powered_on()
        });
        ha.wait_until("node3's VIP home", Duration::from_secs(180), || {
            ha.holders()[&vip] == ["node3".to_owned()]
        });
        ha.assert_healthy(&[]);
    }
    println!("\nnode3 powered off (lab crash), fenced by the lab device, corosync token 1000 ms, {runs} runs\n");
    println!("| figure (from the crash) | median | min | max | reference | target |");
    println!("|---|---|---|---|---|---|");
    stats("fencing of node3 confirmed", &fenced, "-", "");
    stats(
        "VIP up on a survivor",
        &vips,
        "-",
        "token + fencing + <= 2 s",
    );
    stats(
        "first successful nfs-cat through the VIP on its new node",
        &reads,
        "-",
        "",
    );
}

/// `Mon DD HH:MM:SS.mmm` of a UTC time in milliseconds since the epoch (the format of
/// pacemaker.log's timestamps, which the lab writes in UTC), for [`log_time`].
fn chrono_like(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    format!(
        "{} {:02} {:02}:{:02}:{:02}.{:03}",
        MONTHS[(month - 1) as usize],
        day,
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}
