//! End-to-end tests of the lab: real corosync, pacemaker, dbus-daemon and ganesha.nfsd in
//! network namespaces. They need root (CI runs them as root) and the Debian packages listed
//! in the crate's preflight error. Each test builds its own lab (unique names), so they run in
//! parallel threads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use ganesha_agents::names::PROVIDER;
use ganesha_lab::{
    process_state, write_ganesha_conf, FailMode, GaneshaConf, Lab, LabError, LabOptions, Node, Pid,
    Signal, GANESHA, GANESHA_PID_FILE,
};
use ganesha_testkit::{Ran, TestCommand};

/// Builds a lab or fails the test with the full error (command lines, logs).
fn up_with(opts: LabOptions) -> Lab {
    let _ = ganesha_lab::cleanup_stale_labs();
    let nodes = opts.nodes;
    match Lab::up(opts) {
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

fn up(nodes: usize) -> Lab {
    up_with(LabOptions {
        nodes,
        ..LabOptions::default()
    })
}

/// `program` inside `node`, bounded as `Node::run` is.
fn in_node(node: &Node, program: &str) -> TestCommand {
    let mut cmd = TestCommand::new(node.command(program));
    cmd.timeout(Duration::from_secs(60));
    cmd
}

/// Runs `program args` inside `node`; panics with the full report unless it exits 0.
fn stdout(node: &Node, program: &str, args: &[&str]) -> String {
    in_node(node, program)
        .args(args)
        .run()
        .expect_success()
        .stdout()
        .to_owned()
}

fn netns_list() -> String {
    TestCommand::program("ip")
        .args(["netns", "list"])
        .timeout(Duration::from_secs(10))
        .run()
        .expect_success()
        .stdout()
        .to_owned()
}

/// Alive = exists and is not a zombie (PID 1 here does not reap orphans).
fn alive(pid: u32) -> bool {
    process_state(Pid::from_raw(i32::try_from(pid).unwrap())).is_some_and(|s| s != 'Z' && s != 'X')
}

/// When `pid` started (clock ticks since boot, `/proc/<pid>/stat` field 22): with
/// `pid_max` at 32768 and labs coming and going in parallel tests, a pid is reused within
/// seconds, so a process is its pid *and* its start time.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// The same process as when it was recorded is still alive.
fn still_alive(pid: u32, started: Option<u64>) -> bool {
    alive(pid) && start_time(pid) == started
}

/// The network namespace inodes other labs have bound under `/run/netns` now: the kernel
/// reuses a freed namespace's inode number at once, so another lab built in parallel may
/// hold this lab's old number.
fn inodes_named_by_others(own_prefix: &str) -> HashSet<u64> {
    let Ok(entries) = fs::read_dir("/run/netns") else {
        return HashSet::new();
    };
    entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with(own_prefix))
        .filter_map(|e| fs::metadata(e.path()).ok())
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .collect()
}

/// What must be gone after a lab is torn down.
struct Footprint {
    name: String,
    root: PathBuf,
    netns_inodes: HashSet<u64>,
    holders: Vec<(u32, Option<u64>)>,
}

impl Footprint {
    fn of(lab: &Lab) -> Footprint {
        Footprint {
            name: lab.name().to_string(),
            root: lab.root_dir().to_path_buf(),
            netns_inodes: lab.nodes().iter().map(Node::netns_inode).collect(),
            holders: lab
                .nodes()
                .iter()
                .map(|n| (n.holder_pid(), start_time(n.holder_pid())))
                .collect(),
        }
    }

    /// No namespace with the lab's name, no mount under its root, no process in its
    /// namespaces, no holder, no root directory.
    fn assert_gone(&self) {
        let list = netns_list();
        assert!(
            !list
                .lines()
                .any(|l| l.starts_with(&format!("{}-", self.name))),
            "namespaces of {} remain:\n{list}",
            self.name
        );
        let root = self.root.to_string_lossy().into_owned();
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let under: Vec<&str> = mounts
            .lines()
            .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&root)))
            .collect();
        assert!(under.is_empty(), "mounts under {root}: {under:?}");
        let reused = inodes_named_by_others(&format!("{}-", self.name));
        let mut in_ns = Vec::new();
        for e in fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let ino = fs::metadata(format!("/proc/{pid}/ns/net"))
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
            if ino.is_ok_and(|i| self.netns_inodes.contains(&i) && !reused.contains(&i)) {
                in_ns.push(pid);
            }
        }
        assert!(
            in_ns.is_empty(),
            "processes left in the lab's namespaces: {in_ns:?}"
        );
        for &(h, started) in &self.holders {
            assert!(!still_alive(h, started), "holder {h} still runs");
        }
        assert!(!self.root.exists(), "{} remains", self.root.display());
    }
}

/// Polls `check` every 200 ms for at most `bound`; whether it held.
fn wait_for(_what: &str, bound: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !check() {
        if start.elapsed() >= bound {
            return false;
        }
        thread::sleep(Duration::from_millis(200));
    }
    true
}

/// Polls `check` every 200 ms; panics with `what` after `bound`. Returns the time it took.
fn wait_until(what: &str, bound: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        thread::sleep(Duration::from_millis(200));
    }
    start.elapsed()
}

/// Whether `observer` sees `node` online (and a DC).
fn sees_online(observer: &Node, node: &str) -> bool {
    observer
        .cluster_status()
        .is_ok_and(|s| s.dc.is_some() && s.online.iter().any(|n| n == node))
}

/// Whether `observer` has a DC and does not see `node` online.
fn sees_offline(observer: &Node, node: &str) -> bool {
    observer
        .cluster_status()
        .is_ok_and(|s| s.dc.is_some() && !s.online.iter().any(|n| n == node))
}

const ADMIN: &str = "/org/ganesha/nfsd/admin";

/// The reply to `method` of ganesha's admin interface in `node`, or the full report of the
/// failed call.
fn ganesha_admin_timeout(
    node: &Node,
    method: &str,
    args: &[&str],
    reply_ms: u32,
) -> Result<String, String> {
    in_node(node, "dbus-send")
        .args(["--system", "--print-reply"])
        .arg(format!("--reply-timeout={reply_ms}"))
        .args(["--dest=org.ganesha.nfsd", ADMIN])
        .arg(format!("org.ganesha.nfsd.admin.{method}"))
        .args(args)
        .timeout(Duration::from_secs(10))
        .try_run()
        .and_then(Ran::checked)
        .map(|ran| ran.stdout().to_owned())
}

fn ganesha_admin(node: &Node, method: &str, args: &[&str]) -> Result<String, String> {
    ganesha_admin_timeout(node, method, args, 5000)
}

/// The booleans of a dbus-send reply, in order.
fn booleans(reply: &str) -> Vec<bool> {
    reply
        .lines()
        .filter_map(|l| l.trim().strip_prefix("boolean "))
        .map(|b| b == "true")
        .collect()
}

/// Waits until the node's ganesha answers get_grace.
fn ganesha_answers(node: &Node, bound: Duration) -> Duration {
    wait_until(
        &format!("ganesha.nfsd on {} answering get_grace", node.name()),
        bound,
        || ganesha_admin_timeout(node, "get_grace", &[], 2000).is_ok(),
    )
}

/// Reads a file over NFSv4 from inside `client` (retrying while the server is in grace).
fn nfs_read(client: &Node, url: &str, bound: Duration) -> String {
    let start = Instant::now();
    loop {
        let attempt = in_node(client, "nfs-cat")
            .arg(url)
            .timeout(Duration::from_secs(10))
            .try_run()
            .and_then(Ran::checked);
        match attempt {
            Ok(ran) => return ran.stdout().to_owned(),
            Err(e) => {
                assert!(start.elapsed() < bound, "nfs-cat {url} never worked: {e}");
                thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

fn ganesha_pid(node: &Node) -> Pid {
    let pids = node.pids_named(GANESHA);
    assert_eq!(pids.len(), 1, "{}: ganesha.nfsd pids {pids:?}", node.name());
    pids[0]
}

#[test]
fn one_node_cluster_answers() {
    let lab = up(1);
    let node = lab.node(0);
    assert_eq!(node.name(), "node1");
    assert_eq!(node.addr().to_string(), "192.0.2.11");
    assert_eq!(lab.nodes().len(), 1);
    assert!(lab.node_by_name("node1").is_some());
    assert!(lab.node_by_name("node2").is_none());
    assert!(lab.state_file().is_file());
    assert!(!lab.fencing_enabled());

    // Pacemaker: quorum, a DC and node1 online.
    let xml = stdout(node, "crm_mon", &["--one-shot", "--output-as=xml"]);
    let st = ganesha_lab::ClusterStatus::parse(&xml);
    assert_eq!(st.dc.as_deref(), Some("node1"), "{xml}");
    assert!(st.quorum, "{xml}");
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
    wait_until(
        "attrd reporting probe-attr=1",
        Duration::from_secs(10),
        || stdout(node, "attrd_updater", &["-Q", "-n", "probe-attr"]).contains("value=\"1\""),
    );

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

    // Hostname, address, private /run, handles.
    assert_eq!(stdout(node, "hostname", &[]).trim(), "node1");
    let addr = stdout(node, "ip", &["-br", "addr", "show", "eth0"]);
    assert!(addr.contains("192.0.2.11/24"), "{addr}");
    assert!(node.host_path("/run/dbus/system_bus_socket").exists());
    assert!(node.host_path("/run/ganesha").is_dir());
    let hostname = node.read_file("/etc/hostname");
    assert!(hostname.is_ok(), "{hostname:?}");
    let corosync_conf = node.read_file("/etc/corosync/corosync.conf").unwrap();
    assert!(
        corosync_conf.contains("ring0_addr: 192.0.2.11"),
        "{corosync_conf}"
    );
    assert_eq!(node.pids_named("corosync").len(), 1);
    assert_eq!(node.pids_named("pacemakerd").len(), 1);
    assert_eq!(
        node.pids_named("pacemaker-fenced").len(),
        1,
        "comm is cut to 15 chars"
    );
    assert!(
        node.pids_named(GANESHA).is_empty(),
        "no ganesha service asked for"
    );
    assert!(node.is_powered_on());
    assert_eq!(
        lab.node_holding(Ipv4Addr::new(192, 0, 2, 11))
            .map(Node::name),
        Some("node1")
    );
    assert!(lab.node_holding(Ipv4Addr::new(192, 0, 2, 99)).is_none());
    // Only the node's processes can be signalled through it.
    let me = Pid::from_raw(i32::try_from(std::process::id()).unwrap());
    assert!(node.kill(me, Signal::SIGCONT).is_err());
    let holder = Pid::from_raw(i32::try_from(node.holder_pid()).unwrap());
    assert!(node.kill(holder, Signal::SIGCONT).is_err());

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
    // The `ganesha` provider is the node's own, whatever the host has.
    assert!(node.ocf_dir().join(PROVIDER).is_dir());

    // A failing `Node::run` reports everything.
    let err = node.run("ls", &["/no/such/file"]).unwrap_err().to_string();
    assert!(
        err.contains("ls /no/such/file") && err.contains("exit status") && err.contains("stderr"),
        "{err}"
    );

    let gone = Footprint::of(&lab);
    let t = Instant::now();
    lab.down().unwrap();
    eprintln!("lab {} down in {:.1?}", gone.name, t.elapsed());
    gone.assert_gone();
}

#[test]
fn three_nodes_agree_and_serve_nfs() {
    let lab = up_with(LabOptions {
        nodes: 3,
        ganesha_service: true,
        ..LabOptions::default()
    });
    let took = lab.startup_time();
    eprintln!("3-node lab (with ganesha.nfsd on each) up in {took:.1?}");
    assert!(took < Duration::from_secs(60), "3-node up took {took:?}");
    let names = ["node1", "node2", "node3"];

    // Membership, quorum and the same DC, seen from every node.
    let mut dcs = HashSet::new();
    for node in lab.nodes() {
        let st = node.cluster_status().unwrap();
        assert!(st.all_online(&names), "{}: {}", node.name(), st.xml);
        assert_eq!(st.online.len(), 3, "{}", st.xml);
        dcs.insert(st.dc.clone().unwrap());
        let quorum = stdout(node, "corosync-quorumtool", &["-s"]);
        assert!(quorum.contains("Quorate:          Yes"), "{quorum}");
    }
    assert_eq!(dcs.len(), 1, "nodes disagree on the DC: {dcs:?}");

    // exec: each node is itself.
    for node in lab.nodes() {
        assert_eq!(stdout(node, "hostname", &[]).trim(), node.name());
        let ping = stdout(node, "ping", &["-c", "1", "-W", "5", "192.0.2.13"]);
        assert!(ping.contains("1 received"), "{ping}");
    }

    // The per-node ganesha service, with ganesha_nfsd's defaults, serving the shared export.
    for node in lab.nodes() {
        let pid = ganesha_pid(node);
        let file = node.read_file(GANESHA_PID_FILE).unwrap();
        assert_eq!(file.trim(), pid.to_string());
        let conf = node.read_file("/etc/ganesha/ganesha.conf").unwrap();
        assert!(conf.contains("Clustered = false;"), "{conf}");
        assert!(
            conf.contains("RecoveryRoot = \"/var/lib/nfs/ganesha\";"),
            "{conf}"
        );
    }
    fs::write(lab.shared_dir().join("export/probe.txt"), "shared state\n").unwrap();
    for (client, server) in [(1, "192.0.2.11"), (0, "192.0.2.12"), (0, "192.0.2.13")] {
        let url = format!("nfs://{server}/export/probe.txt?version=4");
        let t = Instant::now();
        let text = nfs_read(lab.node(client), &url, Duration::from_secs(60));
        assert_eq!(text, "shared state\n");
        eprintln!(
            "{url} read from {} in {:.1?}",
            lab.node(client).name(),
            t.elapsed()
        );
    }

    // node_holding: own addresses and an added one.
    for (i, node) in lab.nodes().iter().enumerate() {
        assert_eq!(lab.node_holding(node.addr()).map(Node::id), Some(i + 1));
    }
    let vip = Ipv4Addr::new(192, 0, 2, 101);
    assert!(lab.node_holding(vip).is_none());
    in_node(lab.node(2), "ip")
        .args(["addr", "add", "192.0.2.101/24", "dev", "eth0"])
        .run()
        .expect_success();
    assert_eq!(lab.node_holding(vip).map(Node::name), Some("node3"));

    let gone = Footprint::of(&lab);
    let t = Instant::now();
    lab.down().unwrap();
    eprintln!("3-node lab down in {:.1?}", t.elapsed());
    gone.assert_gone();
}

#[test]
fn kill_and_hang_ganesha_then_heal() {
    let lab = up_with(LabOptions {
        ganesha_service: true,
        ..LabOptions::default()
    });
    let node = lab.node(0);
    ganesha_answers(node, Duration::from_secs(30));

    // kill-ganesha: the process is gone; heal starts a new one that answers.
    let old = ganesha_pid(node);
    node.fail(FailMode::KillGanesha).unwrap();
    assert!(node.pids_named(GANESHA).is_empty());
    assert!(!alive(u32::try_from(old.as_raw()).unwrap()));
    assert!(ganesha_admin_timeout(node, "get_grace", &[], 2000).is_err());
    assert_eq!(node.failures(), ["kill-ganesha"]);
    let t = Instant::now();
    node.heal().unwrap();
    let new = ganesha_pid(node);
    assert_ne!(new, old);
    ganesha_answers(node, Duration::from_secs(30));
    eprintln!(
        "kill-ganesha healed: new ganesha answers after {:.1?}",
        t.elapsed()
    );
    assert!(node.failures().is_empty());

    // hang-ganesha: stopped (state T), D-Bus calls time out; heal continues it.
    node.fail(FailMode::HangGanesha).unwrap();
    assert_eq!(process_state(new), Some('T'));
    let t = Instant::now();
    let hung = ganesha_admin_timeout(node, "get_grace", &[], 2000);
    assert!(hung.is_err(), "a stopped ganesha answered: {hung:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        t.elapsed()
    );
    node.heal().unwrap();
    assert_ne!(process_state(new), Some('T'));
    assert_eq!(ganesha_pid(node), new, "heal continues the stopped daemon");
    let reply = ganesha_admin(node, "get_grace", &[]).unwrap();
    assert_eq!(booleans(&reply).len(), 2, "{reply}");

    // A failure that needs a daemon which is not there says so.
    node.fail(FailMode::KillGanesha).unwrap();
    let err = node.fail(FailMode::HangGanesha).unwrap_err().to_string();
    assert!(err.contains("no ganesha.nfsd"), "{err}");
    node.heal().unwrap();
    ganesha_answers(node, Duration::from_secs(30));

    // Dropping the lab tears it down, even with a stray process in the node.
    let log = node.dir().join("stray.log");
    let mut stray: Child = node.spawn("sleep", &["1000"], &log).unwrap();
    let gone = Footprint::of(&lab);
    drop(lab);
    let status = stray.try_wait().unwrap();
    assert!(status.is_some(), "the stray process survived the lab");
    gone.assert_gone();
}

#[test]
fn isolate_crash_and_kill_pacemaker_then_heal() {
    let lab = up_with(LabOptions {
        nodes: 3,
        ganesha_service: true,
        ..LabOptions::default()
    });
    let (n1, n2, n3) = (lab.node(0), lab.node(1), lab.node(2));
    let bound = Duration::from_secs(60);

    // power_on of a node that is on changes nothing.
    let corosync = n1.pids_named("corosync");
    n1.power_on().unwrap();
    assert_eq!(n1.pids_named("corosync"), corosync);
    assert_eq!(n1.pids_named("pacemakerd").len(), 1);

    // isolate: the link goes down, the processes keep running, the peers lose the node.
    let vip = Ipv4Addr::new(192, 0, 2, 102);
    in_node(n2, "ip")
        .args(["addr", "add", "192.0.2.102/24", "dev", "eth0"])
        .run()
        .expect_success();
    assert_eq!(lab.node_holding(vip).map(Node::name), Some("node2"));
    let corosync = n2.pids_named("corosync");
    n2.fail(FailMode::Isolate).unwrap();
    assert!(!n2.link_is_up().unwrap());
    assert!(!n2.is_powered_on());
    assert_eq!(n2.pids_named("corosync"), corosync);
    assert!(
        lab.node_holding(vip).is_none(),
        "an isolated node holds nothing reachable"
    );
    let t = wait_until("node1 sees node2 offline", bound, || {
        sees_offline(n1, "node2")
    });
    eprintln!("isolate: peers lost node2 after {t:.1?}");
    n2.heal().unwrap();
    let t = wait_until("node1 sees node2 online", bound, || {
        sees_online(n1, "node2")
    });
    eprintln!("isolate healed: node2 online after {t:.1?}");
    assert_eq!(
        n2.pids_named("corosync"),
        corosync,
        "heal of isolate restarts nothing"
    );
    assert_eq!(lab.node_holding(vip).map(Node::name), Some("node2"));

    // crash: every process gone, link down, addresses flushed; heal boots it.
    n3.fail(FailMode::Crash).unwrap();
    assert!(n3.pids().is_empty(), "{:?}", n3.pids());
    assert!(!n3.is_powered_on());
    assert!(n3.holder_alive());
    assert!(lab.node_holding(n3.addr()).is_none());
    n3.power_off().unwrap(); // idempotent
    let t = wait_until("node1 sees node3 offline", bound, || {
        sees_offline(n1, "node3")
    });
    eprintln!("crash: peers lost node3 after {t:.1?}");
    let t = Instant::now();
    n3.heal().unwrap();
    assert!(n3.is_powered_on());
    assert!(n3.host_path("/run/dbus/system_bus_socket").exists());
    wait_until("node1 sees node3 online", bound, || {
        sees_online(n1, "node3")
    });
    eprintln!("crash healed: node3 online after {:.1?}", t.elapsed());
    ganesha_answers(n3, Duration::from_secs(30));
    assert_eq!(lab.node_holding(n3.addr()).map(Node::name), Some("node3"));
    n3.power_on().unwrap(); // idempotent
    assert_eq!(n3.pids_named("corosync").len(), 1);

    // kill-pacemaker: pacemakerd and its daemons gone, corosync still there.
    n2.fail(FailMode::KillPacemaker).unwrap();
    assert!(n2.pids_named("pacemakerd").is_empty());
    assert!(n2.pids_named("pacemaker-based").is_empty());
    assert_eq!(n2.pids_named("corosync"), corosync);
    let t = wait_until("node1 sees node2 not online", bound, || {
        sees_offline(n1, "node2")
    });
    eprintln!("kill-pacemaker: peers lost node2 after {t:.1?}");
    n2.heal().unwrap();
    let t = wait_until("node1 sees node2 online", bound, || {
        sees_online(n1, "node2")
    });
    eprintln!("kill-pacemaker healed: node2 online after {t:.1?}");
    // In the end every node, node2's fresh pacemaker too, sees all three online.
    let t = wait_until("every node sees all three online", bound, || {
        lab.nodes().iter().all(|n| {
            n.cluster_status()
                .is_ok_and(|s| s.all_online(&["node1", "node2", "node3"]))
        })
    });
    eprintln!("every node agrees after {t:.1?} more");

    let gone = Footprint::of(&lab);
    lab.down().unwrap();
    gone.assert_gone();
}

/// The fence agent built from src/bin/fence_ganesha_lab.rs, in the directory `up` installs
/// agents from.
fn fence_agent_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_fence_ganesha_lab"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn fencing_through_pacemaker_reboots_a_node() {
    let lab = up_with(LabOptions {
        nodes: 3,
        agents_dir: Some(fence_agent_dir()),
        ..LabOptions::default()
    });
    assert!(lab.fencing_enabled());
    assert!(lab
        .installed_agents()
        .iter()
        .any(|a| a == "/usr/sbin/fence_ganesha_lab"));
    let (n1, n2, n3) = (lab.node(0), lab.node(1), lab.node(2));
    let props = stdout(
        n2,
        "crm_attribute",
        &[
            "--type",
            "crm_config",
            "--name",
            "stonith-enabled",
            "--query",
        ],
    );
    assert!(props.contains("value=true"), "{props}");
    assert!(
        !Path::new("/usr/sbin/fence_ganesha_lab").exists(),
        "the host is untouched"
    );
    let listed = stdout(n2, "stonith_admin", &["--list", "node1"]);
    assert!(listed.contains("lab-fencing"), "{listed}");

    // stonith_admin --reboot node1 on node2: node1 goes down and comes back.
    let corosync_before = n1.pids_named("corosync");
    let n2_log = n2.dir().join("var-log-corosync/corosync.log");
    let offset = fs::metadata(&n2_log).unwrap().len();
    let started = Instant::now();
    let (went_down, out) = thread::scope(|s| {
        let watcher = s.spawn(|| {
            // The moment node1 has no corosync any more.
            while started.elapsed() < Duration::from_secs(90) {
                if n1.pids_named("corosync").is_empty() {
                    return Some(started.elapsed());
                }
                thread::sleep(Duration::from_millis(10));
            }
            None
        });
        let out = in_node(n2, "stonith_admin")
            .args(["--reboot", "node1", "--timeout", "60"])
            .timeout(Duration::from_secs(90))
            .try_run()
            .and_then(Ran::checked);
        (watcher.join().unwrap(), out)
    });
    let reboot_took = started.elapsed();
    if let Err(e) = out {
        panic!(
            "stonith_admin --reboot node1 failed:\n{e}\nnode2 pacemaker.log:\n{}",
            n2.read_file("/var/log/pacemaker/pacemaker.log")
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("fence") || l.contains("stonith"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    eprintln!("stonith_admin --reboot node1 returned after {reboot_took:.1?}");
    let down_at = went_down.expect("node1's corosync never went away");
    eprintln!("node1 was down {down_at:.1?} after the request");
    wait_until(
        "node2 sees node1 online again",
        Duration::from_secs(60),
        || sees_online(n2, "node1"),
    );
    eprintln!(
        "node1 online again {:.1?} after the request",
        started.elapsed()
    );
    let corosync_after = n1.pids_named("corosync");
    assert_eq!(corosync_after.len(), 1);
    assert_ne!(
        corosync_after, corosync_before,
        "node1 was really powered off and on"
    );
    assert!(n1.is_powered_on());
    // The peers' membership lost node1 (`left: 1`; a quick reboot may rejoin in the same
    // step), then had all three again.
    // crm_mon can report node1 online from the CIB before corosync on node2 has logged the
    // new membership, so the log is polled rather than read once.
    let log_since = || {
        let log = fs::read(&n2_log).unwrap();
        String::from_utf8_lossy(&log[usize::try_from(offset).unwrap()..]).into_owned()
    };
    let rejoined = |log: &str| {
        log.lines()
            .position(|l| l.contains("A new membership") && l.contains("left: 1"))
            .is_some_and(|left| {
                log.lines()
                    .skip(left)
                    .any(|l| l.contains("Members[3]: 1 2 3"))
            })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !rejoined(&log_since()) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    let log = log_since();
    assert!(
        log.lines()
            .any(|l| l.contains("A new membership") && l.contains("left: 1")),
        "node2's membership never lost node1:\n{log}"
    );
    assert!(rejoined(&log), "node1 never rejoined:\n{log}");
    let history = stdout(n2, "stonith_admin", &["--history", "node1"]);
    assert!(history.contains("reboot of node1 successful"), "{history}");

    // A crashed node is fenced by the cluster itself (no heal) and comes back. First let the
    // cluster settle (every node sees all three, the DC is idle); the victim is a node that
    // is not the DC (a DC lost in the middle of a transition is Pacemaker's own corner case).
    let all = ["node1", "node2", "node3"];
    let mut dc = String::new();
    let mut seen = String::new();
    let settled = wait_for("the cluster settled", Duration::from_secs(120), || {
        let views: Vec<String> = lab
            .nodes()
            .iter()
            .map(|n| match n.cluster_status() {
                Ok(s) => format!("{}: dc={:?} online={:?}", n.name(), s.dc, s.online),
                Err(e) => format!(
                    "{}: {}",
                    n.name(),
                    e.to_string().lines().next().unwrap_or_default()
                ),
            })
            .collect();
        let agree = lab
            .nodes()
            .iter()
            .all(|n| n.cluster_status().is_ok_and(|s| s.all_online(&all)));
        dc = n2
            .cluster_status()
            .ok()
            .and_then(|s| s.dc)
            .unwrap_or_default();
        let state = if dc.is_empty() {
            String::from("no DC")
        } else {
            in_node(n2, "crmadmin")
                .args(["-S", &dc])
                .timeout(Duration::from_secs(10))
                .try_run()
                .and_then(Ran::checked)
                .map(|ran| ran.stdout().trim().to_owned())
                .unwrap_or_else(|e| e.lines().next().unwrap_or_default().to_owned())
        };
        seen = format!("{views:?}; DC state: {state}");
        agree && !dc.is_empty() && state.contains("S_IDLE")
    });
    assert!(
        settled,
        "the cluster did not settle within 120 s; last seen: {seen}"
    );
    let victim = if dc == "node3" { n2 } else { n3 };
    let watcher = if dc == "node1" {
        n1
    } else {
        lab.node_by_name(&dc).unwrap()
    };
    let v = victim.name().to_string();
    eprintln!("DC {dc}; crashing {v}");
    let t = Instant::now();
    victim.fail(FailMode::Crash).unwrap();
    let fenced = || {
        in_node(watcher, "stonith_admin")
            .args(["--history", &v])
            .timeout(Duration::from_secs(20))
            .try_run()
            .and_then(Ran::checked)
            .is_ok_and(|ran| ran.stdout().contains(&format!("reboot of {v} successful")))
    };
    while !(fenced() && sees_online(watcher, &v)) {
        if t.elapsed() > Duration::from_secs(90) {
            let log = watcher
                .read_file("/var/log/pacemaker/pacemaker.log")
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            panic!(
                "{v} not fenced and online again within 90 s\ncrm_mon:\n{}\nhistory:\n{}\n{} pacemaker.log (newest first):\n{}",
                stdout(watcher, "crm_mon", &["-1"]),
                stdout(watcher, "stonith_admin", &["--history", "*"]),
                watcher.name(),
                tail.join("\n")
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "crashed {v} fenced by the cluster and online again after {:.1?}",
        t.elapsed()
    );
    assert!(victim.failures().is_empty(), "the reboot powered {v} on");

    let gone = Footprint::of(&lab);
    lab.down().unwrap();
    gone.assert_gone();
}

/// Tears a detached lab down when the test ends, even on failure.
struct DownOnDrop(PathBuf);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        let _ = ganesha_lab::down_state(&self.0);
    }
}

#[test]
fn detach_attach_and_down_from_the_state_file() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("lab");
    let opts = LabOptions {
        root: Some(root.clone()),
        ..LabOptions::default()
    };
    let lab = up_with(opts.clone());
    let gone = Footprint::of(&lab);
    let corosync = lab.node(0).pids_named("corosync");
    let state_file = lab.detach();
    let _guard = DownOnDrop(state_file.clone());
    assert_eq!(state_file, root.join("state.json"));
    assert!(
        still_alive(gone.holders[0].0, gone.holders[0].1),
        "detach tore something down"
    );

    // A second up with the same name is refused, with the same root or another one.
    match Lab::up(opts.clone()) {
        Err(e @ LabError::AlreadyRunning { .. }) => eprintln!("refused: {e}"),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a second lab with the same root came up"),
    }
    match Lab::up(LabOptions {
        root: None,
        ..opts.clone()
    }) {
        Err(e @ LabError::AlreadyRunning { .. }) => eprintln!("refused: {e}"),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a second lab with the same name came up"),
    }

    // An attached handle works and its drop leaves the lab running.
    let attached = Lab::attach(&state_file).unwrap();
    assert_eq!(attached.name(), opts.name);
    let node = attached.node_by_name("node1").unwrap();
    assert_eq!(stdout(node, "hostname", &[]).trim(), "node1");
    assert_eq!(node.pids_named("corosync"), corosync);
    assert!(node.cluster_status().unwrap().all_online(&["node1"]));
    drop(attached);
    assert!(still_alive(gone.holders[0].0, gone.holders[0].1));
    assert!(state_file.exists());

    // Down from the state file alone; a second down finds nothing to do.
    let t = Instant::now();
    Lab::attach(&state_file).unwrap().down().unwrap();
    eprintln!("attached lab down in {:.1?}", t.elapsed());
    gone.assert_gone();
    assert!(!ganesha_lab::down_state(&state_file).unwrap());
}

#[test]
fn addresses_in_use_on_the_host_are_refused() {
    // 127.0.0.1 is on the host's lo.
    let Err(err) = Lab::up(LabOptions {
        subnet_base: [127, 0, 0],
        first_host: 1,
        ..LabOptions::default()
    }) else {
        panic!("a lab on the host's own address came up");
    };
    assert!(matches!(err, LabError::AddressInUse { .. }), "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
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
                GANESHA_PID_FILE,
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
    assert_eq!(booleans(&reply), [true], "{reply}");
    let reply = ganesha_admin(node, "get_grace", &[]).unwrap();
    assert_eq!(booleans(&reply), [true, true], "{reply}");
    let text = fs::read_to_string(&log).unwrap();
    let wanted = format!("{}/node9/v4recov", recov.display());
    assert!(
        text.contains(&wanted),
        "ganesha did not read {wanted}:\n{text}"
    );

    let t = Instant::now();
    ganesha_admin(node, "shutdown", &[]).unwrap();
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
