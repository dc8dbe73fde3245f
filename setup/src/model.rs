//! The HA model of an NFS-Ganesha cluster: the one [`Cib`] that `ganesha-ha setup` applies,
//! the demo and the benches load, and `setup/tests/ordering.rs` proves ([`model`]).
//!
//! What it creates, and why:
//! - `stonith-enabled` (true with fencing devices, false only when the configuration turns
//!   fencing off) and `no-quorum-policy` (`ignore` up to two nodes, where losing one loses
//!   quorum, `stop` from three); one stonith primitive per fencing device;
//! - [`NFSD_CLONE`] (ganesha_nfsd): the daemon on every node, monitored at depth 10 so that
//!   a hung one is restarted ([`NFSD_MONITOR_WHY`]);
//! - [`MON_CLONE`] (ganesha_mon): publishes the health attributes `ganesha-active` and
//!   `grace-active` that the rules below read ([`MON_MONITOR_WHY`]);
//! - [`GRACE_CLONE`] (ganesha_grace, `notify=true`): its notifications put the survivors in
//!   grace when a node leaves and release it when the node returns;
//! - one IPaddr2 VIP per node ([`vip_id`]), with `HA_PORTBLOCK` inside a portblock
//!   block/unblock group ([`vip_target`]);
//! - the grace clone banned where `grace-active ne 1`, each VIP banned where
//!   `ganesha-active ne 1` or `grace-active ne 1` (a VIP only runs on a healthy ganesha);
//! - ring-order preferences ([`ring_preferences`]): each VIP at home, else on the node
//!   before it in the ring;
//! - Optional orders grace-stop then VIP-start and grace-start then VIP-start, so the
//!   survivors are in grace before a VIP moves and release it before the VIP returns
//!   (README, "Constraints: grace before the VIP moves, without a sleep").

use ganesha_agents::names::{
    GANESHA_ACTIVE, GRACE_ACTIVE, GRACE_AGENT, MON_AGENT, NFSD_AGENT, PROVIDER,
};

use crate::cib::{
    meta_set_id, xml_id, Action, BoolOp, Cib, Clone, Constraint, Group, Location, LocationTarget,
    NvPair, Order, OrderKind, Primitive, Resource, Rule,
};
use crate::spec::{ClusterSpec, Fencing};

/// The clone of `ocf:ganesha:ganesha_nfsd`.
pub const NFSD_CLONE: &str = "nfs-ganesha-clone";
/// The clone of `ocf:ganesha:ganesha_mon`.
pub const MON_CLONE: &str = "nfs-mon-clone";
/// The clone of `ocf:ganesha:ganesha_grace` (`notify=true`).
pub const GRACE_CLONE: &str = "nfs-grace-clone";

/// The resource (VIP or portblock group) that carries `node`'s VIP, as constraints name it.
pub fn vip_target(spec: &ClusterSpec, node: &str) -> String {
    if spec.portblock {
        xml_id(&format!("{node}-group"))
    } else {
        vip_id(node)
    }
}

/// The id of `node`'s IPaddr2 primitive.
pub fn vip_id(node: &str) -> String {
    xml_id(&format!("{node}-vip"))
}

/// `home`'s VIP preferences in ring order: `(node, score)` with the home node at
/// `1000 × n`, then each node before it in `nodes` (wrapping) 1000 less (glusterfs' weights).
pub fn ring_preferences<'a>(nodes: &[&'a str], home: usize) -> Vec<(&'a str, u32)> {
    let n = nodes.len();
    (0..n)
        .filter_map(|k| {
            let node = nodes.get((home + n - k) % n)?;
            let score = u32::try_from(1000 * (n - k)).unwrap_or(u32::MAX);
            Some((*node, score))
        })
        .collect()
}

fn ganesha_clone(id: &str, child: Primitive, meta: &[(&str, &str)]) -> Resource {
    Resource::Clone(Clone {
        id: id.to_owned(),
        meta: meta
            .iter()
            .map(|(k, v)| NvPair::new(&meta_set_id(id), k, v))
            .collect(),
        child,
    })
}

/// Why ganesha_mon's monitor is what it is (the generated CIB carries it as the op's
/// `description`; figures in docs/failover.md).
pub const MON_MONITOR_WHY: &str = "Failure detection: every 1 s by default at depth 10 (the \
    daemon must own its pid file and answer get_grace on D-Bus within 5 s). A dead daemon is \
    seen within the interval, a hung one within the interval plus 5 s; then grace-active is \
    withdrawn, the survivors enter grace and the VIP moves. A steady-state call costs about \
    3 ms, and its 10 s timeout is far from what a busy node needs, so a short interval buys \
    fast failover without false ones.";

/// Why ganesha_nfsd's monitor is what it is.
pub const NFSD_MONITOR_WHY: &str = "Recovery: every 10 s by default at depth 10 (the daemon \
    answers on D-Bus within dbus_timeout); on failure Pacemaker restarts the daemon, killing \
    a hung one, and ganesha_mon brings the VIP home once it is healthy again. Longer than \
    ganesha_mon's interval so that a failure usually moves the VIP first.";

/// The complete configuration of an HA NFS-Ganesha cluster (see the module docs and the
/// README, "Constraints: grace before the VIP moves, without a sleep").
pub fn model(spec: &ClusterSpec) -> Cib {
    let mut cib = Cib::default();
    match &spec.fencing {
        Fencing::Disabled => cib.set_property("stonith-enabled", "false"),
        Fencing::Devices(_) => cib.set_property("stonith-enabled", "true"),
    }
    let policy = if spec.nodes.len() <= 2 {
        "ignore"
    } else {
        "stop"
    };
    cib.set_property("no-quorum-policy", policy);

    if let Fencing::Devices(devices) = &spec.fencing {
        for d in devices {
            let mut p = Primitive::new(&d.id, "stonith", None, &d.agent);
            for (k, v) in &d.params {
                p = p.param(k, v);
            }
            cib.resources
                .push(Resource::Primitive(p.op("monitor", "60s", Some("20s"))));
        }
    }

    let mut nfsd = Primitive::new("nfs-ganesha", "ocf", Some(PROVIDER), NFSD_AGENT)
        .param("config", &spec.ganesha.config)
        .param("pid_file", &spec.ganesha.pid_file)
        .param("recovery_root", &spec.ganesha.recovery_root);
    for (name, value) in [
        ("state_device", &spec.state.device),
        ("state_fstype", &spec.state.fstype),
        ("state_options", &spec.state.options),
    ] {
        if let Some(v) = value {
            nfsd = nfsd.param(name, v);
        }
    }
    let nfsd = nfsd
        .param("state_mount", &spec.state.mount)
        .op("start", "0s", Some("60s"))
        .op("stop", "0s", Some("60s"))
        // Depth 10: the daemon must answer on D-Bus, so a hung one is recovered (restarted).
        .monitor_at_depth(&spec.intervals.nfsd, Some("20s"), 10)
        .describe_last_op(NFSD_MONITOR_WHY);
    cib.resources
        .push(ganesha_clone(NFSD_CLONE, nfsd, &[("interleave", "true")]));

    let mon = Primitive::new("nfs-mon", "ocf", Some(PROVIDER), MON_AGENT)
        .param("pid_file", &spec.ganesha.pid_file)
        // Depth 10: a daemon that lives but does not answer (hung) is unhealthy, so its VIP
        // moves as for a dead one.
        .monitor_at_depth(&spec.intervals.mon, Some("10s"), 10)
        .describe_last_op(MON_MONITOR_WHY);
    cib.resources.push(ganesha_clone(MON_CLONE, mon, &[]));

    let grace = Primitive::new("nfs-grace", "ocf", Some(PROVIDER), GRACE_AGENT)
        .op("notify", "0s", Some("30s"))
        .op("monitor", &spec.intervals.grace, Some("10s"));
    cib.resources
        .push(ganesha_clone(GRACE_CLONE, grace, &[("notify", "true")]));

    for node in &spec.nodes {
        let vip_id = vip_id(&node.name);
        let mut vip = Primitive::new(&vip_id, "ocf", Some("heartbeat"), "IPaddr2")
            .param("ip", &node.vip.ip().to_string())
            .param("cidr_netmask", &node.vip.prefix().to_string());
        if let Some(nic) = &spec.vip_nic {
            vip = vip.param("nic", nic);
        }
        let vip = vip.op("monitor", &spec.intervals.vip, Some("20s"));
        if spec.portblock {
            let ip = node.vip.ip().to_string();
            let block = Primitive::new(
                &xml_id(&format!("{}-nfs_block", node.name)),
                "ocf",
                Some("heartbeat"),
                "portblock",
            )
            .param("protocol", "tcp")
            .param("portno", "2049")
            .param("action", "block")
            .param("ip", &ip)
            .op("monitor", &spec.intervals.vip, Some("20s"));
            let tickle_dir = format!(
                "{}/nfs-ganesha/tickle_dir",
                spec.state.mount.trim_end_matches('/')
            );
            let unblock = Primitive::new(
                &xml_id(&format!("{}-nfs_unblock", node.name)),
                "ocf",
                Some("heartbeat"),
                "portblock",
            )
            .param("protocol", "tcp")
            .param("portno", "2049")
            .param("action", "unblock")
            .param("ip", &ip)
            .param("reset_local_on_unblock_stop", "true")
            .param("tickle_dir", &tickle_dir)
            .op("monitor", &spec.intervals.vip, Some("20s"));
            cib.resources.push(Resource::Group(Group {
                id: vip_target(spec, &node.name),
                members: vec![block, vip, unblock],
            }));
        } else {
            cib.resources.push(Resource::Primitive(vip));
        }
    }

    let grace_loc = format!("{GRACE_CLONE}-needs-{GRACE_ACTIVE}");
    cib.constraints.push(Constraint::Location(Location {
        rsc: GRACE_CLONE.to_owned(),
        target: LocationTarget::Rule(Rule::new(&grace_loc, "-INFINITY", None).expression(
            GRACE_ACTIVE,
            "ne",
            Some("1"),
        )),
        id: grace_loc,
    }));
    let names: Vec<&str> = spec.nodes.iter().map(|n| n.name.as_str()).collect();
    for (home, name) in names.iter().enumerate() {
        let target = vip_target(spec, name);
        let needs = format!("{target}-needs-ganesha");
        cib.constraints.push(Constraint::Location(Location {
            rsc: target.clone(),
            target: LocationTarget::Rule(
                Rule::new(&needs, "-INFINITY", Some(BoolOp::Or))
                    .expression(GANESHA_ACTIVE, "ne", Some("1"))
                    .expression(GRACE_ACTIVE, "ne", Some("1")),
            ),
            id: needs,
        }));
        for (node, score) in ring_preferences(&names, home) {
            cib.constraints.push(Constraint::Location(Location {
                id: xml_id(&format!("{target}-prefers-{node}")),
                rsc: target.clone(),
                target: LocationTarget::Node {
                    node: node.to_owned(),
                    score: score.to_string(),
                },
            }));
        }
        for action in [Action::Stop, Action::Start] {
            cib.constraints.push(Constraint::Order(Order {
                id: format!("{target}-after-grace-{}", action.as_str()),
                first: GRACE_CLONE.to_owned(),
                first_action: Some(action),
                then: target.clone(),
                then_action: Some(Action::Start),
                kind: Some(OrderKind::Optional),
                symmetrical: Some(false),
            }));
        }
    }
    cib
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn ring_preferences_follow_glusterfs() {
        let nodes = ["a", "b", "c"];
        assert_eq!(
            ring_preferences(&nodes, 0),
            vec![("a", 3000), ("c", 2000), ("b", 1000)]
        );
        assert_eq!(
            ring_preferences(&nodes, 1),
            vec![("b", 3000), ("a", 2000), ("c", 1000)]
        );
        assert_eq!(ring_preferences(&["x"], 0), vec![("x", 1000)]);
    }
}
