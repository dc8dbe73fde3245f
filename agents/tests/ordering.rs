//! Pacemaker's own ordering replaces the glusterfs agents' 5 s `grace_delay` sleep (see the
//! `mon` module docs). Checked offline with `crm_simulate` on the constraint model in
//! `fixtures/ha-model.cib.xml`: deleting only `grace-active` on a node must yield one
//! transition in which every survivor's post-stop notification (grace `5:<node>`) is
//! confirmed before the node's VIP starts elsewhere; restoring it must release the node on
//! the survivors (pre-start, `2:<node>`) before its VIP returns home.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ganesha_lab::graph::{OfflineCib, TransitionGraph as Graph};

struct Sim(OfflineCib);

impl Sim {
    fn new() -> Sim {
        Sim(OfflineCib::new().unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path(name)
    }

    fn tool(&self, program: &str, cib: Option<&Path>) -> Command {
        self.0.command(program, cib)
    }

    fn run(&self, cmd: Command) {
        util::run_command(cmd, Duration::from_secs(60)).expect_code(0);
    }

    /// Runs the scheduler on `input`, applying the transition to `output`; returns the graph.
    fn transition(&self, input: &str, output: &str) -> Graph {
        let graph = self.path(&format!("{output}.graph.xml"));
        let mut cmd = self.tool("crm_simulate", None);
        cmd.arg("-x")
            .arg(self.path(input))
            .args(["--quorum", "1", "-S", "-O"]);
        cmd.arg(self.path(output));
        cmd.arg("-G").arg(&graph);
        self.run(cmd);
        Graph::parse(&std::fs::read_to_string(graph).unwrap()).unwrap()
    }

    fn attribute(&self, cib: &str, node: &str, name: &str, value: Option<&str>) {
        let mut cmd = self.tool("crm_attribute", Some(&self.path(cib)));
        cmd.args(["--node", node, "--name", name, "--lifetime", "reboot"]);
        match value {
            Some(v) => cmd.args(["--update", v]),
            None => cmd.arg("--delete"),
        };
        self.run(cmd);
    }
}

fn healthy_cluster(sim: &Sim) {
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ha-model.cib.xml"
        ),
        sim.path("cib.xml"),
    )
    .unwrap();
    let mut verify = sim.tool("crm_verify", None);
    verify.arg("-x").arg(sim.path("cib.xml"));
    sim.run(verify);
    let mut up = sim.tool("crm_simulate", None);
    up.arg("-x").arg(sim.path("cib.xml"));
    up.args([
        "-u", "node1", "-u", "node2", "-u", "node3", "--quorum", "1", "-S", "-O",
    ]);
    up.arg(sim.path("up.xml"));
    up.args(["-G"]).arg(sim.path("up.graph.xml"));
    sim.run(up);
    // Glusterfs defect #8: no grace instance (and no VIP) may start before ganesha_mon has
    // published the attributes; the location rules hold them back, no sleep needed.
    let first = Graph::parse(&std::fs::read_to_string(sim.path("up.graph.xml")).unwrap()).unwrap();
    let starts: Vec<&String> = first
        .inputs
        .keys()
        .filter(|k| k.contains("_start_0@"))
        .collect();
    assert!(
        starts.iter().any(|k| k.starts_with("nfs-mon")),
        "{starts:#?}"
    );
    assert!(
        !starts
            .iter()
            .any(|k| k.starts_with("nfs-grace") || k.contains("-vip_")),
        "{:#?}",
        first.inputs.keys()
    );
    for node in ["node1", "node2", "node3"] {
        sim.attribute("up.xml", node, "ganesha-active", Some("1"));
        sim.attribute("up.xml", node, "grace-active", Some("1"));
    }
    let start = sim.transition("up.xml", "placed.xml");
    // The VIPs start, each after the grace clone is running everywhere.
    assert!(start.after("node1-vip_start_0@node1", "nfs-grace-clone_running_0@"));
}

#[test]
fn failover_starts_the_vip_only_after_survivors_confirmed_grace() {
    let sim = Sim::new();
    healthy_cluster(&sim);
    // ganesha_mon on node1 withdraws grace-active, and only that.
    sim.attribute("placed.xml", "node1", "grace-active", None);
    let graph = sim.transition("placed.xml", "failed.xml");

    let vip_moves = ["node1-vip_start_0@node3", "node1-vip_start_0@node2"]
        .into_iter()
        .find(|a| graph.has(a))
        .unwrap_or_else(|| panic!("node1-vip does not move: {:#?}", graph.inputs.keys()));
    for survivor in ["node2", "node3"] {
        let notify = format!("nfs-grace_post_notify_stop_0@{survivor}");
        assert!(
            graph.has(&notify),
            "{survivor} gets no post-stop notification"
        );
        let meta = &graph.attributes[&notify];
        assert_eq!(meta["CRM_meta_notify_stop_uname"].trim(), "node1");
        assert!(
            graph.after(vip_moves, &notify),
            "VIP may start before {survivor}'s grace"
        );
    }
    assert!(graph.after(
        vip_moves,
        "nfs-grace-clone_confirmed-post_notify_stopped_0@"
    ));
}

#[test]
fn failback_releases_on_survivors_before_the_vip_returns() {
    let sim = Sim::new();
    healthy_cluster(&sim);
    sim.attribute("placed.xml", "node1", "grace-active", None);
    sim.transition("placed.xml", "failed.xml");
    // ganesha_mon sets ganesha-active then grace-active when the daemon is back.
    sim.attribute("failed.xml", "node1", "grace-active", Some("1"));
    let graph = sim.transition("failed.xml", "back.xml");
    assert!(
        graph.has("node1-vip_start_0@node1"),
        "{:#?}",
        graph.inputs.keys()
    );
    for survivor in ["node2", "node3"] {
        let notify = format!("nfs-grace_pre_notify_start_0@{survivor}");
        assert!(
            graph.has(&notify),
            "{survivor} gets no pre-start notification"
        );
        assert_eq!(
            graph.attributes[&notify]["CRM_meta_notify_start_uname"].trim(),
            "node1"
        );
        assert!(graph.after("node1-vip_start_0@node1", &notify));
    }
}
