//! Fake D-Bus peers for the cases a real ganesha.nfsd produces only rarely: one that owns
//! ganesha's name but never answers (a hung daemon; every agent call must give up within its
//! bound, and within the operation timeout Pacemaker gives, instead of hanging until
//! SIGKILL), and one that answers for a daemon it is not (a leftover or second instance).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::time::Duration;

use ganesha_agents::names::{GRACE_AGENT, NFSD_AGENT};
use ganesha_testkit::Ran;
use util::agent;
use util::dbus::PrivateBus;

/// Owns org.ganesha.nfsd and accepts every admin call without ever replying.
struct MuteGanesha;

#[zbus::interface(name = "org.ganesha.nfsd.admin")]
impl MuteGanesha {
    #[zbus(name = "grace", out_args("status", "error"))]
    async fn grace(&self, _arg: String) -> (bool, String) {
        std::future::pending().await
    }

    #[zbus(name = "get_grace", out_args("isgrace", "status", "error"))]
    async fn get_grace(&self) -> (bool, bool, String) {
        std::future::pending().await
    }
}

/// Runs ganesha_grace's post-stop notify on node1 for `stopped` peers against `bus`.
fn post_stop_notify(bus: &PrivateBus, stopped: &str, dbus_timeout: &str, op_timeout: &str) -> Ran {
    agent(GRACE_AGENT, "notify")
        .envs([
            ("DBUS_SYSTEM_BUS_ADDRESS", bus.address.as_str()),
            ("OCF_RESKEY_dbus_timeout", dbus_timeout),
            ("OCF_RESKEY_CRM_meta_timeout", op_timeout),
            ("OCF_RESKEY_CRM_meta_on_node", "node1"),
            ("OCF_RESKEY_CRM_meta_notify_type", "post"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "stop"),
            ("OCF_RESKEY_CRM_meta_notify_stop_uname", stopped),
        ])
        .run()
}

fn serve_mute(bus: &PrivateBus) -> zbus::blocking::Connection {
    zbus::blocking::connection::Builder::address(bus.address.as_str())
        .and_then(|b| b.name("org.ganesha.nfsd"))
        .and_then(|b| b.serve_at("/org/ganesha/nfsd/admin", MuteGanesha))
        .and_then(|b| b.build())
        .expect("serving the mute ganesha")
}

#[test]
fn grace_notify_gives_up_within_dbus_timeout_for_each_peer() {
    let dir = tempfile::tempdir().unwrap();
    let bus = PrivateBus::start(dir.path());
    let _mute = serve_mute(&bus);
    let run = post_stop_notify(&bus, "node2 node3", "1", "30000");
    // Notify must not fail the cluster; the failure is in the log, once per peer.
    run.expect_code(0);
    assert_eq!(
        run.stderr()
            .matches("no answer from ganesha.nfsd within")
            .count(),
        2,
        "{run}"
    );
    assert!(run.elapsed() >= Duration::from_secs(2), "{run}");
    assert!(run.elapsed() < Duration::from_secs(4), "{run}");
}

#[test]
fn grace_notify_finishes_within_the_operation_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let bus = PrivateBus::start(dir.path());
    let _mute = serve_mute(&bus);
    // dbus_timeout alone would allow 3 x 10 s; Pacemaker gives 3 s.
    let run = post_stop_notify(&bus, "node2 node3 node4", "10", "3000");
    run.expect_code(0);
    assert!(run.elapsed() < Duration::from_secs(3), "{run}");
    run.expect_stderr_contains("not sent: the notify timeout is used up");
}

#[test]
fn deep_monitors_report_a_hung_daemon_within_their_bound() {
    let dir = tempfile::tempdir().unwrap();
    let bus = PrivateBus::start(dir.path());
    let _mute = serve_mute(&bus);
    let rsctmp = dir.path().join("rsctmp");
    let env = [
        ("DBUS_SYSTEM_BUS_ADDRESS", bus.address.as_str()),
        ("HA_RSCTMP", rsctmp.to_str().unwrap()),
        ("OCF_RESKEY_dbus_timeout", "1"),
        ("OCF_RESKEY_CRM_meta_interval", "20000"),
        ("OCF_CHECK_LEVEL", "10"),
    ];
    agent(GRACE_AGENT, "start").envs(env).run().expect_code(0);
    let run = agent(GRACE_AGENT, "monitor").envs(env).run();
    run.expect_code(1);
    assert!(
        run.ocf_exit_reasons()[0].contains("no answer from ganesha.nfsd within"),
        "{run}"
    );
    assert!(run.elapsed() < Duration::from_secs(2), "{run}");
    agent(GRACE_AGENT, "stop").envs(env).run().expect_code(0);
}

#[test]
fn grace_without_ganesha_on_the_bus_is_logged_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let bus = PrivateBus::start(dir.path());
    let run = post_stop_notify(&bus, "node2", "10", "20000");
    run.expect_code(0)
        .expect_stderr_contains("ganesha.nfsd is not on the system bus");
    assert!(run.elapsed() < Duration::from_secs(1), "{run}");
}

/// Answers like a healthy ganesha.
struct AnsweringGanesha;

#[zbus::interface(name = "org.ganesha.nfsd.admin")]
impl AnsweringGanesha {
    #[zbus(name = "get_grace", out_args("isgrace", "status", "error"))]
    fn get_grace(&self) -> (bool, bool, String) {
        (false, true, "get grace success".into())
    }
}

/// The daemon behind the pid file must be the one that answers on the bus: another process
/// owning org.ganesha.nfsd (a leftover or second instance) must not make it look healthy.
#[test]
fn deep_monitor_checks_that_the_bus_name_belongs_to_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let bus = PrivateBus::start(dir.path());
    let _impostor = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .and_then(|b| b.name("org.ganesha.nfsd"))
        .and_then(|b| b.serve_at("/org/ganesha/nfsd/admin", AnsweringGanesha))
        .and_then(|b| b.build())
        .expect("serving the answering ganesha");
    // A live process whose command name is ganesha.nfsd, but which owns nothing on the bus.
    // A symlink, not a copy: executing a file just written can fail with ETXTBSY when
    // another test thread forks while the copy is open; the kernel names the process after
    // the path it was started by.
    let fake = dir.path().join("ganesha.nfsd");
    std::os::unix::fs::symlink("/bin/sleep", &fake).unwrap();
    let mut daemon = std::process::Command::new(&fake).arg("30").spawn().unwrap();
    let pid_file = dir.path().join("ganesha.pid");
    std::fs::write(&pid_file, format!("{}\n", daemon.id())).unwrap();
    // The recovery root attached as ganesha_nfsd start leaves it.
    let layout = dir.path().join("nfs-ganesha/node1/ganesha");
    std::fs::create_dir_all(&layout).unwrap();
    let rr = dir.path().join("recovery");
    std::os::unix::fs::symlink(&layout, &rr).unwrap();
    let env = [
        ("OCF_RESKEY_recovery_root", rr.to_str().unwrap()),
        ("OCF_RESKEY_node_name", "node1"),
        ("DBUS_SYSTEM_BUS_ADDRESS", bus.address.as_str()),
        ("OCF_RESKEY_binary", fake.to_str().unwrap()),
        ("OCF_RESKEY_pid_file", pid_file.to_str().unwrap()),
        ("OCF_RESKEY_state_mount", dir.path().to_str().unwrap()),
        ("OCF_RESKEY_CRM_meta_interval", "30000"),
    ];
    agent(NFSD_AGENT, "monitor").envs(env).run().expect_code(0);
    let deep: Vec<(&str, &str)> = env
        .iter()
        .copied()
        .chain([("OCF_CHECK_LEVEL", "10")])
        .collect();
    let run = agent(NFSD_AGENT, "monitor").envs(deep).run();
    run.expect_code(1);
    assert!(
        run.ocf_exit_reasons()[0].contains("belongs to pid"),
        "{:?}",
        run.ocf_exit_reasons()
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
}
