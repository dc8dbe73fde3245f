//! `ganesha-ha georep` against a fake gluster that records its argv and answers with
//! output recorded from real GlusterFS 10.3 (georep/tests/fixtures).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

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

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_ganesha-ha"))
            .arg("georep")
            .arg("--gluster")
            .arg(self.program())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
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
    let (code, _, err) = fake.run(&with_session("config", &["sync-job", "3"]));
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("unknown geo-replication option \"sync-job\" (did you mean sync-jobs?)"),
        "{err}"
    );
    for (key, value, says) in [
        ("sync-jobs", "0", "is not in 1..=100"),
        ("use-meta-volume", "maybe", "is not true or false"),
        ("pid_file", "/tmp/x", "reserved"),
        ("use-tarssh", "true", "unknown"),
    ] {
        let (code, _, err) = fake.run(&with_session("config", &[key, value]));
        assert_eq!(code, 3, "{key}: {err}");
        assert!(err.contains(says), "{key}: {err}");
    }
    let (code, _, err) = fake.run(&["start", "pvol", "host:svol"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("expected [USER@]HOST::VOLUME"), "{err}");
    assert_eq!(
        fake.calls(),
        Vec::<String>::new(),
        "gluster must not have been called"
    );
    let (code, out, err) = fake.run(&with_session("config", &["sync_jobs", "5"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "sync-jobs = 5");
    assert!(err.contains("restarts a running session"), "{err}");
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
    let (code, out, err) = fake.run(&["status", "pvol", "192.0.2.102::svol"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("pvol -> 192.0.2.102::svol  user root  status FAULTY\n"),
        "{out}"
    );
    assert!(out.contains("/tmp/grx/p/bricks/b1"), "{out}");
    assert!(out.contains("/tmp/grx/p/bricks/b2"), "{out}");
    assert_eq!(out.matches("Faulty").count(), 2, "{out}");
    let (code, out, _) = fake.run(&["status", "--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
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
    assert_eq!(fake.run(&with_session("exists", &[])).0, 0);
    let (code, out, _) = fake.run(&with_session("running", &[]));
    assert_eq!((code, out.trim()), (1, "no"));
    let fake = Fake::new("status-replica-active.xml");
    let (code, out, _) = fake.run(&with_session("running", &["--json"]));
    assert_eq!((code, out.trim()), (0, r#"{"running":true}"#));
    // Another secondary of the same volume does not exist.
    assert_eq!(fake.run(&["exists", "pvol", "192.0.2.102::other"]).0, 1);
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
    let (code, _, err) = fake.run(&with_session("resume", &[]));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("is not Paused."), "{err}");
    assert!(err.contains("opRet 2"), "{err}");
}
