//! `georep_monitor`'s actions over a scripted gluster (recorded replies in
//! `agents/tests/fixtures/`), with recorded node attributes, promotion score and geostore.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use ganesha_agents::georep_monitor::gluster::Retry;
use ganesha_agents::georep_monitor::params::Config;
use ganesha_agents::georep_monitor::publish::{parse_gluster_time, Geostore, Report};
use ganesha_agents::georep_monitor::role::{Role, State};
use ganesha_agents::georep_monitor::score::Promotion;
use ganesha_agents::georep_monitor::{demote, monitor, promote, start, stop, Tools};
use ganesha_agents::names::{
    georep_checkpoint_attr, georep_handover_attr, georep_lag_attr, georep_status_attr, LAST_SYNCED,
    REPL_STATE,
};
use georep::{Error, Gluster, Output, Runner, Secondary};
use ocf::attrs::{AttrCall, NodeAttributes, RecordingAttributes};
use ocf::{Deadline, ExitCode, OcfError};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn ok(name: &str) -> Output {
    Output {
        code: 0,
        stdout: fixture(name),
        stderr: String::new(),
    }
}

/// `volume get pvol OPTION` answering `value`, from the recorded `features.read-only` reply.
fn option_reply(option: &str, value: &str) -> Output {
    let mut out = ok("volget-read-only-off.xml");
    out.stdout = out
        .stdout
        .replace("features.read-only", option)
        .replace("off (DEFAULT)", value);
    out
}

/// glusterd down: the CLI prints this and no XML.
fn down() -> Output {
    Output {
        code: 1,
        stdout: "Connection failed. Please check if gluster daemon is operational.\n".into(),
        stderr: String::new(),
    }
}

/// "No active geo-replication sessions" (status with and without --xml).
fn no_session() -> Output {
    Output {
        code: 1,
        stdout: "No active geo-replication sessions between pvol and 192.0.2.102::svol\ngeo-replication command failed\n".into(),
        stderr: String::new(),
    }
}

/// Answers each command line with the replies of the first rule whose needle it contains,
/// in order (the last one repeats), and records every line.
#[derive(Default)]
struct Script {
    calls: RefCell<Vec<String>>,
    rules: RefCell<Vec<(String, VecDeque<Output>)>>,
}

impl Script {
    fn on(self, needle: &str, replies: Vec<Output>) -> Script {
        self.rules
            .borrow_mut()
            .push((needle.to_owned(), replies.into()));
        self
    }
}

impl Runner for Script {
    fn run(&self, argv: &[String], _: Duration) -> Result<Output, Error> {
        let line = argv.join(" ");
        self.calls.borrow_mut().push(line.clone());
        let mut rules = self.rules.borrow_mut();
        let Some((_, replies)) = rules.iter_mut().find(|(n, _)| line.contains(n.as_str())) else {
            panic!("unscripted call: {line}");
        };
        let reply = if replies.len() > 1 {
            replies.pop_front()
        } else {
            replies.front().cloned()
        };
        Ok(reply.unwrap_or_else(|| panic!("no reply for {line}")))
    }
}

#[derive(Default)]
struct Score {
    calls: RefCell<Vec<String>>,
    fail: bool,
}

impl Promotion for Score {
    fn set(&self, score: u32, _: Deadline) -> Result<(), OcfError> {
        self.calls.borrow_mut().push(format!("set {score}"));
        if self.fail {
            return Err(OcfError::generic("crm_attribute failed"));
        }
        Ok(())
    }
    fn clear(&self, _: Deadline) -> Result<(), OcfError> {
        self.calls.borrow_mut().push("clear".into());
        Ok(())
    }
}

#[derive(Default)]
struct Store {
    calls: RefCell<Vec<String>>,
    fail: bool,
}

impl Geostore for Store {
    fn set(&self, t: &str, s: &str, n: &str, v: &str, _: Deadline) -> Result<(), OcfError> {
        self.calls.borrow_mut().push(format!("{t} {s} {n} {v}"));
        if self.fail {
            return Err(OcfError::generic("geostore: connect failed"));
        }
        Ok(())
    }
}

struct Rig {
    gluster: Gluster<Script>,
    attrs: RecordingAttributes,
    lag: RecordingAttributes,
    score: Score,
    store: Store,
    dir: tempfile::TempDir,
    cfg: Config,
    now: u64,
    budget: Duration,
}

fn cfg() -> Config {
    Config {
        volume: "pvol".into(),
        secondary: Secondary::parse("192.0.2.102::svol").unwrap(),
        ssh_port: 22,
        max_lag: Duration::from_secs(300),
        ticket: "ticket-pvol".into(),
        booth_conf: PathBuf::from("/etc/booth/booth.conf"),
        other_site: Some("192.0.2.222".into()),
    }
}

/// 10 s after the replica fixtures' last sync.
fn fresh() -> u64 {
    parse_gluster_time("2026-11-21 07:56:21").unwrap()
}

impl Rig {
    fn new(script: Script) -> Rig {
        let mut gluster = Gluster::new(script);
        gluster.poll = Duration::from_millis(1);
        gluster.settle_timeout = Duration::from_millis(20);
        Rig {
            gluster,
            attrs: RecordingAttributes::default(),
            lag: RecordingAttributes::default(),
            score: Score::default(),
            store: Store::default(),
            dir: tempfile::tempdir().unwrap(),
            cfg: cfg(),
            now: fresh(),
            budget: Duration::from_secs(5),
        }
    }

    fn tools(&self) -> Tools<'_, Script> {
        Tools {
            gluster: &self.gluster,
            attrs: &self.attrs,
            lag_attrs: &self.lag,
            promotion: &self.score,
            geostore: &self.store,
            retry: Retry {
                deadline: Deadline::after(self.budget),
                pause: Duration::from_millis(1),
            },
            now: self.now,
        }
    }

    fn state_file(&self) -> PathBuf {
        self.dir.path().join("georep_monitor-test.state")
    }

    fn state(&self) -> Option<State> {
        State::load(&self.state_file()).unwrap()
    }

    fn set_role(&self, role: Role) {
        State::new(role).save(&self.state_file()).unwrap();
    }

    fn monitor(&self) -> Result<ExitCode, OcfError> {
        monitor(&self.cfg, &self.state_file(), &self.tools())
    }

    fn calls(&self) -> Vec<String> {
        self.gluster
            .runner()
            .calls
            .borrow()
            .iter()
            .map(|c| c.trim_start_matches("gluster --mode=script ").to_owned())
            .collect()
    }
}

const INFO: &str = "volume info pvol";
const GET_RO: &str = "volume get pvol features.read-only";
const SET_RO: &str = "volume set pvol features.read-only";
const STATUS: &str = "volume geo-replication pvol 192.0.2.102::svol status detail";

/// A started volume `pvol` whose read-only flag answers `read_only`, and whose session
/// status is `status` (a fixture name, or `None`: no session).
fn volume(read_only: &str, status: Option<&str>) -> Script {
    let s = Script::default()
        .on(INFO, vec![ok("volinfo-replica2.xml")])
        .on(GET_RO, vec![ok(read_only)])
        .on(" volume set ", vec![ok("volset-ok.xml")])
        .on(
            " get pvol geo-replication.indexing",
            vec![ok("volget-indexing-on.xml")],
        )
        .on(
            " volume get pvol ",
            vec![option_reply("changelog.changelog", "on")],
        );
    match status {
        Some(name) => s.on(STATUS, vec![ok(name)]),
        None => s.on(STATUS, vec![no_session()]),
    }
}

#[test]
fn monitor_without_a_state_file_is_not_running() {
    let rig = Rig::new(Script::default());
    let err = rig.monitor().unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::NotRunning);
    assert!(rig.calls().is_empty(), "{:?}", rig.calls());
}

#[test]
fn start_makes_the_volume_read_only_and_stops_a_running_session() {
    let rig = Rig::new(
        volume(
            "volget-read-only-off.xml",
            Some("status-replica-active.xml"),
        )
        .on(" stop force", vec![ok("volset-ok.xml")]),
    );
    start(&rig.cfg, &rig.state_file(), &rig.tools()).unwrap();
    let calls = rig.calls();
    assert_eq!(
        calls[..4],
        [
            "volume info pvol --xml",
            "volume get pvol features.read-only --xml",
            "volume get pvol features.read-only --xml",
            "volume set pvol features.read-only on --xml",
        ]
    );
    assert_eq!(calls[4], format!("{STATUS} --xml"));
    assert_eq!(
        calls.last().unwrap(),
        "volume geo-replication pvol 192.0.2.102::svol stop force --xml"
    );
    let state = rig.state().unwrap();
    assert_eq!(state.role, Role::Unpromoted);
    assert!(state.score_set);
    assert_eq!(*rig.score.calls.borrow(), ["set 100"]);
}

#[test]
fn start_changes_nothing_that_is_already_converged() {
    let rig = Rig::new(volume(
        "volget-read-only-on.xml",
        Some("status-replica-stopped.xml"),
    ));
    start(&rig.cfg, &rig.state_file(), &rig.tools()).unwrap();
    let calls = rig.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.contains(" set ") || c.contains(" stop")),
        "{calls:?}"
    );
    assert_eq!(rig.monitor().unwrap(), ExitCode::Success);
}

#[test]
fn promote_opens_the_volume_enables_indexing_and_starts_a_stopped_session() {
    let rig = Rig::new(
        Script::default()
            .on(GET_RO, vec![ok("volget-read-only-on.xml")])
            .on(
                " get pvol geo-replication.indexing",
                vec![option_reply("geo-replication.indexing", "off")],
            )
            .on(
                " volume get pvol ",
                vec![option_reply("changelog.changelog", "off")],
            )
            .on(" volume set ", vec![ok("volset-ok.xml")])
            .on(" config --xml", vec![ok("config-list.xml")])
            .on(" start --xml", vec![ok("volset-ok.xml")])
            .on(INFO, vec![ok("volinfo-replica2.xml")])
            .on(
                STATUS,
                vec![
                    ok("status-replica-stopped.xml"),
                    ok("status-replica-active.xml"),
                ],
            ),
    );
    rig.set_role(Role::Unpromoted);
    promote(&rig.cfg, &rig.state_file(), &rig.tools()).unwrap();
    let calls = rig.calls();
    let sets: Vec<&String> = calls.iter().filter(|c| c.contains(" set ")).collect();
    assert_eq!(
        sets,
        [
            "volume set pvol features.read-only off --xml",
            "volume set pvol geo-replication.indexing on --xml",
            "volume set pvol changelog.changelog on --xml",
        ]
    );
    assert!(
        calls.contains(&"volume geo-replication pvol 192.0.2.102::svol start --xml".to_owned()),
        "{calls:?}"
    );
    assert_eq!(rig.state().unwrap().role, Role::Promoted);
}

#[test]
fn demote_closes_the_volume_before_it_stops_the_session() {
    let rig = Rig::new(
        volume(
            "volget-read-only-off.xml",
            Some("status-replica-active.xml"),
        )
        .on(" stop force", vec![ok("volset-ok.xml")]),
    );
    rig.set_role(Role::Promoted);
    demote(&rig.cfg, &rig.state_file(), &rig.tools()).unwrap();
    let calls = rig.calls();
    let set = calls.iter().position(|c| c.contains(SET_RO)).unwrap();
    let stop = calls
        .iter()
        .position(|c| c.contains(" stop force"))
        .unwrap();
    assert!(set < stop, "{calls:?}");
    assert_eq!(rig.state().unwrap().role, Role::Unpromoted);
    assert!(rig
        .attrs
        .calls()
        .contains(&AttrCall::Delete(georep_status_attr("pvol"))));
}

#[test]
fn stop_forgets_the_role_and_touches_no_volume() {
    let rig = Rig::new(Script::default());
    rig.set_role(Role::Promoted);
    stop(&rig.cfg, &rig.state_file(), &rig.tools()).unwrap();
    assert!(rig.calls().is_empty());
    assert!(rig.state().is_none());
    assert_eq!(*rig.score.calls.borrow(), ["clear"]);
    stop(&rig.cfg, &rig.state_file(), &rig.tools()).unwrap();
}

#[test]
fn promoted_monitor_publishes_attributes_and_repl_state_once() {
    let rig = Rig::new(volume(
        "volget-read-only-off.xml",
        Some("status-replica-active.xml"),
    ));
    rig.set_role(Role::Promoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::RunningPromoted);
    assert_eq!(
        rig.attrs.value(&georep_status_attr("pvol")).unwrap(),
        "ACTIVE"
    );
    assert_eq!(rig.lag.value(&georep_lag_attr("pvol")).unwrap(), "10");
    assert_eq!(
        rig.attrs.value(&georep_checkpoint_attr("pvol")).unwrap(),
        "none"
    );
    let synced = parse_gluster_time("2026-11-21 07:56:11").unwrap();
    assert_eq!(
        *rig.store.calls.borrow(),
        [
            format!("ticket-pvol 192.0.2.222 {REPL_STATE} ACTIVE"),
            format!("ticket-pvol 192.0.2.222 {LAST_SYNCED} {synced}"),
        ]
    );
    assert_eq!(*rig.score.calls.borrow(), ["set 100"]);
    // Nothing changed: nothing written again.
    rig.attrs.clear_calls();
    rig.lag.clear_calls();
    assert_eq!(rig.monitor().unwrap(), ExitCode::RunningPromoted);
    assert!(rig.attrs.calls().is_empty() && rig.lag.calls().is_empty());
    assert_eq!(rig.store.calls.borrow().len(), 2);
    assert_eq!(rig.score.calls.borrow().len(), 1);
}

#[test]
fn active_but_behind_max_lag_is_stale() {
    let mut rig = Rig::new(volume(
        "volget-read-only-off.xml",
        Some("status-replica-active.xml"),
    ));
    rig.now = fresh() + 600;
    rig.set_role(Role::Promoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::RunningPromoted);
    assert_eq!(
        rig.attrs.value(&georep_status_attr("pvol")).unwrap(),
        "ACTIVE"
    );
    assert_eq!(rig.lag.value(&georep_lag_attr("pvol")).unwrap(), "610");
    assert_eq!(
        rig.store.calls.borrow()[0],
        format!("ticket-pvol 192.0.2.222 {REPL_STATE} STALE")
    );
}

#[test]
fn every_roll_up_state_gives_its_attributes_and_repl_state() {
    let layout = georep::xml::parse_volume_info(&fixture("volinfo-replica2.xml"), "pvol")
        .unwrap()
        .0;
    let layouts = [("pvol".to_string(), layout)].into_iter().collect();
    let cases = [
        ("status-replica-active.xml", "ACTIVE", "ACTIVE"),
        ("status-replica-faulty.xml", "FAULTY", "FAULTY"),
        ("status-replica-paused.xml", "PAUSED", "PAUSED"),
        ("status-replica-stopped.xml", "STOPPED", "STOPPED"),
        ("status-replica-created.xml", "CREATED", "CREATED"),
        (
            "status-replica-initializing.xml",
            "INITIALIZING",
            "INITIALIZING",
        ),
    ];
    for (name, status, repl) in cases {
        let sessions = georep::xml::parse_status(&fixture(name), &layouts).unwrap();
        let r = Report::of(sessions.first(), fresh(), Duration::from_secs(300));
        assert_eq!(
            (r.status.as_str(), r.repl_state.as_str()),
            (status, repl),
            "{name}"
        );
        // The lag is how old the oldest worker's last sync is, in any state that has one
        // (a stopped session's copy still has its age); an Active session always has one.
        if status == "ACTIVE" {
            assert!(r.lag.is_some(), "{name}: {r:?}");
        }
    }
    let none = Report::of(None, fresh(), Duration::from_secs(300));
    assert_eq!(
        (none.status.as_str(), none.repl_state.as_str()),
        ("NONE", "NONE")
    );
    // A checkpoint that is set shows as completed or pending.
    let single = georep::xml::parse_status(
        &fixture("status-single-active-checkpoint.xml"),
        &Default::default(),
    )
    .unwrap();
    let r = Report::of(single.first(), fresh(), Duration::from_secs(300));
    assert!(
        ["completed", "pending", "none"].contains(&r.checkpoint),
        "{r:?}"
    );
}

#[test]
fn promoted_monitor_with_no_session_publishes_none() {
    let rig = Rig::new(volume("volget-read-only-off.xml", None));
    rig.set_role(Role::Promoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::RunningPromoted);
    assert_eq!(
        rig.attrs.value(&georep_status_attr("pvol")).unwrap(),
        "NONE"
    );
    assert_eq!(rig.lag.value(&georep_lag_attr("pvol")), None);
    assert_eq!(
        *rig.store.calls.borrow(),
        [format!("ticket-pvol 192.0.2.222 {REPL_STATE} NONE")]
    );
}

#[test]
fn promoted_but_read_only_is_failed_promoted() {
    let rig = Rig::new(volume("volget-read-only-on.xml", None));
    rig.set_role(Role::Promoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::FailedPromoted);
    rig.set_role(Role::Unpromoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::Success);
}

#[test]
fn read_only_while_handing_over_is_still_promoted_and_demote_ends_the_handover() {
    let rig = Rig::new(volume("volget-read-only-on.xml", None));
    rig.set_role(Role::Promoted);
    rig.attrs
        .update(
            &georep_handover_attr("pvol"),
            "1796231906",
            Deadline::after(Duration::from_secs(1)),
        )
        .unwrap();
    assert_eq!(rig.monitor().unwrap(), ExitCode::RunningPromoted);
    demote(&rig.cfg, &rig.state_file(), &rig.tools()).unwrap();
    assert_eq!(rig.attrs.value(&georep_handover_attr("pvol")), None);
    rig.set_role(Role::Promoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::FailedPromoted);
}

#[test]
fn a_gluster_that_does_not_answer_reports_the_last_known_role() {
    let mut rig = Rig::new(Script::default().on(" volume ", vec![down()]));
    rig.budget = Duration::from_millis(300);
    rig.set_role(Role::Promoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::RunningPromoted);
    assert!(rig.calls().len() > 1, "retried: {:?}", rig.calls());
    assert!(rig.attrs.calls().is_empty() && rig.store.calls.borrow().is_empty());
    rig.set_role(Role::Unpromoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::Success);
}

#[test]
fn a_missing_volume_fails_only_when_two_answers_agree() {
    let missing = Output {
        code: 1,
        ..ok("volget-no-such-volume.xml")
    };
    // Once missing, then back: not a failure.
    let rig = Rig::new(
        Script::default()
            .on(INFO, vec![missing.clone(), ok("volinfo-replica2.xml")])
            .on(GET_RO, vec![ok("volget-read-only-on.xml")]),
    );
    rig.set_role(Role::Unpromoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::Success);
    // Missing twice: 1 unpromoted, 9 promoted.
    let rig = Rig::new(Script::default().on(INFO, vec![missing]));
    rig.set_role(Role::Unpromoted);
    assert_eq!(rig.monitor().unwrap_err().exit_code(), ExitCode::ErrGeneric);
    rig.set_role(Role::Promoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::FailedPromoted);
    // Not started, twice.
    let rig =
        Rig::new(Script::default().on(" volume info ", vec![ok("volinfo-single-stopped.xml")]));
    let mut c = cfg();
    c.volume = "data".into();
    let stopped = Rig { cfg: c, ..rig };
    stopped.set_role(Role::Promoted);
    assert_eq!(stopped.monitor().unwrap(), ExitCode::FailedPromoted);
    assert_eq!(stopped.calls().len(), 2, "{:?}", stopped.calls());
}

#[test]
fn a_busy_gluster_is_retried_within_the_deadline() {
    let rig = Rig::new(
        Script::default()
            .on(INFO, vec![ok("volinfo-replica2.xml")])
            .on(GET_RO, vec![ok("volget-read-only-off.xml")])
            .on(
                SET_RO,
                vec![
                    ok("volset-busy.xml"),
                    ok("volset-busy.xml"),
                    ok("volset-ok.xml"),
                ],
            )
            .on(STATUS, vec![ok("status-replica-stopped.xml")]),
    );
    start(&rig.cfg, &rig.state_file(), &rig.tools()).unwrap();
    let sets = rig.calls().iter().filter(|c| c.contains(SET_RO)).count();
    assert_eq!(sets, 3, "{:?}", rig.calls());
}

#[test]
fn failing_geostore_and_score_are_warnings_and_retried_next_monitor() {
    let mut rig = Rig::new(volume(
        "volget-read-only-off.xml",
        Some("status-replica-active.xml"),
    ));
    rig.store.fail = true;
    rig.score.fail = true;
    rig.set_role(Role::Promoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::RunningPromoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::RunningPromoted);
    assert_eq!(rig.store.calls.borrow().len(), 4, "tried again");
    assert_eq!(rig.score.calls.borrow().len(), 2, "tried again");
    let state = rig.state().unwrap();
    assert_eq!(state.repl_state, None);
}

#[test]
fn without_other_site_nothing_goes_to_booth() {
    let mut rig = Rig::new(volume(
        "volget-read-only-off.xml",
        Some("status-replica-active.xml"),
    ));
    rig.cfg.other_site = None;
    rig.set_role(Role::Promoted);
    assert_eq!(rig.monitor().unwrap(), ExitCode::RunningPromoted);
    assert!(rig.store.calls.borrow().is_empty());
}
