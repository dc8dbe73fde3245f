//! `ganesha-ha setup` on four bare lab nodes (no corosync.conf, no cluster stack), through
//! the lab transport: it distributes corosync.conf and the authkey, starts the stacks, waits
//! for quorum and a DC, configures every resource and ends HEALTHY with every VIP serving;
//! a second run changes nothing; `delete` and `add` change membership without restarting
//! the other nodes' resources; `teardown` leaves no resource and no cluster. Root; CI runs
//! as root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use ganesha_e2e::lab::{bare_lab_with_agents, ganesha_ha, wait_serving};
use ganesha_lab::Lab;

/// The ganesha.nfsd pids of the first `n` nodes.
fn ganesha_pids(lab: &Lab, n: usize) -> Vec<Vec<nix::unistd::Pid>> {
    lab.nodes()[..n]
        .iter()
        .map(|node| node.pids_named("ganesha.nfsd"))
        .collect()
}

fn config(lab: &Lab, nodes: usize) -> String {
    let mut text = format!(
        "# written by setup_bare.rs\nHA_NAME=\"bare\"\nHA_CLUSTER_NODES=\"{}\"\n",
        (1..=nodes)
            .map(|i| format!("node{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for i in 1..=nodes {
        text.push_str(&format!(
            "VIP_node{i}=\"192.0.2.{}/24\"\nHA_NODE_ADDR_node{i}=192.0.2.{}\n",
            100 + i,
            10 + i
        ));
    }
    text.push_str(&format!(
        "HA_VIP_NIC=eth0\nHA_STATE_MOUNT={}\nHA_MON_INTERVAL=2s\nHA_TRANSPORT=lab:{}\n\
         HA_FENCE_lab-fencing=\"fence_ganesha_lab state_file={}\"\n",
        lab.shared_dir().display(),
        lab.state_file().display(),
        lab.state_file().display()
    ));
    text
}

#[test]
fn setup_forms_a_cluster_on_bare_nodes_and_teardown_dissolves_it() {
    let lab = bare_lab_with_agents(4);
    for n in lab.nodes() {
        assert!(!n.has_cluster_config() && !n.stack_running());
    }
    let conf = lab.root_dir().join("ganesha-ha.conf");
    std::fs::write(&conf, config(&lab, 4)).unwrap();
    let conf = conf.display().to_string();
    let node1 = lab.node(0);

    let t = Instant::now();
    let setup = ganesha_ha(node1, &["setup", "--config", &conf]);
    setup
        .expect_success()
        .expect_stdout_contains("cluster formed")
        .expect_stdout_contains("cluster HEALTHY");
    println!(
        "setup on 4 bare nodes: {:.1?}\n{}",
        t.elapsed(),
        setup.stdout()
    );
    for n in lab.nodes() {
        assert!(n.has_cluster_config() && n.stack_running(), "{}", n.name());
    }
    let key = |i: usize| std::fs::read(lab.node(i).host_path("/etc/corosync/authkey")).unwrap();
    assert!(key(0).len() >= 128);
    assert!((1..4).all(|i| key(i) == key(0)), "one authkey everywhere");
    for i in 1..=4 {
        wait_serving(&lab, &format!("192.0.2.{}", 100 + i));
    }

    // Idempotent: nothing is written the second time.
    let again = ganesha_ha(node1, &["setup", "--config", &conf]);
    again
        .expect_success()
        .expect_stdout_contains("nothing to change");
    assert!(!again.stdout().contains("cluster formed"), "{again}");

    // delete node4: out of the cluster and the configuration; the others keep running.
    let before = ganesha_pids(&lab, 3);
    let deleted = ganesha_ha(node1, &["delete", "node4", "--config", &conf]);
    deleted.expect_success();
    println!("{}", deleted.stdout());
    let n4 = lab.node(3);
    assert!(!n4.stack_running() && !n4.has_cluster_config());
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains("HA_CLUSTER_NODES=\"node1,node2,node3\""),
        "{text}"
    );
    assert!(!text.contains("node4"), "{text}");
    assert!(
        text.starts_with("# written by setup_bare.rs"),
        "comments kept:\n{text}"
    );
    let status = ganesha_ha(node1, &["status", "--json"]);
    status.expect_code(0);
    assert!(!status.stdout().contains("node4"), "{status}");
    assert_eq!(
        ganesha_pids(&lab, 3),
        before,
        "no ganesha of the others restarted"
    );
    assert!(lab.node_holding("192.0.2.104".parse().unwrap()).is_none());
    assert!(
        lab.shared_dir()
            .join("nfs-ganesha/node4/ganesha/v4recov")
            .is_dir(),
        "recovery state kept without --purge"
    );

    // add node4 back: joins, its VIP serves; still nothing else restarted.
    let added = ganesha_ha(
        node1,
        &[
            "add",
            "node4",
            "192.0.2.104/24",
            "--addr",
            "192.0.2.14",
            "--config",
            &conf,
        ],
    );
    added.expect_success();
    println!("{}", added.stdout());
    assert!(n4.stack_running());
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains("HA_CLUSTER_NODES=\"node1,node2,node3,node4\""),
        "{text}"
    );
    wait_serving(&lab, "192.0.2.104");
    assert_eq!(
        ganesha_pids(&lab, 3),
        before,
        "no ganesha of the others restarted"
    );
    for i in 1..=3 {
        let vip = format!("192.0.2.{}", 100 + i).parse().unwrap();
        let holder = lab.node_holding(vip).map(|n| n.name().to_owned());
        assert_eq!(holder, Some(format!("node{i}")), "VIPs stay home");
    }
    // Adding it twice is refused and changes nothing.
    ganesha_ha(node1, &["add", "node4", "192.0.2.105", "--config", &conf])
        .expect_code(1)
        .expect_stderr_contains("already");

    // Teardown: no resource, no cluster; the recovery state stays.
    let teardown = ganesha_ha(node1, &["teardown", "--config", &conf]);
    teardown.expect_success();
    for n in lab.nodes() {
        assert!(
            !n.stack_running(),
            "{}: stack still running\n{teardown}",
            n.name()
        );
        assert!(!n.has_cluster_config(), "{}", n.name());
        assert!(!n.host_path("/etc/corosync/authkey").exists());
        assert!(n.is_powered_on(), "{}: the machine stays on", n.name());
    }
    assert!(lab
        .shared_dir()
        .join("nfs-ganesha/node4/ganesha/v4recov")
        .is_dir());
    lab.down().unwrap_or_else(|e| panic!("{e}"));
}
