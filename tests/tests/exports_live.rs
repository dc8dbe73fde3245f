//! `ganesha-ha export add|list|remove` and `refresh-config` on a 3-node lab with ganesha
//! running in every node: an export appears on every node at once (D-Bus AddExport), gets
//! a unique Export_Id, changes made to its file reach every node with refresh-config
//! (UpdateExport), each node's failure is reported on its own, and remove takes it away
//! everywhere. Root; CI runs as root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ganesha_e2e::lab::{ganesha_ha, in_node, lab_with_agents};
use ganesha_lab::{FailMode, Lab};
use ganesha_testkit::Ran;

const NODES: [&str; 3] = ["192.0.2.11", "192.0.2.12", "192.0.2.13"];

fn read(lab: &Lab, server: &str) -> Option<String> {
    let url = format!("nfs://{server}/data2/f.txt?version=4");
    in_node(lab.node(1), "nfs-cat")
        .arg(&url)
        .timeout(Duration::from_secs(5))
        .try_run()
        .ok()
        .filter(Ran::success)
        .map(|r| r.stdout().to_owned())
}

/// Waits (at most 40 s: a daemon may still be in its start-up grace period) until every
/// node serves the export (`true`) or none does (`false`).
fn wait_all(lab: &Lab, serving: bool) {
    let t = Instant::now();
    loop {
        let now: Vec<bool> = NODES
            .iter()
            .map(|n| read(lab, n).is_some_and(|c| c == "two\n"))
            .collect();
        if now.iter().all(|&s| s == serving) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "want serving={serving}, nodes serve: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn exports_are_added_refreshed_and_removed_on_every_node() {
    let lab = lab_with_agents(3);
    let data = lab.shared_dir().join("data2");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("f.txt"), "two\n").unwrap();
    let conf = lab.root_dir().join("ganesha-ha.conf");
    std::fs::write(
        &conf,
        format!(
            "HA_NAME=lab\nHA_CLUSTER_NODES=node1,node2,node3\nVIP_node1=192.0.2.101\n\
             VIP_node2=192.0.2.102\nVIP_node3=192.0.2.103\nHA_STONITH=off\n\
             HA_STATE_MOUNT={}\nHA_TRANSPORT=lab:{}\n",
            lab.shared_dir().display(),
            lab.state_file().display()
        ),
    )
    .unwrap();
    let conf = conf.display().to_string();
    let node1 = lab.node(0);
    let data = data.display().to_string();

    let added = ganesha_ha(
        node1,
        &[
            "export", "add", "data2", "--path", &data, "--pseudo", "/data2", "--config", &conf,
        ],
    );
    added.expect_success();
    assert_eq!(added.stdout().matches(": ok").count(), 3, "{added}");
    assert!(
        added.stdout().contains("(Export_Id 2)"),
        "the lab's own export has id 1: {added}"
    );
    wait_all(&lab, true);
    for n in lab.nodes() {
        let text = n.read_file("/etc/ganesha/ganesha.conf").unwrap();
        assert!(text.contains("%include"), "{}: {text}", n.name());
    }

    let listed = ganesha_ha(node1, &["export", "list", "--json", "--config", &conf]);
    listed.expect_code(0);
    let list: serde_json::Value = serde_json::from_str(listed.stdout()).unwrap();
    assert_eq!(list[0]["name"], "data2");
    assert_eq!(list[0]["id"], 2);
    for (args, want) in [
        (vec!["data2", "--path", "/srv"], "exists already"),
        (vec!["other", "--path", "/srv", "--id", "1"], "in use"),
        (vec!["other", "--path", "/srv\";}"], "cannot go into"),
    ] {
        let mut argv = vec!["export", "add"];
        argv.extend(args);
        argv.extend(["--config", &conf]);
        ganesha_ha(node1, &argv)
            .expect_code(1)
            .expect_stderr_contains(want);
    }

    // A change to the export's file reaches every node with refresh-config.
    let file = lab
        .shared_dir()
        .join("nfs-ganesha/exports/export.data2.conf");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("Access_Type = RW;", "Access_Type = None;"),
    )
    .unwrap();
    let refreshed = ganesha_ha(node1, &["refresh-config", "data2", "--config", &conf]);
    refreshed.expect_success();
    assert_eq!(
        refreshed.stdout().matches("UpdateExport: ok").count(),
        3,
        "{refreshed}"
    );
    wait_all(&lab, false);
    std::fs::write(&file, &text).unwrap();
    ganesha_ha(node1, &["refresh-config", "2", "--config", &conf]).expect_code(0);
    wait_all(&lab, true);

    // A node whose ganesha is down fails on its own; the others succeed.
    lab.node(2).fail(FailMode::KillGanesha).unwrap();
    let refreshed = ganesha_ha(
        node1,
        &["refresh-config", "data2", "--json", "--config", &conf],
    );
    refreshed.expect_code(1);
    let results: serde_json::Value = serde_json::from_str(refreshed.stdout()).unwrap();
    let ok: Vec<(String, bool)> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["node"].as_str().unwrap().to_owned(),
                r["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ok,
        [
            ("node1".to_owned(), true),
            ("node2".to_owned(), true),
            ("node3".to_owned(), false)
        ]
    );
    lab.node(2).heal().unwrap();
    // Remove reaches all three once the restarted daemon is on the bus again.
    let t = Instant::now();
    while !in_node(lab.node(2), "dbus-send")
        .args([
            "--system",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.ganesha.nfsd",
        ])
        .run()
        .stdout()
        .contains("boolean true")
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "node3's ganesha is not back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    ganesha_ha(node1, &["export", "remove", "data2", "--config", &conf]).expect_success();
    wait_all(&lab, false);
    assert!(!file.exists());
    for n in lab.nodes() {
        let text = n.read_file("/etc/ganesha/ganesha.conf").unwrap();
        assert!(!text.contains("%include"), "{}: {text}", n.name());
    }
    lab.down().unwrap_or_else(|e| panic!("{e}"));
}
