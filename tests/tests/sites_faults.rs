//! Faults of the disaster-recovery stack on two real sites (`docs/sites.md`,
//! `tests/src/sites.rs`):
//!
//! - boothd killed (SIGKILL) at the owning site, automatic ticket: the site's cluster
//!   restarts it through `booth-site`'s monitor before the other site could acquire the
//!   ticket, the ticket is never granted at both sites (polled every 300 ms throughout), and
//!   the owner stays promoted and writable;
//! - each phase (`site failover`, `site failback start`, `site failback commit`) killed
//!   midway (SIGKILL at growing delays, each run resuming the last) and rerun: the rerun
//!   exits 0 and leaves what the uninterrupted phase leaves (roles, read-only flags, the
//!   session, `site status` without drift at both sites, every file at both sites).
//!
//! Root only; one pair of sites per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ganesha_e2e::lab::{ganesha_ha_in, in_node};
use ganesha_e2e::sites::DrSites;
use ganesha_ha::site::model::BOOTH_MONITOR_INTERVAL;
use ganesha_lab::{Signal, Site, BOOTHD, DATA_TICKET, DATA_VOLUME};

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

/// Whether the ticket is granted in `site`'s CIB; `None` when crm_ticket does not answer.
fn granted(dr: &DrSites, site: Site) -> Option<bool> {
    dr.sites.ticket_granted(site, DATA_TICKET).ok()
}

#[test]
fn boothd_killed_at_the_owner_is_restarted_and_the_ticket_is_never_twice() {
    let dr = DrSites::up(true);
    // With repl_state ACTIVE at b, booth's attr-prereq would let b take the ticket: the
    // restart, not the gate, is what keeps it at a.
    dr.wait_until("repl_state ACTIVE at b", Duration::from_secs(90), || {
        dr.repl_state(Site::B) == "ACTIVE"
    });
    let t = dr.timers();
    // After the kill the lease still runs at least `expire - renewal_freq`; b may acquire
    // `acquire_after` after it ends. Pacemaker notices within one monitor interval and
    // restarts boothd (a stop and a start, a few seconds): that must come first.
    let interval = Duration::from_secs(u64::from(BOOTH_MONITOR_INTERVAL));
    let earliest_take = Duration::from_secs(u64::from(t.expire - t.renewal_freq + t.acquire_after));
    let bound = interval + Duration::from_secs(6);
    assert!(
        bound < earliest_take,
        "booth-site's monitor interval {interval:?} is too long for expire {} s, renewal-freq {} s, \
         acquire-after {} s: b could take the ticket after {earliest_take:?}",
        t.expire,
        t.renewal_freq,
        t.acquire_after
    );
    let node = dr.node(Site::A);
    let before = node.pids_named(BOOTHD);
    assert_eq!(before.len(), 1, "one boothd in a's node: {before:?}");
    let old = before[0];
    dr.step(&format!(
        "a owns the pair, b fresh; killing a's boothd (pid {old})"
    ));
    node.kill(old, Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    let mut restarted = None;
    let mut polls = 0u32;
    let mut a_without = 0u32;
    while killed.elapsed() < Duration::from_secs(60) {
        let (at_a, at_b) = (granted(&dr, Site::A), granted(&dr, Site::B));
        polls += 1;
        a_without += u32::from(at_a == Some(false));
        assert!(
            !(at_a == Some(true) && at_b == Some(true)),
            "{DATA_TICKET} granted at both sites {:.1?} after the kill\n{}",
            killed.elapsed(),
            dr.context()
        );
        if restarted.is_none() {
            let new = node.pids_named(BOOTHD);
            let answers = dr
                .sites
                .booth_status(node)
                .is_ok_and(|s| s.contains("booth_state=started"));
            if answers && new.iter().any(|p| *p != old) {
                restarted = Some(killed.elapsed());
                dr.step(&format!(
                    "boothd restarted at a after {:.1?} (pids {new:?})",
                    killed.elapsed()
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let restarted = restarted
        .unwrap_or_else(|| panic!("a's boothd was not restarted within 60 s\n{}", dr.context()));
    assert!(
        restarted <= bound,
        "boothd restarted after {restarted:.1?}, later than {bound:?} (monitor every {interval:?})"
    );
    let (at_a, at_b) = (granted(&dr, Site::A), granted(&dr, Site::B));
    let owner = if at_a == Some(true) {
        dr.wait_until("a promoted and writable", Duration::from_secs(30), || {
            dr.promoted(Site::A) && dr.read_only(Site::A) == Some(false)
        });
        dr.write(Site::A, "after-restart.txt", b"a still owns the writes\n")
            .unwrap_or_else(|e| panic!("a is writable: {e}\n{}", dr.context()));
        "a (promoted, writable)"
    } else {
        assert_eq!(
            at_b,
            Some(true),
            "the ticket is somewhere\n{}",
            dr.context()
        );
        "b (booth moved the ticket)"
    };
    println!(
        "boothd killed at the owner: restarted after {restarted:.1?} (bound {bound:?}, b could take \
         the ticket after {earliest_take:?}); {polls} polls over 60 s, never granted at both, \
         not granted at a in {a_without}; owner {owner}"
    );
    dr.sites.down().unwrap();
}

/// Runs `ganesha-ha args` at `site` and kills it (SIGKILL to its process group) after each
/// delay in turn, each run resuming what the last left; returns the delays that landed
/// inside the phase (the command was still running), and stops early when a run finishes
/// (it must then exit 0: it is a rerun after an interruption).
fn interrupt(dr: &DrSites, site: Site, args: &[&str], delays: &[f64]) -> Vec<f64> {
    let mut landed = Vec::new();
    for &d in delays {
        let after = Duration::from_secs_f64(d);
        match ganesha_ha_in(dr.node(site))
            .args(args)
            .timeout(after)
            .try_run()
        {
            Err(_) => {
                dr.step(&format!(
                    "{} killed after {after:.1?}: ticket at a {:?}, at b {:?}; read-only a {:?}, b {:?}",
                    args.join(" "),
                    granted(dr, Site::A),
                    granted(dr, Site::B),
                    dr.read_only(Site::A),
                    dr.read_only(Site::B),
                ));
                landed.push(d);
            }
            Ok(ran) => {
                dr.step(&format!(
                    "{} ended within {after:.1?} (exit {:?}): no later interruption{}",
                    args.join(" "),
                    ran.code(),
                    if ran.success() {
                        String::new()
                    } else {
                        format!("\n{ran}")
                    }
                ));
                assert!(
                    ran.success(),
                    "a run of {} after an interruption failed\n{}",
                    args.join(" "),
                    dr.context()
                );
                break;
            }
        }
    }
    landed
}

/// Runs `ganesha-ha args` at `site` in a thread and kills it (SIGKILL by its pid in the
/// node) as soon as `moment` holds, polled every 100 ms; returns how long after its start
/// it was killed, or `None` when it ended first (it must then have exited 0).
fn interrupt_when(
    dr: &DrSites,
    site: Site,
    args: &[&str],
    what: &str,
    moment: impl Fn() -> bool,
) -> Option<Duration> {
    let mut cmd = ganesha_ha_in(dr.node(site));
    // Its own bound, below the test's: a run that hangs says what it waited for.
    cmd.args(args).args(["--timeout", "150"]);
    let started = Instant::now();
    let run = std::thread::spawn(move || cmd.try_run());
    let mut killed = None;
    while !run.is_finished() && started.elapsed() < Duration::from_secs(150) {
        if moment() {
            let pids = dr.node(site).pids_named("ganesha-ha");
            for pid in &pids {
                let _ = dr.node(site).kill(*pid, Signal::SIGKILL);
            }
            if !pids.is_empty() {
                killed = Some(started.elapsed());
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let ran = run
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", args.join(" "), sessions(dr)));
    let line = args.join(" ");
    match killed {
        Some(after) if ran.code().is_none() => {
            dr.step(&format!(
                "{line} killed {after:.1?} in, when {what}: ticket at a {:?}, at b {:?}; read-only a {:?}, b {:?}",
                granted(dr, Site::A),
                granted(dr, Site::B),
                dr.read_only(Site::A),
                dr.read_only(Site::B),
            ));
            Some(after)
        }
        _ => {
            dr.step(&format!(
                "{line} ended (exit {:?}) before {what}",
                ran.code()
            ));
            assert!(
                ran.success(),
                "{line} after an interruption:\n{ran}\n{}\n{}",
                dr.context(),
                sessions(dr)
            );
            None
        }
    }
}

/// Every geo-replication session at both sites, in detail, for failure messages.
fn sessions(dr: &DrSites) -> String {
    let mut out = String::new();
    for site in Site::ALL {
        let ran = in_node(dr.node(site), "gluster")
            .args([
                "--mode=script",
                "volume",
                "geo-replication",
                "status",
                "detail",
            ])
            .timeout(Duration::from_secs(30))
            .try_run()
            .map_or_else(|e| e, |r| r.to_string());
        let mounts =
            std::fs::read_to_string(format!("/proc/{}/mounts", dr.node(site).holder_pid()))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("ganesha-ha-marker"))
                .collect::<Vec<_>>()
                .join("\n");
        out.push_str(&format!(
            "--- sessions at {site:?}\n{ran}\nmarker mounts: {mounts}\n"
        ));
    }
    out
}

/// Whether `site` has the reverse-direction session of the pair (its `data` to the other
/// site's), as gluster lists it there.
fn has_session(dr: &DrSites, site: Site) -> bool {
    let secondary = format!("{}::{DATA_VOLUME}", dr.sites.booth_addr(site.other()));
    in_node(dr.node(site), "gluster")
        .args([
            "--mode=script",
            "volume",
            "geo-replication",
            DATA_VOLUME,
            &secondary,
            "status",
        ])
        .timeout(Duration::from_secs(30))
        .try_run()
        .is_ok_and(|r| r.success() && r.stdout().contains(&secondary))
}

/// Reruns `args` at `site` to its end: it must exit 0. Returns how long it took.
fn rerun(dr: &DrSites, site: Site, args: &[&str]) -> Duration {
    let ran = ganesha_ha_in(dr.node(site))
        .args(args)
        .args(["--timeout", "150"])
        .run();
    assert!(
        ran.success(),
        "rerun of {} after interruptions:\n{ran}\n{}\n{}",
        args.join(" "),
        dr.context(),
        sessions(dr)
    );
    dr.step(&format!(
        "{} rerun: exit 0 in {:.1?}",
        args.join(" "),
        ran.elapsed()
    ));
    ran.elapsed()
}

/// `site status` at both sites says desired and actual agree (exit 0, no drift).
fn no_drift(dr: &DrSites) {
    for site in Site::ALL {
        let status = dr.ganesha_ha(site, &["site", "status", DATA_VOLUME]);
        assert!(status.success(), "site status at {site:?}:\n{status}");
    }
}

#[test]
fn each_phase_interrupted_midway_finishes_when_rerun() {
    let dr = DrSites::up(false);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    dr.write_recorded(Site::A, "a1.txt", &mut files);
    dr.wait_synced(Site::A, Site::B, &files);
    dr.wait_until("repl_state ACTIVE at b", Duration::from_secs(60), || {
        dr.repl_state(Site::B) == "ACTIVE"
    });
    dr.step("a1 at b, b fresh");

    // Failover to b, interrupted: after the first looks, after the grant, while waiting
    // for the promotion.
    let failover = ["site", "failover", DATA_VOLUME];
    let mut landed_failover = interrupt(&dr, Site::B, &failover, &[0.1, 0.2]);
    // Between the revoke at a and the promotion at b.
    if let Some(after) = interrupt_when(&dr, Site::B, &failover, "a lost the ticket", || {
        granted(&dr, Site::A) == Some(false)
    }) {
        landed_failover.push(after.as_secs_f64());
    }
    let failover_rerun = rerun(&dr, Site::B, &failover);
    assert_eq!(roles(&dr), (false, Some(true), true, Some(false)));
    assert!(
        dr.write(Site::A, "refused.txt", b"no").is_err(),
        "a is read-only"
    );
    dr.write_recorded(Site::B, "b1.txt", &mut files);

    // Failback start, interrupted: the original session stopped at a, the reverse session
    // created (push-pem), configured, started, the checkpoint.
    let start = ["site", "failback", "start", DATA_VOLUME];
    let mut landed_start = interrupt(&dr, Site::B, &start, &[1.0, 2.0]);
    // Right after gluster lists the reverse session (created, not yet configured/started).
    if let Some(after) = interrupt_when(&dr, Site::B, &start, "the reverse session exists", || {
        has_session(&dr, Site::B)
    }) {
        landed_start.push(after.as_secs_f64());
    }
    landed_start.extend(interrupt(&dr, Site::B, &start, &[1.0]));
    let start_rerun = rerun(&dr, Site::B, &start);
    dr.write_recorded(Site::B, "b2.txt", &mut files);
    dr.wait_synced(Site::B, Site::A, &files);
    dr.wait_until(
        "failback status: Sync completed",
        Duration::from_secs(180),
        || {
            let status = dr.ganesha_ha(Site::B, &["site", "failback", "status", DATA_VOLUME]);
            status.stdout().contains("Sync completed")
        },
    );
    dr.step("b's files at a, reverse sync completed");

    // Commit, interrupted: read-only here, checkpoint and marker, the checkpoint wait, the
    // ticket's revoke and grant, the reverse session's removal, the original session.
    let commit = ["site", "failback", "commit", DATA_VOLUME];
    let mut landed_commit = interrupt(&dr, Site::B, &commit, &[3.0]);
    // After the revoke at b, before a holds the ticket again: only the record says the
    // reverse sync completed.
    if let Some(after) = interrupt_when(&dr, Site::B, &commit, "b revoked the ticket", || {
        granted(&dr, Site::B) == Some(false)
    }) {
        landed_commit.push(after.as_secs_f64());
    }
    // After a holds the ticket, while b removes the reverse session and starts a's.
    landed_commit.extend(interrupt(&dr, Site::B, &commit, &[2.0]));
    let commit_rerun = rerun(&dr, Site::B, &commit);
    assert_eq!(roles(&dr), (true, Some(false), false, Some(true)));
    assert!(
        dr.write(Site::B, "refused.txt", b"no").is_err(),
        "b is read-only"
    );
    no_drift(&dr);
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
    for (phase, landed) in [
        ("failover", &landed_failover),
        ("failback start", &landed_start),
        ("failback commit", &landed_commit),
    ] {
        assert!(
            !landed.is_empty(),
            "no interruption landed inside {phase}: it ended before the first delay"
        );
    }
    let secs = |l: &[f64]| {
        l.iter()
            .map(|d| format!("{d:.1}s"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "interrupted phases: failover killed after {}, rerun {failover_rerun:.1?}; \
         failback start killed after {}, rerun {start_rerun:.1?}; \
         failback commit killed after {}, rerun {commit_rerun:.1?}; {} files at both sites",
        secs(&landed_failover),
        secs(&landed_start),
        secs(&landed_commit),
        files.len()
    );
    dr.sites.down().unwrap();
}
