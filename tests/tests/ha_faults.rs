//! The failover fault matrix (a daemon killed or hung, a node crashed or isolated, each
//! followed by failback) on lab clusters set up with `ganesha-ha setup`, fencing through the
//! lab fence device. Each scenario asserts, around a real failure:
//! - no VIP is ever up on two nodes (every node's addresses polled about every 100 ms);
//! - each survivor reported grace (`get_grace`) before the failed node's VIP could have been
//!   added on its new node (the poll that last saw it absent there);
//! - after recovery each VIP is on exactly one node and the files written before the failure
//!   read back byte for byte through every VIP (`nfs-cat`, NFSv4.0);
//! - failback: the VIP returns home and the survivors sent the release event `2:<peer>`;
//! - the cluster ends HEALTHY per `ganesha-ha status --json` with no failed action left: the
//!   failures a scenario causes on purpose (the killed daemon's failed monitor) are cleaned
//!   with `crm_resource --cleanup`; any other failed action fails the test.
//!
//! Root only (CI runs as root). The scenarios run one after another inside each test so that
//! at most one lab per test binary loads the 2-core machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use ganesha_e2e::faults::{daemon_failure, node_failure};
use ganesha_e2e::ha::Ha;
use ganesha_lab::FailMode;

#[test]
fn daemon_killed_or_hung_fails_over_in_grace_and_fails_back() {
    let ha = Ha::up(3);
    let t = Instant::now();
    daemon_failure(&ha, 0, FailMode::KillGanesha, &["nfs-ganesha_monitor"]);
    println!("scenario kill -9: {:.1?}", t.elapsed());
    let t = Instant::now();
    // A hung daemon: ganesha_mon's depth-10 monitor (D-Bus answer) withdraws the node,
    // ganesha_nfsd's depth-10 monitor fails and Pacemaker restarts it.
    daemon_failure(&ha, 1, FailMode::HangGanesha, &["nfs-ganesha_monitor"]);
    println!("scenario SIGSTOP: {:.1?}", t.elapsed());
    ha.down();
}

#[test]
fn crashed_or_isolated_node_is_fenced_before_its_vip_moves_and_fails_back() {
    let ha = Ha::up(3);
    let t = Instant::now();
    node_failure(&ha, 2, FailMode::Crash);
    println!("scenario node crash: {:.1?}", t.elapsed());
    let t = Instant::now();
    node_failure(&ha, 1, FailMode::Isolate);
    println!("scenario node isolated: {:.1?}", t.elapsed());
    ha.down();
}
