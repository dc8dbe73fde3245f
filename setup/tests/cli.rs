//! The `ganesha-ha` command line: validate and setup --dry-run (no cluster needed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ganesha_testkit::{Ran, TestCommand};

/// This build's `ganesha-ha args`, run to its end.
fn ganesha_ha(args: &[&str]) -> Ran {
    TestCommand::program(env!("CARGO_BIN_EXE_ganesha-ha"))
        .args(args)
        .run()
}

#[test]
fn an_invalid_configuration_is_reported_by_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ganesha-ha.conf");
    std::fs::write(
        &conf,
        "HA_NAME=ok\nHA_CLUSTER_NODES=a,b\nVIP_a=10.0.2.300\nVIP_b=10.0.2.2\nHA_STONITH=off\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    ganesha_ha(&[
        "setup",
        "--config",
        conf.to_str().unwrap(),
        "--dry-run",
        "--output",
        out.to_str().unwrap(),
    ])
    .expect_code(1)
    .expect_stderr_contains(&format!("{}:3:", conf.display()));
    assert!(
        !out.exists(),
        "nothing may be written for an invalid configuration"
    );
    ganesha_ha(&["validate", "--config", conf.to_str().unwrap()])
        .expect_code(1)
        .expect_stderr_contains("10.0.2.300");
}

#[test]
fn dry_run_writes_a_cib_crm_verify_accepts_and_warns_without_fencing() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ganesha-ha.conf");
    std::fs::write(
        &conf,
        "HA_NAME=lab\nHA_CLUSTER_NODES=node1,node2,node3\nVIP_node1=192.0.2.101\n\
         VIP_node2=192.0.2.102\nVIP_node3=192.0.2.103\nHA_STONITH=off\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    ganesha_ha(&[
        "setup",
        "--config",
        conf.to_str().unwrap(),
        "--dry-run",
        "--output",
        out.to_str().unwrap(),
    ])
    .expect_code(0)
    .expect_stdout_contains("cib.xml")
    .expect_stderr_contains("warning: fencing is disabled");
    TestCommand::program("crm_verify")
        .arg("--xml-file")
        .arg(out.join("cib.xml"))
        .run()
        .expect_success();
}

#[test]
fn add_and_delete_refuse_bad_input_before_touching_the_cluster_or_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ganesha-ha.conf");
    let text = "# cluster A\nHA_NAME=ok\nHA_CLUSTER_NODES=a,b\nVIP_a=10.0.2.1\nVIP_b=10.0.2.2\nHA_STONITH=off\n";
    std::fs::write(&conf, text).unwrap();
    let c = conf.to_str().unwrap();
    for (args, want) in [
        (vec!["add", "c", "10.0.2.300"], "VIP_c"),
        (vec!["add", "c", "10.0.2.1"], "10.0.2.1"),
        (vec!["add", "a", "10.0.2.9"], "already in HA_CLUSTER_NODES"),
        (vec!["delete", "z"], "not in HA_CLUSTER_NODES"),
    ] {
        let mut argv = args.clone();
        argv.extend(["--config", c]);
        ganesha_ha(&argv)
            .expect_code(1)
            .expect_stderr_contains(want);
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), text, "{argv:?}");
    }
    // The invalid VIP is reported with the line the edit would have given it.
    ganesha_ha(&["add", "c", "10.0.2.300", "--config", c])
        .expect_stderr_contains(&format!("{c}:7: VIP_c"));
}
