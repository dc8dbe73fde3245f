//! What `crm_mon --output-as=xml` says about the cluster: DC, quorum, nodes, resources and
//! failed operations.

use std::fmt;

use quick_xml::events::Event;
use quick_xml::Reader;

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
    /// Parses `crm_mon --one-shot --output-as=xml` output. Whatever follows a malformed part
    /// of the XML is ignored.
    pub fn parse(xml: &str) -> ClusterStatus {
        let mut st = ClusterStatus {
            xml: xml.to_string(),
            ..ClusterStatus::default()
        };
        let elements = elements(xml);
        if let Some(dc) = elements.iter().find(|e| e.name == "current_dc") {
            if dc.attr("present") == Some("true") {
                st.dc = dc.attr("name").map(str::to_string);
                st.quorum = dc.attr("with_quorum") == Some("true");
            }
        }
        // Only `<nodes>` lists the members; `<node>` elsewhere (attributes, history) does not.
        let members = elements
            .iter()
            .filter(|e| e.name == "node" && e.parent.as_deref() == Some("nodes"));
        for node in members {
            if let Some(name) = node.attr("name") {
                if node.attr("online") == Some("true") {
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
        elements(&self.xml).iter().any(|e| {
            e.name == "resource"
                && e.attr("id") == Some(id)
                && e.attr("role") == Some("Started")
                && e.attr("failed") != Some("true")
        })
    }

    /// The failed operations crm_mon lists for resource `id`.
    pub fn failures(&self, id: &str) -> Vec<FailedOp> {
        let prefix = format!("{id}_");
        elements(&self.xml)
            .iter()
            .filter(|e| e.name == "failure")
            .filter_map(|e| {
                let key = e.attr("op_key")?.strip_prefix(&prefix)?;
                // `<op>_<interval>`: `start_0`, `monitor_60000`.
                let operation = key.rsplit_once('_').map_or(key, |(op, _)| op);
                Some(FailedOp {
                    node: e.attr("node").unwrap_or("?").to_string(),
                    operation: operation.to_string(),
                    status: e.attr("exitstatus").unwrap_or("?").to_string(),
                    reason: e.attr("exitreason").unwrap_or("").to_string(),
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

/// One element of crm_mon's XML: its name, its parent's name and its attributes (values
/// unescaped).
#[derive(Debug)]
struct Element {
    name: String,
    parent: Option<String>,
    attrs: Vec<(String, String)>,
}

impl Element {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every element of `xml` in document order, up to the first malformed part.
fn elements(xml: &str) -> Vec<Element> {
    let mut reader = Reader::from_str(xml);
    let mut open: Vec<String> = Vec::new();
    let mut found = Vec::new();
    loop {
        let (start, empty) = match reader.read_event() {
            Ok(Event::Start(e)) => (e, false),
            Ok(Event::Empty(e)) => (e, true),
            Ok(Event::End(_)) => {
                open.pop();
                continue;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => continue,
        };
        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        let attrs = start
            .attributes()
            .filter_map(Result::ok)
            .map(|a| {
                (
                    String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                    a.unescape_value()
                        .map(|v| v.into_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        found.push(Element {
            name: name.clone(),
            parent: open.last().cloned(),
            attrs,
        });
        if !empty {
            open.push(name);
        }
    }
    found
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
    fn malformed_xml_keeps_what_came_before() {
        let st = ClusterStatus::parse(
            r#"<summary><current_dc present="true" name="node1" with_quorum="true"/></summary>
<nodes><node name="node1" online="true"/></wrong>
<resources><resource id="a" role="Started" failed="false"/></resources>"#,
        );
        assert_eq!(st.dc.as_deref(), Some("node1"));
        assert_eq!(st.online, ["node1"]);
        assert!(!st.resource_started("a"));
    }
}
