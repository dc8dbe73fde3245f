//! The `ganesha-lab` command line: `up`, `status`, `exec`, `logs`, `fail`, `heal`, `power`,
//! `down`, and `sites up|status|cut|heal|power|down` (two disaster recovery sites,
//! `src/sites.rs`). `src/bin/ganesha-lab.rs` is a thin `main` over [`main`].
//!
//! `up` leaves the lab running after it exits: its state file
//! (`<state-dir>/<name>/state.json`, `/var/lib/ganesha-lab/lab/state.json` by default) is what
//! the later commands act on; `sites up` likewise leaves `<state-dir>/<name>/sites.json`, each
//! site a lab with its own state file (`<state-dir>/<name>/a/state.json`, `.../b/...`).

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use crate::{
    preflight, process_name, process_state, sys, FailMode, Lab, LabError, LabOptions, Node,
    Progress, Site, Sites, SitesOptions, BOOTHD, COROSYNC, DATA_TICKET, DATA_VOLUME, DBUS_DAEMON,
    FENCE_AGENT, FENCE_RESOURCE, GANESHA, GLUSTERD, GLUSTERFS, GLUSTERFSD, PACEMAKERD,
    SHARED_STORAGE_MOUNT, SHARED_STORAGE_VOLUME, SITES_STATE_FILE, STATE_FILE,
};

/// Where `up` keeps labs: `<dir>/<name>/state.json`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/ganesha-lab";

/// Writes a line to stdout, ignoring a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// A real Pacemaker/Corosync + D-Bus + NFS-Ganesha cluster on this host, one set of daemons
/// per node, each node in its own network, mount and UTS namespaces. Needs root.
#[derive(Debug, Parser)]
#[command(name = "ganesha-lab", version, about, long_about = None)]
pub struct Cli {
    /// The lab's name (prefix of its network namespace names).
    #[arg(long, global = true, default_value = "lab")]
    pub name: String,
    /// Directory holding the labs' state (`<DIR>/<name>/state.json`).
    #[arg(long, global = true, default_value = DEFAULT_STATE_DIR, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// The state file of an existing lab (instead of --state-dir and --name).
    #[arg(long, global = true, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Bring a lab up and leave it running.
    Up {
        /// Number of nodes.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=64))]
        nodes: u8,
        /// The node network (a /24); node i gets host number 10 + i.
        #[arg(long, default_value = "192.0.2.0/24")]
        subnet: String,
        /// Directory of the built agents (ganesha_nfsd, ganesha_mon, ganesha_grace,
        /// fence_ganesha_lab); default: the directory of this program.
        #[arg(long, value_name = "DIR")]
        agents: Option<PathBuf>,
        /// Bound on waiting for quorum, a DC and every node online, in seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// Do not run ganesha.nfsd in the nodes.
        #[arg(long)]
        no_ganesha: bool,
        /// Bare nodes: no corosync.conf and no cluster stack, for `ganesha-ha setup` to form
        /// the cluster (through `ganesha-lab stack`).
        #[arg(long)]
        bare: bool,
        /// Make every node a GlusterFS server: its own glusterd and gluster state, one
        /// trusted pool, the volume `data` (replica 3; one replica per node when fewer)
        /// started, and the shared storage volume `gluster_shared_storage` mounted at
        /// /run/gluster/shared_storage on every node. Adds a few seconds.
        #[arg(long)]
        gluster: bool,
    },
    /// Nodes, processes, addresses and the cluster's state (crm_mon).
    Status,
    /// Run a command inside a node's namespaces (exits with its status).
    Exec {
        /// The node (node1, ...).
        node: String,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Paths and tails of a node's logs (corosync, pacemaker, ganesha, daemon output).
    Logs {
        /// The node.
        node: String,
        /// Lines of each log.
        #[arg(long, short = 'n', default_value_t = 20)]
        lines: usize,
    },
    /// Inject a failure into a node.
    Fail {
        /// The node.
        node: String,
        /// What fails.
        #[arg(long, value_enum)]
        how: FailMode,
    },
    /// Undo failures: continue a stopped ganesha, start what is missing, reconnect the link.
    Heal {
        /// The node.
        node: String,
    },
    /// Start or stop a node's cluster stack (corosync and pacemakerd), the lab's
    /// `systemctl start|stop corosync pacemaker`; status exits 0 when it runs, 2 when not.
    Stack {
        /// The node.
        node: String,
        /// start, stop or status.
        #[arg(value_enum)]
        action: StackAction,
        /// Stop: bound on each daemon's graceful exit before SIGKILL, in seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Power a node off or on, or show its power state (what the fence agent does).
    Power {
        /// The node.
        node: String,
        /// on, off or status (status exits 0 when on, 2 when off).
        #[arg(value_enum)]
        action: PowerAction,
    },
    /// Stop everything the lab started and remove its namespaces and files.
    Down,
    /// Two disaster recovery sites: two GlusterFS clusters (labs `<name>-a`, `<name>-b`)
    /// joined through a wan bridge with booth's arbitrator.
    Sites {
        /// What to do with the sites.
        #[command(subcommand)]
        command: SitesCmd,
    },
}

/// `sites` subcommands.
#[derive(Debug, Subcommand)]
pub enum SitesCmd {
    /// Bring two sites up and leave them running.
    Up {
        /// Nodes per site.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=20))]
        nodes_per_site: u8,
        /// The ticket moves automatically (no `mode = manual`): a site cut off loses it
        /// after its lease and the other site acquires it.
        #[arg(long)]
        auto_ticket: bool,
        /// The ticket gets `attr-prereq = auto repl_state eq ACTIVE`.
        #[arg(long)]
        attr_prereq: bool,
        /// Directory of the built agents; default: the directory of this program.
        #[arg(long, value_name = "DIR")]
        agents: Option<PathBuf>,
        /// Bound on each site's quorum wait, in seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Each site's cluster (crm_mon summary), tickets (crm_ticket), boothd and wan link;
    /// the arbitrator.
    Status,
    /// Cut a site off the wan (from the other site and the arbitrator).
    Cut {
        /// a or b.
        #[arg(value_enum)]
        site: Site,
    },
    /// Reconnect a site cut off.
    Heal {
        /// a or b.
        #[arg(value_enum)]
        site: Site,
    },
    /// Power every node of a site off or on (on: its daemons and sshd started again).
    Power {
        /// on or off.
        #[arg(value_enum)]
        action: SitesPower,
        /// a or b.
        #[arg(value_enum)]
        site: Site,
    },
    /// Tear the sites down: the arbitrator, both sites, the wan, their files.
    Down,
}

/// `sites power` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SitesPower {
    /// Power every node of the site on.
    On,
    /// Power every node of the site off.
    Off,
}

/// `stack` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StackAction {
    /// Start corosync (wait until ready) and pacemakerd.
    Start,
    /// Stop pacemakerd (its resources first), then corosync.
    Stop,
    /// Report whether the stack runs.
    Status,
}

/// `power` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PowerAction {
    /// Power on (start what is missing).
    On,
    /// Power off (kill every process of the node, link down).
    Off,
    /// Report on/off.
    Status,
}

/// Parses the command line and runs it; errors are printed to stderr.
pub fn main() -> ExitCode {
    run(Cli::parse())
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "ganesha-lab: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: &Cli) -> Result<ExitCode, LabError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(LabError::NotRoot);
    }
    match &cli.command {
        Cmd::Up {
            nodes,
            subnet,
            agents,
            timeout,
            no_ganesha,
            bare,
            gluster,
        } => up(
            cli,
            subnet,
            agents.as_deref(),
            LabOptions {
                nodes: usize::from(*nodes),
                wait_timeout: Duration::from_secs(*timeout),
                ganesha_service: !*no_ganesha,
                form_cluster: !*bare,
                gluster: *gluster,
                ..LabOptions::default()
            },
        ),
        Cmd::Status => status(cli),
        Cmd::Exec { node, command } => exec(cli, node, command),
        Cmd::Logs { node, lines } => logs(cli, node, *lines),
        Cmd::Fail { node, how } => {
            let lab = attach(cli)?;
            find_node(&lab, node)?.fail(*how)?;
            out!(
                "{node}: {how} injected; undo with: ganesha-lab{} heal {node}",
                name_arg(cli)
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Heal { node } => {
            let lab = attach(cli)?;
            let n = find_node(&lab, node)?;
            n.heal()?;
            out!("{node}: healed (everything running, link up); it rejoins the cluster in a few seconds");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Stack {
            node,
            action,
            timeout,
        } => {
            let lab = attach(cli)?;
            let n = find_node(&lab, node)?;
            match action {
                StackAction::Start => {
                    n.start_stack()?;
                    out!("{node}: corosync and pacemakerd running");
                }
                StackAction::Stop => {
                    n.stop_stack(Duration::from_secs(*timeout))?;
                    out!("{node}: cluster stack stopped");
                }
                StackAction::Status => {
                    let running = n.stack_running();
                    out!("{node}: {}", if running { "running" } else { "stopped" });
                    if !running {
                        return Ok(ExitCode::from(2));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Power { node, action } => {
            let lab = attach(cli)?;
            let n = find_node(&lab, node)?;
            match action {
                PowerAction::On => {
                    n.power_on()?;
                    out!("{node}: on");
                }
                PowerAction::Off => {
                    n.power_off()?;
                    out!("{node}: off");
                }
                PowerAction::Status => {
                    let on = n.is_powered_on();
                    out!("{node}: {}", if on { "on" } else { "off" });
                    if !on {
                        return Ok(ExitCode::from(2));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Down => down(cli),
        Cmd::Sites { command } => sites(cli, command),
    }
}

/// ` --name X` when not the default, for hints.
fn name_arg(cli: &Cli) -> String {
    if let Some(s) = &cli.state {
        format!(" --state {}", s.display())
    } else if cli.name == "lab" {
        String::new()
    } else {
        format!(" --name {}", cli.name)
    }
}

fn state_file(cli: &Cli) -> PathBuf {
    cli.state
        .clone()
        .unwrap_or_else(|| cli.state_dir.join(&cli.name).join(STATE_FILE))
}

fn attach(cli: &Cli) -> Result<Lab, LabError> {
    let sf = state_file(cli);
    if !sf.exists() {
        return Err(LabError::Setup(format!(
            "no lab named {:?} is running (no {}); start one with: ganesha-lab{} up",
            cli.name,
            sf.display(),
            name_arg(cli)
        )));
    }
    Lab::attach(&sf)
}

fn find_node<'a>(lab: &'a Lab, name: &str) -> Result<&'a Node, LabError> {
    lab.node_by_name(name).ok_or_else(|| {
        let names: Vec<&str> = lab.nodes().iter().map(Node::name).collect();
        LabError::Options(format!(
            "lab {:?} has no node {name:?} (nodes: {})",
            lab.name(),
            names.join(", ")
        ))
    })
}

/// Parses `A.B.C.0/24` into `[A, B, C]`.
pub fn parse_subnet(s: &str) -> Result<[u8; 3], LabError> {
    let bad = || {
        LabError::Options(format!(
            "subnet {s:?}: give a /24 network such as 192.0.2.0/24 (only /24 is supported)"
        ))
    };
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let [a, b, c, d] = addr.octets();
    if len != "24" || d != 0 {
        return Err(bad());
    }
    Ok([a, b, c])
}

/// `up` with the lab's shape in `shape` (nodes, timeout, services); the rest comes from `cli`.
fn up(
    cli: &Cli,
    subnet: &str,
    agents: Option<&Path>,
    shape: LabOptions,
) -> Result<ExitCode, LabError> {
    let (nodes, ganesha, bare, gluster) = (
        shape.nodes,
        shape.ganesha_service,
        !shape.form_cluster,
        shape.gluster,
    );
    if cli.state.is_some() {
        return Err(LabError::Options(
            "--state names an existing lab; `up` takes --name (and --state-dir)".into(),
        ));
    }
    preflight()?;
    let subnet_base = parse_subnet(subnet)?;
    let agents_dir = match agents {
        Some(d) => d.to_path_buf(),
        None => std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .ok_or_else(|| {
                LabError::Options("cannot find this program's directory; give --agents".into())
            })?,
    };
    let agents_dir = std::fs::canonicalize(&agents_dir).unwrap_or(agents_dir);
    out!(
        "ganesha-lab: bringing up lab {:?}: {nodes} node(s) on {subnet}{}{}",
        cli.name,
        if ganesha {
            ", ganesha.nfsd in each"
        } else {
            ""
        },
        if gluster { ", GlusterFS servers" } else { "" }
    );
    let t0 = Instant::now();
    let lab = Lab::up(LabOptions {
        name: cli.name.clone(),
        subnet_base,
        first_host: 11,
        root: Some(cli.state_dir.join(&cli.name)),
        agents_dir: Some(agents_dir.clone()),
        progress: Some(Progress::new(|line| out!("{line}"))),
        ..shape
    })?;
    let took = t0.elapsed();
    out!(
        "\nlab {:?} is up: {} node(s) in {:.1} s ({}{}{})",
        lab.name(),
        lab.nodes().len(),
        took.as_secs_f64(),
        if bare {
            "bare nodes, no cluster stack"
        } else {
            "quorum, a DC, every node online"
        },
        if lab.fencing_enabled() {
            ", fencing device started"
        } else {
            ""
        },
        if ganesha { ", ganesha answering" } else { "" }
    );
    if lab.installed_agents().is_empty() {
        out!(
            "agents: none found in {} (build them: cargo build --release; or give --agents DIR)",
            agents_dir.display()
        );
    } else {
        out!(
            "agents from {}: {}",
            agents_dir.display(),
            lab.installed_agents().join(", ")
        );
    }
    if bare {
        out!(
            "no cluster yet: form it with ganesha-ha setup (transport: ganesha-lab{} stack/exec; \
             fencing: stonith:{FENCE_AGENT} state_file={})",
            name_arg(cli),
            lab.state_file().display()
        );
    } else if lab.fencing_enabled() {
        out!("fencing: {FENCE_RESOURCE} (stonith:{FENCE_AGENT}), stonith-enabled=true");
    } else if nodes == 1 {
        out!("fencing: off for a single node; stonith-enabled=false");
    } else {
        out!(
            "fencing: off ({FENCE_AGENT} not found in {}); stonith-enabled=false",
            agents_dir.display()
        );
    }
    if let Some(g) = &lab.state().gluster {
        out!(
            "gluster: volume {} (replica {}, {} bricks), shared storage {SHARED_STORAGE_VOLUME} \
             at {SHARED_STORAGE_MOUNT} on every node",
            g.volume,
            g.replica,
            g.bricks.len()
        );
    }
    out!("\n{:<8}{:<16}{:<16}HOLDER PID", "NODE", "ADDRESS", "NETNS");
    for n in lab.nodes() {
        out!(
            "{:<8}{:<16}{:<16}{}",
            n.name(),
            n.addr().to_string(),
            n.netns(),
            n.holder_pid()
        );
    }
    let na = name_arg(cli);
    if let Some(n) = lab.nodes().first() {
        out!("\nreach a node:");
        out!("  ganesha-lab{na} exec {} -- crm_mon -1", n.name());
        out!(
            "  nsenter -t {} -n -m -u          # a shell inside {} (its network, mounts, hostname)",
            n.holder_pid(),
            n.name()
        );
        if gluster {
            out!(
                "  ganesha-lab{na} exec {} -- gluster volume info {DATA_VOLUME}",
                n.name()
            );
        }
        if ganesha {
            let from = lab.nodes().get(1).unwrap_or(n);
            out!(
                "  ganesha-lab{na} exec {} -- nfs-cat 'nfs://{}/export/hello.txt?version=4'",
                from.name(),
                n.addr()
            );
        }
    }
    out!("next: ganesha-lab{na} status | logs NODE | fail NODE --how crash | heal NODE | down");
    out!("state: {}", lab.state_file().display());
    let _ = lab.detach();
    Ok(ExitCode::SUCCESS)
}

fn status(cli: &Cli) -> Result<ExitCode, LabError> {
    let lab = attach(cli)?;
    let st = lab.state();
    out!(
        "lab {:?}: {} node(s) on {}, fencing {}, ganesha service {}{}",
        lab.name(),
        lab.nodes().len(),
        st.subnet,
        if st.fencing { "on" } else { "off" },
        if st.ganesha_service { "on" } else { "off" },
        if st.gluster.is_some() {
            ", GlusterFS servers"
        } else {
            ""
        }
    );
    out!("state: {}", lab.state_file().display());
    out!("shared directory: {}", lab.shared_dir().display());
    let mut crm_node = None;
    for n in lab.nodes() {
        if !n.holder_alive() {
            out!(
                "\n{} {} netns {}: GONE (holder {} not running); tear down with: ganesha-lab{} down",
                n.name(),
                n.addr(),
                n.netns(),
                n.holder_pid(),
                name_arg(cli)
            );
            continue;
        }
        // Power as the daemons show it; the link is reported on its own (isolate).
        let powered = !n.pids_named(COROSYNC).is_empty() || !n.pids_named(PACEMAKERD).is_empty();
        let link = match n.link_is_up() {
            Ok(true) => "up",
            Ok(false) => "DOWN",
            Err(_) => "?",
        };
        let addrs: Vec<String> = n
            .addresses(false)
            .unwrap_or_default()
            .into_iter()
            .filter(|(dev, _)| dev != "lo")
            .map(|(dev, a)| format!("{a} ({dev})"))
            .collect();
        out!(
            "\n{}  netns {}  holder {}  power {}  link {}",
            n.name(),
            n.netns(),
            n.holder_pid(),
            if powered { "on" } else { "OFF" },
            link
        );
        out!(
            "  addresses: {}",
            if addrs.is_empty() {
                "none".to_string()
            } else {
                addrs.join(", ")
            }
        );
        let mut procs = Vec::new();
        for comm in [DBUS_DAEMON, COROSYNC, PACEMAKERD, GANESHA] {
            let pids = n.pids_named(comm);
            if pids.is_empty() {
                procs.push(format!("{comm} -"));
            }
            for p in pids {
                let stopped = if process_state(p) == Some('T') {
                    " (STOPPED)"
                } else {
                    ""
                };
                procs.push(format!("{comm} {p}{stopped}"));
            }
        }
        let children = n
            .pids()
            .into_iter()
            .filter(|&p| process_name(p).is_some_and(|c| c.starts_with("pacemaker-")))
            .count();
        procs.push(format!("pacemaker-* x{children}"));
        if st.gluster.is_some() {
            let glusterd = n.pids_named(GLUSTERD);
            procs.push(match glusterd.first() {
                Some(p) => format!("{GLUSTERD} {p}"),
                None => format!("{GLUSTERD} -"),
            });
            procs.push(format!(
                "{GLUSTERFSD} x{}, {GLUSTERFS} x{}",
                n.pids_named(GLUSTERFSD).len(),
                n.pids_named(GLUSTERFS).len()
            ));
        }
        out!("  processes: {}", procs.join(", "));
        if st.gluster.is_some() {
            let mounted = n.shared_storage_mounted();
            out!(
                "  shared storage: {}",
                if mounted { "mounted" } else { "NOT MOUNTED" }
            );
        }
        let failed = n.failures();
        if !failed.is_empty() {
            out!("  failed: {} (undo: heal {})", failed.join(", "), n.name());
        }
        if powered && crm_node.is_none() {
            crm_node = Some(n);
        }
    }
    match crm_node {
        Some(n) => {
            out!("\ncrm_mon -1 (on {}):", n.name());
            match n.run_timeout("crm_mon", &["-1"], Duration::from_secs(15)) {
                Ok(o) => out!("{}", String::from_utf8_lossy(&o.stdout).trim_end()),
                Err(e) => out!("{e}"),
            }
        }
        None => out!("\nno node is powered on: no cluster status"),
    }
    Ok(ExitCode::SUCCESS)
}

fn exec(cli: &Cli, node: &str, command: &[String]) -> Result<ExitCode, LabError> {
    let lab = attach(cli)?;
    let n = find_node(&lab, node)?;
    if !n.holder_alive() {
        return Err(LabError::Setup(format!(
            "{node}: the node is gone (holder {} not running)",
            n.holder_pid()
        )));
    }
    let Some((program, args)) = command.split_first() else {
        return Err(LabError::Options("exec needs a command after --".into()));
    };
    // The user's own command, interactive: stdio inherited and no time bound.
    let status = n
        .command(program)
        .args(args)
        .status()
        .map_err(|e| LabError::Setup(format!("cannot run {program} in {node}: {e}")))?;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

fn logs(cli: &Cli, node: &str, lines: usize) -> Result<ExitCode, LabError> {
    let lab = attach(cli)?;
    let n = find_node(&lab, node)?;
    for (label, path) in n.log_files() {
        out!("==> {node} {label}: {} <==", path.display());
        if path.exists() {
            out!("{}\n", sys::tail(&path, lines));
        } else {
            out!("(not written yet)\n");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn down(cli: &Cli) -> Result<ExitCode, LabError> {
    let sf = state_file(cli);
    if !sf.exists() {
        out!(
            "no lab named {:?} is running (no {}): nothing to do",
            cli.name,
            sf.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let t0 = Instant::now();
    let lab = Lab::attach(&sf)?;
    let name = lab.name().to_string();
    lab.down()?;
    if cli.state.is_none() && cli.state_dir == Path::new(DEFAULT_STATE_DIR) {
        // Only removed when empty.
        let _ = std::fs::remove_dir(&cli.state_dir);
    }
    out!(
        "lab {name:?} is down ({:.1} s): its processes, namespaces and files are gone",
        t0.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The sites' state file: `--state`, else `<state-dir>/<name>/sites.json`.
fn sites_state_file(cli: &Cli) -> PathBuf {
    cli.state
        .clone()
        .unwrap_or_else(|| cli.state_dir.join(&cli.name).join(SITES_STATE_FILE))
}

fn attach_sites(cli: &Cli) -> Result<Sites, LabError> {
    let sf = sites_state_file(cli);
    if !sf.exists() {
        return Err(LabError::Setup(format!(
            "no sites named {:?} are running (no {}); start them with: ganesha-lab{} sites up",
            cli.name,
            sf.display(),
            name_arg(cli)
        )));
    }
    Sites::attach(&sf)
}

fn sites(cli: &Cli, command: &SitesCmd) -> Result<ExitCode, LabError> {
    match command {
        SitesCmd::Up {
            nodes_per_site,
            auto_ticket,
            attr_prereq,
            agents,
            timeout,
        } => sites_up(
            cli,
            agents.as_deref(),
            SitesOptions {
                nodes_per_site: usize::from(*nodes_per_site),
                auto_ticket: *auto_ticket,
                attr_prereq: *attr_prereq,
                wait_timeout: Duration::from_secs(*timeout),
                ..SitesOptions::default()
            },
        ),
        SitesCmd::Status => sites_status(cli),
        SitesCmd::Cut { site } => {
            attach_sites(cli)?.cut(*site)?;
            out!(
                "site {site}: cut off the wan (no other site, no arbitrator); undo with: \
                 ganesha-lab{} sites heal {site}",
                name_arg(cli)
            );
            Ok(ExitCode::SUCCESS)
        }
        SitesCmd::Heal { site } => {
            attach_sites(cli)?.heal(*site)?;
            out!("site {site}: back on the wan");
            Ok(ExitCode::SUCCESS)
        }
        SitesCmd::Power { action, site } => {
            let sites = attach_sites(cli)?;
            match action {
                SitesPower::Off => {
                    sites.power_off(*site)?;
                    out!("site {site}: every node off");
                }
                SitesPower::On => {
                    sites.power_on(*site)?;
                    out!("site {site}: every node on (it rejoins its cluster in a few seconds)");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SitesCmd::Down => {
            let sf = sites_state_file(cli);
            if !sf.exists() {
                out!(
                    "no sites named {:?} are running (no {}): nothing to do",
                    cli.name,
                    sf.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let t0 = Instant::now();
            let sites = Sites::attach(&sf)?;
            let name = sites.name().to_string();
            sites.down()?;
            if cli.state.is_none() && cli.state_dir == Path::new(DEFAULT_STATE_DIR) {
                // Only removed when empty.
                let _ = std::fs::remove_dir(&cli.state_dir);
            }
            out!(
                "sites {name:?} are down ({:.1} s): their processes, namespaces and files are gone",
                t0.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn sites_up(cli: &Cli, agents: Option<&Path>, shape: SitesOptions) -> Result<ExitCode, LabError> {
    if cli.state.is_some() {
        return Err(LabError::Options(
            "--state names existing sites; `sites up` takes --name (and --state-dir)".into(),
        ));
    }
    preflight()?;
    let agents_dir = match agents {
        Some(d) => d.to_path_buf(),
        None => std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .ok_or_else(|| {
                LabError::Options("cannot find this program's directory; give --agents".into())
            })?,
    };
    let agents_dir = std::fs::canonicalize(&agents_dir).unwrap_or(agents_dir);
    out!(
        "ganesha-lab: bringing up sites {:?}: {} node(s) per site, ticket {DATA_TICKET} {}",
        cli.name,
        shape.nodes_per_site,
        if shape.auto_ticket {
            "automatic"
        } else {
            "manual"
        }
    );
    let t0 = Instant::now();
    let sites = Sites::up(SitesOptions {
        name: cli.name.clone(),
        root: Some(cli.state_dir.join(&cli.name)),
        agents_dir: Some(agents_dir),
        progress: Some(Progress::new(|line| out!("{line}"))),
        ..shape
    })?;
    out!(
        "\nsites {:?} are up in {:.1} s",
        sites.name(),
        t0.elapsed().as_secs_f64()
    );
    out!(
        "\n{:<6}{:<12}{:<16}{:<16}HOLDER PID",
        "SITE",
        "NODE",
        "ADDRESS",
        "NETNS"
    );
    for site in Site::ALL {
        for n in sites.nodes(site) {
            out!(
                "{:<6}{:<12}{:<16}{:<16}{}",
                site.as_str(),
                n.name(),
                n.addr().to_string(),
                n.netns(),
                n.holder_pid()
            );
        }
    }
    if let Some(arb) = sites.arbitrator() {
        out!(
            "{:<6}{:<12}{:<16}{:<16}{}",
            "-",
            arb.name(),
            arb.addr().to_string(),
            arb.netns(),
            arb.holder_pid()
        );
    }
    let na = name_arg(cli);
    let lab_a = sites.lab(Site::A).map(Lab::state_file).unwrap_or_default();
    out!(
        "\nbooth: {} in every node and the arbitrator; the arbitrator's boothd runs; \
          each site's boothd is Pacemaker's (ocf:ganesha:booth_site)",
        crate::BOOTH_CONF
    );
    out!("reach a site's node (each site is a lab):");
    out!(
        "  ganesha-lab --state {} exec node1 -- crm_ticket --info",
        lab_a.display()
    );
    out!("next: ganesha-lab{na} sites status | cut a | heal a | power off a | down");
    out!("state: {}", sites.state_file().display());
    let _ = sites.detach();
    Ok(ExitCode::SUCCESS)
}

fn sites_status(cli: &Cli) -> Result<ExitCode, LabError> {
    let sites = attach_sites(cli)?;
    let st = sites.state();
    out!(
        "sites {:?}: {} node(s) per site, ticket {DATA_TICKET} {}{}",
        sites.name(),
        st.nodes_per_site,
        if st.auto_ticket {
            "automatic"
        } else {
            "manual"
        },
        if st.attr_prereq {
            ", attr-prereq repl_state eq ACTIVE"
        } else {
            ""
        }
    );
    out!("state: {}", sites.state_file().display());
    for site in Site::ALL {
        let Some(rec) = st.lab(site) else { continue };
        let wan = match sites.is_cut(site) {
            Ok(true) => "CUT".to_string(),
            Ok(false) => "up".to_string(),
            Err(e) => format!("? ({e})"),
        };
        out!(
            "\nsite {site}: lab {}, booth address {}, wan {wan}",
            rec.lab_name,
            sites.booth_addr(site)
        );
        if !rec.state_file.exists() {
            out!("  GONE (no {})", rec.state_file.display());
            continue;
        }
        let on: Vec<&Node> = sites
            .nodes(site)
            .iter()
            .filter(|n| n.holder_alive() && n.is_powered_on())
            .collect();
        let off: Vec<&str> = sites
            .nodes(site)
            .iter()
            .filter(|n| !on.iter().any(|o| o.name() == n.name()))
            .map(Node::name)
            .collect();
        if !off.is_empty() {
            out!("  powered off: {}", off.join(", "));
        }
        let Some(n) = on.first() else {
            out!("  no node is powered on");
            continue;
        };
        match n.cluster_status() {
            Ok(cs) => out!(
                "  cluster (crm_mon on {}): DC {}, quorum {}, online [{}]",
                n.name(),
                cs.dc.as_deref().unwrap_or("none"),
                if cs.quorum { "yes" } else { "NO" },
                cs.online.join(", ")
            ),
            Err(e) => out!("  cluster: crm_mon failed: {e}"),
        }
        match sites.ticket_info(site) {
            Ok(text) if text.trim().is_empty() => out!("  tickets: none in the CIB yet"),
            Ok(text) => {
                for line in text.lines() {
                    out!("  ticket: {line}");
                }
            }
            Err(e) => out!("  tickets: crm_ticket failed: {e}"),
        }
        let boothd: Vec<String> = sites
            .nodes(site)
            .iter()
            .flat_map(|n| {
                n.pids_named(BOOTHD)
                    .into_iter()
                    .map(move |p| format!("{} pid {p}", n.name()))
            })
            .collect();
        out!(
            "  boothd: {}",
            if boothd.is_empty() {
                "not running (Pacemaker's booth-site resource starts it)".to_string()
            } else {
                boothd.join(", ")
            }
        );
        out!(
            "  reach it: ganesha-lab --state {} exec {} -- crm_mon -1",
            rec.state_file.display(),
            n.name()
        );
    }
    if let Some(arb) = sites.arbitrator() {
        let pids = arb.pids_named(BOOTHD);
        out!(
            "\narbitrator {} (netns {}): boothd {}",
            arb.addr(),
            arb.netns(),
            pids.first()
                .map_or("NOT RUNNING".to_string(), |p| format!("pid {p}"))
        );
        if arb.holder_alive() {
            match sites.booth_status(arb) {
                Ok(text) => out!("  {}", text.trim_end()),
                Err(e) => out!("  booth status failed: {e}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_commands() {
        let c =
            Cli::try_parse_from(["ganesha-lab", "exec", "node1", "--", "crm_mon", "-1"]).unwrap();
        match c.command {
            Cmd::Exec { node, command } => {
                assert_eq!(node, "node1");
                assert_eq!(command, ["crm_mon", "-1"]);
            }
            other => panic!("{other:?}"),
        }
        let c = Cli::try_parse_from([
            "ganesha-lab",
            "--name",
            "x",
            "fail",
            "node2",
            "--how",
            "kill-pacemaker",
        ])
        .unwrap();
        assert_eq!(c.name, "x");
        assert!(matches!(
            c.command,
            Cmd::Fail {
                how: FailMode::KillPacemaker,
                ..
            }
        ));
        let c = Cli::try_parse_from(["ganesha-lab", "sites", "power", "off", "b"]).unwrap();
        assert!(matches!(
            c.command,
            Cmd::Sites {
                command: SitesCmd::Power {
                    action: SitesPower::Off,
                    site: Site::B
                }
            }
        ));
        let c = Cli::try_parse_from(["ganesha-lab", "sites", "up", "--auto-ticket"]).unwrap();
        assert!(matches!(
            c.command,
            Cmd::Sites {
                command: SitesCmd::Up {
                    nodes_per_site: 1,
                    auto_ticket: true,
                    ..
                }
            }
        ));
        assert!(Cli::try_parse_from(["ganesha-lab", "sites", "cut", "c"]).is_err());
        let c = Cli::try_parse_from(["ganesha-lab", "up"]).unwrap();
        assert!(matches!(c.command, Cmd::Up { nodes: 3, .. }));
        assert!(Cli::try_parse_from(["ganesha-lab", "up", "--nodes", "0"]).is_err());
        assert!(Cli::try_parse_from(["ganesha-lab", "fail", "node1", "--how", "melt"]).is_err());
    }

    #[test]
    fn parses_subnets() {
        assert_eq!(parse_subnet("192.0.2.0/24").unwrap(), [192, 0, 2]);
        assert_eq!(parse_subnet("10.1.2.0/24").unwrap(), [10, 1, 2]);
        assert!(parse_subnet("10.1.2.0/16").is_err());
        assert!(parse_subnet("10.1.2.5/24").is_err());
        assert!(parse_subnet("nonsense").is_err());
    }
}
