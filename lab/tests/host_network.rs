//! The lab never touches the host's network: its links, addresses, routes, policy rules and
//! forwarding are the same before `up`, while the lab runs (also while a node is isolated) and
//! after `down`. Every lab interface lives in a namespace the lab created.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use ganesha_lab::{FailMode, Lab, LabOptions};

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
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
    let before = util::host_network();
    let lab = Lab::up(LabOptions {
        nodes: 2,
        ..LabOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_same(&before, &util::host_network(), "while the lab is up");

    lab.node(0)
        .fail(FailMode::Isolate)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_same(&before, &util::host_network(), "while a node is isolated");
    lab.node(0).heal().unwrap_or_else(|e| panic!("{e}"));

    lab.down().unwrap_or_else(|e| panic!("{e}"));
    assert_same(&before, &util::host_network(), "after down");
}
