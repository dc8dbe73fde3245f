//! Site failover and failback on two real sites (`tests/src/sites.rs`), beside the targets and
//! the manual procedure each command replaces (the RHGS "Disaster Recovery" and "Failover and
//! Failback" steps, counted in `docs/sites.md`):
//!
//! - planned failover and `failback commit`: the write gap, from the first write refused at
//!   the old owner to the first accepted at the new one (a prober writes at both sites every
//!   150 ms), target ≤ the final checkpoint + 5 s;
//! - `failback start` → the reverse session Active, target ≤ 15 s;
//! - unplanned (automatic ticket, the owner powered off): ticket granted at b → b's volume
//!   writable, target ≤ 5 s.
//!
//! `cargo bench -p ganesha-e2e --bench sites` (root; build the workspace first).
//! `SITES_BENCH_RUNS` (default 2) sets the number of runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ganesha_e2e::lab::is_root;
use ganesha_e2e::sites::{DrSites, Prober, StopOnDrop};
use ganesha_lab::{Site, DATA_TICKET, DATA_VOLUME};

/// Manual steps each phase replaces: failover = read-only off, indexing on, changelog on;
/// failback start = gsec_create, stop the old session, create push-pem force,
/// special-sync-mode, gfid-conflict-resolution, start; failback status = checkpoint now,
/// status detail (polled); commit = stop I/O, checkpoint now, touch, wait, stop, delete, reset
/// indexing, reset changelog, read-only on, ticket, start the original session.
const MANUAL_STEPS: [(&str, usize); 4] = [
    ("failover", 3),
    ("failback start", 6),
    ("failback status", 2),
    ("failback commit", 11),
];

fn main() {
    if !is_root() {
        eprintln!("sites bench: needs root (it builds two sites in namespaces); skipped");
        return;
    }
    let runs: usize = std::env::var("SITES_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let mut figures: Vec<Figures> = Vec::new();
    for run in 1..=runs {
        let f = planned_cycle();
        println!("run {run}: {f:?}");
        figures.push(f);
    }
    let mut unplanned = Vec::new();
    for run in 1..=runs {
        let u = unplanned_takeover();
        println!("run {run}: unplanned, ticket granted at b → b writable {u:.2?}");
        unplanned.push(u);
    }
    report(&figures, &unplanned);
}

/// One planned cycle's figures.
#[derive(Debug, Default)]
struct Figures {
    failover_cmd: Duration,
    failover_gap: Duration,
    start_cmd: Duration,
    start_to_active: Duration,
    commit_cmd: Duration,
    commit_gap: Duration,
    commit_checkpoint: Duration,
}

/// Runs `args` at `site` while the prober writes; returns the command's time, stdout, and
/// the write gap from `old` to `new`.
fn probed(
    dr: &DrSites,
    site: Site,
    args: &[&str],
    old: Site,
    new: Site,
) -> (Duration, String, Duration) {
    let prober = Prober::new(dr);
    let (took, stdout) = std::thread::scope(|s| {
        s.spawn(|| prober.run());
        // Stops the prober also when the command fails: else the scope waits for it for ever.
        let _stop = StopOnDrop(&prober.stop);
        std::thread::sleep(Duration::from_millis(400));
        let t = Instant::now();
        let ran = dr.ganesha_ha(site, args);
        let took = t.elapsed();
        ran.expect_success();
        // Let the prober see the new owner accept a write.
        std::thread::sleep(Duration::from_millis(800));
        (took, ran.stdout().to_owned())
    });
    (took, stdout, prober.gap(old, new))
}

/// The time a progress line (`[  12.3s] text`) of a site command says.
fn step_time(stdout: &str, text: &str) -> Option<Duration> {
    let line = stdout.lines().find(|l| l.contains(text))?;
    let secs = line.strip_prefix('[')?.split('s').next()?.trim();
    secs.parse::<f64>().ok().map(Duration::from_secs_f64)
}

fn planned_cycle() -> Figures {
    let dr = DrSites::up(false);
    let mut f = Figures::default();
    let first = vec![("before.txt".to_owned(), b"before\n".to_vec())];
    dr.write(Site::A, "before.txt", b"before\n").unwrap();
    dr.wait_synced(Site::A, Site::B, &first);
    dr.wait_until("repl_state ACTIVE at b", Duration::from_secs(60), || {
        dr.repl_state(Site::B) == "ACTIVE"
    });
    (f.failover_cmd, _, f.failover_gap) = probed(
        &dr,
        Site::B,
        &["site", "failover", DATA_VOLUME],
        Site::A,
        Site::B,
    );
    let t = Instant::now();
    let start = dr.ganesha_ha(Site::B, &["site", "failback", "start", DATA_VOLUME]);
    f.start_cmd = t.elapsed();
    start.expect_success();
    let reverse = format!("{}::{DATA_VOLUME}", dr.sites.booth_addr(Site::A));
    dr.wait_until(
        "the reverse session Active",
        Duration::from_secs(120),
        || {
            dr.ganesha_ha(
                Site::B,
                &["georep", "status", DATA_VOLUME, &reverse, "--json"],
            )
            .stdout()
            .to_ascii_lowercase()
            .contains("\"status\": \"active\"")
        },
    );
    f.start_to_active = t.elapsed();
    dr.wait_until(
        "failback status: Sync completed",
        Duration::from_secs(120),
        || {
            dr.ganesha_ha(Site::B, &["site", "failback", "status", DATA_VOLUME])
                .stdout()
                .contains("Sync completed")
        },
    );
    let (took, stdout, gap) = probed(
        &dr,
        Site::B,
        &["site", "failback", "commit", DATA_VOLUME],
        Site::B,
        Site::A,
    );
    f.commit_cmd = took;
    f.commit_gap = gap;
    f.commit_checkpoint = match (
        step_time(&stdout, "checkpoint set"),
        step_time(&stdout, "the checkpoint completed"),
    ) {
        (Some(set), Some(done)) => done.saturating_sub(set),
        _ => panic!("commit printed no checkpoint steps:\n{stdout}"),
    };
    dr.sites.down().unwrap();
    f
}

/// Automatic ticket, a powered off: from the ticket granted at b to b's first accepted write.
fn unplanned_takeover() -> Duration {
    let dr = DrSites::up(true);
    let first = vec![("before.txt".to_owned(), b"before\n".to_vec())];
    dr.write(Site::A, "before.txt", b"before\n").unwrap();
    dr.wait_synced(Site::A, Site::B, &first);
    dr.wait_until("repl_state ACTIVE at b", Duration::from_secs(60), || {
        dr.repl_state(Site::B) == "ACTIVE"
    });
    dr.sites.power_off(Site::A).unwrap();
    let mut granted = None;
    let t = Instant::now();
    let writable = loop {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "b never took over\n{}",
            dr.context()
        );
        if granted.is_none()
            && dr
                .sites
                .ticket_granted(Site::B, DATA_TICKET)
                .unwrap_or(false)
        {
            granted = Some(Instant::now());
        }
        if let Some(g) = granted {
            if dr.write(Site::B, "after.txt", b"after\n").is_ok() {
                break g.elapsed();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    dr.sites.down().unwrap();
    writable
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn report(f: &[Figures], unplanned: &[Duration]) {
    let m = |get: fn(&Figures) -> Duration| median(f.iter().map(get).collect());
    let checkpoint = m(|x| x.commit_checkpoint);
    println!(
        "\nsite failover and failback, median of {} runs (targets from docs/sites.md):",
        f.len()
    );
    println!("| figure | measured | target | manual steps replaced |");
    println!("|---|---|---|---|");
    println!(
        "| planned failover: write gap (command {:.1?}) | {:.2?} | ≤ 5 s (no checkpoint: the copy is fresh) | {} → 1 |",
        m(|x| x.failover_cmd),
        m(|x| x.failover_gap),
        MANUAL_STEPS[0].1
    );
    println!(
        "| failback start → reverse session Active (command {:.1?}) | {:.1?} | ≤ 15 s | {} → 1 |",
        m(|x| x.start_cmd),
        m(|x| x.start_to_active),
        MANUAL_STEPS[1].1
    );
    println!(
        "| failback status | one command | – | {} → 1 |",
        MANUAL_STEPS[2].1
    );
    println!(
        "| failback commit: write gap (command {:.1?}; final checkpoint {checkpoint:.1?}) | {:.1?} | ≤ checkpoint + 5 s = {:.1?} | {} → 1 |",
        m(|x| x.commit_cmd),
        m(|x| x.commit_gap),
        checkpoint + Duration::from_secs(5),
        MANUAL_STEPS[3].1
    );
    println!(
        "| unplanned: ticket granted at b → b writable | {:.2?} | ≤ 5 s | 3 → 0 (automatic) |",
        median(unplanned.to_vec())
    );
}
