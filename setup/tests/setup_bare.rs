//! `ganesha-ha setup` on four bare lab nodes (no corosync.conf, no cluster stack), through
//! the lab transport: it distributes corosync.conf and the authkey, starts the stacks, waits
//! for quorum and a DC, configures every resource and ends HEALTHY with every VIP serving;
//! a second run changes nothing; `delete` and `add` change membership without restarting
//! the other nodes' resources; `teardown` leaves no resource and no cluster. Root; CI runs
//! as root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::time::Instant;

use ganesha_lab::Lab;
use util::{ganesha_ha, wait_serving};

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
    let lab = util::bare_lab_with_agents(4);
    for n in lab.nodes() {
        assert!(!n.has_cluster_config() && !n.stack_running());
    }
    let conf = lab.root_dir().join("ganesha-ha.conf");
    std::fs::write(&conf, config(&lab, 4)).unwrap();
    let conf = conf.display().to_string();
    let node1 = lab.node(0);

    let t = Instant::now();
    let (code, out, err) = ganesha_ha(node1, &["setup", "--config", &conf]);
    assert_eq!(code, 0, "setup failed:\n{out}\n{err}");
    println!("setup on 4 bare nodes: {:.1?}\n{out}", t.elapsed());
    assert!(out.contains("cluster formed"), "{out}");
    assert!(out.contains("cluster HEALTHY"), "{out}");
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
    let (code, out, err) = ganesha_ha(node1, &["setup", "--config", &conf]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("nothing to change"), "{out}");
    assert!(!out.contains("cluster formed"), "{out}");

    // Teardown: no resource, no cluster; the recovery state stays.
    let (code, out, err) = ganesha_ha(node1, &["teardown", "--config", &conf]);
    assert_eq!(code, 0, "{out}\n{err}");
    for n in lab.nodes() {
        assert!(
            !n.stack_running(),
            "{}: stack still running\n{out}",
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
