//! The lab's fencing device: the `lab-fencing` stonith primitive (agent
//! `fence_ganesha_lab`, which speaks the protocol of `fence.rs` and powers nodes off and on
//! through the lab's state file), its creation and the wait until it runs.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::Lab;
use crate::{LabError, Node, FENCE_AGENT};

/// The stonith resource `up` creates when the fence agent is available.
pub const FENCE_RESOURCE: &str = "lab-fencing";

/// The `lab-fencing` stonith primitive.
fn fence_resource_xml(state_file: &Path, hosts: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        r#"<primitive id="{FENCE_RESOURCE}" class="stonith" type="{FENCE_AGENT}">
  <instance_attributes id="{FENCE_RESOURCE}-ia">
    <nvpair id="{FENCE_RESOURCE}-state_file" name="state_file" value="{state}"/>
    <nvpair id="{FENCE_RESOURCE}-pcmk_host_list" name="pcmk_host_list" value="{hosts}"/>
  </instance_attributes>
  <operations>
    <op id="{FENCE_RESOURCE}-monitor-60s" name="monitor" interval="60s"/>
  </operations>
</primitive>"#,
        state = esc(&state_file.to_string_lossy()),
        hosts = esc(hosts),
    )
}

impl Lab {
    /// Creates the fencing device for every node, through `first`.
    pub(super) fn add_fencing_device(&self, first: &Node) -> Result<(), LabError> {
        let hosts: Vec<&str> = self.nodes.iter().map(Node::name).collect();
        let xml = fence_resource_xml(&self.state_file(), &hosts.join(" "));
        first.run_setup(
            self.tools.get("cibadmin"),
            &["--create", "--scope", "resources", "--xml-text", &xml],
        )?;
        Ok(())
    }

    /// Waits until the device has started; fails early once its start failed on every node.
    pub(super) fn wait_fencing_device(&self, limit: Duration) -> Result<(), LabError> {
        let start = Instant::now();
        let Some(first) = self.nodes.first() else {
            return Ok(());
        };
        loop {
            let st = first.cluster_status();
            let (started, failures) = match &st {
                Ok(s) => (
                    s.resource_started(FENCE_RESOURCE),
                    s.failures(FENCE_RESOURCE),
                ),
                Err(_) => (false, Vec::new()),
            };
            if started {
                return Ok(());
            }
            // Once its start failed on every node, nothing will start it.
            let failed_nodes: HashSet<&str> = failures
                .iter()
                .filter(|f| f.operation == "start")
                .map(|f| f.node.as_str())
                .collect();
            let hopeless = failed_nodes.len() >= self.nodes.len();
            if hopeless || start.elapsed() >= limit {
                let listed: Vec<String> = failures.iter().map(ToString::to_string).collect();
                let shown = match st {
                    Ok(s) => s.xml,
                    Err(e) => e.to_string(),
                };
                // pacemaker-fenced logs what the agent wrote to stderr.
                let agent_lines: Vec<String> = self
                    .nodes
                    .iter()
                    .flat_map(|n| {
                        let log = n.dir().join("var-log-pacemaker/pacemaker.log");
                        let text = fs::read_to_string(&log).unwrap_or_default();
                        let lines: Vec<String> = text
                            .lines()
                            .filter(|l| {
                                l.contains(FENCE_AGENT)
                                    || (l.contains("pacemaker-fenced")
                                        && l.contains(FENCE_RESOURCE))
                            })
                            .map(str::to_string)
                            .collect();
                        let from = lines.len().saturating_sub(8);
                        lines[from..].to_vec()
                    })
                    .collect();
                let detail = format!(
                    "failed operations:\n{}\npacemaker-fenced about the device:\n{}\ncrm_mon:\n{shown}",
                    listed.join("\n"),
                    agent_lines.join("\n"),
                );
                let device = format!("the fencing device {FENCE_RESOURCE} (stonith:{FENCE_AGENT})");
                return Err(if hopeless {
                    LabError::Setup(format!(
                        "{device} failed to start on every node; check the agent by hand: \
                         fence_ganesha_lab -o monitor --state-file {}\n{detail}",
                        self.state_file().display()
                    ))
                } else {
                    LabError::Timeout {
                        what: format!("{device} to start"),
                        waited: start.elapsed(),
                        detail,
                    }
                });
            }
            thread::sleep(Duration::from_millis(300));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn fence_resource_is_well_formed() {
        let x = fence_resource_xml(
            Path::new("/var/lib/ganesha-lab/lab/state.json"),
            "node1 node2",
        );
        assert!(
            x.contains(r#"class="stonith" type="fence_ganesha_lab""#),
            "{x}"
        );
        assert!(
            x.contains(r#"name="state_file" value="/var/lib/ganesha-lab/lab/state.json""#),
            "{x}"
        );
        assert!(
            x.contains(r#"name="pcmk_host_list" value="node1 node2""#),
            "{x}"
        );
        assert!(x.contains(r#"interval="60s""#), "{x}");
    }
}
