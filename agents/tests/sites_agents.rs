//! The site agents against real parts: `georep_monitor` on a one-node GlusterFS lab (its
//! volume `data`; the other site is a documentation address that exists nowhere, so no
//! session exists and the promoted monitor has nothing to keep running), and `booth_site`
//! running a real boothd in a lab node with IPv6 disabled (booth 1.0 hangs on IPv6
//! addresses on current kernels). Needs root (network and mount namespaces).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use ganesha_agents::names::{georep_status_attr, BOOTH_AGENT, GEOREP_AGENT, PROVIDER};
use util::cluster::AgentLab;
use util::wait_until;

fn ocf_tester(lab: &AgentLab, agent: &str, params: &[(String, String)]) {
    let opts: Vec<String> = params
        .iter()
        .flat_map(|(k, v)| ["-o".to_string(), format!("{k}={v}")])
        .collect();
    lab.command("ocf-tester")
        .args(["-n", &format!("{agent}-test")])
        .args(&opts)
        .arg(format!("/usr/lib/ocf/resource.d/{PROVIDER}/{agent}"))
        .timeout(Duration::from_secs(300))
        .run()
        .expect_code(0)
        .expect_stdout_contains("passed all tests");
}

fn read_only(lab: &AgentLab) -> bool {
    let out = lab.sh(
        "gluster",
        &[
            "--mode=script",
            "volume",
            "get",
            "data",
            "features.read-only",
        ],
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("features.read-only"))
        .unwrap_or_else(|| panic!("no features.read-only in {out}"));
    match line.split_whitespace().nth(1) {
        Some("on") => true,
        Some("off") => false,
        other => panic!("features.read-only is {other:?}: {out}"),
    }
}

#[test]
fn georep_monitor_passes_ocf_tester_and_the_read_only_flag_follows_the_role() {
    let lab = AgentLab::up_gluster();
    let params: Vec<(String, String)> = [
        ("volume", "data"),
        ("remote_host", "192.0.2.199"),
        ("remote_volume", "rdata"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    ocf_tester(&lab, GEOREP_AGENT, &params);

    let run = |action: &str| lab.agent(GEOREP_AGENT, action, &params).run();
    run("stop").expect_code(0);
    lab.sh(
        "gluster",
        &[
            "--mode=script",
            "volume",
            "set",
            "data",
            "features.read-only",
            "off",
        ],
    );
    run("monitor").expect_code(7);
    let started = run("start");
    started.expect_code(0);
    assert!(read_only(&lab), "start leaves the volume read-only");
    // The promotion score is set (glusterd answered), through attrd, for this instance.
    let score = || {
        lab.command("crm_attribute")
            .args(["--promotion", "--query", "--quiet"])
            .env("OCF_RESOURCE_INSTANCE", format!("{GEOREP_AGENT}-test"))
            .timeout(Duration::from_secs(30))
            .run()
    };
    wait_until("the promotion score", Duration::from_secs(10), || {
        score().stdout().trim() == "100"
    });
    assert!(!started.stderr().contains("WARN"), "{started}");
    run("monitor").expect_code(0);
    run("promote").expect_code(0);
    assert!(!read_only(&lab), "promote makes it writable");
    run("monitor").expect_code(8);
    // No session to the other site: its status is published as NONE.
    let status_attr = georep_status_attr("data");
    wait_until("the status attribute", Duration::from_secs(10), || {
        lab.attribute(&status_attr).as_deref() == Some("NONE")
    });
    // Someone makes the owner's volume read-only: the promoted instance has failed.
    lab.sh(
        "gluster",
        &[
            "--mode=script",
            "volume",
            "set",
            "data",
            "features.read-only",
            "on",
        ],
    );
    run("monitor").expect_code(9);
    run("promote").expect_code(0);
    run("monitor").expect_code(8);
    run("demote").expect_code(0);
    assert!(read_only(&lab), "demote makes it read-only again");
    wait_until(
        "the status attribute withdrawn",
        Duration::from_secs(10),
        || lab.attribute(&status_attr).is_none(),
    );
    run("monitor").expect_code(0);
    run("stop").expect_code(0);
    assert!(read_only(&lab), "stop changes nothing on the volume");
    wait_until(
        "the promotion score removed",
        Duration::from_secs(10),
        || score().stdout().trim().is_empty(),
    );
    run("monitor").expect_code(7);
}

#[test]
fn booth_site_passes_ocf_tester_and_restarts_after_sigkill() {
    let lab = AgentLab::up();
    lab.sh(
        "sysctl",
        &[
            "-w",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ],
    );
    // Inside the node's private /run: boothd (running as hacluster) can read it.
    let dir_in_node = std::path::Path::new("/run/booth-lab");
    let dir = lab.node().host_path(dir_in_node);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = dir.join("authkey");
    std::fs::write(&key, b"0123456789abcdef0123456789abcdef").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let addr = lab.node().addr();
    let conf = format!(
        "transport = UDP\nport = 9929\nauthfile = {}\nsite = {addr}\nsite = 192.0.2.240\narbitrator = 192.0.2.241\nticket = \"ticket-data\"\n    expire = 20\n    timeout = 1\n    retries = 3\n    renewal-freq = 5\n",
        dir_in_node.join("authkey").display()
    );
    std::fs::write(dir.join("booth.conf"), conf).unwrap();
    let config = dir_in_node.join("booth.conf").display().to_string();
    let params = vec![("config".to_string(), config)];
    ocf_tester(&lab, BOOTH_AGENT, &params);

    let run = |action: &str| lab.agent(BOOTH_AGENT, action, &params).run();
    run("monitor").expect_code(7);
    run("start").expect_code(0);
    run("monitor").expect_code(0);
    let pids = lab.node().pids_named("boothd");
    assert_eq!(pids.len(), 1, "one boothd: {pids:?}");
    lab.node()
        .kill(pids[0], nix::sys::signal::Signal::SIGKILL)
        .unwrap();
    wait_until("boothd gone", Duration::from_secs(10), || {
        lab.node().pids_named("boothd").is_empty()
    });
    run("monitor").expect_code(7);
    run("start").expect_code(0);
    run("monitor").expect_code(0);
    let again = lab.node().pids_named("boothd");
    assert_eq!(again.len(), 1, "{again:?}");
    assert_ne!(again, pids);
    // A boothd that exists but does not answer (stopped) fails the monitor, within its
    // timeout; stop still ends it.
    lab.node()
        .kill(again[0], nix::sys::signal::Signal::SIGSTOP)
        .unwrap();
    let hung = lab
        .agent(BOOTH_AGENT, "monitor", &params)
        .env("OCF_RESKEY_CRM_meta_timeout", "8000")
        .run();
    hung.expect_code(1);
    assert!(hung.elapsed() < Duration::from_secs(8), "{hung}");
    assert!(
        hung.ocf_exit_reasons()[0].contains("does not answer"),
        "{hung}"
    );
    run("stop").expect_code(0);
    assert!(lab.node().pids_named("boothd").is_empty());
    run("monitor").expect_code(7);
    run("stop").expect_code(0);
}
