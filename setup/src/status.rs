//! `ganesha-ha status`: the cluster's health, computed from `crm_mon --output-as=xml`.
//!
//! glusterfs's `--status` scraped `pcs status` text with regular expressions and broke with
//! every pcs and Pacemaker release (#1169, #1808, #2997); Pacemaker's XML output is its
//! stable interface (resource-agents PR #1518 moved pgsql to it for that reason).
//!
//! Verdict:
//! - **BAD**: a VIP is not served anywhere, or no quorum;
//! - **FAILOVER**: every VIP is served, but one is away from its home node (or a node is
//!   offline or in standby);
//! - **HEALTHY**: every VIP on its home node, every node online.
//!
//! A VIP is a resource named `<node>-vip` (or a group `<node>-group`), as `ganesha-ha`
//! generates them; its home is `<node>`.

use std::collections::BTreeMap;

use ganesha_agents::names::{GANESHA_ACTIVE, GRACE_ACTIVE};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;

/// What crm_mon reported, the parts status needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterState {
    pub dc: Option<String>,
    pub quorum: bool,
    /// `stonith-enabled` as crm_mon reports it (`None` when not reported).
    pub fencing: Option<bool>,
    pub nodes: Vec<NodeState>,
    pub resources: Vec<ResourceState>,
    pub failures: Vec<FailedAction>,
}

/// One node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeState {
    pub name: String,
    pub online: bool,
    pub standby: bool,
    pub unclean: bool,
    /// Transient node attributes ([`GANESHA_ACTIVE`], [`GRACE_ACTIVE`], ...).
    pub attributes: BTreeMap<String, String>,
}

/// One resource (or one clone instance).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceState {
    pub id: String,
    /// The enclosing group or clone, if any.
    pub parent: Option<String>,
    pub agent: String,
    pub role: String,
    pub active: bool,
    pub failed: bool,
    pub nodes: Vec<String>,
}

/// A failed operation from crm_mon's failure history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FailedAction {
    pub operation: String,
    pub node: String,
    pub status: String,
    pub reason: String,
}

/// The verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Healthy,
    Failover,
    Bad,
}

/// Where one VIP is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VipState {
    pub resource: String,
    pub home: String,
    /// The node serving it, `None` when it is not running.
    pub current: Option<String>,
}

/// The whole status report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    /// Why the verdict is not HEALTHY.
    pub reasons: Vec<String>,
    /// Warnings that do not change the verdict (fencing disabled).
    pub warnings: Vec<String>,
    pub dc: Option<String>,
    pub quorum: bool,
    pub nodes: Vec<NodeState>,
    pub vips: Vec<VipState>,
    pub failed_actions: Vec<FailedAction>,
}

/// crm_mon's XML could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read crm_mon's XML output: {0}")]
pub struct StatusError(String);

fn attrs(e: &BytesStart<'_>) -> BTreeMap<String, String> {
    e.attributes()
        .filter_map(Result::ok)
        .map(|a| {
            (
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                a.unescape_value()
                    .map(|v| v.into_owned())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn flag(a: &BTreeMap<String, String>, key: &str) -> bool {
    a.get(key).is_some_and(|v| v == "true")
}

/// Parses `crm_mon --one-shot --output-as=xml --show-node-attributes --inactive`.
pub fn parse(xml: &str) -> Result<ClusterState, StatusError> {
    let mut state = ClusterState::default();
    let mut reader = Reader::from_str(xml);
    // Where we are: the element path matters for <node>, which means different things.
    let mut path: Vec<String> = Vec::new();
    let mut parents: Vec<String> = Vec::new();
    let mut attr_node: Option<String> = None;
    let mut saw_result = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| StatusError(e.to_string()))?;
        let (e, empty) = match &event {
            Event::Start(e) => (e.clone(), false),
            Event::Empty(e) => (e.clone(), true),
            Event::End(_) => {
                let closed = path.pop().unwrap_or_default();
                if (closed == "group" || closed == "clone")
                    && path
                        .last()
                        .is_some_and(|p| p == "resources" || p == "clone")
                {
                    parents.pop();
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let a = attrs(&e);
        let parent = path.last().map(String::as_str).unwrap_or("");
        match (parent, name.as_str()) {
            (_, "pacemaker-result") => saw_result = true,
            ("summary", "cluster_options") => {
                state.fencing = a.get("stonith-enabled").map(|v| v == "true");
            }
            ("summary", "current_dc") if flag(&a, "present") => {
                state.dc = a.get("name").cloned();
                state.quorum = flag(&a, "with_quorum");
            }
            ("nodes", "node") => state.nodes.push(NodeState {
                name: a.get("name").cloned().unwrap_or_default(),
                online: flag(&a, "online"),
                standby: flag(&a, "standby"),
                unclean: flag(&a, "unclean"),
                attributes: BTreeMap::new(),
            }),
            ("resources" | "group" | "clone", "group" | "clone") if !empty => {
                parents.push(a.get("id").cloned().unwrap_or_default());
            }
            ("resources" | "group" | "clone", "resource") => state.resources.push(ResourceState {
                id: a.get("id").cloned().unwrap_or_default(),
                parent: parents.first().cloned(),
                agent: a.get("resource_agent").cloned().unwrap_or_default(),
                role: a.get("role").cloned().unwrap_or_default(),
                active: flag(&a, "active"),
                failed: flag(&a, "failed"),
                nodes: Vec::new(),
            }),
            ("resource", "node") => {
                if let (Some(r), Some(n)) = (state.resources.last_mut(), a.get("name")) {
                    r.nodes.push(n.clone());
                }
            }
            ("node_attributes", "node") => attr_node = a.get("name").cloned(),
            ("node", "attribute") => {
                if let (Some(node), Some(k), Some(v)) = (&attr_node, a.get("name"), a.get("value"))
                {
                    if let Some(n) = state.nodes.iter_mut().find(|n| &n.name == node) {
                        n.attributes.insert(k.clone(), v.clone());
                    }
                }
            }
            ("failures", "failure") => state.failures.push(FailedAction {
                operation: a.get("op_key").cloned().unwrap_or_default(),
                node: a.get("node").cloned().unwrap_or_default(),
                status: a.get("exitstatus").cloned().unwrap_or_default(),
                reason: a.get("exitreason").cloned().unwrap_or_default(),
            }),
            _ => {}
        }
        if !empty {
            path.push(name);
        }
    }
    if !saw_result {
        return Err(StatusError("no <pacemaker-result> element".into()));
    }
    Ok(state)
}

/// The VIPs: `<node>-vip` resources, or `<node>-group` groups holding one.
fn vips(state: &ClusterState) -> Vec<VipState> {
    let mut out: Vec<VipState> = Vec::new();
    for r in &state.resources {
        let Some(home) = r.id.strip_suffix("-vip") else {
            continue;
        };
        if out.iter().any(|v| v.resource == r.id) {
            continue;
        }
        let serving: Vec<&ResourceState> =
            state.resources.iter().filter(|x| x.id == r.id).collect();
        // A VIP "started" on a node that is offline or unclean (crashed, not yet fenced) is
        // what Pacemaker last knew, not something anyone can reach.
        let reachable = |node: &String| {
            state
                .nodes
                .iter()
                .any(|n| &n.name == node && n.online && !n.unclean)
        };
        let current = serving
            .iter()
            .filter(|x| x.active && !x.failed && x.role == "Started")
            .filter_map(|x| x.nodes.first())
            .find(|n| reachable(n))
            .cloned();
        out.push(VipState {
            resource: r.id.clone(),
            home: home.to_owned(),
            current,
        });
    }
    out
}

/// Computes the verdict.
pub fn assess(state: &ClusterState) -> Report {
    let vips = vips(state);
    let mut bad = Vec::new();
    let mut failover = Vec::new();
    if state.dc.is_none() {
        bad.push("no DC: the cluster has no leader".to_owned());
    } else if !state.quorum {
        bad.push("the partition has no quorum".to_owned());
    }
    if vips.is_empty() {
        bad.push("no VIP resource (<node>-vip) is configured".to_owned());
    }
    for v in &vips {
        match &v.current {
            None => bad.push(format!("{} is not running anywhere", v.resource)),
            Some(n) if *n != v.home => failover.push(format!(
                "{} is on {n}, away from its home {}",
                v.resource, v.home
            )),
            Some(_) => {}
        }
    }
    for n in &state.nodes {
        if n.unclean {
            failover.push(format!("{} is unclean (being fenced)", n.name));
        } else if !n.online {
            failover.push(format!("{} is offline", n.name));
        } else if n.standby {
            failover.push(format!("{} is in standby", n.name));
        }
    }
    let verdict = if !bad.is_empty() {
        Verdict::Bad
    } else if !failover.is_empty() {
        Verdict::Failover
    } else {
        Verdict::Healthy
    };
    bad.extend(failover);
    let mut warnings = Vec::new();
    if state.fencing == Some(false) {
        warnings.push(
            "fencing is disabled (stonith-enabled=false): after a split two nodes may serve the \
             same VIP and NFS lock state is unprotected"
                .to_owned(),
        );
    }
    Report {
        verdict,
        reasons: bad,
        warnings,
        dc: state.dc.clone(),
        quorum: state.quorum,
        nodes: state.nodes.clone(),
        vips,
        failed_actions: state.failures.clone(),
    }
}

impl Report {
    /// The readable table.
    pub fn render(&self) -> String {
        let verdict = match self.verdict {
            Verdict::Healthy => "HEALTHY",
            Verdict::Failover => "FAILOVER",
            Verdict::Bad => "BAD",
        };
        let mut out = format!("Cluster HA status: {verdict}\n");
        for r in &self.reasons {
            out.push_str(&format!("  - {r}\n"));
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out.push_str(&format!(
            "DC: {}, quorum: {}\n\n",
            self.dc.as_deref().unwrap_or("none"),
            if self.quorum { "yes" } else { "no" }
        ));
        out.push_str(&format!(
            "{:<16} {:<16} {:<16}\n",
            "VIP", "HOME", "RUNNING ON"
        ));
        for v in &self.vips {
            out.push_str(&format!(
                "{:<16} {:<16} {:<16}\n",
                v.resource,
                v.home,
                v.current.as_deref().unwrap_or("(stopped)")
            ));
        }
        out.push_str(&format!(
            "\n{:<16} {:<10} {:<15} {:<13}\n",
            "NODE", "STATE", GANESHA_ACTIVE, GRACE_ACTIVE
        ));
        for n in &self.nodes {
            let state = if n.unclean {
                "unclean"
            } else if !n.online {
                "offline"
            } else if n.standby {
                "standby"
            } else {
                "online"
            };
            let attr = |k: &str| n.attributes.get(k).cloned().unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "{:<16} {:<10} {:<15} {:<13}\n",
                n.name,
                state,
                attr(GANESHA_ACTIVE),
                attr(GRACE_ACTIVE)
            ));
        }
        if !self.failed_actions.is_empty() {
            out.push_str("\nFailed actions:\n");
            for f in &self.failed_actions {
                out.push_str(&format!(
                    "  {} on {}: {} {}\n",
                    f.operation, f.node, f.status, f.reason
                ));
            }
        }
        out
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/status/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_default()
    }

    #[test]
    fn healthy_cluster_from_real_crm_mon_output() {
        let state = parse(&fixture("healthy.xml")).ok().unwrap_or_default();
        assert_eq!(state.nodes.len(), 3);
        assert!(state.quorum);
        let report = assess(&state);
        assert_eq!(report.verdict, Verdict::Healthy, "{:?}", report.reasons);
        assert_eq!(report.vips.len(), 3);
        assert!(report
            .vips
            .iter()
            .all(|v| v.current.as_deref() == Some(v.home.as_str())));
        assert_eq!(
            report.nodes[0]
                .attributes
                .get(GRACE_ACTIVE)
                .map(String::as_str),
            Some("1")
        );
        let clone_instances = state
            .resources
            .iter()
            .filter(|r| r.id == "nfs-grace")
            .count();
        assert_eq!(clone_instances, 3);
        assert_eq!(
            state
                .resources
                .iter()
                .find(|r| r.id == "nfs-grace")
                .and_then(|r| r.parent.clone()),
            Some("nfs-grace-clone".to_string())
        );
    }

    #[test]
    fn a_vip_away_from_home_is_failover() {
        let report = assess(
            &parse(&fixture("failover-standby.xml"))
                .ok()
                .unwrap_or_default(),
        );
        assert_eq!(report.verdict, Verdict::Failover);
        let vip1 = report.vips.iter().find(|v| v.home == "node1");
        assert_eq!(
            vip1.and_then(|v| v.current.clone()).as_deref(),
            Some("node3")
        );
        assert!(report
            .reasons
            .iter()
            .any(|r| r.contains("node1 is in standby")));
        assert!(report.render().contains("Cluster HA status: FAILOVER"));
    }

    #[test]
    fn stopped_vips_and_failed_starts_are_bad_with_reasons() {
        let report = assess(
            &parse(&fixture("bad-start-failed.xml"))
                .ok()
                .unwrap_or_default(),
        );
        assert_eq!(report.verdict, Verdict::Bad);
        assert!(report
            .reasons
            .iter()
            .any(|r| r == "node1-vip is not running anywhere"));
        assert_eq!(report.failed_actions.len(), 3);
        assert!(report.failed_actions[0]
            .reason
            .contains("exited during start"));
        let json = report.to_json();
        assert!(json.contains("\"verdict\": \"BAD\""), "{json}");
    }

    #[test]
    fn a_vip_on_an_unclean_node_is_not_served() {
        let mut state = parse(&fixture("healthy.xml")).ok().unwrap_or_default();
        if let Some(n) = state.nodes.iter_mut().find(|n| n.name == "node1") {
            n.unclean = true;
            n.online = false;
        }
        let report = assess(&state);
        assert_eq!(report.verdict, Verdict::Bad);
        assert!(report
            .reasons
            .iter()
            .any(|r| r == "node1-vip is not running anywhere"));
    }

    #[test]
    fn disabled_fencing_is_warned_about_without_changing_the_verdict() {
        let xml =
            fixture("healthy.xml").replace("stonith-enabled=\"true\"", "stonith-enabled=\"false\"");
        let report = assess(&parse(&xml).ok().unwrap_or_default());
        assert_eq!(report.verdict, Verdict::Healthy);
        assert!(report.render().contains("warning: fencing is disabled"));
        let fenced = assess(&parse(&fixture("healthy.xml")).ok().unwrap_or_default());
        assert!(fenced.warnings.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_verdict() {
        assert!(parse("not xml at all").is_err());
        assert!(parse("<other/>").is_err());
    }
}
