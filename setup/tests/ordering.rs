//! What Pacemaker's scheduler does with the configuration `ganesha-ha setup` writes
//! ([`model`]), proved offline in its own transition graphs (`crm_simulate`): placement,
//! node loss, and the attribute-driven failover and failback that replace the glusterfs
//! agents' 5 s `grace_delay` sleep (see the docs of `agents/src/mon.rs`).
//!
//! Withdrawing only `grace-active` on a node must yield one transition in which every
//! survivor's post-stop notification (grace `5:<node>`) is confirmed before the node's VIP
//! starts elsewhere; restoring it must release the node on the survivors (pre-start,
//! `2:<node>`) before its VIP returns home. The two `Optional` orders of each VIP are what
//! makes it so: without the stop orders the failover proof fails, without the start orders
//! the failback proof does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::collections::BTreeSet;

use ganesha_agents::names::{GANESHA_ACTIVE, GRACE_ACTIVE};
use ganesha_ha::cib::{Action, Cib, Constraint};
use ganesha_ha::model::{model, GRACE_CLONE};
use ganesha_ha::spec::ClusterSpec;
use ganesha_ha::status::{self, ClusterState};
use ganesha_lab::graph::{OfflineCib, TransitionGraph as Graph};
use util::offline::{spec, stdout_of, verify};

const NODES: [&str; 3] = ["node1", "node2", "node3"];
/// node1 fails in every scenario.
const SURVIVORS: [&str; 2] = ["node2", "node3"];
/// The CIB file of the healthy cluster every scenario starts from.
const PLACED: &str = "placed.xml";

fn transition(sim: &OfflineCib, input: &str, extra: &[&str], output: &str) -> Graph {
    sim.transition(input, extra, output)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn attribute(sim: &OfflineCib, cib: &str, node: &str, name: &str, value: Option<&str>) {
    sim.attribute(cib, node, name, value)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Where each resource (primitive id; clone instances merged) runs in the CIB file `cib`,
/// read from `crm_mon` with the crate's own parser.
fn placement_in(sim: &OfflineCib, cib: &str) -> Placement {
    let mut cmd = sim.command("crm_mon", Some(&sim.path(cib)));
    cmd.args(["-1", "--output-as=xml"]);
    let xml = stdout_of(cmd);
    Placement(status::parse(&xml).unwrap())
}

#[derive(Debug)]
struct Placement(ClusterState);

impl Placement {
    fn on(&self, id: &str) -> Vec<&str> {
        let nodes: BTreeSet<&str> = self
            .0
            .resources
            .iter()
            .filter(|r| r.id == id)
            .flat_map(|r| r.nodes.iter().map(String::as_str))
            .collect();
        nodes.into_iter().collect()
    }

    /// Resources (or instances) crm_mon reports as Stopped.
    fn stopped(&self) -> Vec<&str> {
        let ids = self.0.resources.iter().filter(|r| r.role == "Stopped");
        ids.map(|r| r.id.as_str()).collect()
    }
}

/// The model without the orders `grace clone <action> then VIP start`.
fn without_orders(spec: &ClusterSpec, action: Action) -> Cib {
    let mut model = model(spec);
    let before = model.constraints.len();
    model.constraints.retain(|c| {
        !matches!(c, Constraint::Order(o)
            if o.first == GRACE_CLONE && o.first_action == Some(action))
    });
    assert_eq!(before - model.constraints.len(), spec.nodes.len());
    model
}

/// Three nodes up, ganesha_mon's attributes set everywhere: everything runs, VIPs at home
/// ([`PLACED`]). Returns the transition that placed them.
fn placed(sim: &OfflineCib, spec: &ClusterSpec, model: &Cib) -> Graph {
    verify(sim, "cib.xml", &model.to_xml());
    let up = transition(
        sim,
        "cib.xml",
        &["-u", "node1", "-u", "node2", "-u", "node3"],
        "up.xml",
    );
    // The glusterfs agents started grace before ganesha_mon had published the attributes
    // (and slept 5 s against it): here the location rules hold back every grace instance
    // and VIP until then, no sleep needed.
    let starts: Vec<&String> = up
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
        "{starts:#?}"
    );
    // Pacemaker's copy still reads back as the same model (status, nodes ignored).
    let back = Cib::from_xml(&std::fs::read_to_string(sim.path("up.xml")).unwrap()).unwrap();
    assert_eq!(&back, model);
    for node in NODES {
        attribute(sim, "up.xml", node, GANESHA_ACTIVE, Some("1"));
        attribute(sim, "up.xml", node, GRACE_ACTIVE, Some("1"));
    }
    let graph = transition(sim, "up.xml", &[], PLACED);
    let placement = placement_in(sim, PLACED);
    assert!(placement.stopped().is_empty(), "{placement:#?}");
    for id in ["nfs-ganesha", "nfs-mon", "nfs-grace"] {
        assert_eq!(placement.on(id), NODES, "{id}");
    }
    for node in NODES {
        assert_eq!(
            placement.on(&format!("{node}-vip")),
            [node],
            "{placement:#?}"
        );
        if spec.portblock {
            assert_eq!(placement.on(&format!("{node}-nfs_block")), [node]);
            assert_eq!(placement.on(&format!("{node}-nfs_unblock")), [node]);
        }
    }
    graph
}

/// What does not hold of "each VIP starts after the grace clone runs everywhere" in the
/// transition that placed them.
fn startup_gaps(graph: &Graph) -> Vec<String> {
    NODES
        .iter()
        .map(|node| format!("{node}-vip_start_0@{node}"))
        .filter(|vip| !graph.after(vip, "nfs-grace-clone_running_0@"))
        .map(|vip| format!("{vip} may run before the grace clone"))
        .collect()
}

/// ganesha_mon on node1 withdraws grace-active, and only that ([`PLACED`] → `failed.xml`).
fn fail_node1(sim: &OfflineCib) -> Graph {
    attribute(sim, PLACED, "node1", GRACE_ACTIVE, None);
    transition(sim, PLACED, &[], "failed.xml")
}

/// ganesha_mon publishes grace-active again (`failed.xml` → `back.xml`).
fn restore_node1(sim: &OfflineCib) -> Graph {
    attribute(sim, "failed.xml", "node1", GRACE_ACTIVE, Some("1"));
    transition(sim, "failed.xml", &[], "back.xml")
}

/// What does not hold of "node1's VIP moves only after every survivor's post-stop
/// notification about node1 is confirmed" in the failover transition.
fn failover_gaps(graph: &Graph) -> Vec<String> {
    let Some(vip_moves) = ["node1-vip_start_0@node3", "node1-vip_start_0@node2"]
        .into_iter()
        .find(|a| graph.has(a))
    else {
        return vec![format!(
            "node1-vip does not move: {:#?}",
            graph.inputs.keys()
        )];
    };
    let mut gaps = Vec::new();
    for survivor in SURVIVORS {
        let notify = format!("nfs-grace_post_notify_stop_0@{survivor}");
        if !graph.has(&notify) {
            gaps.push(format!("{survivor} gets no post-stop notification"));
            continue;
        }
        let stopped = graph.attributes[&notify]["CRM_meta_notify_stop_uname"].trim();
        if stopped != "node1" {
            gaps.push(format!("{survivor} is told {stopped:?} stopped, not node1"));
        }
        if !graph.after(vip_moves, &notify) {
            gaps.push(format!("VIP may start before {survivor}'s grace"));
        }
    }
    if !graph.after(
        vip_moves,
        "nfs-grace-clone_confirmed-post_notify_stopped_0@",
    ) {
        gaps.push("VIP may start before the post-stop notifications are confirmed".into());
    }
    gaps
}

/// What does not hold of "node1's VIP returns home only after every survivor's pre-start
/// notification about node1" in the failback transition.
fn failback_gaps(graph: &Graph) -> Vec<String> {
    let vip_returns = "node1-vip_start_0@node1";
    if !graph.has(vip_returns) {
        return vec![format!(
            "node1-vip does not return: {:#?}",
            graph.inputs.keys()
        )];
    }
    let mut gaps = Vec::new();
    for survivor in SURVIVORS {
        let notify = format!("nfs-grace_pre_notify_start_0@{survivor}");
        if !graph.has(&notify) {
            gaps.push(format!("{survivor} gets no pre-start notification"));
            continue;
        }
        let started = graph.attributes[&notify]["CRM_meta_notify_start_uname"].trim();
        if started != "node1" {
            gaps.push(format!("{survivor} is told {started:?} starts, not node1"));
        }
        if !graph.after(vip_returns, &notify) {
            gaps.push(format!("VIP may return before {survivor}'s release"));
        }
    }
    gaps
}

/// The model as written, without and with portblock groups around the VIPs.
fn specs() -> [ClusterSpec; 2] {
    [spec(3, false, false), spec(3, false, true)]
}

fn node_loss_moves_the_vip_to_the_ring_predecessor(spec: ClusterSpec) {
    let sim = OfflineCib::new().unwrap();
    placed(&sim, &spec, &model(&spec));
    transition(&sim, PLACED, &["--node-fail", "node1"], "lost.xml");
    let placement = placement_in(&sim, "lost.xml");
    // node1's VIP prefers node1 (3000), then node3 (2000), then node2 (1000).
    assert_eq!(placement.on("node1-vip"), ["node3"], "{placement:#?}");
    assert_eq!(placement.on("node2-vip"), ["node2"]);
    assert_eq!(placement.on("node3-vip"), ["node3"]);
    if spec.portblock {
        assert_eq!(placement.on("node1-nfs_unblock"), ["node3"]);
    }
}

#[test]
fn node_loss_moves_the_vip() {
    node_loss_moves_the_vip_to_the_ring_predecessor(spec(3, false, false));
}

#[test]
fn node_loss_moves_the_vip_with_portblock_and_fencing() {
    node_loss_moves_the_vip_to_the_ring_predecessor(spec(3, true, true));
}

#[test]
fn failover_starts_the_vip_only_after_survivors_confirmed_grace() {
    for spec in specs() {
        let sim = OfflineCib::new().unwrap();
        let start = placed(&sim, &spec, &model(&spec));
        assert_eq!(startup_gaps(&start), Vec::<String>::new());
        let graph = fail_node1(&sim);
        assert_eq!(failover_gaps(&graph), Vec::<String>::new());
        // The ring predecessor takes it; node1's grace instance is the one that stopped.
        assert!(
            graph.has("node1-vip_start_0@node3"),
            "{:#?}",
            graph.inputs.keys()
        );
        let placement = placement_in(&sim, "failed.xml");
        assert_eq!(placement.on("node1-vip"), ["node3"], "{placement:#?}");
        assert_eq!(placement.on("nfs-grace"), SURVIVORS);
    }
}

#[test]
fn failback_releases_on_survivors_before_the_vip_returns() {
    for spec in specs() {
        let sim = OfflineCib::new().unwrap();
        placed(&sim, &spec, &model(&spec));
        fail_node1(&sim);
        let graph = restore_node1(&sim);
        assert_eq!(failback_gaps(&graph), Vec::<String>::new());
        assert_eq!(placement_in(&sim, "back.xml").on("node1-vip"), ["node1"]);
    }
}

/// The proofs are not vacuous: each edge is there because of its order, and only that.
#[test]
fn without_either_order_its_proof_fails() {
    let spec = spec(3, false, false);

    let sim = OfflineCib::new().unwrap();
    let start = placed(&sim, &spec, &without_orders(&spec, Action::Stop));
    assert_eq!(startup_gaps(&start), Vec::<String>::new());
    assert_ne!(failover_gaps(&fail_node1(&sim)), Vec::<String>::new());
    assert_eq!(failback_gaps(&restore_node1(&sim)), Vec::<String>::new());

    let sim = OfflineCib::new().unwrap();
    let start = placed(&sim, &spec, &without_orders(&spec, Action::Start));
    assert_ne!(startup_gaps(&start), Vec::<String>::new());
    assert_eq!(failover_gaps(&fail_node1(&sim)), Vec::<String>::new());
    assert_ne!(failback_gaps(&restore_node1(&sim)), Vec::<String>::new());
}

#[test]
fn ganesha_active_withdrawal_alone_moves_the_vip_and_back() {
    let sim = OfflineCib::new().unwrap();
    let spec = spec(3, false, false);
    placed(&sim, &spec, &model(&spec));
    attribute(&sim, PLACED, "node1", GANESHA_ACTIVE, None);
    let graph = transition(&sim, PLACED, &[], "failed.xml");
    assert!(
        graph.has("node1-vip_start_0@node3"),
        "{:#?}",
        graph.inputs.keys()
    );
    let placement = placement_in(&sim, "failed.xml");
    assert_eq!(placement.on("node1-vip"), ["node3"], "{placement:#?}");
    // grace-active is still set: node1 keeps its grace instance.
    assert_eq!(placement.on("nfs-grace"), NODES);

    attribute(&sim, "failed.xml", "node1", GANESHA_ACTIVE, Some("1"));
    transition(&sim, "failed.xml", &[], "back.xml");
    assert_eq!(placement_in(&sim, "back.xml").on("node1-vip"), ["node1"]);
}
