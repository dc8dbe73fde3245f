//! `ganesha-ha setup` on a formed 3-node lab cluster (root; CI runs as root; the agents and
//! the lab's fence agent must be built next to `ganesha-ha`, which `cargo test --workspace`
//! does): every resource starts and every VIP serves NFS; a second run changes nothing; an
//! invalid configuration changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use ganesha_e2e::lab::{ganesha_ha, lab_with_agents, wait_serving};
use ganesha_lab::Node;

fn epoch(node: &Node) -> String {
    let out = node.run("cibadmin", &["--query"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
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
    let (code, out, err) = ganesha_ha(node1, &["setup", "--config", &conf]);
    assert_eq!(code, 0, "setup failed:\n{out}\n{err}");
    println!(
        "setup on a formed 3-node cluster: {:.1?}",
        started.elapsed()
    );
    assert!(out.contains("cluster HEALTHY"), "{out}");
    let (code, status, _) = ganesha_ha(lab.node(1), &["status"]);
    assert_eq!(code, 0, "{status}");

    // Every VIP serves NFS (after any grace period).
    for vip in ["192.0.2.101", "192.0.2.102", "192.0.2.103"] {
        wait_serving(&lab, vip);
    }

    // Idempotent: the second run writes nothing.
    let before = epoch(node1);
    let (code, out, err) = ganesha_ha(node1, &["setup", "--config", &conf]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("nothing to change"), "{out}");
    assert_eq!(epoch(node1), before);

    // An invalid configuration: reported with its line, nothing changes.
    let bad = lab.root_dir().join("bad.conf");
    std::fs::write(
        &bad,
        text.replace("VIP_node3=192.0.2.103/24", "VIP_node3=192.0.2.1033"),
    )
    .unwrap();
    let (code, _, err) = ganesha_ha(node1, &["setup", "--config", &bad.display().to_string()]);
    assert_eq!(code, 1);
    assert!(err.contains(":5: VIP_node3"), "{err}");
    assert_eq!(epoch(node1), before);

    // Teardown: our resources go, the recovery state on the shared volume stays.
    let (code, out, err) = ganesha_ha(node1, &["teardown", "--config", &conf]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The configuration sections (the status section keeps the operation history).
    let section = |scope: &str| {
        let out = node1
            .run("cibadmin", &["--query", "--scope", scope])
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (resources, constraints) = (section("resources"), section("constraints"));
    for id in ["nfs-ganesha-clone", "nfs-grace-clone", "node1-vip"] {
        let configured = resources.contains(&format!("id=\"{id}\""));
        assert!(!configured, "{id} still configured:\n{resources}");
    }
    assert!(
        !constraints.contains("node1-vip-needs-ganesha"),
        "{constraints}"
    );
    let (_, status, _) = ganesha_ha(node1, &["status", "--json"]);
    assert!(status.contains("no VIP resource"), "{status}");
    assert!(lab
        .shared_dir()
        .join("nfs-ganesha/node1/ganesha/v4recov")
        .is_dir());
    let (code, out, _) = ganesha_ha(node1, &["teardown", "--config", &conf]);
    assert_eq!(code, 0);
    assert!(out.contains("nothing to remove"), "{out}");
    lab.down().unwrap_or_else(|e| panic!("{e}"));
}
