//! `ganesha-ha georep` against a fake gluster that records its argv and answers with
//! output recorded from real GlusterFS 10.3 (georep/tests/fixtures).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ganesha_testkit::{Ran, TestCommand};

/// Tests run one at a time: writing an executable while another thread forks can leave
/// it busy (ETXTBSY) when it is run.
static SERIAL: Mutex<()> = Mutex::new(());

const FAKE: &str = r#"#!/bin/sh
d=$(dirname "$0")
echo "$*" >> "$d/calls"
case "$*" in
  *" status detail --xml"*) cat "$d/status.xml" ;;
  *"volume info"*) cat "$d/volinfo.xml" ;;
  *" config --xml"*) cat "$d/config.xml" ;;
  *) cat "$d/ok.xml" ;;
esac
"#;

struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new(status_fixture: &str) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../georep/tests/fixtures");
        for (to, from) in [
            ("status.xml", status_fixture),
            ("volinfo.xml", "volinfo-replica2.xml"),
            ("config.xml", "config-list.xml"),
            ("ok.xml", "config-set.xml"),
        ] {
            std::fs::copy(fixtures.join(from), dir.path().join(to)).unwrap();
        }
        let gluster = dir.path().join("gluster");
        std::fs::write(&gluster, FAKE).unwrap();
        std::fs::set_permissions(&gluster, std::fs::Permissions::from_mode(0o755)).unwrap();
        Fake { dir }
    }

    fn program(&self) -> PathBuf {
        self.dir.path().join("gluster")
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// `ganesha-ha georep --gluster <the fake> args`, run to its end.
    fn run(&self, args: &[&str]) -> Ran {
        TestCommand::program(env!("CARGO_BIN_EXE_ganesha-ha"))
            .arg("georep")
            .arg("--gluster")
            .arg(self.program())
            .args(args)
            .run()
    }
}

const SESSION: [&str; 2] = ["pvol", "192.0.2.102::svol"];

fn with_session<'a>(command: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![command, SESSION[0], SESSION[1]];
    args.extend_from_slice(rest);
    args
}

#[test]
fn invalid_config_is_refused_before_gluster_is_called() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fake = Fake::new("status-replica-active.xml");
    fake.run(&with_session("config", &["sync-job", "3"]))
        .expect_code(3)
        .expect_stderr_contains(
            "unknown geo-replication option \"sync-job\" (did you mean sync-jobs?)",
        );
    for (key, value, says) in [
        ("sync-jobs", "0", "is not in 1..=100"),
        ("use-meta-volume", "maybe", "is not true or false"),
        ("pid_file", "/tmp/x", "reserved"),
        ("use-tarssh", "true", "unknown"),
    ] {
        fake.run(&with_session("config", &[key, value]))
            .expect_code(3)
            .expect_stderr_contains(says);
    }
    fake.run(&["start", "pvol", "host:svol"])
        .expect_code(3)
        .expect_stderr_contains("expected [USER@]HOST::VOLUME");
    assert_eq!(
        fake.calls(),
        Vec::<String>::new(),
        "gluster must not have been called"
    );
    let ran = fake.run(&with_session("config", &["sync_jobs", "5"]));
    ran.expect_code(0)
        .expect_stderr_contains("restarts a running session");
    assert_eq!(ran.stdout().trim(), "sync-jobs = 5", "{ran}");
    assert_eq!(
        fake.calls(),
        vec![
            "--mode=script volume geo-replication pvol 192.0.2.102::svol config sync-jobs 5 --xml"
        ]
    );
}

#[test]
fn status_shows_the_roll_up_and_each_brick() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fake = Fake::new("status-replica-faulty.xml");
    let ran = fake.run(&["status", "pvol", "192.0.2.102::svol"]);
    ran.expect_code(0)
        .expect_stdout_contains("/tmp/grx/p/bricks/b1")
        .expect_stdout_contains("/tmp/grx/p/bricks/b2");
    let out = ran.stdout();
    assert!(
        out.starts_with("pvol -> 192.0.2.102::svol  user root  status FAULTY\n"),
        "{ran}"
    );
    assert_eq!(out.matches("Faulty").count(), 2, "{ran}");
    let ran = fake.run(&["status", "--json"]);
    ran.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(ran.stdout()).unwrap();
    assert_eq!(json[0]["status"], "FAULTY");
    assert_eq!(json[0]["details"][1]["status"], "FAULTY");
    assert_eq!(
        json[0]["primary_volume_id"],
        "e018b672-f055-4f0d-90e0-ffb2263fc3ed"
    );
}

#[test]
fn exists_and_running_answer_with_exit_codes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // A session that shows Created after a start: it exists but does not run.
    let fake = Fake::new("status-replica-created.xml");
    fake.run(&with_session("exists", &[])).expect_code(0);
    let ran = fake.run(&with_session("running", &[]));
    assert_eq!((ran.code(), ran.stdout().trim()), (Some(1), "no"), "{ran}");
    let fake = Fake::new("status-replica-active.xml");
    let ran = fake.run(&with_session("running", &["--json"]));
    assert_eq!(
        (ran.code(), ran.stdout().trim()),
        (Some(0), r#"{"running":true}"#),
        "{ran}"
    );
    // Another secondary of the same volume does not exist.
    fake.run(&["exists", "pvol", "192.0.2.102::other"])
        .expect_code(1);
}

#[test]
fn gluster_failures_exit_4_with_glusters_message() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fake = Fake::new("status-replica-active.xml");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../georep/tests/fixtures");
    std::fs::copy(
        fixtures.join("resume-not-paused.xml"),
        fake.dir.path().join("ok.xml"),
    )
    .unwrap();
    fake.run(&with_session("resume", &[]))
        .expect_code(4)
        .expect_stderr_contains("is not Paused.")
        .expect_stderr_contains("opRet 2");
}
