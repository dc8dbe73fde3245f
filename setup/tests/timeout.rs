//! `--timeout` bounds a whole command, not each of its steps: with every cluster tool hanging
//! (fakes on PATH that sleep, ssh among them, so nothing leaves this host), `setup`,
//! `teardown`, `add` and `delete` end after about their timeout with a timeout error, long
//! before their steps' own limits (30 s for each cibadmin, crm_mon or file read) add up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use ganesha_testkit::TestCommand;

/// Every program a command runs (locally or, through ssh, on a node).
const TOOLS: [&str; 8] = [
    "crm_mon",
    "cibadmin",
    "crm_resource",
    "crm_attribute",
    "crm_node",
    "corosync-cfgtool",
    "systemctl",
    "ssh",
];

const CONF: &str = "HA_NAME=hang\nHA_CLUSTER_NODES=hang1,hang2,hang3\nVIP_hang1=192.0.2.101\n\
                    VIP_hang2=192.0.2.102\nVIP_hang3=192.0.2.103\nHA_STONITH=off\n";

#[test]
fn the_timeout_bounds_every_step_together() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in TOOLS {
        let path = bin.join(tool);
        std::fs::write(&path, "#!/bin/sh\nexec /bin/sleep 60\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let conf = dir.path().join("ganesha-ha.conf");
    std::fs::write(&conf, CONF).unwrap();
    let c = conf.to_str().unwrap();
    // Every file is written before the first command runs (no executable busy being written).
    let commands: [(&[&str], &str); 4] = [
        (
            &["setup"],
            "ganesha-ha setup: timed out after 3s (--timeout): ",
        ),
        (
            &["teardown"],
            "timed out after 3s (--timeout): reading the live CIB",
        ),
        (
            &["add", "hang4", "192.0.2.104"],
            "ganesha-ha add: timed out after 3s (--timeout): ",
        ),
        (
            &["delete", "hang3"],
            "ganesha-ha delete: timed out after 3s (--timeout): reading the live CIB",
        ),
    ];
    std::thread::scope(|scope| {
        for (args, want) in commands {
            let bin = &bin;
            scope.spawn(move || {
                let ran = TestCommand::program(env!("CARGO_BIN_EXE_ganesha-ha"))
                    .args(args)
                    .args(["--config", c, "--timeout", "3"])
                    .env_clear()
                    .env("PATH", bin)
                    .run();
                ran.expect_code(1).expect_stderr_contains(want);
                let took = ran.elapsed();
                assert!(
                    took >= Duration::from_millis(2900) && took < Duration::from_secs(10),
                    "took {took:?}, its budget was 3 s:\n{ran}"
                );
            });
        }
    });
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), CONF);
}
