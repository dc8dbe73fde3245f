//! Disaster recovery between two real sites (`docs/sites.md`): each site a Pacemaker
//! cluster with its own gluster pool and `data` volume, booth's arbitrator between them, the
//! stack configured by `ganesha-ha site setup` (`tests/src/sites.rs`).
//!
//! - the planned cycle: files written at `a` reach `b`; `site failover` at `b` makes `b`
//!   writable and `a` read-only; `failback start` sends `b`'s writes to `a`; `failback
//!   status` goes to "Sync completed"; `failback commit` gives `a` its writes back, `b` is
//!   read-only again, the original session runs, and every file written at either site is at
//!   both, byte for byte; while the pair moves, a prober writes at both sites and the old
//!   owner never accepts a write once the new one has;
//! - boothd killed alone at the owning site (automatic ticket): its cluster restarts it and
//!   the ticket is never granted at both sites (polled throughout).
//!
//! Root only; one pair of sites per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ganesha_e2e::sites::{DrSites, Prober, StopOnDrop};
use ganesha_lab::{Site, DATA_VOLUME};

/// The pair's roles and read-only flags at both sites, as (a promoted, a read-only,
/// b promoted, b read-only).
fn roles(dr: &DrSites) -> (bool, Option<bool>, bool, Option<bool>) {
    (
        dr.promoted(Site::A),
        dr.read_only(Site::A),
        dr.promoted(Site::B),
        dr.read_only(Site::B),
    )
}

/// Runs `move_pair` while a prober writes at both sites: the pair moves from `old` to `new`,
/// and `old` never accepts a write once `new` has.
fn probed(dr: &DrSites, old: Site, new: Site, move_pair: impl FnOnce()) {
    let prober = Prober::new(dr);
    std::thread::scope(|s| {
        s.spawn(|| prober.run());
        // Stops the prober also when the move panics: else the scope waits for it for ever.
        let _stop = StopOnDrop(&prober.stop);
        move_pair();
        std::thread::sleep(Duration::from_millis(800));
    });
    assert!(
        !prober.overlap(old, new),
        "{old:?} accepted a write after {new:?} did: both copies were writable"
    );
    println!("{old:?} → {new:?}: write gap {:.2?}", prober.gap(old, new));
}

#[test]
fn planned_failover_and_failback_keep_every_file_at_both_sites() {
    let dr = DrSites::up(false);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();

    // Replication a → b; b holds a read-only copy.
    dr.write_recorded(Site::A, "a1.txt", &mut files);
    dr.wait_synced(Site::A, Site::B, &files);
    assert!(
        dr.write(Site::B, "refused.txt", b"no").is_err(),
        "b is read-only"
    );
    dr.wait_until("repl_state ACTIVE at b", Duration::from_secs(60), || {
        dr.repl_state(Site::B) == "ACTIVE"
    });
    dr.step("a1 at b, b fresh");

    // Planned failover to b.
    let t = Instant::now();
    probed(&dr, Site::A, Site::B, || {
        dr.ganesha_ha(Site::B, &["site", "failover", DATA_VOLUME])
            .expect_success();
    });
    let failover = t.elapsed();
    assert_eq!(roles(&dr), (false, Some(true), true, Some(false)));
    assert!(
        dr.write(Site::A, "refused.txt", b"no").is_err(),
        "a is read-only"
    );
    dr.write_recorded(Site::B, "b1.txt", &mut files);
    dr.step(&format!("failover to b in {failover:.1?}"));

    // Failback start: b's writes reach a.
    let t = Instant::now();
    dr.ganesha_ha(Site::B, &["site", "failback", "start", DATA_VOLUME])
        .expect_success();
    let start = t.elapsed();
    dr.write_recorded(Site::B, "b2.txt", &mut files);
    dr.wait_synced(Site::B, Site::A, &files);
    dr.step(&format!("failback start in {start:.1?}, b's files at a"));
    dr.wait_until(
        "failback status: Sync completed",
        Duration::from_secs(120),
        || {
            let status = dr.ganesha_ha(Site::B, &["site", "failback", "status", DATA_VOLUME]);
            status.stdout().contains("Sync completed")
        },
    );

    // Commit: a owns the writes again.
    let t = Instant::now();
    probed(&dr, Site::B, Site::A, || {
        dr.ganesha_ha(Site::B, &["site", "failback", "commit", DATA_VOLUME])
            .expect_success();
    });
    let commit = t.elapsed();
    assert_eq!(roles(&dr), (true, Some(false), false, Some(true)));
    assert!(
        dr.write(Site::B, "refused.txt", b"no").is_err(),
        "b is read-only"
    );
    dr.step(&format!("failback commit in {commit:.1?}"));
    dr.write_recorded(Site::A, "a2.txt", &mut files);
    dr.wait_synced(Site::A, Site::B, &files);
    for site in Site::ALL {
        for (name, content) in &files {
            assert_eq!(
                dr.read(site, name).as_deref(),
                Some(content.as_slice()),
                "{name} at {site:?}"
            );
        }
    }
    println!(
        "planned cycle: failover {failover:.1?}, failback start {start:.1?}, commit {commit:.1?}; \
         {} files at both sites",
        files.len()
    );
    dr.sites.down().unwrap();
}
