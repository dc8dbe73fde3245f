//! Waiting until a lab is ready: quorum, a DC and every node online (seen from every node),
//! and ganesha.nfsd answering on D-Bus.

use std::thread;
use std::time::{Duration, Instant};

use super::Lab;
use crate::{sys, LabError, Node};

impl Lab {
    /// Waits until every node sees quorum, a DC and all nodes online; reports progress
    /// through `say` every few seconds.
    pub(super) fn wait_for_cluster(
        &self,
        timeout: Duration,
        say: &dyn Fn(&str),
    ) -> Result<(), LabError> {
        let start = Instant::now();
        let want: Vec<&str> = self.nodes.iter().map(Node::name).collect();
        let mut last = String::from("(no answer yet)");
        let mut next_report = Instant::now() + Duration::from_secs(5);
        loop {
            for node in &self.nodes {
                node.check_daemons()?;
            }
            if let Some(first) = self.nodes.first() {
                match first.cluster_status() {
                    Ok(st) if st.all_online(&want) => {
                        // Every node must see it too.
                        let lagging: Vec<&str> = self
                            .nodes
                            .iter()
                            .skip(1)
                            .filter(|n| !n.cluster_status().is_ok_and(|s| s.all_online(&want)))
                            .map(Node::name)
                            .collect();
                        if lagging.is_empty() {
                            return Ok(());
                        }
                        last = format!("{} see all online; {lagging:?} not yet", first.name());
                    }
                    Ok(st) => {
                        last = format!(
                            "dc={} quorum={} online {}/{} {:?}",
                            st.dc.as_deref().unwrap_or("none"),
                            st.quorum,
                            st.online.len(),
                            want.len(),
                            st.online
                        );
                    }
                    Err(e) => {
                        // The most telling line: crm_mon's own complaint, else the status
                        // (a timeout while the CIB is still coming up says "killed after").
                        let text = e.to_string();
                        last = text
                            .lines()
                            .map(str::trim)
                            .find(|l| l.starts_with("crm_mon:") || l.contains("rror"))
                            .or_else(|| {
                                text.lines()
                                    .map(str::trim)
                                    .find(|l| l.starts_with("status:"))
                            })
                            .map(|l| format!("crm_mon: {l}"))
                            .unwrap_or_else(|| "crm_mon gave no answer yet".to_string());
                    }
                }
            }
            if start.elapsed() >= timeout {
                let mut detail = format!("last crm_mon: {last}\n");
                for n in &self.nodes {
                    detail.push_str(&n.log_tails());
                }
                return Err(LabError::Timeout {
                    what: format!("quorum, a DC and nodes {want:?} online"),
                    waited: start.elapsed(),
                    detail,
                });
            }
            if Instant::now() >= next_report {
                say(&format!("waiting for quorum and a DC: {last}"));
                next_report = Instant::now() + Duration::from_secs(5);
            }
            thread::sleep(Duration::from_millis(300));
        }
    }

    /// Waits until every node's ganesha.nfsd answers on D-Bus.
    pub(super) fn wait_ganesha(&self, limit: Duration) -> Result<(), LabError> {
        let start = Instant::now();
        for node in &self.nodes {
            loop {
                let res = node.run_timeout(
                    "dbus-send",
                    &[
                        "--system",
                        "--print-reply",
                        "--reply-timeout=2000",
                        "--dest=org.ganesha.nfsd",
                        "/org/ganesha/nfsd/admin",
                        "org.ganesha.nfsd.admin.get_grace",
                    ],
                    Duration::from_secs(5),
                );
                match res {
                    Ok(_) => break,
                    Err(e) if start.elapsed() >= limit => {
                        let log = node.dir().join("var-log-ganesha/ganesha.log");
                        return Err(LabError::Setup(format!(
                            "{}: ganesha.nfsd does not answer on D-Bus after {:.0?}: {e}\n{}:\n{}",
                            node.name(),
                            start.elapsed(),
                            log.display(),
                            sys::tail(&log, 30)
                        )));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(200)),
                }
            }
        }
        Ok(())
    }
}
