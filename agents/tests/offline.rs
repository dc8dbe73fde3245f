//! Agent behaviour that needs no cluster and no daemon: meta-data, parameter checking,
//! unimplemented actions, and the D-Bus timeout against a peer that never answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::time::Duration;

use ganesha_agents::names::{
    AGENTS, BOOTH_AGENT, GANESHA_ACTIVE, GEOREP_AGENT, GRACE_ACTIVE, GRACE_AGENT, MON_AGENT,
    NFSD_AGENT,
};
use ganesha_testkit::TestCommand;
use util::agent;

#[test]
fn meta_data_is_dtd_valid_with_no_environment() {
    for name in AGENTS {
        let run = agent(name, "meta-data").run();
        run.expect_code(0);
        assert!(
            run.stdout().starts_with("<?xml"),
            "only XML on stdout\n{run}"
        );
        assert!(run.stderr().is_empty(), "nothing on stderr\n{run}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("md.xml");
        std::fs::write(&file, run.stdout()).unwrap();
        // ocf-tester's own check: xmllint --valid against resource-agents' ra-api-1.dtd,
        // which the DOCTYPE names relative to the document.
        std::fs::copy(
            "/usr/share/resource-agents/ra-api-1.dtd",
            dir.path().join("ra-api-1.dtd"),
        )
        .expect("resource-agents installed");
        TestCommand::program("xmllint")
            .args(["--noout", "--valid"])
            .arg(&file)
            .timeout(Duration::from_secs(30))
            .run()
            .expect_code(0);
    }
}

/// stdout belongs to meta-data: every other action, whatever its outcome (success, bad
/// parameters, nothing to do, an unknown action), prints nothing there; logs and exit
/// reasons go to stderr.
#[test]
fn only_meta_data_writes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing").display().to_string();
    let environments: [&[(&str, &str)]; 3] = [
        &[],
        &[("OCF_RESKEY_pid_file", "relative")],
        &[
            ("OCF_RESKEY_pid_file", &missing),
            ("OCF_RESKEY_CRM_meta_interval", "0"),
            ("OCF_RESKEY_CRM_meta_timeout", "2000"),
        ],
    ];
    for name in AGENTS {
        for action in [
            "validate-all",
            "monitor",
            "stop",
            "notify",
            "promote",
            "bogus",
        ] {
            for env in environments {
                let run = agent(name, action).envs(env.iter().copied()).run();
                assert!(
                    run.stdout().is_empty(),
                    "{name} {action} wrote to stdout\n{run}"
                );
            }
        }
    }
}

#[test]
fn unimplemented_actions_exit_3() {
    for name in AGENTS {
        // georep_monitor is promotable: without its parameters promote and demote are 6.
        if name == GEOREP_AGENT {
            for action in ["promote", "demote"] {
                agent(name, action).run().expect_code(6);
            }
        }
        for action in [
            "promote",
            "demote",
            "migrate_to",
            "migrate_from",
            "reload",
            "bogus",
        ] {
            if name == GEOREP_AGENT && matches!(action, "promote" | "demote") {
                continue;
            }
            agent(name, action)
                .envs(required_params(name))
                .run()
                .expect_code(3);
        }
    }
    // ganesha_mon and ganesha_nfsd do not take notifications.
    agent(MON_AGENT, "notify").run().expect_code(3);
    agent(NFSD_AGENT, "notify").run().expect_code(3);
    agent(GEOREP_AGENT, "notify")
        .envs(required_params(GEOREP_AGENT))
        .run()
        .expect_code(3);
    agent(BOOTH_AGENT, "notify").run().expect_code(3);
}

/// Values for an agent's required parameters (the dispatcher checks them before any
/// action).
fn required_params(name: &str) -> Vec<(&'static str, &'static str)> {
    match name {
        GEOREP_AGENT => vec![
            ("OCF_RESKEY_volume", "data"),
            ("OCF_RESKEY_remote_host", "192.0.2.9"),
            ("OCF_RESKEY_remote_volume", "rdata"),
        ],
        _ => Vec::new(),
    }
}

/// Each bad value gives exit 6 and exactly one exit reason naming the parameter.
#[test]
fn bad_parameters_exit_6_with_one_reason_naming_the_parameter() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            NFSD_AGENT,
            "pid_file",
            "relative/ganesha.pid",
            "must be an absolute path",
        ),
        (NFSD_AGENT, "dbus_timeout", "ten", "must be an integer"),
        (NFSD_AGENT, "dbus_timeout", "0", "at least 1"),
        (NFSD_AGENT, "node_name", "node 1", "without ':' or spaces"),
        (NFSD_AGENT, "state_subdir", "a/b", "one directory name"),
        (MON_AGENT, "grace_active", "grace active", "without spaces"),
        (MON_AGENT, "refresh_interval", "-5", ">= 0"),
        (MON_AGENT, "pid_file", "ganesha.pid", "absolute path"),
        (GRACE_AGENT, "dbus_timeout", "soon", "must be an integer"),
        (GEOREP_AGENT, "volume", "-data", "volume name"),
        (GEOREP_AGENT, "remote_host", "host;x", "must be letters"),
        (GEOREP_AGENT, "ssh_port", "70000", "port number"),
        (GEOREP_AGENT, "max_lag", "-1", ">= 0"),
        (GEOREP_AGENT, "booth_conf", "booth.conf", "absolute path"),
        (GEOREP_AGENT, "other_site", "a b", "must be letters"),
        (BOOTH_AGENT, "config", "booth.conf", "absolute path"),
        (
            GRACE_AGENT,
            "release_on_start",
            "perhaps",
            "must be a boolean",
        ),
    ];
    for (name, param, value, problem) in cases {
        for action in ["validate-all", "start"] {
            let key = format!("OCF_RESKEY_{param}");
            let run = agent(name, action)
                .envs(required_params(name))
                .env(&key, value)
                .run();
            run.expect_code(6);
            let reasons = run.ocf_exit_reasons();
            assert_eq!(reasons.len(), 1, "{name} {action}: {reasons:?}");
            assert!(
                reasons[0].contains(&format!("parameter {param}")) && reasons[0].contains(problem),
                "{name} {action} {param}={value}: {reasons:?}"
            );
        }
    }
}

#[test]
fn bad_parameters_never_fail_a_stop_or_a_probe() {
    let env = [
        ("OCF_RESKEY_pid_file", "relative"),
        ("OCF_RESKEY_CRM_meta_interval", "0"),
    ];
    agent(NFSD_AGENT, "stop").envs(env).run().expect_code(0);
    agent(NFSD_AGENT, "monitor").envs(env).run().expect_code(7);
}

#[test]
fn missing_ganesha_binary_is_not_installed() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ganesha.conf");
    std::fs::write(&conf, "").unwrap();
    let env = [
        ("OCF_RESKEY_binary", "/nonexistent/ganesha.nfsd"),
        ("OCF_RESKEY_config", conf.to_str().unwrap()),
        ("OCF_RESKEY_state_mount", dir.path().to_str().unwrap()),
        ("OCF_CHECK_LEVEL", "10"),
    ];
    let run = agent(NFSD_AGENT, "validate-all").envs(env).run();
    run.expect_code(5);
    assert_eq!(run.ocf_exit_reasons().len(), 1);
    // Glusterfs defect #12: an unmounted/missing state directory is refused with a reason.
    let env = [
        ("OCF_RESKEY_binary", "/bin/true"),
        ("OCF_RESKEY_config", conf.to_str().unwrap()),
        ("OCF_RESKEY_state_mount", "/nonexistent/shared_storage"),
        ("OCF_CHECK_LEVEL", "10"),
    ];
    let run = agent(NFSD_AGENT, "validate-all").envs(env).run();
    run.expect_code(2);
    assert!(run.ocf_exit_reasons()[0].contains("/nonexistent/shared_storage"));
}

/// A directory of stand-in cluster tools that record each call; `attrd_updater` exits with
/// `attrd_rc`. Used where no cluster is needed to see *which* programs an agent runs.
fn recording_tools(dir: &std::path::Path, attrd_rc: i32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("calls.log");
    for tool in [
        "attrd_updater",
        "crm_attribute",
        "crm_node",
        "crm_mon",
        "pcs",
        "dbus-send",
        "cibadmin",
    ] {
        let rc = if tool == "attrd_updater" { attrd_rc } else { 0 };
        let script = format!(
            "#!/bin/sh\necho \"{tool} $*\" >> {}\nexit {rc}\n",
            log.display()
        );
        let path = bin.join(tool);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn calls(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Glusterfs defects #1/#3 and the 5 s sleep: a steady-state ganesha_mon monitor runs no
/// program at all (no pcs, no crm_mon, no attrd_updater), and the attributes it writes are
/// transient ones through attrd_updater only (never `crm_attribute --lifetime forever`).
#[test]
fn mon_writes_transient_attributes_only_on_change_and_runs_nothing_in_steady_state() {
    let dir = tempfile::tempdir().unwrap();
    let bin = recording_tools(dir.path(), 0);
    // A live process standing in for ganesha: this test's own pid and command name.
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    let pid_file = dir.path().join("ganesha.pid");
    std::fs::write(&pid_file, format!("{}\n", std::process::id())).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let rsctmp = dir.path().join("rsctmp");
    let env = [
        ("PATH", path.as_str()),
        ("HA_RSCTMP", rsctmp.to_str().unwrap()),
        ("OCF_RESKEY_pid_file", pid_file.to_str().unwrap()),
        ("OCF_RESKEY_binary", &format!("/x/{}", me.trim())),
        ("OCF_RESKEY_CRM_meta_interval", "5000"),
    ];
    agent(MON_AGENT, "start")
        .envs(env)
        .timeout(Duration::from_secs(30))
        .run()
        .expect_code(0);
    assert_eq!(
        calls(dir.path()),
        [
            format!("attrd_updater --name {GANESHA_ACTIVE} --update 1"),
            format!("attrd_updater --name {GRACE_ACTIVE} --update 1")
        ]
    );
    for _ in 0..3 {
        agent(MON_AGENT, "monitor")
            .envs(env)
            .timeout(Duration::from_secs(30))
            .run()
            .expect_code(0);
    }
    assert_eq!(
        calls(dir.path()).len(),
        2,
        "steady state ran programs: {:?}",
        calls(dir.path())
    );
}

/// Glusterfs ganesha_mon's monitor always succeeded. Ours fails when it cannot publish a
/// change (attrd unreachable), and is 7 when not started.
#[test]
fn mon_monitor_fails_when_attributes_cannot_be_published() {
    let dir = tempfile::tempdir().unwrap();
    let bin = recording_tools(dir.path(), 102);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let rsctmp = dir.path().join("rsctmp");
    let env = [
        ("PATH", path.as_str()),
        ("HA_RSCTMP", rsctmp.to_str().unwrap()),
        ("OCF_RESKEY_pid_file", "/nonexistent/ganesha.pid"),
        ("OCF_RESKEY_CRM_meta_interval", "5000"),
    ];
    let monitor = || {
        agent(MON_AGENT, "monitor")
            .envs(env)
            .timeout(Duration::from_secs(30))
            .run()
    };
    monitor().expect_code(7);
    // Started while the daemon ran and attrd worked: state says both are published.
    std::fs::create_dir_all(&rsctmp).unwrap();
    std::fs::write(
        rsctmp.join("ganesha_mon-default.state"),
        format!("ganesha_active=1\ngrace_active=1\nat={}\n", u64::MAX / 2),
    )
    .unwrap();
    // The daemon is gone and attrd is unreachable: the change cannot be published.
    let run = monitor();
    run.expect_code(1);
    assert!(
        run.ocf_exit_reasons()[0].contains("not reachable"),
        "{:?}",
        run.ocf_exit_reasons()
    );
}

/// The glusterfs ganesha_nfsd only logged failures and returned success. Ours: a daemon
/// that dies while starting fails the start, with the reason.
#[test]
fn nfsd_start_fails_when_the_daemon_exits() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ganesha.conf");
    std::fs::write(&conf, "").unwrap();
    // Every path inside the test's own directory: nothing on the host changes.
    let (rr, log) = (dir.path().join("recovery"), dir.path().join("ganesha.log"));
    let run = agent(NFSD_AGENT, "start")
        .envs([
            ("OCF_RESKEY_binary", "/bin/false"),
            ("OCF_RESKEY_config", conf.to_str().unwrap()),
            ("OCF_RESKEY_state_mount", dir.path().to_str().unwrap()),
            ("OCF_RESKEY_recovery_root", rr.to_str().unwrap()),
            ("OCF_RESKEY_node_name", "node1"),
            ("OCF_RESKEY_log_file", log.to_str().unwrap()),
            (
                "OCF_RESKEY_pid_file",
                dir.path().join("g.pid").to_str().unwrap(),
            ),
        ])
        .run();
    run.expect_code(1);
    assert!(
        run.ocf_exit_reasons()[0].contains("exited during start"),
        "{:?}",
        run.ocf_exit_reasons()
    );
}

/// Defaults use /run, not /var/run (glusterfs #1475).
#[test]
fn defaults_do_not_use_var_run() {
    for name in AGENTS {
        let md = agent(name, "meta-data").run();
        assert!(!md.stdout().contains("/var/run"), "{md}");
    }
}

/// A daemon that starts but never answers: start gives up inside the operation timeout and
/// says how long it waited (the stop that Pacemaker then runs cleans up).
#[test]
fn nfsd_start_times_out_inside_the_operation_timeout() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ganesha.conf");
    std::fs::write(&conf, "").unwrap();
    // Every path inside the test's own directory: nothing on the host changes.
    let (rr, log) = (dir.path().join("recovery"), dir.path().join("ganesha.log"));
    let pid_of_fake = dir.path().join("fake.pid");
    // Named ganesha.nfsd, writes no pid file, never owns the bus name.
    let fake = dir.path().join("ganesha.nfsd");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho $$ > {}\nsleep 30\n", pid_of_fake.display()),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = agent(NFSD_AGENT, "start")
        .envs([
            ("OCF_RESKEY_binary", fake.to_str().unwrap()),
            ("OCF_RESKEY_config", conf.to_str().unwrap()),
            ("OCF_RESKEY_state_mount", dir.path().to_str().unwrap()),
            ("OCF_RESKEY_recovery_root", rr.to_str().unwrap()),
            ("OCF_RESKEY_node_name", "node1"),
            ("OCF_RESKEY_log_file", log.to_str().unwrap()),
            (
                "OCF_RESKEY_pid_file",
                dir.path().join("g.pid").to_str().unwrap(),
            ),
            ("OCF_RESKEY_CRM_meta_timeout", "2000"),
            ("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus"),
        ])
        .run();
    // The agent started the fake in a session of its own: end its whole process group.
    if let Ok(pid) = std::fs::read_to_string(&pid_of_fake) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    run.expect_code(1);
    assert!(run.elapsed() < Duration::from_secs(2), "{run}");
    let reason = &run.ocf_exit_reasons()[0];
    assert!(reason.contains("did not complete within 1."), "{reason}");
}

/// booth 1.0's pitfalls, found by validate before boothd is started: an authfile others can
/// read (boothd exits), one too short, a missing config; options that make it segfault are
/// a warning.
#[test]
fn booth_validate_refuses_a_readable_authfile_and_warns_on_site_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("authkey");
    std::fs::write(&key, b"0123456789abcdef").unwrap();
    let conf = dir.path().join("booth.conf");
    let write_conf = |extra: &str| {
        std::fs::write(
            &conf,
            format!(
                "transport = UDP\nauthfile = {}\nsite = 192.0.2.1\nsite = 192.0.2.2\narbitrator = 192.0.2.3\n{extra}ticket = \"ticket-data\"\n",
                key.display()
            ),
        )
        .unwrap();
    };
    let validate = || {
        agent(BOOTH_AGENT, "validate-all")
            .env("OCF_RESKEY_config", conf.to_str().unwrap())
            .run()
    };
    write_conf("");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = validate();
    run.expect_code(2);
    assert!(run.ocf_exit_reasons()[0].contains("0600"), "{run}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    validate().expect_code(0);
    write_conf("site-user = hacluster\n");
    let run = validate();
    run.expect_code(0);
    assert!(run.stderr().contains("segfaults"), "{run}");
    std::fs::write(&key, b"short").unwrap();
    let run = validate();
    run.expect_code(2);
    assert!(run.ocf_exit_reasons()[0].contains("at least 8"), "{run}");
    let missing = dir.path().join("missing.conf");
    let run = agent(BOOTH_AGENT, "validate-all")
        .env("OCF_RESKEY_config", missing.to_str().unwrap())
        .run();
    run.expect_code(2);
}
