//! [`Lab::up`]'s build, step by step: the switch, the nodes (namespaces, directories, mounts),
//! their GlusterFS if asked, the daemons, the cluster properties and the fencing device, each
//! waited for.

use std::fs;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::gluster::{hosts_lines, plan};
use super::prepare::{prepare_node, NodeSetup};
use super::Lab;
use crate::agents::Agents;
use crate::{
    conf, io_err, node, GaneshaConf, LabError, LabOptions, DATA_VOLUME, FENCE_AGENT,
    FENCE_RESOURCE, GANESHA_RECOVERY_ROOT, HELLO_FILE, HELLO_TEXT, OWN_PROVIDER,
};

/// A node to be: (index from 1, name, address).
pub(super) type PlannedNode = (usize, String, Ipv4Addr);

impl Lab {
    /// Builds everything [`Lab::up`] promises; `ids` are `hacluster`'s uid and `haclient`'s
    /// gid, `t0` when `up` started (for the progress lines).
    pub(super) fn build(
        &mut self,
        opts: &LabOptions,
        ids: (u32, u32),
        t0: Instant,
    ) -> Result<(), LabError> {
        let say = |line: &str| opts.say(&format!("[{:5.1}s] {line}", t0.elapsed().as_secs_f64()));
        let switch = self.add_switch(opts.ipv6)?;
        let agents = Agents::find(opts.agents_dir.as_deref());
        self.record_installed(&agents);
        let ganesha_conf = if opts.ganesha_service {
            Some(self.ganesha_service_conf(opts.gluster)?)
        } else {
            None
        };
        let members = members(opts)?;
        if opts.gluster {
            // Recorded before any glusterd runs: a teardown from the state alone knows of it.
            self.state.gluster = Some(plan(&self.root_path, &members));
        }
        let hosts = hosts_lines(&members);
        let corosync_conf = corosync_conf(&self.name, &members);
        let setup = NodeSetup {
            ids,
            corosync_conf: opts.form_cluster.then_some(corosync_conf.as_str()),
            agents: &agents,
            ganesha_conf: ganesha_conf.as_deref(),
        };
        for (i, name, addr) in members {
            self.add_node(i, name, addr, &switch, opts.ipv6)?;
            self.save()?;
            if let Some(node) = self.nodes.last() {
                prepare_node(node, &self.tools, &setup)?;
                if opts.gluster {
                    node.prepare_gluster(&hosts)?;
                }
            }
        }
        say(&format!(
            "{} node namespace(s), links and mounts ready",
            self.nodes.len()
        ));
        self.start_gluster(&say)?;
        if opts.gluster && opts.ganesha_service {
            self.write_hello_into_volume()?;
            say(&format!("{HELLO_FILE} written into volume {DATA_VOLUME}"));
        }

        self.start_services(opts.ganesha_service)?;
        if !opts.form_cluster {
            say(&format!(
                "dbus-daemon{} started on every node; no cluster stack (bare nodes)",
                if opts.ganesha_service {
                    " and ganesha.nfsd"
                } else {
                    ""
                }
            ));
            if opts.ganesha_service {
                self.wait_ganesha(Duration::from_secs(60))?;
                say("ganesha.nfsd answers on every node");
            }
            return Ok(());
        }
        self.start_cluster_stack()?;
        say(&format!(
            "dbus-daemon, {}corosync and pacemakerd started on every node",
            if opts.ganesha_service {
                "ganesha.nfsd, "
            } else {
                ""
            }
        ));
        self.wait_for_cluster(opts.wait_timeout, &say)?;
        let dc = self
            .nodes
            .first()
            .and_then(|n| n.cluster_status().ok())
            .and_then(|s| s.dc)
            .unwrap_or_default();
        say(&format!(
            "quorum, DC {dc}, {n}/{n} nodes online (seen from every node)",
            n = self.nodes.len()
        ));

        let fencing = agents.fence.is_some() && opts.nodes > 1;
        self.configure_cluster(fencing)?;
        if fencing {
            self.wait_fencing_device(Duration::from_secs(60))?;
            say(&format!(
                "fencing device {FENCE_RESOURCE} (stonith:{FENCE_AGENT}) started; stonith-enabled=true"
            ));
        } else {
            say("no fencing device: stonith-enabled=false");
        }
        if opts.ganesha_service {
            self.wait_ganesha(Duration::from_secs(60))?;
            say("ganesha.nfsd answers on every node");
        }
        Ok(())
    }

    /// Notes what [`Lab::installed_agents`] reports.
    fn record_installed(&mut self, agents: &Agents) {
        for (name, _) in &agents.ocf {
            self.installed.push(format!("ocf:{OWN_PROVIDER}:{name}"));
        }
        if agents.fence.is_some() {
            self.installed.push(format!("/usr/sbin/{FENCE_AGENT}"));
        }
    }

    /// The `ganesha.conf` every node gets: with `gluster` the volume [`DATA_VOLUME`] through
    /// FSAL GLUSTER (its file to read is written once the volume runs), else
    /// `<shared>/export` through FSAL VFS, created here with its file to read.
    fn ganesha_service_conf(&self, gluster: bool) -> Result<String, LabError> {
        let mut c = if gluster {
            GaneshaConf::gluster(GANESHA_RECOVERY_ROOT, DATA_VOLUME)
        } else {
            let export = self.state.shared.join("export");
            fs::create_dir(&export).map_err(io_err(format!("create {}", export.display())))?;
            fs::write(export.join(HELLO_FILE), HELLO_TEXT)
                .map_err(io_err(format!("write export/{HELLO_FILE}")))?;
            GaneshaConf::new(GANESHA_RECOVERY_ROOT, &export)
        };
        c.clustered = Some(false);
        Ok(c.render())
    }

    /// Starts D-Bus on every node and waits for it, then ganesha.nfsd if asked. Each daemon
    /// kind on every node before the next kind: the nodes boot in parallel.
    fn start_services(&self, ganesha_service: bool) -> Result<(), LabError> {
        let mut pids = Vec::new();
        for node in &self.nodes {
            pids.push(node.start_dbus()?);
        }
        for (node, pid) in self.nodes.iter().zip(&pids) {
            node.wait_dbus(*pid, node::DBUS_WAIT)?;
        }
        if ganesha_service {
            for node in &self.nodes {
                node.start_ganesha()?;
            }
        }
        Ok(())
    }

    /// Starts corosync on every node and waits for it, then pacemakerd.
    fn start_cluster_stack(&self) -> Result<(), LabError> {
        let mut corosyncs = Vec::new();
        for node in &self.nodes {
            corosyncs.push(node.start_corosync()?);
        }
        for (node, (pid, offset)) in self.nodes.iter().zip(&corosyncs) {
            node.wait_corosync(*pid, *offset, node::COROSYNC_WAIT)?;
        }
        for node in &self.nodes {
            node.start_pacemakerd()?;
        }
        Ok(())
    }

    /// With `fencing`, creates the fencing device; sets `stonith-enabled` and
    /// `no-quorum-policy` (`stop` only with fencing and three or more nodes: without fencing
    /// a partition must keep its resources) and records whether the lab fences.
    fn configure_cluster(&mut self, fencing: bool) -> Result<(), LabError> {
        let Some(first) = self.nodes.first() else {
            return Ok(());
        };
        if fencing {
            self.add_fencing_device(first)?;
        }
        let no_quorum = if fencing && self.nodes.len() >= 3 {
            "stop"
        } else {
            "ignore"
        };
        let crm_attribute = self.tools.get("crm_attribute");
        for (prop, value) in [
            ("stonith-enabled", if fencing { "true" } else { "false" }),
            ("no-quorum-policy", no_quorum),
        ] {
            first.run_setup(
                crm_attribute,
                &["--type", "crm_config", "--name", prop, "--update", value],
            )?;
        }
        self.state.fencing = fencing;
        self.save()
    }
}

/// The nodes `opts` describe.
fn members(opts: &LabOptions) -> Result<Vec<PlannedNode>, LabError> {
    let [a, b, c] = opts.subnet_base;
    (1..=opts.nodes)
        .map(|i| {
            let host = u8::try_from(usize::from(opts.first_host) + i - 1)
                .map_err(|_| LabError::Options("host number out of range".into()))?;
            Ok((i, format!("node{i}"), Ipv4Addr::new(a, b, c, host)))
        })
        .collect()
}

/// The `corosync.conf` every member gets.
fn corosync_conf(cluster: &str, members: &[PlannedNode]) -> String {
    conf::corosync_conf(
        cluster,
        &members
            .iter()
            .map(|(id, name, addr)| conf::Member {
                id: *id,
                name,
                addr: *addr,
            })
            .collect::<Vec<_>>(),
    )
}
