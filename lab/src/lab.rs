//! The [`Lab`] type: a cluster in a box, built by [`Lab::up`], reached from another process
//! by [`Lab::attach`], left running by [`Lab::detach`] and torn down by [`Lab::down`] or on
//! drop. Its steps live in the submodules.

mod build;
mod fencing;
mod gluster;
pub(crate) mod namespaces;
mod prepare;
mod ready;
mod root;
mod teardown;

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub use fencing::FENCE_RESOURCE;

use crate::node::SETUP_TIMEOUT;
use crate::preflight::{check_addresses_free, pacemaker_ids};
use crate::state::{LabState, STATE_FILE};
use crate::util::run_checked;
use crate::{io_err, preflight, LabError, LabOptions, Node, Tools};

/// A cluster in a box; see the crate documentation. A lab built by [`Lab::up`] is torn down
/// when dropped (best effort, problems are logged) unless [`Lab::detach`]ed; one obtained by
/// [`Lab::attach`] is not. [`Lab::down`] always tears down and reports problems.
#[derive(Debug)]
pub struct Lab {
    name: String,
    root: Option<TempDir>,
    root_path: PathBuf,
    state: LabState,
    nodes: Vec<Node>,
    tools: Arc<Tools>,
    startup: Duration,
    installed: Vec<String>,
    owned: bool,
    torn_down: bool,
}

impl Lab {
    /// A lab over `state`; `owned`: torn down when dropped.
    fn new(
        state: LabState,
        root: Option<TempDir>,
        nodes: Vec<Node>,
        tools: Arc<Tools>,
        owned: bool,
    ) -> Lab {
        Lab {
            name: state.name.clone(),
            root,
            root_path: state.root.clone(),
            state,
            nodes,
            tools,
            startup: Duration::ZERO,
            installed: Vec::new(),
            owned,
            torn_down: false,
        }
    }

    /// Builds the lab and waits (bounded by [`LabOptions::wait_timeout`]) until Pacemaker has
    /// quorum, a DC and every node online, seen from every node; then sets `stonith-enabled`
    /// (true with the lab's fencing device, else false) and `no-quorum-policy` (`stop` with
    /// fencing and three or more nodes, else `ignore`), and with the ganesha service waits
    /// until every node's ganesha.nfsd answers on D-Bus. On failure everything built so far
    /// is torn down.
    pub fn up(opts: LabOptions) -> Result<Lab, LabError> {
        let started = Instant::now();
        opts.validate()?;
        preflight()?;
        let tools = Arc::new(Tools::find(opts.ganesha_service, opts.gluster)?);
        let ids = pacemaker_ids()?;
        if let Some(note) = check_addresses_free(&tools, &opts)? {
            opts.say(&note);
        }
        root::take_over_remains(&opts)?;
        root::refuse_same_name(&opts)?;
        let (tmp, root_path) = root::create(&opts)?;
        let shared = root_path.join("shared");
        let mut state = LabState::new(&opts.name, &root_path, &shared, opts.subnet());
        state.ganesha_service = opts.ganesha_service;
        let mut lab = Lab::new(state, tmp, Vec::new(), tools, true);
        // From here on, an error drops `lab`, which tears down what was built.
        lab.save()?;
        fs::create_dir(&shared).map_err(io_err(format!("create {}", shared.display())))?;
        lab.build(&opts, ids, started)?;
        lab.startup = started.elapsed();
        lab.state.complete = true;
        lab.save()?;
        tracing::info!(
            "lab {} with {} node(s) up in {:.1?}",
            lab.name,
            lab.nodes.len(),
            lab.startup
        );
        Ok(lab)
    }

    /// A handle on a running lab described by its state file (from another process, e.g.
    /// the CLI or the fence agent). Dropping it does not tear the lab down; [`Lab::down`]
    /// does.
    pub fn attach(state_file: &Path) -> Result<Lab, LabError> {
        let state = LabState::read(state_file)?;
        let tools = Arc::new(Tools::find_lenient());
        let nodes = state
            .nodes
            .iter()
            .map(|n| Node::new(n, tools.clone(), &state))
            .collect();
        Ok(Lab::new(state, None, nodes, tools, false))
    }

    /// Leaves the lab running (no teardown, now or on drop) and returns its state file, for
    /// [`Lab::attach`] or `ganesha-lab --state ...`.
    pub fn detach(mut self) -> PathBuf {
        self.state.detached = true;
        if let Err(e) = self.save() {
            tracing::warn!("lab {}: recording the detach: {e}", self.name);
        }
        if let Some(tmp) = self.root.take() {
            let _ = tmp.keep();
        }
        self.torn_down = true;
        self.state_file()
    }

    /// The lab's name (prefix of its namespace names).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Node `i`, 0-based (`node(0)` is `node1`). Panics when `i` is out of range, like
    /// slice indexing.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// All nodes, `node1` first.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node named `name` (`node1`, ...).
    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name() == name)
    }

    /// The first node that has `addr` on an interface that is up (`ip -o addr show up`
    /// inside each node), e.g. where a VIP runs. A node that is off or isolated does not
    /// count.
    pub fn node_holding(&self, addr: Ipv4Addr) -> Option<&Node> {
        self.nodes.iter().find(|n| {
            n.holder_alive()
                && n.addresses(true)
                    .is_ok_and(|v| v.iter().any(|(_, a)| *a == addr))
        })
    }

    /// A host directory visible at the same path in every node; stands in for the shared
    /// state volume. With the ganesha service, `export/` in it is what every node exports.
    pub fn shared_dir(&self) -> &Path {
        &self.state.shared
    }

    /// The lab's root directory (node directories are `node1/`, ...).
    pub fn root_dir(&self) -> &Path {
        &self.root_path
    }

    /// The lab's state file (`<root>/state.json`).
    pub fn state_file(&self) -> PathBuf {
        self.root_path.join(STATE_FILE)
    }

    /// The lab as recorded in its state file.
    pub fn state(&self) -> &LabState {
        &self.state
    }

    /// How long [`Lab::up`] took (zero for an attached lab).
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Whether the lab has its fencing device (`lab-fencing`, stonith-enabled=true).
    pub fn fencing_enabled(&self) -> bool {
        self.state.fencing
    }

    /// What [`LabOptions::agents_dir`] installed in every node (`ocf:ganesha:ganesha_nfsd`,
    /// `/usr/sbin/fence_ganesha_lab`, ...).
    pub fn installed_agents(&self) -> &[String] {
        &self.installed
    }

    /// Every namespace name the lab created (nodes and the switch).
    pub fn netns_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.nodes.iter().map(|n| n.netns.clone()).collect();
        v.extend(self.state.switch_netns.clone());
        v
    }

    /// Tears the lab down and reports whatever could not be undone. Works from the state
    /// alone (for attached labs too): kills every process in the nodes' namespaces (by pid),
    /// deletes the namespaces and removes the lab's root directory.
    pub fn down(mut self) -> Result<(), LabError> {
        self.torn_down = true;
        let problems = self.teardown();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(LabError::Teardown(problems))
        }
    }

    fn save(&mut self) -> Result<(), LabError> {
        self.state.nodes = self.nodes.iter().map(Node::state).collect();
        self.state.write()
    }

    fn ip(&self, args: &[&str]) -> Result<Output, LabError> {
        Ok(run_checked(
            Command::new(self.tools.get("ip")).args(args),
            SETUP_TIMEOUT,
        )?)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.owned && !self.torn_down {
            self.torn_down = true;
            let problems = self.teardown();
            if !problems.is_empty() {
                tracing::warn!("lab {} teardown: {}", self.name, problems.join("; "));
            }
        }
    }
}

/// Tears down the lab described by `state_file` ([`Lab::attach`] + [`Lab::down`]). Returns
/// false, doing nothing, when there is no such file (already down).
pub fn down_state(state_file: &Path) -> Result<bool, LabError> {
    if !state_file.exists() {
        return Ok(false);
    }
    Lab::attach(state_file)?.down()?;
    Ok(true)
}
