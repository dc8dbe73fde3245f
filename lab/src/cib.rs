//! The Pacemaker configuration of an HA NFS-Ganesha cluster, as the README describes it, for
//! labs that want the agents running under Pacemaker (the demo, the failover benchmark):
//!
//! - clones of `ocf:ganesha:ganesha_nfsd` (optional), `ganesha_mon` and `ganesha_grace`
//!   (`notify=true`), the latter banned where `grace-active ne 1`;
//! - one `IPaddr2` VIP per entry of [`HaModel::vips`], banned where `ganesha-active ne 1` or
//!   `grace-active ne 1`, preferring its home node, then the nodes before it in ring order
//!   (glusterfs' weights: home 1000 × n, then decreasing);
//! - `order nfs-grace-clone stop/start then VIP start`, kind Optional: survivors' grace before
//!   a VIP moves in, their release before it moves back.

use std::fmt::Write;

use crate::{LabError, Node};

/// What to configure.
#[derive(Clone, Debug)]
pub struct HaModel {
    /// Cluster node names, in ring order.
    pub nodes: Vec<String>,
    /// `(home node, address)` of each VIP; the resource is `<home>-vip`.
    pub vips: Vec<(String, String)>,
    /// ganesha_nfsd instance parameters; `None` leaves the daemon unmanaged.
    pub nfsd: Option<Vec<(String, String)>>,
    /// ganesha_mon's monitor interval.
    pub mon_interval: String,
}

fn nvpairs(out: &mut String, id: &str, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        return;
    }
    let _ = write!(out, r#"<instance_attributes id="{id}-ia">"#);
    for (k, v) in pairs {
        let _ = write!(
            out,
            r#"<nvpair id="{id}-{k}" name="{k}" value="{}"/>"#,
            escape(v)
        );
    }
    out.push_str("</instance_attributes>");
}

fn escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn clone(
    out: &mut String,
    id: &str,
    agent: &str,
    meta: &[(&str, &str)],
    params: &[(String, String)],
    monitor: &str,
    timeout: &str,
) {
    let _ = write!(out, r#"<clone id="{id}-clone">"#);
    if !meta.is_empty() {
        let _ = write!(out, r#"<meta_attributes id="{id}-clone-meta">"#);
        for (k, v) in meta {
            let _ = write!(
                out,
                r#"<nvpair id="{id}-clone-{k}" name="{k}" value="{v}"/>"#
            );
        }
        out.push_str("</meta_attributes>");
    }
    let _ = write!(
        out,
        r#"<primitive id="{id}" class="ocf" provider="ganesha" type="{agent}">"#
    );
    nvpairs(out, id, params);
    let _ = write!(
        out,
        r#"<operations><op id="{id}-monitor" name="monitor" interval="{monitor}" timeout="{timeout}"/></operations></primitive></clone>"#
    );
}

impl HaModel {
    /// The `<resources>` section.
    pub fn resources(&self) -> String {
        let mut out = String::from("<resources>");
        if let Some(params) = &self.nfsd {
            clone(
                &mut out,
                "nfs-ganesha",
                "ganesha_nfsd",
                &[("interleave", "true")],
                params,
                "5s",
                "20s",
            );
        }
        clone(
            &mut out,
            "nfs-mon",
            "ganesha_mon",
            &[],
            &[],
            &self.mon_interval,
            "10s",
        );
        clone(
            &mut out,
            "nfs-grace",
            "ganesha_grace",
            &[("notify", "true")],
            &[],
            "20s",
            "10s",
        );
        for (home, ip) in &self.vips {
            let id = format!("{home}-vip");
            let _ = write!(
                out,
                r#"<primitive id="{id}" class="ocf" provider="heartbeat" type="IPaddr2">"#
            );
            let params = [
                ("ip".to_owned(), ip.clone()),
                ("cidr_netmask".to_owned(), "24".to_owned()),
                ("nic".to_owned(), "eth0".to_owned()),
            ];
            nvpairs(&mut out, &id, &params);
            let _ = write!(
                out,
                r#"<operations><op id="{id}-monitor" name="monitor" interval="10s" timeout="20s"/></operations></primitive>"#
            );
        }
        out.push_str("</resources>");
        out
    }

    /// The `<constraints>` section.
    pub fn constraints(&self) -> String {
        let mut out = String::from(
            r#"<constraints><rsc_location id="grace-needs-grace-active" rsc="nfs-grace-clone"><rule id="grace-needs-grace-active-rule" score="-INFINITY"><expression id="grace-needs-grace-active-expr" attribute="grace-active" operation="ne" value="1"/></rule></rsc_location>"#,
        );
        let n = self.nodes.len();
        for (home, _) in &self.vips {
            let id = format!("{home}-vip");
            let _ = write!(
                out,
                r#"<rsc_location id="{id}-needs-ganesha" rsc="{id}"><rule id="{id}-rule" score="-INFINITY" boolean-op="or"><expression id="{id}-a" attribute="ganesha-active" operation="ne" value="1"/><expression id="{id}-g" attribute="grace-active" operation="ne" value="1"/></rule></rsc_location>"#
            );
            for then in ["stop", "start"] {
                let _ = write!(
                    out,
                    r#"<rsc_order id="{id}-after-grace-{then}" first="nfs-grace-clone" first-action="{then}" then="{id}" then-action="start" kind="Optional" symmetrical="false"/>"#
                );
            }
            if let Some(h) = self.nodes.iter().position(|node| node == home) {
                for k in 0..n {
                    let node = &self.nodes[(h + n - k) % n];
                    let score = 1000 * (n - k);
                    let _ = write!(
                        out,
                        r#"<rsc_location id="{id}-prefers-{node}" rsc="{id}" node="{node}" score="{score}"/>"#
                    );
                }
            }
        }
        out.push_str("</constraints>");
        out
    }

    /// Loads the model into the running cluster through `node`.
    pub fn apply(&self, node: &Node) -> Result<(), LabError> {
        node.run(
            "cibadmin",
            &[
                "--create",
                "--scope",
                "resources",
                "--xml-text",
                &self.resources(),
            ],
        )?;
        node.run(
            "cibadmin",
            &[
                "--replace",
                "--scope",
                "constraints",
                "--xml-text",
                &self.constraints(),
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> HaModel {
        HaModel {
            nodes: ["node1", "node2", "node3"].map(String::from).to_vec(),
            vips: vec![("node1".into(), "192.0.2.101".into())],
            nfsd: Some(vec![("state_mount".into(), "/srv/a&b".into())]),
            mon_interval: "2s".into(),
        }
    }

    #[test]
    fn ring_preferences_put_home_first_then_the_previous_node() {
        let c = model().constraints();
        assert!(c.contains(r#"rsc="node1-vip" node="node1" score="3000""#));
        assert!(c.contains(r#"rsc="node1-vip" node="node3" score="2000""#));
        assert!(c.contains(r#"rsc="node1-vip" node="node2" score="1000""#));
        assert!(c.contains(
            r#"first-action="stop" then="node1-vip" then-action="start" kind="Optional""#
        ));
    }

    #[test]
    fn resources_escape_values_and_notify_the_grace_clone() {
        let r = model().resources();
        assert!(r.contains(r#"value="/srv/a&amp;b""#));
        assert!(r.contains(r#"<nvpair id="nfs-grace-clone-notify" name="notify" value="true"/>"#));
        assert!(r.contains(r#"type="ganesha_nfsd""#));
        let unmanaged = HaModel {
            nfsd: None,
            ..model()
        }
        .resources();
        assert!(!unmanaged.contains("ganesha_nfsd"));
    }
}
