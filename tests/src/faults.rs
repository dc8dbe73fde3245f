//! The fault scenarios the fault matrix runs on either stack (`tests/tests/ha_faults.rs`,
//! `tests/tests/ha_gluster.rs`): a daemon failure and a node failure, each with its
//! failover, failback and the end-of-scenario assertions of [`crate::ha`].

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ganesha_agents::names::{GANESHA_ACTIVE, GRACE_ACTIVE, MON_AGENT};
use ganesha_lab::FailMode;

use crate::ha::{
    assert_failover_order, assert_fenced_before_vip, assert_others_stayed_home, Ha, SERVE_BOUND,
};
use crate::watch::Watch;

/// What every scenario knows when its failure is injected: the names, the failed node and
/// its survivors, the VIP that must move, the log positions and the running watch.
struct Scenario {
    names: Vec<String>,
    failed: String,
    survivors: Vec<String>,
    vip: Ipv4Addr,
    marks: Vec<usize>,
    watch: Watch,
    failed_at: Instant,
}

impl Scenario {
    /// Waits until no node is in grace, marks the logs and starts watching; `failed_at` is
    /// the moment of return, so the caller injects its failure right after.
    fn begin(ha: &Ha, victim: usize) -> Self {
        let names = ha.names();
        let failed = names[victim].clone();
        let survivors = names.iter().filter(|n| **n != failed).cloned().collect();
        let vip = ha.vip(&failed);
        ha.wait_out_of_grace();
        let marks = ha.log_marks();
        let watch = Watch::start(&ha.lab);
        Scenario {
            names,
            failed,
            survivors,
            vip,
            marks,
            watch,
            failed_at: Instant::now(),
        }
    }
}

/// Fails `victim`'s daemon with `how`, then checks the failover, the failback and health.
/// ganesha_mon looks every second and ganesha_nfsd every ten, so the VIP moves before
/// Pacemaker has restarted the daemon (15 of 15 kills in the failover bench).
pub fn daemon_failure(ha: &Ha, victim: usize, how: FailMode, expected_failures: &[&str]) {
    let Scenario {
        names,
        failed,
        survivors,
        vip,
        marks,
        watch,
        failed_at,
    } = Scenario::begin(ha, victim);
    let failed = failed.as_str();
    let survivors: Vec<&str> = survivors.iter().map(String::as_str).collect();
    ha.lab.node(victim).fail(how).unwrap();
    // Failover: the VIP leaves, then (the daemon recovered by Pacemaker) comes home.
    ha.wait_until(
        &format!("{vip} away from {failed}"),
        Duration::from_secs(60),
        || ha.holders()[&vip].iter().any(|h| h != failed),
    );
    let moved = failed_at.elapsed();
    ha.wait_until(
        &format!("{vip} back on {failed}"),
        Duration::from_secs(120),
        || ha.holders()[&vip] == [failed.to_owned()],
    );
    let home = failed_at.elapsed();
    let (vips, grace) = watch.finish();
    let order = assert_failover_order(ha, &vips, &grace, failed, &survivors, failed_at, &marks);
    assert_others_stayed_home(ha, &vips, &[vip]);
    println!("{how} on {failed}: VIP moved after {moved:.1?}, home after {home:.1?}; {order}");
    // Failback: every survivor released the peer's clients (2:<peer>) before its VIP returned.
    for (i, name) in names.iter().enumerate() {
        if name == failed {
            continue;
        }
        let node = ha.lab.node(i);
        assert!(
            ha.grace_sent(node, &format!("5:{failed}"), marks[i]),
            "{name}: no grace(5:{failed}) in its log\n{}",
            ha.context()
        );
        assert!(
            ha.grace_sent(node, &format!("2:{failed}"), marks[i]),
            "{name}: no grace(2:{failed}) in its log\n{}",
            ha.context()
        );
    }
    let served = ha.wait_serving(SERVE_BOUND);
    let cleaned = ha.assert_healthy(expected_failures);
    println!("{how} on {failed}: every file read back through every VIP {served:.1?} after failback; cleaned up {cleaned:?}");
}

/// A whole node fails (`Crash`: powered off; `Isolate`: its link cut). The others fence it
/// (the lab fence device's reboot powers it off and on again), and only then take its VIP;
/// the node rejoins and its VIP comes home.
pub fn node_failure(ha: &Ha, victim: usize, how: FailMode) {
    let Scenario {
        names,
        failed,
        survivors,
        vip,
        marks,
        watch,
        failed_at,
    } = Scenario::begin(ha, victim);
    let failed = failed.as_str();
    let survivors: Vec<&str> = survivors.iter().map(String::as_str).collect();
    let node = ha.lab.node(victim);
    node.fail(how).unwrap();
    ha.wait_until(
        &format!("{vip} on a survivor"),
        Duration::from_secs(90),
        || ha.holders()[&vip].iter().any(|h| h != failed),
    );
    let moved = failed_at.elapsed();
    // The fence device's reboot has powered it on again; undo what is left of the failure
    // (the link of an isolated node that was not fenced yet).
    ha.wait_until("the fenced node back on", Duration::from_secs(90), || {
        node.heal().is_ok() && node.is_powered_on()
    });
    let back = Instant::now();
    while ha.holders()[&vip] != [failed.to_owned()] {
        assert!(
            back.elapsed() < Duration::from_secs(180),
            "{vip} not back on {failed}\n{}\n{}",
            ha.log_excerpt(
                &marks,
                &[
                    "nfs-mon",
                    GANESHA_ACTIVE,
                    GRACE_ACTIVE,
                    "transient",
                    MON_AGENT
                ]
            ),
            ha.context()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let home = failed_at.elapsed();
    let (vips, grace) = watch.finish();
    let fenced = assert_fenced_before_vip(ha, failed, &marks);
    let order = assert_failover_order(ha, &vips, &grace, failed, &survivors, failed_at, &marks);
    assert_others_stayed_home(ha, &vips, &[vip]);
    println!("{how} of {failed}: VIP on a survivor after {moved:.1?}, home after {home:.1?}; {fenced}; {order}");
    for (i, name) in names.iter().enumerate() {
        if name != failed {
            assert!(
                ha.grace_sent(ha.lab.node(i), &format!("2:{failed}"), marks[i]),
                "{name}: no grace(2:{failed}) in its log\n{}",
                ha.context()
            );
        }
    }
    let served = ha.wait_serving(SERVE_BOUND);
    let cleaned = ha.assert_healthy(&[]);
    println!("{how} of {failed}: every file read back through every VIP {served:.1?} after failback; cleaned up {cleaned:?}");
}
