//! Rewriting the text of a `ganesha-ha.conf` for `add` and `delete`: only the lines of the
//! node change, every other line (comments included) is kept as it was.

use super::keys::{underscored, CLUSTER_NODES, NODE_ADDR, VIP};
use super::lex;

/// `text` with `node` appended to HA_CLUSTER_NODES and its `VIP_<node>` (and, given,
/// `HA_NODE_ADDR_<node>`) lines added at the end; every other line kept as it was.
/// `None` when there is no HA_CLUSTER_NODES line to extend.
pub fn with_node_added(text: &str, node: &str, vip: &str, addr: Option<&str>) -> Option<String> {
    let mut found = false;
    let mut out: Vec<String> = Vec::new();
    for raw in text.lines() {
        match cluster_nodes_line(raw) {
            Some(mut names) => {
                found = true;
                names.push(node.to_owned());
                out.push(format!("{CLUSTER_NODES}=\"{}\"", names.join(",")));
            }
            None => out.push(raw.to_owned()),
        }
    }
    out.push(format!("{VIP}{node}=\"{vip}\""));
    if let Some(a) = addr {
        out.push(format!("{NODE_ADDR}{node}={a}"));
    }
    found.then(|| out.join("\n") + "\n")
}

/// `text` without `node`: removed from HA_CLUSTER_NODES, its `VIP_<node>` and
/// `HA_NODE_ADDR_<node>` lines (either spelling) dropped; every other line kept.
pub fn with_node_removed(text: &str, node: &str) -> String {
    let alias = underscored(node);
    let own = |key: &str| {
        [VIP, NODE_ADDR].iter().any(|p| {
            key.strip_prefix(p)
                .is_some_and(|rest| rest == node || rest == alias)
        })
    };
    let mut out: Vec<String> = Vec::new();
    for raw in text.lines() {
        if let Some(names) = cluster_nodes_line(raw) {
            let kept: Vec<String> = names.into_iter().filter(|n| n != node).collect();
            out.push(format!("{CLUSTER_NODES}=\"{}\"", kept.join(",")));
        } else if !lex::key_of(raw).is_some_and(|k| own(&k)) {
            out.push(raw.to_owned());
        }
    }
    out.join("\n") + "\n"
}

/// The node names of a well-formed HA_CLUSTER_NODES line.
fn cluster_nodes_line(raw: &str) -> Option<Vec<String>> {
    let (key, value) = lex::line(raw).ok().flatten()?;
    (key == CLUSTER_NODES).then(|| {
        value
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::config::test_support::{ok, BASE};

    #[test]
    fn adding_and_removing_a_node_edits_only_its_lines() {
        let text = format!("# site A\n{BASE}VIP_node_x=10.0.2.9\n");
        let text = text.replace("\"a,b\"", "\"a,b,node-x\"");
        let added = with_node_added(BASE, "c", "10.0.2.3/24", Some("10.0.1.3")).unwrap();
        let spec = ok(&added);
        assert_eq!(spec.nodes.len(), 3);
        assert_eq!(spec.nodes[2].vip.to_string(), "10.0.2.3/24");
        assert_eq!(with_node_removed(&added, "c"), BASE);
        // The underscored VIP spelling goes too; comments stay.
        let removed = with_node_removed(&text, "node-x");
        assert_eq!(removed, format!("# site A\n{BASE}"));
        assert!(with_node_added("HA_NAME=c\n", "c", "10.0.2.3", None).is_none());
    }
}
