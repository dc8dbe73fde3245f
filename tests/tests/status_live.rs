//! `ganesha-ha status` against a real 3-node lab cluster running the agents under Pacemaker
//! (root; CI runs as root). The agent binaries must be built next to `ganesha-ha`
//! (`cargo test --workspace` does that).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ganesha_agents::names::GANESHA_ACTIVE;
use ganesha_e2e::lab::{ganesha_ha_in, in_node, lab_with_agents};
use ganesha_ha::model::model;
use ganesha_lab::{ha_model, Node};

/// Polls `ganesha-ha status --json` in `node` until it exits `code` with output that passes
/// `check` (at most 90 s); that output.
fn wait_for(node: &Node, code: i32, what: &str, check: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let status = ganesha_ha_in(node).args(["status", "--json"]).try_run();
        match &status {
            Ok(ran) if ran.code() == Some(code) && check(ran.stdout()) => {
                return ran.stdout().to_owned()
            }
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{what}: expected status exit {code}:\n{}",
            status.map_or_else(|e| e, |r| r.to_string())
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn status_reports_healthy_failover_and_bad_from_a_live_cluster() {
    let lab = lab_with_agents(3);
    let spec = ha_model::cluster_spec(&lab).unwrap_or_else(|e| panic!("{e}"));
    ha_model::load(lab.node(0), &model(&spec)).unwrap_or_else(|e| panic!("{e}"));
    let observer = lab.node(1);

    let healthy = wait_for(observer, 0, "HEALTHY", |j| {
        j.contains("\"verdict\": \"HEALTHY\"")
    });
    assert!(
        healthy.contains(&format!("\"{GANESHA_ACTIVE}\": \"1\"")),
        "{healthy}"
    );

    // node1 in standby: its VIP goes to its ring successor (node3), still served.
    in_node(observer, "crm_attribute")
        .args(["--node", "node1", "--name", "standby", "--update", "on"])
        .run()
        .expect_success();
    let failover = wait_for(observer, 3, "FAILOVER", |j| {
        j.contains("\"resource\": \"node1-vip\",\n      \"home\": \"node1\",\n      \"current\": \"node3\"")
    });
    assert!(failover.contains("node1 is in standby"), "{failover}");
    in_node(observer, "crm_attribute")
        .args(["--node", "node1", "--name", "standby", "--delete"])
        .run()
        .expect_success();
    wait_for(observer, 0, "HEALTHY again", |j| {
        j.contains("\"verdict\": \"HEALTHY\"")
    });

    // A VIP stopped by the administrator: not served anywhere.
    in_node(observer, "crm_resource")
        .args([
            "--resource",
            "node2-vip",
            "--meta",
            "--set-parameter",
            "target-role",
            "--parameter-value",
            "Stopped",
        ])
        .run()
        .expect_success();
    let bad = wait_for(observer, 4, "BAD", |j| {
        j.contains("node2-vip is not running anywhere")
    });
    assert!(bad.contains("\"verdict\": \"BAD\""));
    lab.down().unwrap_or_else(|e| panic!("{e}"));
}
