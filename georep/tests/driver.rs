//! The driver's argv and its handling of gluster's replies, with a recording runner that
//! answers from recorded output (no gluster needed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::time::Duration;

use georep::driver::{parse_rsync_version, rsync_is_broken};
use georep::{
    ConfigError, CreateOptions, Error, Gluster, Output, Runner, Secondary, SessionStatus,
};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Records every argv and answers with the first reply whose needle is in the command line.
#[derive(Default)]
struct Recorder {
    calls: RefCell<Vec<String>>,
    replies: Vec<(&'static str, Output)>,
}

impl Runner for Recorder {
    fn run(&self, argv: &[String], _timeout: Duration) -> Result<Output, Error> {
        let line = argv.join(" ");
        self.calls.borrow_mut().push(line.clone());
        Ok(self
            .replies
            .iter()
            .find(|(needle, _)| line.contains(needle))
            .map(|(_, out)| out.clone())
            .unwrap_or_else(|| ok(&fixture("config-set.xml"))))
    }
}

fn ok(stdout: &str) -> Output {
    Output {
        code: 0,
        stdout: stdout.into(),
        stderr: String::new(),
    }
}

fn gluster(replies: Vec<(&'static str, Output)>) -> Gluster<Recorder> {
    let mut g = Gluster::new(Recorder {
        replies,
        ..Recorder::default()
    });
    g.poll = Duration::from_millis(1);
    g.settle_timeout = Duration::from_millis(50);
    g
}

fn svol() -> Secondary {
    Secondary::parse("192.0.2.102::svol").unwrap()
}

fn calls(g: &Gluster<Recorder>) -> Vec<String> {
    g.runner().calls.borrow().clone()
}

#[test]
fn create_with_push_pem_and_port_stores_the_port_and_waits_for_the_hook() {
    let read_only = fixture("volinfo-replica2.xml").replace(
        "<name>nfs.disable</name>",
        "<name>features.read-only</name>",
    );
    let g = gluster(vec![
        ("--remote-host", ok(&read_only)),
        (
            " create ",
            ok(&fixture("pause-created.xml").replace("geo-replication is not set up", "")),
        ),
    ]);
    let opts = CreateOptions {
        push_pem: true,
        ssh_port: Some(2222),
        ..CreateOptions::default()
    };
    g.create("pvol", &svol(), &opts).unwrap();
    assert_eq!(
        calls(&g),
        vec![
            "gluster --mode=script system:: execute gsec_create",
            "gluster --mode=script volume geo-replication pvol 192.0.2.102::svol create ssh-port 2222 push-pem --xml",
            "gluster --mode=script volume geo-replication pvol 192.0.2.102::svol config ssh-port 2222 --xml",
            "gluster --mode=script --remote-host=192.0.2.102 volume info svol --xml",
        ]
    );
}

#[test]
fn create_times_out_when_push_pem_never_finishes() {
    let g = gluster(vec![(
        "--remote-host",
        ok(&fixture("volinfo-replica2.xml")),
    )]);
    let opts = CreateOptions {
        push_pem: true,
        ..CreateOptions::default()
    };
    let err = g.create("pvol", &svol(), &opts).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(
        err.to_string().contains("features.read-only is unset"),
        "{err}"
    );
}

#[test]
fn invalid_config_is_refused_before_gluster_is_called() {
    let g = gluster(vec![]);
    let s = svol();
    assert!(matches!(
        g.config_set("pvol", &s, "sync-job", "3"),
        Err(Error::Config(ConfigError::UnknownKey { .. }))
    ));
    assert!(matches!(
        g.config_set("pvol", &s, "sync-jobs", "0"),
        Err(Error::Config(ConfigError::InvalidValue { .. }))
    ));
    assert!(matches!(
        g.config_set("pvol", &s, "pid-file", "/x"),
        Err(Error::Config(ConfigError::Reserved(_)))
    ));
    assert!(matches!(
        g.config_reset("pvol", &s, "nosuch"),
        Err(Error::Config(_))
    ));
    assert!(g.config_set("-pvol", &s, "sync-jobs", "3").is_err());
    assert!(calls(&g).is_empty());
    let setting = g.config_set("pvol", &s, "sync_jobs", "4").unwrap();
    assert!(setting.restarts_session);
    g.config_reset("pvol", &s, "log_level").unwrap();
    assert_eq!(
        calls(&g),
        vec![
            "gluster --mode=script volume geo-replication pvol 192.0.2.102::svol config sync-jobs 4 --xml",
            "gluster --mode=script volume geo-replication pvol 192.0.2.102::svol config !log-level --xml",
        ]
    );
}

#[test]
fn actions_build_gluster_argv() {
    let g = gluster(vec![]);
    let geo = Secondary::parse("geo@192.0.2.102::svol").unwrap();
    g.stop("pvol", &geo, true).unwrap();
    g.pause("pvol", &geo, false).unwrap();
    g.resume("pvol", &geo, true).unwrap();
    g.delete("pvol", &geo, true).unwrap();
    let prefix = "gluster --mode=script volume geo-replication pvol geo@192.0.2.102::svol";
    assert_eq!(
        calls(&g),
        [
            "stop force",
            "pause",
            "resume force",
            "delete reset-sync-time"
        ]
        .map(|a| format!("{prefix} {a} --xml"))
    );
}

#[test]
fn gluster_errors_carry_its_message_and_codes() {
    let g = gluster(vec![(" resume", ok(&fixture("resume-not-paused.xml")))]);
    match g.resume("pvol", &svol(), false).unwrap_err() {
        Error::Gluster {
            exit_code,
            op_ret,
            op_errno,
            message,
            ..
        } => {
            assert_eq!((exit_code, op_ret, op_errno), (0, Some(2), Some(30800)));
            assert_eq!(
                message,
                "Geo-replication session between pvol and 192.0.2.102::svol is not Paused."
            );
        }
        other => panic!("{other:?}"),
    }
    // No XML at all (rc 255 without --xml semantics): the message is gluster's stderr.
    let g = gluster(vec![(
        " pause",
        Output {
            code: 255,
            stdout: "geo-replication command failed\n".into(),
            stderr: "Geo-replication session between pvol and 192.0.2.102::svol already Paused.\n"
                .into(),
        },
    )]);
    let err = g.pause("pvol", &svol(), false).unwrap_err();
    assert!(matches!(
        err,
        Error::Gluster {
            exit_code: 255,
            op_ret: None,
            ..
        }
    ));
    assert_eq!(
        err.gluster_message(),
        Some("Geo-replication session between pvol and 192.0.2.102::svol already Paused.")
    );
}

#[test]
fn pausing_a_session_that_never_started_is_noted() {
    let g = gluster(vec![(" pause", ok(&fixture("pause-created.xml")))]);
    let outcome = g.pause("pvol", &svol(), false).unwrap();
    assert_eq!(
        outcome.notes,
        vec!["gluster: geo-replication is not set up".to_owned()]
    );
}

#[test]
fn status_uses_the_volume_layout_and_no_session_is_none() {
    let g = gluster(vec![
        (
            " status detail --xml",
            ok(&fixture("status-replica-active.xml")),
        ),
        (
            "volume info pvol --xml",
            ok(&fixture("volinfo-replica2.xml")),
        ),
    ]);
    let s = g.session("pvol", &svol()).unwrap().unwrap();
    assert_eq!(s.status, SessionStatus::Active);
    assert_eq!(
        s.primary_volume_id.as_deref(),
        Some("e018b672-f055-4f0d-90e0-ffb2263fc3ed")
    );
    assert!(g.running("pvol", &svol()).unwrap());
    // status of a session gluster does not know: rc 2 and no XML, then the plain form.
    let g = gluster(vec![
        (" status detail --xml", Output { code: 2, stdout: "geo-replication command failed\n".into(), stderr: String::new() }),
        (" status detail", Output { code: 1, stdout: "No active geo-replication sessions between pvol and 192.0.2.102::nosuch\ngeo-replication command failed\n".into(), stderr: String::new() }),
    ]);
    assert_eq!(g.session("pvol", &svol()).unwrap(), None);
    assert!(!g.exists("pvol", &svol()).unwrap());
    assert!(!g.running("pvol", &svol()).unwrap());
}

#[test]
fn created_after_start_is_not_running_and_start_says_so() {
    let g = gluster(vec![
        (" config --xml", ok(&fixture("config-list.xml"))),
        (
            " status detail --xml",
            ok(&fixture("status-replica-created.xml")),
        ),
        (
            "volume info pvol --xml",
            ok(&fixture("volinfo-replica2.xml")),
        ),
        (
            " start",
            ok(&fixture("pause-created.xml").replace("geo-replication is not set up", "")),
        ),
    ]);
    assert!(!g.running("pvol", &svol()).unwrap());
    assert!(g.exists("pvol", &svol()).unwrap());
    let err = g.start("pvol", &svol(), false).unwrap_err();
    assert!(err.to_string().contains("still Created"), "{err}");
}

/// The recorded config list is of a tarssh session.
fn rsync_config() -> String {
    fixture("config-list.xml").replace(
        "<sync_method>tarssh</sync_method>",
        "<sync_method>rsync</sync_method>",
    )
}

#[test]
fn broken_rsync_on_the_secondary_switches_to_tarssh() {
    let g = gluster(vec![
        (
            "rsync --version",
            ok("rsync  version 3.5.0  protocol version 32\n"),
        ),
        (" config --xml", ok(&rsync_config())),
    ]);
    g.check_rsync("pvol", &svol()).unwrap();
    let calls = calls(&g);
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("ssh ") && c.ends_with("root@192.0.2.102 rsync --version")),
        "{calls:?}"
    );
    assert_eq!(calls.last().map(String::as_str), Some("gluster --mode=script volume geo-replication pvol 192.0.2.102::svol config sync-method tarssh --xml"));
    let mut g = gluster(vec![
        (
            "rsync --version",
            ok("rsync  version 3.5.0  protocol version 32\n"),
        ),
        (" config --xml", ok(&rsync_config())),
    ]);
    g.rsync_policy = georep::RsyncPolicy::Refuse;
    assert!(matches!(
        g.check_rsync("pvol", &svol()),
        Err(Error::BrokenRsync(_))
    ));
    assert_eq!(
        parse_rsync_version("rsync  version 3.2.7  protocol version 31"),
        Some((3, 2, 7))
    );
    assert!(!rsync_is_broken((3, 2, 7)));
    assert!(rsync_is_broken((3, 5, 0)));
}

#[test]
fn volume_get_reads_the_effective_value_and_set_sends_argv() {
    let g = gluster(vec![
        (" get data ", ok(&fixture("volget-read-only-off.xml"))),
        (" set data ", ok(&fixture("volset-ok.xml"))),
        (" info data ", ok(&fixture("volinfo-single-stopped.xml"))),
    ]);
    assert_eq!(g.volume_get("data", "features.read-only").unwrap(), "off");
    g.volume_set("data", "features.read-only", "on").unwrap();
    assert!(!g.volume_started("data").unwrap());
    assert_eq!(
        calls(&g),
        vec![
            "gluster --mode=script volume get data features.read-only --xml",
            "gluster --mode=script volume set data features.read-only on --xml",
            "gluster --mode=script volume info data --xml",
        ]
    );
    let on = gluster(vec![(" get ", ok(&fixture("volget-read-only-on.xml")))]);
    assert_eq!(on.volume_get("data", "features.read-only").unwrap(), "on");
    let started = gluster(vec![(" info ", ok(&fixture("volinfo-single-started.xml")))]);
    assert!(started.volume_started("data").unwrap());
}

#[test]
fn volume_errors_are_classified() {
    let missing = Output {
        code: 1,
        ..ok(&fixture("volget-no-such-volume.xml"))
    };
    let g = gluster(vec![
        (" get ", missing),
        (" set ", ok(&fixture("volset-busy.xml"))),
    ]);
    let err = g.volume_get("nosuch", "features.read-only").unwrap_err();
    assert!(err.is_no_such_volume() && !err.is_busy(), "{err}");
    let err = g
        .volume_set("data", "features.read-only", "on")
        .unwrap_err();
    assert!(err.is_busy() && !err.is_no_such_volume(), "{err}");
    let set_missing = gluster(vec![(" set ", ok(&fixture("volset-no-such-volume.xml")))]);
    let err = set_missing
        .volume_set("nosuch", "features.read-only", "on")
        .unwrap_err();
    assert!(err.is_no_such_volume(), "{err}");
    let down = gluster(vec![(
        " get ",
        Output {
            code: 1,
            stdout: "Connection failed. Please check if gluster daemon is operational.\n".into(),
            stderr: String::new(),
        },
    )]);
    let err = down.volume_get("data", "features.read-only").unwrap_err();
    assert!(err.is_no_answer() && !err.is_no_such_volume(), "{err}");
    assert!(g.volume_get("-x", "features.read-only").is_err());
}
