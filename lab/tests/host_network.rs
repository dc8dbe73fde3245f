//! The lab never touches the host's network: its links, addresses, routes, policy rules and
//! forwarding are the same before `up`, while the lab runs (also while a node is isolated) and
//! after `down`. Every lab interface lives in a namespace the lab created.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ganesha_lab::{FailMode, Lab, LabOptions};
use ganesha_testkit::TestCommand;

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// What the host's network looks like, as `ip` and `/proc` tell it.
fn host_network() -> String {
    let views: [&[&str]; 5] = [
        &["-o", "link", "show"],
        &["-o", "addr", "show"],
        &["route", "show", "table", "all"],
        &["-6", "route", "show", "table", "all"],
        &["rule", "show"],
    ];
    let mut all = String::new();
    for args in views {
        let ran = TestCommand::program("ip")
            .args(args)
            .timeout(Duration::from_secs(10))
            .run();
        ran.expect_success();
        all.push_str(&format!("$ ip {}\n", args.join(" ")));
        all.push_str(ran.stdout());
    }
    for knob in ["ipv4/ip_forward", "ipv4/conf/all/forwarding"] {
        let value = std::fs::read_to_string(format!("/proc/sys/net/{knob}")).unwrap_or_default();
        all.push_str(&format!("{knob} = {value}"));
    }
    all
}

fn assert_same(before: &str, now: &str, when: &str) {
    let changed: Vec<_> = now
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .chain(before.lines().filter(|b| !now.lines().any(|l| l == *b)))
        .collect();
    assert!(
        changed.is_empty(),
        "the host's network changed {when}:\n{}\n--- before:\n{before}\n--- now:\n{now}",
        changed.join("\n")
    );
}

#[test]
fn a_lab_leaves_the_hosts_network_as_it_was() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let before = host_network();
    let lab = Lab::up(LabOptions {
        nodes: 2,
        ..LabOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_same(&before, &host_network(), "while the lab is up");

    lab.node(0)
        .fail(FailMode::Isolate)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_same(&before, &host_network(), "while a node is isolated");
    lab.node(0).heal().unwrap_or_else(|e| panic!("{e}"));

    lab.down().unwrap_or_else(|e| panic!("{e}"));
    assert_same(&before, &host_network(), "after down");
}
