//! `ganesha-ha status` against a real 3-node lab cluster running the agents under Pacemaker
//! (root; CI runs as root). The agent binaries must be built next to `ganesha-ha`
//! (`cargo test --workspace` does that).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ganesha_agents::names::GANESHA_ACTIVE;
use ganesha_e2e::bins::ganesha_ha_bin;
use ganesha_e2e::lab::lab_with_agents;
use ganesha_ha::model::model;
use ganesha_lab::{ha_model, Node};

fn status(node: &Node) -> (i32, String) {
    let out = node
        .command(ganesha_ha_bin())
        .args(["status", "--json"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn wait_for(node: &Node, code: i32, what: &str, check: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let (got, json) = status(node);
        if got == code && check(&json) {
            return json;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{what}: status exit {got}, expected {code}:\n{json}"
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
    observer
        .run(
            "crm_attribute",
            &["--node", "node1", "--name", "standby", "--update", "on"],
        )
        .unwrap();
    let failover = wait_for(observer, 3, "FAILOVER", |j| {
        j.contains("\"resource\": \"node1-vip\",\n      \"home\": \"node1\",\n      \"current\": \"node3\"")
    });
    assert!(failover.contains("node1 is in standby"), "{failover}");
    observer
        .run(
            "crm_attribute",
            &["--node", "node1", "--name", "standby", "--delete"],
        )
        .unwrap();
    wait_for(observer, 0, "HEALTHY again", |j| {
        j.contains("\"verdict\": \"HEALTHY\"")
    });

    // A VIP stopped by the administrator: not served anywhere.
    observer
        .run(
            "crm_resource",
            &[
                "--resource",
                "node2-vip",
                "--meta",
                "--set-parameter",
                "target-role",
                "--parameter-value",
                "Stopped",
            ],
        )
        .unwrap();
    let bad = wait_for(observer, 4, "BAD", |j| {
        j.contains("node2-vip is not running anywhere")
    });
    assert!(bad.contains("\"verdict\": \"BAD\""));
    lab.down().unwrap_or_else(|e| panic!("{e}"));
}
