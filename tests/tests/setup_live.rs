//! `ganesha-ha setup` on a formed 3-node lab cluster (root; CI runs as root; the agents and
//! the lab's fence agent must be built next to `ganesha-ha`, which `cargo test --workspace`
//! does): every resource starts and every VIP serves NFS; a second run changes nothing; an
//! invalid configuration changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use ganesha_e2e::lab::{ganesha_ha, in_node, lab_with_agents, wait_serving};
use ganesha_lab::Node;

/// `program args` inside `node`; its stdout, or the test fails with the full report.
fn stdout(node: &Node, program: &str, args: &[&str]) -> String {
    in_node(node, program)
        .args(args)
        .run()
        .expect_success()
        .stdout()
        .to_owned()
}

fn epoch(node: &Node) -> String {
    let text = stdout(node, "cibadmin", &["--query"]);
    let head = text.lines().next().unwrap_or_default().to_owned();
    head.split_whitespace()
        .find(|w| w.starts_with("epoch="))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn setup_starts_everything_once_and_refuses_an_invalid_configuration() {
    let lab = lab_with_agents(3);
    let export = lab.shared_dir().join("export");
    std::fs::create_dir_all(&export).unwrap();
    std::fs::write(export.join("hello.txt"), "hello\n").unwrap();
    let fencing = if lab.fencing_enabled() {
        format!(
            "HA_FENCE_lab-fencing=\"fence_ganesha_lab state_file={} pcmk_host_list=node1,node2,node3\"\n",
            lab.state_file().display()
        )
    } else {
        "HA_STONITH=off\n".to_owned()
    };
    let conf = lab.root_dir().join("ganesha-ha.conf");
    let text = format!(
        "HA_NAME=lab\nHA_CLUSTER_NODES=node1,node2,node3\nVIP_node1=192.0.2.101/24\n\
         VIP_node2=192.0.2.102/24\nVIP_node3=192.0.2.103/24\nHA_VIP_NIC=eth0\n{fencing}\
         HA_STATE_MOUNT={}\nHA_MON_INTERVAL=2s\n",
        lab.shared_dir().display()
    );
    std::fs::write(&conf, &text).unwrap();
    let conf = conf.display().to_string();
    let node1 = lab.node(0);

    let started = Instant::now();
    ganesha_ha(node1, &["setup", "--config", &conf])
        .expect_success()
        .expect_stdout_contains("cluster HEALTHY");
    println!(
        "setup on a formed 3-node cluster: {:.1?}",
        started.elapsed()
    );
    ganesha_ha(lab.node(1), &["status"]).expect_code(0);

    // Every VIP serves NFS (after any grace period).
    for vip in ["192.0.2.101", "192.0.2.102", "192.0.2.103"] {
        wait_serving(&lab, vip);
    }

    // Idempotent: the second run writes nothing.
    let before = epoch(node1);
    ganesha_ha(node1, &["setup", "--config", &conf])
        .expect_success()
        .expect_stdout_contains("nothing to change");
    assert_eq!(epoch(node1), before);

    // An invalid configuration: reported with its line, nothing changes.
    let bad = lab.root_dir().join("bad.conf");
    std::fs::write(
        &bad,
        text.replace("VIP_node3=192.0.2.103/24", "VIP_node3=192.0.2.1033"),
    )
    .unwrap();
    ganesha_ha(node1, &["setup", "--config", &bad.display().to_string()])
        .expect_code(1)
        .expect_stderr_contains(":5: VIP_node3");
    assert_eq!(epoch(node1), before);

    // Teardown: our resources go, the recovery state on the shared volume stays.
    ganesha_ha(node1, &["teardown", "--config", &conf]).expect_success();
    // The configuration sections (the status section keeps the operation history).
    let section = |scope: &str| stdout(node1, "cibadmin", &["--query", "--scope", scope]);
    let (resources, constraints) = (section("resources"), section("constraints"));
    for id in ["nfs-ganesha-clone", "nfs-grace-clone", "node1-vip"] {
        let configured = resources.contains(&format!("id=\"{id}\""));
        assert!(!configured, "{id} still configured:\n{resources}");
    }
    assert!(
        !constraints.contains("node1-vip-needs-ganesha"),
        "{constraints}"
    );
    ganesha_ha(node1, &["status", "--json"]).expect_stdout_contains("no VIP resource");
    assert!(lab
        .shared_dir()
        .join("nfs-ganesha/node1/ganesha/v4recov")
        .is_dir());
    ganesha_ha(node1, &["teardown", "--config", &conf])
        .expect_success()
        .expect_stdout_contains("nothing to remove");
    lab.down().unwrap_or_else(|e| panic!("{e}"));
}
