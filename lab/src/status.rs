//! What `crm_mon --output-as=xml` says about the cluster: DC, quorum, nodes, resources and
//! failed operations, as the lab's waits and tests ask it. The XML is read by `ganesha-ha`'s
//! own reader ([`ganesha_ha::status::parse`]), so the project has one crm_mon parser.

use std::fmt;

use ganesha_ha::status::{self, ClusterState};

/// What `crm_mon` reports about the cluster (see
/// [`Node::cluster_status`](crate::Node::cluster_status)).
#[derive(Debug, Clone, Default)]
pub struct ClusterStatus {
    /// The DC's node name, when there is one.
    pub dc: Option<String>,
    /// Whether the partition has quorum (as the DC reports it).
    pub quorum: bool,
    /// Nodes reported online.
    pub online: Vec<String>,
    /// Nodes reported but not online.
    pub offline: Vec<String>,
    /// The raw `crm_mon --output-as=xml` text.
    pub xml: String,
    state: ClusterState,
}

impl ClusterStatus {
    /// Parses `crm_mon --one-shot --output-as=xml` output. Output that is not crm_mon's XML
    /// (cut short, an error text) says nothing: no DC, no quorum, no node, no resource.
    pub fn parse(xml: &str) -> ClusterStatus {
        let state = status::parse(xml).unwrap_or_default();
        let (online, offline): (Vec<_>, Vec<_>) = state.nodes.iter().partition(|n| n.online);
        ClusterStatus {
            dc: state.dc.clone(),
            quorum: state.dc.is_some() && state.quorum,
            online: online.into_iter().map(|n| n.name.clone()).collect(),
            offline: offline.into_iter().map(|n| n.name.clone()).collect(),
            xml: xml.to_string(),
            state,
        }
    }

    /// Whether resource `id` (a primitive or clone instance) is started and not failed on
    /// some node.
    pub fn resource_started(&self, id: &str) -> bool {
        self.state
            .resources
            .iter()
            .any(|r| r.id == id && r.role == "Started" && !r.failed)
    }

    /// Each active instance of resource `id` (a primitive, or the instances of a clone of
    /// it) as (node, role): `Started`, `Promoted`, `Unpromoted`.
    pub fn roles(&self, id: &str) -> Vec<(String, String)> {
        self.state
            .resources
            .iter()
            .filter(|r| r.id == id && r.active)
            .flat_map(|r| r.nodes.iter().map(|n| (n.clone(), r.role.clone())))
            .collect()
    }

    /// The failed operations crm_mon lists for resource `id`.
    pub fn failures(&self, id: &str) -> Vec<FailedOp> {
        let prefix = format!("{id}_");
        self.state
            .failures
            .iter()
            .filter_map(|f| {
                let key = f.operation.strip_prefix(&prefix)?;
                // `<op>_<interval>`: `start_0`, `monitor_60000`.
                let operation = key.rsplit_once('_').map_or(key, |(op, _)| op);
                Some(FailedOp {
                    node: non_empty(&f.node, "?"),
                    operation: operation.to_string(),
                    status: non_empty(&f.status, "?"),
                    reason: f.reason.clone(),
                })
            })
            .collect()
    }

    /// Whether there is a DC with quorum and every node of `names` is online.
    pub fn all_online(&self, names: &[&str]) -> bool {
        self.dc.is_some() && self.quorum && names.iter().all(|n| self.online.iter().any(|o| o == n))
    }
}

fn non_empty(value: &str, otherwise: &str) -> String {
    if value.is_empty() { otherwise } else { value }.to_string()
}

/// A failed resource operation as crm_mon reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedOp {
    /// Where it failed.
    pub node: String,
    /// The operation (`start`, `monitor`, ...).
    pub operation: String,
    /// Its exit status (`error`, `not installed`, ...).
    pub status: String,
    /// The agent's reason, if any.
    pub reason: String,
}

impl fmt::Display for FailedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {}: {} {}",
            self.operation, self.node, self.status, self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn parses_crm_mon_xml() {
        let xml = r#"<pacemaker-result api-version="2.29" request="crm_mon --output-as=xml">
  <summary>
    <current_dc present="true" version="2.1.5" name="node1" id="1" with_quorum="true"/>
  </summary>
  <nodes>
    <node name="node1" id="1" online="true" standby="false"/>
    <node name="node2" id="2" online="false" standby="false"/>
  </nodes>
  <resources>
    <resource id="lab-fencing" resource_agent="stonith:fence_ganesha_lab" role="Started" active="true" failed="false"/>
    <resource id="other" resource_agent="ocf:heartbeat:Dummy" role="Stopped" active="false" failed="false"/>
  </resources>
  <node_attributes>
    <node name="node1"><attribute name="x" value="1"/></node>
  </node_attributes>
  <failures>
    <failure op_key="lab-fencing_start_0" node="node2" exitstatus="error" exitreason="no nodes" exitcode="1" call="9" status="complete" queued="0" exec="9" interval="0" task="start"/>
  </failures>
</pacemaker-result>"#;
        let st = ClusterStatus::parse(xml);
        assert_eq!(st.dc.as_deref(), Some("node1"));
        assert!(st.quorum);
        assert_eq!(st.online, ["node1"]);
        assert_eq!(st.offline, ["node2"]);
        assert!(st.resource_started("lab-fencing"));
        assert!(!st.resource_started("other"));
        assert!(!st.resource_started("lab"));
        assert!(st.all_online(&["node1"]));
        assert_eq!(
            st.failures("lab-fencing"),
            [FailedOp {
                node: "node2".into(),
                operation: "start".into(),
                status: "error".into(),
                reason: "no nodes".into(),
            }]
        );
        assert!(st.failures("other").is_empty());
        assert!(!st.all_online(&["node1", "node2"]));
        let none = ClusterStatus::parse(r#"<summary><current_dc present="false"/></summary>"#);
        assert_eq!(none.dc, None);
        assert!(!none.quorum);
    }

    #[test]
    fn attribute_values_are_unescaped_and_may_hold_angle_brackets() {
        let xml = r#"<pacemaker-result api-version="2.29" request="crm_mon --output-as=xml">
  <summary>
    <current_dc present="true" version="2.1.5" name="node&#49;" id="1" with_quorum="true"/>
  </summary>
  <nodes>
    <node name="node1" id="1" online="true" standby="false"/>
    <node name="node2" id="2" online="true" standby="false"/>
  </nodes>
  <resources>
    <clone id="ganesha_mon-clone" multi_state="false" unique="false" disabled="false" failed="false">
      <resource id="ganesha_mon" resource_agent="ocf:ganesha:ganesha_mon" role="Started" active="true" failed="false">
        <node name="node1" id="1" cached="true"/>
      </resource>
      <resource id="ganesha_mon" resource_agent="ocf:ganesha:ganesha_mon" role="Stopped" active="false" failed="false"/>
    </clone>
    <resource id="vip" description="a > b" resource_agent="ocf:heartbeat:IPaddr2" role="Started" active="true" failed="false"/>
  </resources>
  <node_attributes>
    <node name="node2"><attribute name="x" value="1"/></node>
  </node_attributes>
  <node_history>
    <node name="node3">
      <resource_history id="vip" orphan="false" migration-threshold="1000000"/>
    </node>
  </node_history>
  <failures>
    <failure op_key="vip_monitor_10000" node="node2" exitstatus="error" exitreason="ip &lt;192.0.2.1&gt; &amp; more > expected" exitcode="1" call="9" status="complete" queued="0" exec="9" interval="10000" task="monitor"/>
  </failures>
</pacemaker-result>"#;
        let st = ClusterStatus::parse(xml);
        assert_eq!(st.dc.as_deref(), Some("node1"));
        assert!(st.quorum);
        assert_eq!(st.online, ["node1", "node2"]);
        assert!(st.offline.is_empty(), "{:?}", st.offline);
        assert!(st.resource_started("ganesha_mon"));
        // The `>` inside `description` does not end the tag: `role` and `failed` are read.
        assert!(st.resource_started("vip"));
        assert_eq!(
            st.failures("vip"),
            [FailedOp {
                node: "node2".into(),
                operation: "monitor".into(),
                status: "error".into(),
                reason: "ip <192.0.2.1> & more > expected".into(),
            }]
        );
    }

    #[test]
    fn output_that_is_not_crm_mons_xml_says_nothing() {
        let st = ClusterStatus::parse(
            r#"<pacemaker-result><summary><current_dc present="true" name="node1" with_quorum="true"/></summary>
<nodes><node name="node1" online="true"/></wrong>"#,
        );
        assert_eq!(st.dc, None);
        assert!(st.online.is_empty() && !st.quorum);
        assert!(!st.all_online(&[]));
    }
}
