//! The `ganesha-ha` command line: validate and setup --dry-run (no cluster needed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn ganesha_ha(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ganesha-ha"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
    let (code, _, err) = ganesha_ha(&[
        "setup",
        "--config",
        conf.to_str().unwrap(),
        "--dry-run",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{}:3:", conf.display())), "{err}");
    assert!(
        !out.exists(),
        "nothing may be written for an invalid configuration"
    );
    let (code, _, err) = ganesha_ha(&["validate", "--config", conf.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("10.0.2.300"), "{err}");
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
    let (code, stdout, err) = ganesha_ha(&[
        "setup",
        "--config",
        conf.to_str().unwrap(),
        "--dry-run",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("cib.xml"));
    assert!(err.contains("warning: fencing is disabled"), "{err}");
    let verify = Command::new("crm_verify")
        .arg("--xml-file")
        .arg(out.join("cib.xml"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
