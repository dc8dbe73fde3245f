//! Unplanned loss of the owning site, and a split between the sites, on two real sites
//! (`docs/sites.md`, harness in `tests/src/sites.rs`):
//!
//! - site `a` powered off with an automatic ticket: booth moves the ticket to `b` once a's
//!   lease ends (expire, then acquire-after), `b` is promoted and writable, the ticket is
//!   never granted at both sites, and what `a` acknowledged and synced before the loss is at
//!   `b`;
//! - site `a` lost with a manual ticket and a stale copy at `b`: `site failover` refuses,
//!   naming `repl_state` and the last-synced time; `--force` takes over and warns what may be
//!   lost; `a` powered on again comes back Unpromoted and read-only;
//! - the wan cut between the sites (automatic ticket): `a` revokes the ticket itself when its
//!   lease ends and is demoted (read-only), `b` acquires it and is writable, never both; after
//!   the heal `a` follows `b`.
//!
//! Root only; one pair of sites per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ganesha_e2e::lab::in_node;
use ganesha_e2e::sites::{DrSites, StopOnDrop, TicketWatch, RESOURCE};
use ganesha_lab::{BoothTicket, Site, DATA_TICKET, DATA_VOLUME};

type Files = Vec<(String, Vec<u8>)>;

/// How long booth takes to move an automatic ticket away from a silent holder: its lease
/// (`expire`) and then `acquire-after`, with the lab's timers.
fn booth_move() -> Duration {
    let t = BoothTicket::new(DATA_TICKET);
    Duration::from_secs(u64::from(t.expire + t.acquire_after))
}

/// Room for Pacemaker's promotion (read-only off, indexing, changelog) and the client's
/// graph change after booth moved the ticket.
const MARGIN: Duration = Duration::from_secs(40);

/// Writes one file at `site` and waits until it is at the other site and the other site's
/// `repl_state` is ACTIVE (the owner's monitor published a fresh, healthy session).
fn replicate_one(dr: &DrSites, site: Site, name: &str) -> Files {
    let content = format!("{name} written at {site:?}\n")
        .repeat(64)
        .into_bytes();
    dr.write(site, name, &content)
        .unwrap_or_else(|e| panic!("write {name} at {site:?}: {e}\n{}", dr.context()));
    let files = vec![(name.to_owned(), content)];
    dr.wait_synced(site, site.other(), &files);
    dr.wait_until(
        &format!("repl_state ACTIVE at {:?}", site.other()),
        Duration::from_secs(90),
        || dr.repl_state(site.other()) == "ACTIVE",
    );
    dr.step(&format!(
        "{name} at {:?}, repl_state ACTIVE there",
        site.other()
    ));
    files
}

/// Whether a write at `site` succeeds now (a probe file).
fn writable(dr: &DrSites, site: Site, probe: &str) -> bool {
    dr.write(site, probe, b"probe\n").is_ok()
}

/// Polls (about every 300 ms, within `bound`) until `site` is Promoted, its volume's
/// `features.read-only` off and a write there succeeds; returns when that was first seen.
fn wait_writable(dr: &DrSites, site: Site, bound: Duration, since: Instant) -> Instant {
    let mut at = None;
    let probe = format!("probe-{site:?}.txt");
    dr.wait_until(
        &format!("{site:?} promoted and writable"),
        bound.saturating_sub(since.elapsed()),
        || {
            let ok = dr.read_only(site) == Some(false)
                && writable(dr, site, &probe)
                && dr.promoted(site);
            if ok {
                at = Some(Instant::now());
            }
            ok
        },
    );
    at.unwrap_or_else(Instant::now)
}

/// The files of `files` that are at `site` with their content.
fn present(dr: &DrSites, site: Site, files: &[(String, Vec<u8>)]) -> usize {
    files
        .iter()
        .filter(|(n, c)| dr.read(site, n).as_deref() == Some(c.as_slice()))
        .count()
}

fn assert_never_both(watch: &TicketWatch, dr: &DrSites) {
    assert!(
        watch.both.is_empty(),
        "the ticket was granted at both sites in {} of {} polls\n{}",
        watch.both.len(),
        watch.polls,
        dr.context()
    );
}

#[test]
fn automatic_ticket_moves_to_b_when_a_is_powered_off() {
    let dr = DrSites::up(true);
    replicate_one(&dr, Site::A, "a0.txt");

    let writer_stop = AtomicBool::new(false);
    let watch_stop = AtomicBool::new(false);
    let acked: Mutex<Files> = Mutex::new(Vec::new());
    let (watch, synced, acked_all, off_at, writable_at) = std::thread::scope(|s| {
        let _stop = (StopOnDrop(&writer_stop), StopOnDrop(&watch_stop));
        let writer = s.spawn(|| dr.write_until(Site::A, "w", &writer_stop, &acked));
        let watcher = s.spawn(|| dr.watch_ticket(&watch_stop));
        // Some writes acknowledged at a and replicated to b before the loss.
        dr.wait_until(
            "5 writes acknowledged at a",
            Duration::from_secs(60),
            || acked.lock().unwrap().len() >= 5,
        );
        let synced: Files = acked.lock().unwrap().clone();
        dr.wait_synced(Site::A, Site::B, &synced);
        dr.step(&format!(
            "{} writes at a synced to b; powering a off",
            synced.len()
        ));

        let off_at = Instant::now();
        dr.sites.power_off(Site::A).unwrap();
        writer_stop.store(true, Ordering::SeqCst);
        writer.join().unwrap();
        let acked_all = acked.lock().unwrap().clone();
        dr.step("a powered off");

        let bound = booth_move() + MARGIN;
        let writable_at = wait_writable(&dr, Site::B, bound, off_at);
        dr.step("b promoted and writable");
        // The watch goes on a little: the ticket stays at b alone.
        std::thread::sleep(Duration::from_secs(3));
        watch_stop.store(true, Ordering::SeqCst);
        let watch = watcher.join().unwrap();
        (watch, synced, acked_all, off_at, writable_at)
    });

    assert_never_both(&watch, &dr);
    assert!(
        watch.answered[1] > 0 && watch.first_granted[1].is_some(),
        "b's ticket never seen granted: {watch:?}"
    );
    assert!(dr.sites.ticket_granted(Site::B, DATA_TICKET).unwrap());
    let granted_b = watch.first_granted[1].unwrap();
    let off_to_writable = writable_at - off_at;
    let granted_to_writable = writable_at.saturating_duration_since(granted_b);
    let off_to_granted = granted_b.saturating_duration_since(off_at);

    // What a acknowledged and b had before the loss is at b, byte for byte.
    assert_eq!(
        present(&dr, Site::B, &synced),
        synced.len(),
        "files synced before the loss missing at b\n{}",
        dr.context()
    );
    let later = &acked_all[synced.len()..];
    let later_at_b = present(&dr, Site::B, later);
    println!(
        "power-off of a: ticket granted at b after {off_to_granted:.1?} (booth: expire + \
         acquire-after = {:?}), b writable after {off_to_writable:.1?}; ticket granted → b \
         writable {granted_to_writable:.1?} (target ≤ 5 s); writes acknowledged at a: {}, \
         synced before the loss: {}, acknowledged later: {} of which {later_at_b} reached b; \
         ticket polls {} (answers a {} b {})",
        booth_move(),
        acked_all.len(),
        synced.len(),
        later.len(),
        watch.polls,
        watch.answered[0],
        watch.answered[1],
    );
    dr.sites.down().unwrap();
}

#[test]
fn manual_failover_with_the_owner_lost_and_the_freshness_gate() {
    let dr = DrSites::up(false);
    let synced = replicate_one(&dr, Site::A, "a0.txt");

    // Make b's copy stale for real: replication paused at a (say for maintenance) when a is
    // lost. The promoted monitor starts only Stopped or Created sessions (a stopped one would
    // be started again), so a Paused session stays paused, and the monitor publishes its
    // roll-up PAUSED as b's repl_state; last_synced keeps the last value an Active worker
    // reported, which is what the refusal names.
    let secondary = format!("{}::{DATA_VOLUME}", dr.sites.booth_addr(Site::B));
    dr.ganesha_ha(Site::A, &["georep", "pause", DATA_VOLUME, &secondary])
        .expect_success();
    dr.wait_until("repl_state PAUSED at b", Duration::from_secs(60), || {
        dr.repl_state(Site::B) == "PAUSED"
    });
    let unsynced = b"written at a while replication is paused\n".repeat(16);
    dr.write(Site::A, "a1-paused.txt", &unsynced).unwrap();
    dr.step("session paused at a: b's repl_state PAUSED; a1-paused.txt written at a");

    dr.sites.power_off(Site::A).unwrap();
    dr.step("a powered off");

    let refused = dr.ganesha_ha(Site::B, &["site", "failover", DATA_VOLUME]);
    refused.expect_code(1);
    let text = format!("{}{}", refused.stdout(), refused.stderr());
    for needed in ["repl_state", "PAUSED", "last synced", "UTC", "--force"] {
        assert!(
            text.contains(needed),
            "refusal names {needed:?}:\n{refused}"
        );
    }
    assert!(
        !text.contains("unknown time"),
        "the refusal names the last-synced time:\n{refused}"
    );
    assert!(!dr.promoted(Site::B) && dr.read_only(Site::B) == Some(true));
    dr.step(&format!(
        "failover without --force refused:\n{}",
        refused.stderr().trim()
    ));

    let t = Instant::now();
    let forced = dr.ganesha_ha(Site::B, &["site", "failover", DATA_VOLUME, "--force"]);
    forced.expect_success();
    let forced_took = t.elapsed();
    let text = format!("{}{}", forced.stdout(), forced.stderr());
    assert!(
        text.contains("may be lost"),
        "--force warns what may be lost:\n{forced}"
    );
    assert!(dr.promoted(Site::B) && dr.read_only(Site::B) == Some(false));
    assert!(writable(&dr, Site::B, "b1.txt"), "b is writable");
    assert_eq!(present(&dr, Site::B, &synced), synced.len(), "a0.txt at b");
    assert!(
        dr.read(Site::B, "a1-paused.txt").is_none(),
        "written at a while paused: not at b"
    );
    dr.step(&format!(
        "failover --force in {forced_took:.1?}:\n{}",
        text.trim()
    ));

    // a comes back: its start converges (read-only, session stopped), never promoted while
    // b holds the ticket.
    let t = Instant::now();
    dr.sites.power_on(Site::A).unwrap();
    let mut seen_promoted_a = 0;
    let mut seen_granted_a = 0;
    let mut converged_at = None;
    let bound = Duration::from_secs(150);
    while t.elapsed() < bound {
        if dr.promoted(Site::A) {
            seen_promoted_a += 1;
        }
        if dr
            .sites
            .ticket_granted(Site::A, DATA_TICKET)
            .unwrap_or(false)
        {
            seen_granted_a += 1;
        }
        let unpromoted = dr
            .node(Site::A)
            .cluster_status()
            .is_ok_and(|s| s.roles(RESOURCE).iter().any(|(_, r)| r == "Unpromoted"));
        if converged_at.is_none() && unpromoted && dr.read_only(Site::A) == Some(true) {
            converged_at = Some(t.elapsed());
            dr.step("a back: Unpromoted, read-only");
        }
        // After convergence, a further 20 s of watching.
        if converged_at.is_some_and(|c| t.elapsed() > c + Duration::from_secs(20)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let converged = converged_at.unwrap_or_else(|| {
        panic!(
            "a did not come back Unpromoted and read-only within {bound:?}\n{}",
            dr.context()
        )
    });
    assert_eq!(
        (seen_promoted_a, seen_granted_a),
        (0, 0),
        "a promoted / granted while b holds the ticket\n{}",
        dr.context()
    );
    let session = in_node(dr.node(Site::A), "gluster")
        .args([
            "--mode=script",
            "volume",
            "geo-replication",
            DATA_VOLUME,
            &secondary,
            "status",
        ])
        .timeout(Duration::from_secs(60))
        .run();
    assert!(
        !session.stdout().contains("Active") && !session.stdout().contains("Passive"),
        "a's session to b does not run after a's start:\n{session}"
    );
    assert!(dr.promoted(Site::B) && dr.sites.ticket_granted(Site::B, DATA_TICKET).unwrap());
    assert!(
        dr.write(Site::A, "refused.txt", b"no").is_err(),
        "a is read-only"
    );
    println!(
        "owner lost, manual ticket: failover refused on PAUSED; --force took {forced_took:.1?}; \
         a powered on came back Unpromoted and read-only after {converged:.1?}"
    );
    dr.sites.down().unwrap();
}

#[test]
fn a_split_between_the_sites_never_grants_the_ticket_twice() {
    let dr = DrSites::up(true);
    replicate_one(&dr, Site::A, "a0.txt");

    let watch_stop = AtomicBool::new(false);
    let (watch, cut_at, a_demoted_at, b_writable_at, heal_at) = std::thread::scope(|s| {
        let _stop = StopOnDrop(&watch_stop);
        let watcher = s.spawn(|| dr.watch_ticket(&watch_stop));
        std::thread::sleep(Duration::from_secs(1));
        let cut_at = Instant::now();
        dr.sites.cut(Site::A).unwrap();
        dr.step("a cut off the wan");

        let bound = booth_move() + MARGIN;
        let mut a_demoted_at = None;
        let mut b_writable_at = None;
        let probe = "probe-b.txt";
        dr.wait_until(
            "a revoked and read-only, b promoted and writable",
            bound,
            || {
                if a_demoted_at.is_none()
                    && !dr
                        .sites
                        .ticket_granted(Site::A, DATA_TICKET)
                        .unwrap_or(true)
                    && dr.read_only(Site::A) == Some(true)
                    && !dr.promoted(Site::A)
                {
                    a_demoted_at = Some(Instant::now());
                    dr.step("a: ticket revoked, demoted, read-only");
                }
                if b_writable_at.is_none()
                    && dr.read_only(Site::B) == Some(false)
                    && writable(&dr, Site::B, probe)
                    && dr.promoted(Site::B)
                {
                    b_writable_at = Some(Instant::now());
                    dr.step("b: promoted and writable");
                }
                a_demoted_at.is_some() && b_writable_at.is_some()
            },
        );
        assert!(
            dr.write(Site::A, "refused.txt", b"no").is_err(),
            "a is read-only while cut off"
        );

        let heal_at = Instant::now();
        dr.sites.heal(Site::A).unwrap();
        dr.step("wan healed");
        // a follows b: for 30 s, never granted (the watcher), never promoted, read-only.
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            assert!(
                !dr.promoted(Site::A),
                "a promoted after the heal\n{}",
                dr.context()
            );
            assert_ne!(
                dr.read_only(Site::A),
                Some(false),
                "a writable after the heal"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        watch_stop.store(true, Ordering::SeqCst);
        let watch = watcher.join().unwrap();
        (
            watch,
            cut_at,
            a_demoted_at.unwrap(),
            b_writable_at.unwrap(),
            heal_at,
        )
    });

    assert_never_both(&watch, &dr);
    let (revoked_a, granted_b) = (
        watch.first_revoked[0].expect("a's revocation seen"),
        watch.first_granted[1].expect("b's grant seen"),
    );
    assert!(
        revoked_a <= granted_b,
        "b was granted before a revoked: {watch:?}"
    );
    assert!(
        watch.first_granted[0].is_some_and(|g| g < cut_at),
        "a held the ticket before the cut: {watch:?}"
    );
    assert!(!dr.sites.ticket_granted(Site::A, DATA_TICKET).unwrap());
    assert!(dr.sites.ticket_granted(Site::B, DATA_TICKET).unwrap());
    assert_eq!(dr.read_only(Site::A), Some(true));
    assert!(dr.promoted(Site::B) && !dr.promoted(Site::A));
    let since = |t: Instant| t.saturating_duration_since(cut_at);
    println!(
        "split: a revoked after {:.1?}, demoted and read-only after {:.1?}; b granted after \
         {:.1?}, writable after {:.1?} (ticket granted → b writable {:.1?}); healed after {:.1?}, \
         a stayed revoked and read-only; ticket polls {} (answers a {} b {})",
        since(revoked_a),
        since(a_demoted_at),
        since(granted_b),
        since(b_writable_at),
        b_writable_at.saturating_duration_since(granted_b),
        since(heal_at),
        watch.polls,
        watch.answered[0],
        watch.answered[1],
    );
    dr.sites.down().unwrap();
}
