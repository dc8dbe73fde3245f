//! The agents against real parts: a one-node Pacemaker/Corosync cluster whose attrd answers,
//! the node's own system D-Bus, and a real ganesha.nfsd 4.3 (FSAL VFS) that ganesha_nfsd
//! starts. Needs root (network and mount namespaces); CI runs as root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::time::Duration;

use ganesha_agents::names::{
    GANESHA_ACTIVE, GANESHA_PID_FILE, GRACE_ACTIVE, GRACE_AGENT, MON_AGENT, NFSD_AGENT, PROVIDER,
};
use util::cluster::AgentLab;
use util::wait_until;

fn ganesha_pid(lab: &AgentLab) -> i32 {
    std::fs::read_to_string(lab.node().host_path(GANESHA_PID_FILE))
        .unwrap_or_else(|e| panic!("reading the pid file: {e}"))
        .trim()
        .parse()
        .unwrap()
}

fn alive(pid: i32) -> bool {
    !matches!(
        ocf::process::process_state(nix::unistd::Pid::from_raw(pid)),
        ocf::process::ProcessState::Absent | ocf::process::ProcessState::Zombie
    )
}

#[test]
fn ocf_tester_passes_for_all_three_agents() {
    let lab = AgentLab::up();
    // The documented install step put them where Pacemaker looks.
    let md = lab.sh(
        "crm_resource",
        &["--show-metadata", &format!("ocf:{PROVIDER}:{GRACE_AGENT}")],
    );
    assert!(
        md.contains(&format!("<resource-agent name=\"{GRACE_AGENT}\"")),
        "{md}"
    );
    for agent in [NFSD_AGENT, MON_AGENT] {
        let md = lab.sh(
            "crm_resource",
            &["--show-metadata", &format!("ocf:{PROVIDER}:{agent}")],
        );
        assert!(md.contains(&format!("<resource-agent name=\"{agent}\"")));
    }

    let nfsd: Vec<String> = lab
        .nfsd_params()
        .into_iter()
        .flat_map(|(k, v)| ["-o".to_string(), format!("{k}={v}")])
        .collect();
    let cases: [(&str, Vec<String>); 3] = [
        (NFSD_AGENT, nfsd),
        (
            MON_AGENT,
            vec!["-o".into(), format!("pid_file={GANESHA_PID_FILE}")],
        ),
        (GRACE_AGENT, vec![]),
    ];
    for (agent, opts) in cases {
        lab.command("ocf-tester")
            .args(["-n", &format!("{agent}-test")])
            .args(&opts)
            .arg(format!("/usr/lib/ocf/resource.d/{PROVIDER}/{agent}"))
            .timeout(Duration::from_secs(180))
            .run()
            .expect_code(0)
            .expect_stdout_contains("passed all tests");
    }
}

#[test]
fn nfsd_runs_the_real_daemon_and_grace_reaches_it() {
    let lab = AgentLab::up();
    let p = lab.nfsd_params();
    // A peer that served clients before: its recovery directory exists on the shared volume.
    let peer = lab
        .lab
        .shared_dir()
        .join("nfs-ganesha/node2/ganesha/v4recov");
    std::fs::create_dir_all(&peer).unwrap();

    // Probe before anything: not running.
    lab.agent(NFSD_AGENT, "monitor", &p)
        .env("OCF_RESKEY_CRM_meta_interval", "0")
        .run()
        .expect_code(7);
    let started = lab.agent(NFSD_AGENT, "start", &p).run();
    started.expect_code(0);
    let pid = ganesha_pid(&lab);
    assert!(alive(pid));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "ganesha.nfsd"
    );
    // Start returned only once the daemon answers on the node's system bus.
    lab.in_grace();
    lab.agent(NFSD_AGENT, "monitor", &p).run().expect_code(0);
    lab.agent(NFSD_AGENT, "monitor", &p)
        .env("OCF_CHECK_LEVEL", "10")
        .run()
        .expect_code(0);
    lab.agent(NFSD_AGENT, "start", &p).run().expect_code(0);
    assert_eq!(ganesha_pid(&lab), pid, "a second start keeps the daemon");

    // The recovery root is a link into this node's directory, linked to the peer.
    let own = lab.lab.shared_dir().join("nfs-ganesha/node1/ganesha");
    assert_eq!(std::fs::read_link(&lab.recovery_root).unwrap(), own);
    assert!(lab.recovery_root.join("node2/v4recov").is_dir());

    // Wait out the start-up grace period so that the notify is what puts ganesha in grace.
    wait_until("initial grace to end", Duration::from_secs(40), || {
        !lab.in_grace()
    });
    lab.agent(GRACE_AGENT, "start", &[]).run().expect_code(0);
    // A peer starting that this node never took over (cluster start, a node added): no
    // release and no needless grace period.
    let untouched = lab
        .agent(GRACE_AGENT, "notify", &[])
        .envs([
            ("OCF_RESKEY_CRM_meta_notify_type", "pre"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "start"),
            ("OCF_RESKEY_CRM_meta_notify_start_uname", "node4"),
        ])
        .run();
    untouched.expect_code(0);
    assert!(
        !untouched.stderr().contains("grace(2:node4)"),
        "{untouched}"
    );
    assert!(
        !lab.in_grace(),
        "a starting peer must not put this node into grace"
    );
    // Peers node2 and node3 stopped in one transition (node1 is this node).
    lab.agent(GRACE_AGENT, "notify", &[])
        .envs([
            ("OCF_RESKEY_CRM_meta_notify_type", "post"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "stop"),
            ("OCF_RESKEY_CRM_meta_notify_stop_uname", "node2 node3 node1"),
        ])
        .run()
        .expect_code(0)
        .expect_stderr_contains("grace(5:node2): Started grace period")
        .expect_stderr_contains("grace(5:node3): Started grace period");
    assert!(lab.in_grace(), "grace did not reach the daemon");
    let log = lab.ganesha_log();
    let read = format!(
        "Recovery for nodeid -1 dir ({}/node2/v4recov)",
        lab.recovery_root.display()
    );
    assert!(
        log.contains(&read),
        "ganesha did not read node2's records:\n{log}"
    );
    let failed = format!(
        "Failed to open v4 recovery dir ({}/node2/v4recov)",
        lab.recovery_root.display()
    );
    assert!(
        !log.contains(&failed),
        "node2's directory was not reachable:\n{log}"
    );
    assert!(!log.contains("ip node1"), "a node never takes itself over");

    // Failback: node2 comes back, this survivor releases it.
    lab.agent(GRACE_AGENT, "notify", &[])
        .envs([
            ("OCF_RESKEY_CRM_meta_notify_type", "pre"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "start"),
            ("OCF_RESKEY_CRM_meta_notify_start_uname", "node2"),
        ])
        .run()
        .expect_code(0)
        .expect_stderr_contains("grace(2:node2): Started grace period");
    assert!(lab.ganesha_log().contains("recovery event 2"));

    // Stop: clean D-Bus shutdown, pid file gone, recovery root restored.
    let stopped = lab.agent(NFSD_AGENT, "stop", &p).run();
    stopped
        .expect_code(0)
        .expect_stderr_contains("asked ganesha.nfsd");
    assert!(!alive(pid));
    assert!(!lab.node().host_path(GANESHA_PID_FILE).exists());
    assert!(std::fs::symlink_metadata(&lab.recovery_root).is_err());
    lab.agent(NFSD_AGENT, "monitor", &p).run().expect_code(7);
    lab.agent(NFSD_AGENT, "stop", &p).run().expect_code(0);
}

#[test]
fn nfsd_never_trusts_a_reused_pid_and_stop_escalates_within_its_timeout() {
    let lab = AgentLab::up();
    let p = lab.nfsd_params();

    // A pid file naming some other live process (pid reuse): not ganesha, never signalled.
    let mut other = lab
        .node()
        .spawn("sleep", &["300"], &lab.node().dir().join("sleep.log"))
        .unwrap();
    let other_pid = other.id() as i32;
    std::fs::create_dir_all(lab.node().host_path("/run/ganesha")).unwrap();
    std::fs::write(
        lab.node().host_path(GANESHA_PID_FILE),
        format!("{other_pid}\n"),
    )
    .unwrap();
    let run = lab.agent(NFSD_AGENT, "monitor", &p).run();
    run.expect_code(7);
    assert!(
        run.ocf_exit_reasons()[0].contains("stale pid file"),
        "{:?}",
        run.ocf_exit_reasons()
    );
    lab.agent(NFSD_AGENT, "stop", &p).run().expect_code(0);
    assert!(
        alive(other_pid),
        "stop must not kill a process that is not ganesha"
    );

    // A hung daemon (SIGSTOP): D-Bus shutdown gets no answer, SIGTERM is not acted on,
    // SIGKILL ends it; all inside an 8 s stop timeout.
    lab.agent(NFSD_AGENT, "start", &p).run().expect_code(0);
    let pid = ganesha_pid(&lab);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    lab.agent(NFSD_AGENT, "monitor", &p)
        .envs([("OCF_CHECK_LEVEL", "10"), ("OCF_RESKEY_dbus_timeout", "2")])
        .run()
        .expect_code(1);
    let run = lab
        .agent(NFSD_AGENT, "stop", &p)
        .env("OCF_RESKEY_CRM_meta_timeout", "8000")
        .run();
    run.expect_code(0);
    assert!(
        run.elapsed() < Duration::from_secs(8),
        "stop took too long\n{run}"
    );
    assert!(!alive(pid), "the hung daemon survived stop");
    let _ = other.kill();
    let _ = other.wait();
}

#[test]
fn mon_publishes_health_and_withdraws_grace_first_on_failure() {
    let lab = AgentLab::up();
    let p = lab.nfsd_params();
    let mon = vec![("pid_file".to_string(), GANESHA_PID_FILE.to_string())];

    // Not started: 7.
    lab.agent(MON_AGENT, "monitor", &mon).run().expect_code(7);
    // Daemon down at start: nothing is advertised.
    lab.agent(MON_AGENT, "start", &mon).run().expect_code(0);
    assert_eq!(lab.attribute(GANESHA_ACTIVE), None);
    assert_eq!(lab.attribute(GRACE_ACTIVE), None);

    // The daemon comes up: both attributes appear at the next monitor.
    lab.agent(NFSD_AGENT, "start", &p).run().expect_code(0);
    lab.agent(MON_AGENT, "monitor", &mon).run().expect_code(0);
    assert_eq!(lab.attribute(GANESHA_ACTIVE).as_deref(), Some("1"));
    assert_eq!(lab.attribute(GRACE_ACTIVE).as_deref(), Some("1"));

    // The daemon dies (kill -9): grace-active goes first, ganesha-active one monitor later.
    let pid = ganesha_pid(&lab);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("ganesha to die", Duration::from_secs(5), || !alive(pid));
    let failing = lab.agent(MON_AGENT, "monitor", &mon).run();
    failing.expect_code(0);
    assert!(
        failing.elapsed() < Duration::from_secs(2),
        "no sleep in the monitor\n{failing}"
    );
    assert_eq!(lab.attribute(GRACE_ACTIVE), None);
    assert_eq!(lab.attribute(GANESHA_ACTIVE).as_deref(), Some("1"));
    lab.agent(MON_AGENT, "monitor", &mon).run().expect_code(0);
    assert_eq!(lab.attribute(GANESHA_ACTIVE), None);
    // ganesha_nfsd reports the crash, so Pacemaker recovers it.
    lab.agent(NFSD_AGENT, "monitor", &p).run().expect_code(7);
    lab.agent(NFSD_AGENT, "stop", &p).run().expect_code(0);
    lab.agent(NFSD_AGENT, "start", &p).run().expect_code(0);
    lab.agent(MON_AGENT, "monitor", &mon).run().expect_code(0);
    assert_eq!(lab.attribute(GRACE_ACTIVE).as_deref(), Some("1"));

    // Stop withdraws both; a stopped monitor is 7 again.
    lab.agent(MON_AGENT, "stop", &mon).run().expect_code(0);
    assert_eq!(lab.attribute(GRACE_ACTIVE), None);
    assert_eq!(lab.attribute(GANESHA_ACTIVE), None);
    lab.agent(MON_AGENT, "monitor", &mon).run().expect_code(7);
    lab.agent(NFSD_AGENT, "stop", &p).run().expect_code(0);
}

#[test]
fn nfsd_mounts_and_unmounts_the_state_volume() {
    let lab = AgentLab::up();
    // The lab's shared directory, bind-mounted as the "device" of the state volume.
    let mut p: Vec<(String, String)> = lab
        .nfsd_params()
        .into_iter()
        .filter(|(k, _)| k != "state_mount")
        .collect();
    p.push((
        "state_device".into(),
        lab.lab.shared_dir().display().to_string(),
    ));
    p.push(("state_fstype".into(), "none".into()));
    p.push(("state_options".into(), "bind".into()));
    p.push(("state_mount".into(), "/mnt/ganesha-state".into()));
    lab.agent(NFSD_AGENT, "start", &p).run().expect_code(0);
    let mounts = lab.sh("cat", &["/proc/self/mountinfo"]);
    assert!(mounts.contains(" /mnt/ganesha-state "), "{mounts}");
    lab.agent(NFSD_AGENT, "monitor", &p).run().expect_code(0);
    // The layout was made on the volume, i.e. in the shared directory.
    assert!(lab
        .lab
        .shared_dir()
        .join("nfs-ganesha/node1/ganesha/v4recov")
        .is_dir());
    lab.agent(NFSD_AGENT, "stop", &p).run().expect_code(0);
    let mounts = lab.sh("cat", &["/proc/self/mountinfo"]);
    assert!(
        !mounts.contains(" /mnt/ganesha-state "),
        "still mounted:\n{mounts}"
    );
}
