//! Time from `ganesha-ha setup` on an already formed 4-node lab cluster to every resource
//! started, beside the design's reference (15-30 s for Corosync/Pacemaker setup on four
//! nodes); cluster formation (the lab's `up`) reported separately. Then the same from bare
//! nodes: `ganesha-ha setup` forming the cluster itself (corosync.conf and authkey
//! distributed, stacks started, quorum and a DC), reported as formation and the rest.
//! `cargo bench -p ganesha-e2e --bench setup` (root; build the workspace first:
//! `cargo build --release --workspace`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ganesha_e2e::lab::{bare_lab_with_agents, ganesha_ha, is_root, lab_with_agents};

const RUNS: usize = 3;

fn main() {
    if is_root() {
        run();
    } else {
        eprintln!("setup bench: needs root (it builds clusters in namespaces); skipped");
    }
}

fn run() {
    let (mut forms, mut setups) = (Vec::new(), Vec::new());
    let (mut bare_forms, mut bare_totals) = (Vec::new(), Vec::new());
    for run in 1..=RUNS {
        let lab = lab_with_agents(4);
        let mut conf = String::from(
            "HA_NAME=lab\nHA_CLUSTER_NODES=node1,node2,node3,node4\nHA_VIP_NIC=eth0\n",
        );
        for i in 1..=4 {
            conf.push_str(&format!("VIP_node{i}=192.0.2.{}/24\n", 100 + i));
        }
        conf.push_str(&format!(
            "HA_FENCE_lab-fencing=\"fence_ganesha_lab state_file={} pcmk_host_list=node1,node2,node3,node4\"\nHA_STATE_MOUNT={}\n",
            lab.state_file().display(),
            lab.shared_dir().display()
        ));
        let file = lab.root_dir().join("ganesha-ha.conf");
        std::fs::write(&file, conf).unwrap();
        let t = Instant::now();
        let setup = ganesha_ha(
            lab.node(0),
            &["setup", "--config", &file.display().to_string()],
        );
        let took = t.elapsed();
        setup.expect_success();
        println!(
            "run {run}: cluster formed in {:.1?}, setup to every resource started {took:.1?}",
            lab.startup_time()
        );
        forms.push(lab.startup_time());
        setups.push(took);
        lab.down().unwrap_or_else(|e| panic!("{e}"));

        let lab = bare_lab_with_agents(4);
        let mut conf = String::from(
            "HA_NAME=lab\nHA_CLUSTER_NODES=node1,node2,node3,node4\nHA_VIP_NIC=eth0\n",
        );
        for i in 1..=4 {
            conf.push_str(&format!(
                "VIP_node{i}=192.0.2.{}/24\nHA_NODE_ADDR_node{i}=192.0.2.{}\n",
                100 + i,
                10 + i
            ));
        }
        conf.push_str(&format!(
            "HA_FENCE_lab-fencing=\"fence_ganesha_lab state_file={sf}\"\nHA_STATE_MOUNT={}\n\
             HA_TRANSPORT=lab:{sf}\n",
            lab.shared_dir().display(),
            sf = lab.state_file().display(),
        ));
        let file = lab.root_dir().join("ganesha-ha.conf");
        std::fs::write(&file, conf).unwrap();
        let t = Instant::now();
        let setup = ganesha_ha(
            lab.node(0),
            &["setup", "--config", &file.display().to_string()],
        );
        let total = t.elapsed();
        setup.expect_success();
        // "[  5.6s] cluster formed: ..."
        let formed = setup
            .stdout()
            .lines()
            .find(|l| l.contains("cluster formed"))
            .and_then(|l| l.trim_start_matches('[').split('s').next())
            .and_then(|n| n.trim().parse::<f64>().ok())
            .map(Duration::from_secs_f64)
            .unwrap();
        println!("run {run}: bare nodes: cluster formed by setup in {formed:.1?}, every resource started {total:.1?}");
        bare_forms.push(formed);
        bare_totals.push(total);
        lab.down().unwrap_or_else(|e| panic!("{e}"));
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!("\n| 4 nodes | median | reference | target |");
    println!("|---|---|---|---|");
    println!("| ganesha-ha setup on a formed cluster → every resource started | {:.1?} | 15-30 s (Corosync/Pacemaker setup, 4 nodes) | ≤ 8 s |", median(&mut setups));
    println!(
        "| cluster formation (lab up: corosync, pacemaker, quorum, DC, fencing) | {:.1?} | | |",
        median(&mut forms)
    );
    println!(
        "| ganesha-ha setup on bare nodes: cluster formed (files, stacks, quorum, DC) | {:.1?} | | |",
        median(&mut bare_forms)
    );
    println!(
        "| ganesha-ha setup on bare nodes: total to every resource started | {:.1?} | 15-30 s | |",
        median(&mut bare_totals)
    );
}
