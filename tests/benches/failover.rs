//! Failover time on a 3-node lab cluster set up with `ganesha-ha setup` (its default
//! intervals, fencing through the lab fence device), beside the glusterfs shell agents
//! measured in the same kind of lab (their figures are in docs/failover.md). The same
//! scenario runs on both stacks, one lab after the other: FSAL_VFS (a directory the nodes
//! share, `Ha::up`) and FSAL_GLUSTER (the replica-3 volume `data`, state on the shared
//! storage volume, `Ha::up_gluster`); each prints its tables, then one table puts the
//! medians side by side with their ratio (gluster / VFS). `FAILOVER_STACKS=vfs` or
//! `gluster` runs one of them.
//!
//! `cargo bench -p ganesha-e2e --bench failover` (root; build the workspace first:
//! `cargo build --release --workspace`).
//! `FAILOVER_RUNS` (default 10) kills of ganesha.nfsd (`kill -9`) on node1, each from steady
//! state (no daemon in grace), while a client on node2 reads through node1's VIP in a loop.
//! From each kill (VIP and grace polled by the harness's watchers, ~100 ms and ~50 ms):
//! - every survivor reports `get_grace` true;
//! - node1's VIP is up on a survivor;
//! - an `nfs-cat` (a one-shot NFSv4.0 client) through that VIP succeeds on the survivor, and
//!   the first that succeeds at all (the client's outage);
//! - after Pacemaker restarted the daemon and it answers on D-Bus again ("healthy"), the VIP
//!   is back on node1 (failback, measured from "healthy").
//!
//! Then `IDLE_RUNS` (default 5) more kills, each once node1's client records have expired
//! (nobody read through its VIP for a lease): the survivors then take over no client and
//! ganesha may end their grace early.
//!
//! Then `CRASH_RUNS` (default 3) power-offs of node3 (fenced by the lab device): VIP up on a
//! survivor and the first read, with the fencing time from the controller's log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ganesha_e2e::ha::{read_within, Ha, Stack};
use ganesha_e2e::lab::is_root;
use ganesha_e2e::log::{first_logged, log_time};
use ganesha_e2e::watch::Watch;
use ganesha_lab::FailMode;

fn runs(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One figure's samples, for the side-by-side table.
type Figure = (String, Vec<Duration>);

fn median(values: &[Duration]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Prints one row and records the figure under `label`.
fn stats(
    figures: &mut Vec<Figure>,
    label: &str,
    values: &[Duration],
    reference: &str,
    target: &str,
) {
    figures.push((label.to_owned(), values.to_vec()));
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
    if !is_root() {
        eprintln!("failover bench: needs root (it builds a cluster in namespaces); skipped");
        return;
    }
    let only = std::env::var("FAILOVER_STACKS").unwrap_or_default();
    let mut results = Vec::new();
    for stack in [Stack::Vfs, Stack::Gluster] {
        let wanted = match stack {
            Stack::Vfs => only.is_empty() || only == "vfs",
            Stack::Gluster => only.is_empty() || only == "gluster",
        };
        if !wanted {
            continue;
        }
        println!("\n## {stack}\n");
        let t = Instant::now();
        let ha = match stack {
            Stack::Vfs => Ha::up(3),
            Stack::Gluster => Ha::up_gluster(3),
        };
        println!("cluster set up in {:.1?}", t.elapsed());
        let mut figures = Vec::new();
        daemon_kills(&ha, runs("FAILOVER_RUNS", 10), false, &mut figures);
        daemon_kills(&ha, runs("IDLE_RUNS", 5), true, &mut figures);
        node_crashes(&ha, runs("CRASH_RUNS", 3), &mut figures);
        ha.down();
        println!("{stack}: {:.1?} in all", t.elapsed());
        results.push((stack, figures));
    }
    side_by_side(&results);
}

/// The medians of both stacks per figure, with gluster / VFS.
fn side_by_side(results: &[(Stack, Vec<Figure>)]) {
    let [(a, va), (b, vb)] = results else {
        return;
    };
    println!("\n## {a} and {b} side by side (medians)\n");
    println!("| figure | {a} | {b} | {b} / {a} |");
    println!("|---|---|---|---|");
    let show = |m: Option<f64>| m.map_or("-".to_owned(), |m| format!("{m:.2} s"));
    for ((label, x), (_, y)) in va.iter().zip(vb) {
        let (mx, my) = (median(x), median(y));
        let ratio = match (mx, my) {
            (Some(x), Some(y)) if x > 0.0 => format!("{:.2}", y / x),
            _ => "-".to_owned(),
        };
        println!("| {label} | {} | {} | {ratio} |", show(mx), show(my));
    }
}

/// One `nfs-cat` through the VIP: when it ran and whether it returned the file.
struct Read {
    start: Instant,
    end: Instant,
    ok: bool,
}

/// Reads `file` through `vip` from `client` (a holder pid) in a loop until stopped; each read
/// is bounded by 2 s (a VIP that nobody holds makes nfs-cat wait for a connection).
struct Reader {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Vec<Read>>,
}

impl Reader {
    fn start(client: u32, vip: Ipv4Addr, file: String, data: Vec<u8>) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut reads = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let start = Instant::now();
                let ok = read_within(client, vip, &file, Duration::from_secs(2))
                    .is_ok_and(|b| b == data);
                reads.push(Read {
                    start,
                    end: Instant::now(),
                    ok,
                });
                std::thread::sleep(Duration::from_millis(20));
            }
            reads
        });
        Reader { stop, handle }
    }

    fn finish(self) -> Vec<Read> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// Figures of one kill, each from the kill.
#[derive(Default)]
struct Kill {
    grace: Option<Duration>,
    moved: Option<Duration>,
    read_via_survivor: Option<Duration>,
    outage_end: Option<Duration>,
    healthy: Option<Duration>,
    home: Option<Duration>,
}

/// Kills ganesha.nfsd on node1 and follows the failover and the failback until a read
/// through the VIP at home succeeds.
fn one_kill(ha: &Ha, vip: Ipv4Addr) -> Kill {
    let (file, data) = ha.files[0].clone();
    let watch = Watch::start(&ha.lab);
    let reader = Reader::start(ha.lab.node(1).holder_pid(), vip, file, data);
    let killed = Instant::now();
    ha.lab.node(0).fail(FailMode::KillGanesha).unwrap();
    // Until the VIP is home after the kill and a read through it has succeeded there.
    let served_home = || {
        ha.holders()[&vip] == ["node1".to_owned()]
            && read_within(
                ha.lab.node(2).holder_pid(),
                vip,
                &ha.files[0].0,
                Duration::from_secs(2),
            )
            .is_ok()
    };
    ha.wait_until(
        "node1's VIP home and serving after the kill",
        Duration::from_secs(120),
        served_home,
    );
    let reads = reader.finish();
    let (vips, grace) = watch.finish();
    let since = |t: Instant| t.saturating_duration_since(killed);
    let mut k = Kill {
        grace: ["node2", "node3"]
            .iter()
            .map(|n| grace.first_grace(n, killed))
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().max())
            .map(since),
        ..Kill::default()
    };
    let moved = vips.moved(vip, "node1", killed);
    k.moved = moved.as_ref().map(|(_, seen, _)| since(*seen));
    let home_from = moved.as_ref().map_or(killed, |(_, seen, _)| *seen);
    let home = vips.seen_on(vip, "node1", home_from);
    k.home = home.map(since);
    // Healthy: the first answer of node1's daemon after a poll it did not answer.
    let mut down = false;
    for p in grace
        .rounds
        .iter()
        .flatten()
        .filter(|p| p.node == "node1" && p.start >= killed)
    {
        if p.value.is_none() {
            down = true;
        } else if down {
            k.healthy = Some(since(p.end));
            break;
        }
    }
    k.outage_end = reads
        .iter()
        .find(|r| r.ok && r.start >= killed)
        .map(|r| since(r.end));
    if let (Some((_, seen, _)), Some(home)) = (&moved, home) {
        k.read_via_survivor = reads
            .iter()
            .find(|r| r.ok && r.start >= *seen && r.end < home)
            .map(|r| since(r.end));
    }
    k
}

fn daemon_kills(ha: &Ha, runs: usize, idle: bool, figures: &mut Vec<Figure>) {
    let vip = ha.vip("node1");
    let mut kills = Vec::new();
    for run in 1..=runs {
        ha.wait_out_of_grace();
        if idle {
            // No client has state on node1 any more: its records expired (Lease_Lifetime).
            ha.wait_until(
                "node1's client records expired",
                Duration::from_secs(120),
                || ha.client_records("node1") == 0,
            );
        }
        let records = ha.client_records("node1");
        let survivor_log = ha.ganesha_log(ha.lab.node(1)).len();
        let k = one_kill(ha, vip);
        let show =
            |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.2}", d.as_secs_f64()));
        println!(
            "run {run} ({records} client records of node1): survivors in grace {} s, VIP on a survivor {} s, read via the survivor {} s, first read after the kill {} s, daemon answers again {} s, VIP home {} s",
            show(k.grace), show(k.moved), show(k.read_via_survivor), show(k.outage_end), show(k.healthy), show(k.home)
        );
        if run == 1 {
            println!("  node2's ganesha.log (grace and recovery):");
            for l in ha
                .ganesha_log(ha.lab.node(1))
                .get(survivor_log..)
                .unwrap_or_default()
                .lines()
            {
                if ["GRACE", "grace", "Recovery", "recovery"]
                    .iter()
                    .any(|x| l.contains(x))
                {
                    println!(
                        "    {}",
                        l.split(" : ").skip(3).collect::<Vec<_>>().join(" : ")
                    );
                }
            }
        }
        kills.push(k);
        ha.assert_healthy(&["nfs-ganesha_monitor"]);
    }
    let pick = |f: fn(&Kill) -> Option<Duration>| kills.iter().filter_map(f).collect::<Vec<_>>();
    let failed_over = pick(|k| k.moved).len();
    let backs: Vec<Duration> = kills
        .iter()
        .filter(|k| k.moved.is_some())
        .filter_map(|k| Some(k.home?.saturating_sub(k.healthy?)))
        .collect();
    let mode = if idle {
        "no client state on node1 (records expired before the kill)"
    } else {
        "clients read through node1's VIP until the kill"
    };
    println!(
        "\nkill -9 of ganesha.nfsd on node1, 3 nodes, ganesha-ha setup defaults, {mode}: {} runs, {failed_over} with a failover (in the others Pacemaker restarted the daemon before ganesha_mon saw it die)\n",
        kills.len()
    );
    println!("| figure (from kill -9) | median | min | max | glusterfs shell agents | target |");
    println!("|---|---|---|---|---|---|");
    let first = figures.len();
    stats(
        figures,
        "every survivor in grace (get_grace)",
        &pick(|k| k.grace),
        "4.0 s (max 11.8 s)",
        "",
    );
    stats(
        figures,
        "VIP up on a survivor",
        &pick(|k| k.moved),
        "-",
        "median <= 1.5 s, max <= 3 s",
    );
    stats(
        figures,
        "nfs-cat through the VIP succeeds on the survivor",
        &pick(|k| k.read_via_survivor),
        "9.2 s (max 16.8 s)",
        "median <= 1.5 s, max <= 3 s",
    );
    stats(
        figures,
        "first successful nfs-cat through the VIP (any node)",
        &pick(|k| k.outage_end),
        "-",
        "",
    );
    stats(
        figures,
        "restarted daemon answers D-Bus",
        &pick(|k| k.healthy),
        "-",
        "",
    );
    stats(
        figures,
        "failback: VIP home, from the daemon answering",
        &backs,
        "13-15 s",
        "<= 3 s",
    );
    let section = if idle {
        "kill -9, no client state"
    } else {
        "kill -9, clients reading"
    };
    name_section(&mut figures[first..], section);
}

/// Prefixes the figures of one table with its scenario, for the side-by-side table.
fn name_section(figures: &mut [Figure], section: &str) {
    for (label, _) in figures {
        *label = format!("{section}: {label}");
    }
}

fn node_crashes(ha: &Ha, runs: usize, figures: &mut Vec<Figure>) {
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
        let read = {
            let t = Instant::now();
            let mut got = None;
            while got.is_none() && t.elapsed() < Duration::from_secs(60) {
                let h = ha.holders()[&vip].clone();
                if h.len() == 1
                    && h[0] != "node3"
                    && read_within(
                        ha.lab.node(1).holder_pid(),
                        vip,
                        &file,
                        Duration::from_secs(2),
                    )
                    .is_ok()
                {
                    got = Some(crashed.elapsed());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            got
        };
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
    let first = figures.len();
    stats(figures, "fencing of node3 confirmed", &fenced, "-", "");
    stats(
        figures,
        "VIP up on a survivor",
        &vips,
        "-",
        "token + fencing + <= 2 s",
    );
    stats(
        figures,
        "first successful nfs-cat through the VIP on its new node",
        &reads,
        "-",
        "",
    );
    name_section(&mut figures[first..], "node crash");
}

/// `Mon DD HH:MM:SS.mmm` of a UTC time in milliseconds since the epoch (the format of
/// pacemaker.log's timestamps, which the lab writes in UTC), for [`log_time`].
fn chrono_like(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (_, month, day) = georep::time::civil_from_days(days);
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
