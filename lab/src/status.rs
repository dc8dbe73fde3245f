//! What `crm_mon --output-as=xml` says about the cluster: DC, quorum, nodes, resources and
//! failed operations.

use std::fmt;

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
}

impl ClusterStatus {
    /// Parses `crm_mon --one-shot --output-as=xml` output.
    pub fn parse(xml: &str) -> ClusterStatus {
        let mut st = ClusterStatus {
            xml: xml.to_string(),
            ..ClusterStatus::default()
        };
        if let Some(tag) = tags(xml, "current_dc").first() {
            if attr(tag, "present") == Some("true") {
                st.dc = attr(tag, "name").map(str::to_string);
                st.quorum = attr(tag, "with_quorum") == Some("true");
            }
        }
        let nodes = xml
            .find("<nodes>")
            .and_then(|a| xml[a..].find("</nodes>").map(|b| &xml[a..a + b]))
            .unwrap_or("");
        for tag in tags(nodes, "node") {
            if let Some(name) = attr(tag, "name") {
                if attr(tag, "online") == Some("true") {
                    st.online.push(name.to_string());
                } else {
                    st.offline.push(name.to_string());
                }
            }
        }
        st
    }

    /// Whether resource `id` (a primitive or clone instance) is started and not failed on
    /// some node.
    pub fn resource_started(&self, id: &str) -> bool {
        tags(&self.xml, "resource").iter().any(|t| {
            attr(t, "id") == Some(id)
                && attr(t, "role") == Some("Started")
                && attr(t, "failed") != Some("true")
        })
    }

    /// The failed operations crm_mon lists for resource `id`.
    pub fn failures(&self, id: &str) -> Vec<FailedOp> {
        let prefix = format!("{id}_");
        tags(&self.xml, "failure")
            .into_iter()
            .filter_map(|t| {
                let key = attr(t, "op_key")?.strip_prefix(&prefix)?;
                // `<op>_<interval>`: `start_0`, `monitor_60000`.
                let operation = key.rsplit_once('_').map_or(key, |(op, _)| op);
                Some(FailedOp {
                    node: attr(t, "node").unwrap_or("?").to_string(),
                    operation: operation.to_string(),
                    status: attr(t, "exitstatus").unwrap_or("?").to_string(),
                    reason: attr(t, "exitreason").unwrap_or("").to_string(),
                })
            })
            .collect()
    }

    /// Whether there is a DC with quorum and every node of `names` is online.
    pub fn all_online(&self, names: &[&str]) -> bool {
        self.dc.is_some() && self.quorum && names.iter().all(|n| self.online.iter().any(|o| o == n))
    }
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

/// The texts of the start tags `<name ...>` in `xml`.
fn tags<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name} ");
    xml.match_indices(&open)
        .filter_map(|(i, _)| xml[i..].find('>').map(|e| &xml[i..i + e]))
        .collect()
}

/// The value of attribute `name` in a start tag text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
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
}
