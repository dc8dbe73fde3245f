//! End-to-end tests of the lab: real corosync, pacemaker, dbus-daemon and ganesha.nfsd in
//! network namespaces. They need root (CI runs them as root) and the Debian packages listed
//! in the crate's preflight error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use ganesha_lab::{write_ganesha_conf, GaneshaConf, Lab, LabOptions, Node};

/// Builds a lab or fails the test with the full error (command lines, logs).
fn up(nodes: usize) -> Lab {
    let _ = ganesha_lab::cleanup_stale_labs();
    match Lab::up(LabOptions {
        nodes,
        ..LabOptions::default()
    }) {
        Ok(lab) => {
            eprintln!(
                "lab {} ({nodes} node(s)) up in {:.1?}",
                lab.name(),
                lab.startup_time()
            );
            lab
        }
        Err(e) => panic!("Lab::up failed:\n{e}"),
    }
}

fn stdout(node: &Node, program: &str, args: &[&str]) -> String {
    match node.run(program, args) {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => panic!("{e}"),
    }
}

fn netns_list() -> String {
    let out = ganesha_lab::run_checked(
        std::process::Command::new("ip").args(["netns", "list"]),
        Duration::from_secs(10),
    )
    .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_gone(lab_name: &str, holder: u32) {
    let list = netns_list();
    assert!(
        !list.lines().any(|l| l.starts_with(&format!("{lab_name}-"))),
        "namespaces of {lab_name} remain:\n{list}"
    );
    assert!(
        !Path::new(&format!("/proc/{holder}")).exists(),
        "holder {holder} still exists"
    );
}

#[test]
fn one_node_cluster_answers() {
    let lab = up(1);
    let node = lab.node(0);
    assert_eq!(node.name(), "node1");
    assert_eq!(node.addr().to_string(), "192.0.2.11");
    assert_eq!(lab.nodes().len(), 1);

    // Pacemaker: a DC and node1 online.
    let xml = stdout(node, "crm_mon", &["--one-shot", "--output-as=xml"]);
    let st = ganesha_lab::ClusterStatus::parse(&xml);
    assert_eq!(st.dc.as_deref(), Some("node1"), "{xml}");
    assert_eq!(st.online, ["node1"], "{xml}");
    let props = stdout(
        node,
        "crm_attribute",
        &[
            "--type",
            "crm_config",
            "--name",
            "stonith-enabled",
            "--query",
        ],
    );
    assert!(props.contains("value=false"), "{props}");

    // attrd answers (what the agents need).
    stdout(node, "attrd_updater", &["-n", "probe-attr", "-U", "1"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let q = stdout(node, "attrd_updater", &["-Q", "-n", "probe-attr"]);
        if q.contains("value=\"1\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "attrd never reported probe-attr=1: {q}"
        );
        thread::sleep(Duration::from_millis(100));
    }

    // The node's system bus.
    let names = stdout(
        node,
        "dbus-send",
        &[
            "--system",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.ListNames",
        ],
    );
    assert!(names.contains("org.freedesktop.DBus"), "{names}");

    // Hostname, address, private /run.
    assert_eq!(stdout(node, "hostname", &[]).trim(), "node1");
    let addr = stdout(node, "ip", &["-br", "addr", "show", "eth0"]);
    assert!(addr.contains("192.0.2.11/24"), "{addr}");
    assert!(node.host_path("/run/dbus/system_bus_socket").exists());
    assert!(node.host_path("/run/ganesha").is_dir());

    // A provider only this node sees.
    let agent = lab.shared_dir().join("probe-agent");
    fs::write(&agent, "#!/bin/sh\necho probe-agent-ran\n").unwrap();
    node.install_ocf_provider("ganesha-lab-probe", &[("probe", &agent)])
        .unwrap();
    let ran = stdout(node, "/usr/lib/ocf/resource.d/ganesha-lab-probe/probe", &[]);
    assert_eq!(ran.trim(), "probe-agent-ran");
    let listed = stdout(node, "ls", &["/usr/lib/ocf/resource.d/heartbeat/"]);
    assert!(listed.contains("IPaddr2"), "{listed}");
    assert!(!Path::new("/usr/lib/ocf/resource.d/ganesha-lab-probe").exists());

    // A failing command reports everything.
    let err = node.run("ls", &["/no/such/file"]).unwrap_err().to_string();
    assert!(
        err.contains("ls /no/such/file") && err.contains("exit status") && err.contains("stderr"),
        "{err}"
    );

    let (name, holder) = (lab.name().to_string(), node.holder_pid());
    let t = Instant::now();
    lab.down().unwrap();
    eprintln!("lab {name} down in {:.1?}", t.elapsed());
    assert_gone(&name, holder);
}

#[test]
fn two_nodes_see_each_other() {
    let lab = up(2);
    let st = lab.node(1).cluster_status().unwrap();
    assert!(st.dc.is_some(), "{}", st.xml);
    assert_eq!(st.online, ["node1", "node2"], "{}", st.xml);
    let ping = stdout(lab.node(0), "ping", &["-c", "1", "-W", "5", "192.0.2.12"]);
    assert!(ping.contains("1 received"), "{ping}");
    let names: Vec<String> = lab.netns_names();
    lab.down().unwrap();
    let list = netns_list();
    for n in names {
        assert!(
            !list
                .lines()
                .any(|l| l.split_whitespace().next() == Some(n.as_str())),
            "{n} remains"
        );
    }
}

#[test]
fn drop_kills_everything_in_the_node() {
    let lab = up(1);
    let node = lab.node(0);
    let log = node.dir().join("stray.log");
    let mut stray: Child = node.spawn("sleep", &["1000"], &log).unwrap();
    let (name, holder) = (lab.name().to_string(), node.holder_pid());
    drop(lab);
    let status = stray.try_wait().unwrap();
    assert!(status.is_some(), "the stray process survived the lab");
    assert_gone(&name, holder);
}

const ADMIN: &str = "/org/ganesha/nfsd/admin";

fn ganesha_admin(
    node: &Node,
    method: &str,
    args: &[&str],
) -> Result<String, ganesha_lab::LabError> {
    let dest_method = format!("org.ganesha.nfsd.admin.{method}");
    let mut v = vec![
        "--system",
        "--print-reply",
        "--reply-timeout=5000",
        "--dest=org.ganesha.nfsd",
        ADMIN,
        &dest_method,
    ];
    v.extend_from_slice(args);
    let out = node.run_timeout("dbus-send", &v, Duration::from_secs(10))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The booleans of a dbus-send reply, in order.
fn booleans(reply: &str) -> Vec<bool> {
    reply
        .lines()
        .filter_map(|l| l.trim().strip_prefix("boolean "))
        .map(|b| b == "true")
        .collect()
}

#[test]
fn ganesha_admin_interface_in_a_node() {
    let lab = up(1);
    let node = lab.node(0);
    let shared = lab.shared_dir();
    let (recov, export) = (shared.join("recov"), shared.join("export"));
    fs::create_dir_all(&recov).unwrap();
    fs::create_dir_all(&export).unwrap();
    let conf = node.dir().join("ganesha.conf");
    write_ganesha_conf(&conf, &GaneshaConf::new(&recov, &export)).unwrap();
    let log = node.dir().join("ganesha.log");
    let conf_s = conf.to_string_lossy().into_owned();
    let log_s = log.to_string_lossy().into_owned();

    let spawned = Instant::now();
    let mut ganesha = node
        .spawn(
            "ganesha.nfsd",
            &[
                "-F",
                "-f",
                &conf_s,
                "-L",
                &log_s,
                "-p",
                "/run/ganesha/ganesha.pid",
                "-N",
                "NIV_EVENT",
            ],
            &node.dir().join("ganesha.out"),
        )
        .unwrap();
    let reply = loop {
        match ganesha_admin(node, "get_grace", &[]) {
            Ok(r) => break r,
            Err(e) => {
                assert!(
                    ganesha.try_wait().unwrap().is_none(),
                    "ganesha.nfsd exited: {}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
                assert!(
                    spawned.elapsed() < Duration::from_secs(30),
                    "get_grace never answered: {e}"
                );
                thread::sleep(Duration::from_millis(50));
            }
        }
    };
    eprintln!(
        "get_grace answered {:.0?} after spawn:\n{reply}",
        spawned.elapsed()
    );
    assert_eq!(booleans(&reply).get(1), Some(&true), "{reply}");

    let reply = ganesha_admin(node, "grace", &["string:5:node9"]).unwrap();
    eprintln!("grace 5:node9:\n{reply}");
    assert_eq!(booleans(&reply), [true], "{reply}");
    let reply = ganesha_admin(node, "get_grace", &[]).unwrap();
    eprintln!("get_grace after grace:\n{reply}");
    assert_eq!(booleans(&reply), [true, true], "{reply}");
    let text = fs::read_to_string(&log).unwrap();
    let wanted = format!("{}/node9/v4recov", recov.display());
    assert!(
        text.contains(&wanted),
        "ganesha did not read {wanted}:\n{text}"
    );

    let t = Instant::now();
    let reply = ganesha_admin(node, "shutdown", &[]).unwrap();
    eprintln!("shutdown:\n{reply}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while ganesha.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "ganesha.nfsd still runs 20 s after shutdown"
        );
        thread::sleep(Duration::from_millis(10));
    }
    eprintln!("ganesha.nfsd exited {:.0?} after shutdown", t.elapsed());
    lab.down().unwrap();
}

#[test]
fn failed_up_cleans_up_and_explains() {
    let opts = LabOptions {
        wait_timeout: Duration::from_millis(1),
        ..LabOptions::default()
    };
    let name = opts.name.clone();
    let err = match Lab::up(opts) {
        Ok(_) => panic!("a lab cannot be up within 1 ms"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("timed out") && err.contains("pacemaker.log"),
        "{err}"
    );
    let list = netns_list();
    assert!(
        !list.lines().any(|l| l.starts_with(&format!("{name}-"))),
        "{list}"
    );
    let tmp = std::env::temp_dir();
    let left: Vec<_> = fs::read_dir(&tmp)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("ganesha-lab-{name}-"))
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
