//! A real Pacemaker/Corosync + D-Bus + NFS-Ganesha cluster in network namespaces.
//!
//! [`Lab::up`] builds a cluster of one or more nodes on this host and waits until Pacemaker
//! has quorum, a DC and every node online; dropping the [`Lab`] (or [`Lab::down`]) tears
//! everything down again. Each node is
//!
//! * a network namespace `<lab>-n<i>` with `eth0` = `A.B.C.<first_host + i - 1>/24`
//!   (`192.0.2.11`, ... by default), linked by a veth pair to a bridge in a switch namespace
//!   `<lab>-sw`;
//! * a "holder" process (`sleep infinity`, in a session of its own) in that network namespace
//!   and in its own mount and UTS namespaces; everything else enters the node through it
//!   (`nsenter -t <holder> -n -m -u -- ...`, see [`Node::command`]);
//! * inside, tmpfs on `/run` and `/dev/shm`, its own copies of `/etc/corosync`,
//!   `/var/lib/corosync`, `/var/lib/pacemaker`, `/var/log/{corosync,pacemaker,ganesha}`,
//!   `/var/lib/nfs` and `/etc/ganesha` (bind mounts of directories under [`Node::dir`]),
//!   its own `/usr/lib/ocf/resource.d` (the host's providers, except `ganesha` which is the
//!   node's own, plus those added with [`Node::install_ocf_provider`]), and hostname =
//!   [`Node::name`];
//! * a system bus (`dbus-daemon` on `/run/dbus/system_bus_socket`), `corosync -f` and
//!   `pacemakerd`, and with [`LabOptions::ganesha_service`] a `ganesha.nfsd` serving
//!   `<shared>/export`, all started by the lab, detached (sessions of their own).
//!
//! With [`LabOptions::agents_dir`], the project's agents are installed in every node
//! (`ocf:ganesha:*`) and, with `fence_ganesha_lab` there and more than one node, a
//! `lab-fencing` stonith device powers nodes off and on ([`Node::power_off`],
//! [`Node::power_on`]) and `stonith-enabled=true`.
//!
//! A lab is described by a state file ([`Lab::state_file`], see [`LabState`]): another
//! process can [`Lab::attach`] to it, operate its nodes and tear it down, pid-based: the
//! processes of a node are exactly those whose network namespace is the node's.
//!
//! Nothing on the host changes: no host interface, route, firewall rule or mount is touched,
//! every address lives in namespaces the lab created, and only processes that the lab started
//! or that live in its namespaces are ever signalled.
//!
//! ```no_run
//! use ganesha_lab::{Lab, LabOptions};
//! # fn main() -> Result<(), ganesha_lab::LabError> {
//! let lab = Lab::up(LabOptions::default())?;
//! let node = lab.node(0);
//! let out = node.run("crm_mon", &["--one-shot", "--output-as=xml"])?;
//! assert!(String::from_utf8_lossy(&out.stdout).contains("node1"));
//! lab.down()?;
//! # Ok(())
//! # }
//! ```
//!
//! Labs are independent: tests may build several at once, in threads of one process (names
//! are unique per lab), and the library uses no process-global state (cwd, environment).

pub mod cli;
mod conf;
pub mod fence;
mod ganesha;
pub mod graph;
pub mod ha_model;
mod node;
mod state;
mod sys;
pub mod util;

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub use conf::dbus_system_conf;
pub use ganesha::{write_ganesha_conf, GaneshaConf};
pub use nix::sys::signal::Signal;
pub use nix::unistd::Pid;
pub use node::{
    FailMode, Node, COROSYNC, DBUS_DAEMON, GANESHA, GANESHA_CONF, GANESHA_LOG, GANESHA_PID_FILE,
    GANESHA_RECOVERY_ROOT, PACEMAKERD,
};
pub use state::{LabState, NodeState, STATE_FILE};
pub use util::{run_checked, CommandFailed};

use node::{install_file, SETUP_TIMEOUT};
use state::STOPPING_MARKER;

/// Per-node copies of host directories, bind-mounted over the originals inside the node:
/// (directory under [`Node::dir`], path inside the node).
const NODE_BINDS: &[(&str, &str)] = &[
    ("etc-corosync", "/etc/corosync"),
    ("var-lib-corosync", "/var/lib/corosync"),
    ("var-lib-pacemaker", "/var/lib/pacemaker"),
    ("var-log-corosync", "/var/log/corosync"),
    ("var-log-pacemaker", "/var/log/pacemaker"),
    ("var-log-ganesha", "/var/log/ganesha"),
    ("var-lib-nfs", "/var/lib/nfs"),
    ("etc-ganesha", "/etc/ganesha"),
];

/// Of those, the ones whose host contents each node gets a copy of.
const COPIED_CONTENTS: &[&str] = &["/etc/corosync", "/etc/ganesha", "/var/lib/nfs"];

/// Subdirectories of `/var/lib/pacemaker`, owned `hacluster:haclient`.
const PACEMAKER_DIRS: &[&str] = &["cib", "pengine", "blackbox", "cores"];

/// Where OCF resource agents live.
pub const OCF_RESOURCE_D: &str = "/usr/lib/ocf/resource.d";

/// The OCF provider of this project's agents; in a node it is always the node's own
/// directory, never the host's.
pub use ganesha_agents::names::PROVIDER as OWN_PROVIDER;

/// The project's OCF agents that [`LabOptions::agents_dir`] installs.
pub use ganesha_agents::names::AGENTS as OCF_AGENTS;

/// The lab's fence agent (a binary in [`LabOptions::agents_dir`]), visible in every node as
/// `/usr/sbin/fence_ganesha_lab`.
pub const FENCE_AGENT: &str = "fence_ganesha_lab";

/// The stonith resource `up` creates when the fence agent is available.
pub const FENCE_RESOURCE: &str = "lab-fencing";

/// Programs the lab needs and the Debian package of each.
const REQUIRED_TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nsenter", "util-linux"),
    ("unshare", "util-linux"),
    ("setsid", "util-linux"),
    ("mount", "mount"),
    ("umount", "mount"),
    ("hostname", "hostname"),
    ("sleep", "coreutils"),
    ("corosync", "corosync"),
    ("pacemakerd", "pacemaker"),
    ("crm_mon", "pacemaker-cli-utils"),
    ("crm_attribute", "pacemaker-cli-utils"),
    ("cibadmin", "pacemaker-cli-utils"),
    ("dbus-daemon", "dbus-daemon"),
    ("dbus-send", "dbus-bin"),
];

/// Programs needed for the per-node ganesha service.
const GANESHA_TOOLS: &[(&str, &str)] = &[("ganesha.nfsd", "nfs-ganesha nfs-ganesha-vfs")];

/// Bound on killing a lab's processes at teardown.
const TEARDOWN_KILL: Duration = Duration::from_secs(15);

static LAB_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Errors of the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab creates namespaces and mounts: it must run as root.
    #[error("ganesha-lab needs root (it creates network namespaces and mounts); run as root")]
    NotRoot,
    /// Required programs or accounts are missing.
    #[error("missing: {missing}; install with: apt-get install -y {packages}")]
    Missing {
        /// What is missing.
        missing: String,
        /// The Debian packages that provide it.
        packages: String,
    },
    /// Network namespaces do not work on this host.
    #[error("network namespaces do not work here (the lab needs them): {0}")]
    NoNetns(String),
    /// A lab with this name already runs.
    #[error("a lab named {name:?} is already running: {detail}")]
    AlreadyRunning {
        /// The lab's name.
        name: String,
        /// Its state file, or what else shows it runs.
        detail: String,
    },
    /// A node address of the lab is in use on the host.
    #[error(
        "an address of subnet {subnet} is in use on this host ({detail}); choose another subnet"
    )]
    AddressInUse {
        /// The lab's subnet.
        subnet: String,
        /// The host's interface and address.
        detail: String,
    },
    /// The options do not describe a lab that can be built.
    #[error("invalid lab options: {0}")]
    Options(String),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An external command failed (its Display shows command, status, stdout and stderr).
    #[error(transparent)]
    Command(Box<CommandFailed>),
    /// Something did not happen within its time bound.
    #[error("timed out after {waited:?} waiting for {what}\n{detail}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
        /// Last observations and log tails.
        detail: String,
    },
    /// A daemon or setup step failed in another way.
    #[error("{0}")]
    Setup(String),
    /// Teardown could not undo everything.
    #[error("lab teardown left problems:\n{}", .0.join("\n"))]
    Teardown(Vec<String>),
}

impl From<CommandFailed> for LabError {
    fn from(e: CommandFailed) -> Self {
        LabError::Command(Box::new(e))
    }
}

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}

/// A callback that receives progress lines while a lab comes up (see
/// [`LabOptions::progress`]).
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(&str) + Send + Sync>);

impl Progress {
    /// Wraps a callback.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Progress {
        Progress(Arc::new(f))
    }

    fn say(&self, line: &str) {
        (self.0)(line);
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// How to build a [`Lab`].
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Number of nodes (1 by default).
    pub nodes: usize,
    /// Unique prefix of the lab's namespace names (letters, digits, `-`; at most 16 chars).
    /// The default is derived from the process id and a counter.
    pub name: String,
    /// The first three octets of the node addresses (`192.0.2`, TEST-NET-1, by default); the
    /// node network is `A.B.C.0/24`.
    pub subnet_base: [u8; 3],
    /// Host part of node 1's address (11 by default); node i gets `first_host + i - 1`.
    pub first_host: u8,
    /// Bound on waiting for quorum, a DC and every node online (90 s by default).
    pub wait_timeout: Duration,
    /// The lab's root directory (node directories, shared directory, state file). `None`
    /// (the default): a new temporary directory. When given, it must not exist, be empty, or
    /// hold the state of a lab that no longer runs (its remains are removed); it is removed
    /// at teardown.
    pub root: Option<PathBuf>,
    /// A directory with the built `ganesha_nfsd`, `ganesha_mon`, `ganesha_grace` and
    /// `fence_ganesha_lab` binaries. Those present are installed in every node: the agents as
    /// OCF provider `ganesha`, the fence agent as `/usr/sbin/fence_ganesha_lab` (an overlay
    /// inside the node). With the fence agent and more than one node the lab gets the
    /// `lab-fencing` stonith device and `stonith-enabled=true`.
    pub agents_dir: Option<PathBuf>,
    /// Run `ganesha.nfsd` in every node like a system service (false by default), with the
    /// node's own `/etc/ganesha/ganesha.conf` exporting `<shared>/export` as `/export`,
    /// `RecoveryRoot = /var/lib/nfs/ganesha`, pid file `/run/ganesha/ganesha.pid` and log
    /// `/var/log/ganesha/ganesha.log`: ganesha_nfsd's defaults, so a ganesha_nfsd resource
    /// adopts it.
    pub ganesha_service: bool,
    /// Form the cluster (true by default): write corosync.conf, start corosync and
    /// pacemakerd and wait for quorum. With false the nodes come up bare, like freshly
    /// installed machines: packages, D-Bus (and ganesha as a service if asked), no
    /// corosync.conf and no cluster stack, for `ganesha-ha setup` to form the cluster
    /// ([`Node::start_stack`] is the lab's `systemctl start corosync pacemaker`).
    pub form_cluster: bool,
    /// Receives a line per phase while the lab comes up.
    pub progress: Option<Progress>,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            nodes: 1,
            name: unique_name(),
            subnet_base: [192, 0, 2],
            first_host: 11,
            wait_timeout: Duration::from_secs(90),
            root: None,
            agents_dir: None,
            ganesha_service: false,
            form_cluster: true,
            progress: None,
        }
    }
}

/// A lab name not used by any other lab of this process or of any other live process.
fn unique_name() -> String {
    let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("gl{:x}-{n}", std::process::id())
}

impl LabOptions {
    fn validate(&self) -> Result<(), LabError> {
        let bad = |m: String| Err(LabError::Options(m));
        if self.name.is_empty()
            || self.name.len() > 16
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return bad(format!(
                "name {:?} must be 1-16 letters, digits or '-'",
                self.name
            ));
        }
        if self.nodes == 0 {
            return bad("a lab needs at least one node".into());
        }
        let last = usize::from(self.first_host) + self.nodes - 1;
        if self.first_host == 0 || last > 254 {
            return bad(format!(
                "host numbers {}..={last} do not fit in a /24",
                self.first_host
            ));
        }
        if let Some(root) = &self.root {
            if !root.is_absolute() || root.parent().is_none() {
                return bad(format!(
                    "root {} must be an absolute path below /",
                    root.display()
                ));
            }
        }
        Ok(())
    }

    fn subnet(&self) -> String {
        let [a, b, c] = self.subnet_base;
        format!("{a}.{b}.{c}.0/24")
    }

    fn say(&self, line: &str) {
        tracing::info!("{line}");
        if let Some(p) = &self.progress {
            p.say(line);
        }
    }
}

/// Absolute paths of the programs the lab runs.
#[derive(Debug, Clone)]
pub(crate) struct Tools(Vec<(&'static str, PathBuf)>);

impl Tools {
    fn find(need_ganesha: bool) -> Result<Tools, LabError> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        let mut packages: Vec<&str> = Vec::new();
        let extra: &[(&str, &str)] = if need_ganesha { GANESHA_TOOLS } else { &[] };
        for &(name, package) in REQUIRED_TOOLS.iter().chain(extra) {
            match sys::find_program(name) {
                Some(p) => found.push((name, p)),
                None => {
                    missing.push(name);
                    if !packages.contains(&package) {
                        packages.push(package);
                    }
                }
            }
        }
        if missing.is_empty() {
            Ok(Tools(found))
        } else {
            Err(LabError::Missing {
                missing: format!("programs {}", missing.join(", ")),
                packages: packages.join(" "),
            })
        }
    }

    /// Whatever is found; missing programs are run by their bare name.
    fn find_lenient() -> Tools {
        Tools(
            REQUIRED_TOOLS
                .iter()
                .chain(GANESHA_TOOLS)
                .filter_map(|&(name, _)| sys::find_program(name).map(|p| (name, p)))
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &'static str) -> &Path {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(Path::new(name), |(_, p)| p.as_path())
    }
}

/// Checks what [`Lab::up`] needs: root, network namespace support, the programs, the
/// `hacluster` user and `haclient` group. The error says what is missing and which
/// `apt-get install` provides it.
pub fn preflight() -> Result<(), LabError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(LabError::NotRoot);
    }
    if !Path::new("/proc/self/ns/net").exists() {
        return Err(LabError::NoNetns(
            "/proc/self/ns/net is missing (kernel without CONFIG_NET_NS?)".into(),
        ));
    }
    Tools::find(false)?;
    pacemaker_ids().map(|_| ())
}

/// The state letter of a process (`R`, `S`, `T` for stopped, `Z` for a zombie, ...), `None`
/// when it does not exist.
pub fn process_state(pid: Pid) -> Option<char> {
    sys::process_state(pid.as_raw())
}

/// The command name of a process (`/proc/<pid>/comm`), `None` when it does not exist.
pub fn process_name(pid: Pid) -> Option<String> {
    sys::comm(pid.as_raw())
}

/// The host's IPv4 addresses (`ip -o -4 addr show`): (interface, address, prefix length).
fn host_addresses(tools: &Tools) -> Result<Vec<(String, Ipv4Addr, u32)>, LabError> {
    let out = run_checked(
        Command::new(tools.get("ip")).args(["-o", "-4", "addr", "show"]),
        SETUP_TIMEOUT,
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let dev = words.nth(1)?.to_string();
            let cidr = words.skip_while(|w| *w != "inet").nth(1)?;
            let (addr, len) = cidr.split_once('/')?;
            Some((dev, addr.parse().ok()?, len.parse().ok()?))
        })
        .collect())
}

/// Refuses node addresses that are configured on the host; returns a note when the host's
/// own networks overlap the lab's subnet (harmless: nothing is routed between them).
fn check_addresses_free(tools: &Tools, opts: &LabOptions) -> Result<Option<String>, LabError> {
    let [a, b, c] = opts.subnet_base;
    let ours = u32::from(Ipv4Addr::new(a, b, c, 0));
    let first = usize::from(opts.first_host);
    let nodes: Vec<Ipv4Addr> = (first..first + opts.nodes)
        .filter_map(|h| u8::try_from(h).ok())
        .map(|h| Ipv4Addr::new(a, b, c, h))
        .collect();
    let mut note = None;
    for (dev, addr, len) in host_addresses(tools)? {
        if nodes.contains(&addr) {
            return Err(LabError::AddressInUse {
                subnet: opts.subnet(),
                detail: format!("{dev} has {addr}/{len}, a node address of the lab"),
            });
        }
        let shorter = len.min(24);
        let mask = if shorter == 0 {
            0
        } else {
            u32::MAX << (32 - shorter)
        };
        if u32::from(addr) & mask == ours & mask {
            note = Some(format!(
                "note: the host's {dev} ({addr}/{len}) overlaps the lab's {}; the lab's \
                 network is separate (its own bridge, nothing routed to the host)",
                opts.subnet()
            ));
        }
    }
    Ok(note)
}

/// Removes what labs of processes that no longer exist left behind (a test process killed by
/// a signal never runs `Drop`). Only labs with default names (`gl<hex pid>-<n>`) are
/// recognized, and only when no process with that pid exists and the lab was not detached
/// ([`Lab::detach`]): every process in such a lab's network namespaces is killed, the
/// namespaces are deleted and its temporary directories (`ganesha-lab-<name>-*` in the temp
/// dir) removed. Returns what was cleaned.
pub fn cleanup_stale_labs() -> Result<Vec<String>, LabError> {
    let ip = sys::find_program("ip").ok_or_else(|| LabError::Missing {
        missing: "program ip".into(),
        packages: "iproute2".into(),
    })?;
    let mut done = Vec::new();
    if let Ok(dir) = fs::read_dir("/run/netns") {
        for entry in dir.filter_map(|e| e.ok()) {
            let ns = entry.file_name().to_string_lossy().into_owned();
            let Some(lab) = stale_lab_of(&ns) else {
                continue;
            };
            if detached_temp_lab(&lab) {
                continue;
            }
            if let Ok(ino) = sys::ns_inode(&entry.path()) {
                let left = sys::kill_in_netns(&[ino], &[], Duration::from_secs(10));
                if !left.is_empty() {
                    tracing::warn!("stale lab {lab}: processes {left:?} survived SIGKILL");
                }
            }
            run_checked(Command::new(&ip).args(["netns", "del", &ns]), SETUP_TIMEOUT)?;
            done.push(format!("network namespace {ns}"));
        }
    }
    let tmp = std::env::temp_dir();
    if let Ok(dir) = fs::read_dir(&tmp) {
        for entry in dir.filter_map(|e| e.ok()) {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = file.strip_prefix("ganesha-lab-") else {
                continue;
            };
            let Some((lab, _)) = rest.rsplit_once('-') else {
                continue;
            };
            if stale_lab_of(&format!("{lab}-sw")).is_none() || detached_temp_lab(lab) {
                continue;
            }
            let path = entry.path();
            if !sys::mounts_under(&path).is_empty() {
                tracing::warn!("stale lab dir {} has mounts; left alone", path.display());
                continue;
            }
            fs::remove_dir_all(&path).map_err(io_err(format!("remove {}", path.display())))?;
            done.push(format!("directory {}", path.display()));
        }
    }
    Ok(done)
}

/// Whether a temporary lab directory of lab `lab` records a detached lab (left running on
/// purpose).
fn detached_temp_lab(lab: &str) -> bool {
    let prefix = format!("ganesha-lab-{lab}-");
    fs::read_dir(std::env::temp_dir()).is_ok_and(|dir| {
        dir.filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .any(|e| LabState::read(&e.path().join(STATE_FILE)).is_ok_and(|s| s.detached))
    })
}

/// For a namespace name `gl<hex pid>-<n>-<suffix>` whose pid does not exist, the lab name.
fn stale_lab_of(ns: &str) -> Option<String> {
    let rest = ns.strip_prefix("gl")?;
    let mut parts = rest.splitn(3, '-');
    let (pid, n, suffix) = (parts.next()?, parts.next()?, parts.next()?);
    let pid = u32::from_str_radix(pid, 16).ok()?;
    n.parse::<usize>().ok()?;
    let node_suffix = suffix
        .strip_prefix('n')
        .is_some_and(|i| i.parse::<usize>().is_ok());
    if !(suffix == "sw" || node_suffix) || sys::pid_alive(pid) {
        return None;
    }
    Some(
        format!("gl{rest}")
            .rsplit_once('-')
            .map(|(l, _)| l.to_string())
            .unwrap_or_default(),
    )
}

/// uid of `hacluster`, gid of `haclient`.
fn pacemaker_ids() -> Result<(u32, u32), LabError> {
    let user = nix::unistd::User::from_name("hacluster").ok().flatten();
    let group = nix::unistd::Group::from_name("haclient").ok().flatten();
    match (user, group) {
        (Some(u), Some(g)) => Ok((u.uid.as_raw(), g.gid.as_raw())),
        _ => Err(LabError::Missing {
            missing: "user hacluster / group haclient".into(),
            packages: "pacemaker".into(),
        }),
    }
}

/// What `crm_mon` reports about the cluster (see [`Node::cluster_status`]).
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

pub(crate) fn spawn_logged(mut cmd: Command, log: &Path) -> Result<Child, LabError> {
    let what = || format!("open log {}", log.display());
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_err(what()))?;
    let err = out.try_clone().map_err(io_err(what()))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    cmd.spawn().map_err(|e| {
        LabError::Command(Box::new(CommandFailed {
            command: util::command_line(&cmd),
            failure: util::Failure::Spawn(e),
            stdout: Vec::new(),
            stderr: Vec::new(),
        }))
    })
}

/// What [`LabOptions::agents_dir`] provides.
#[derive(Debug, Default)]
struct Agents {
    /// OCF agents found: (name, path).
    ocf: Vec<(&'static str, PathBuf)>,
    /// The fence agent, when found.
    fence: Option<PathBuf>,
}

impl Agents {
    fn find(dir: Option<&Path>) -> Agents {
        let Some(dir) = dir else {
            return Agents::default();
        };
        let ok = |p: &Path| {
            fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        Agents {
            ocf: OCF_AGENTS
                .iter()
                .map(|&a| (a, dir.join(a)))
                .filter(|(_, p)| ok(p))
                .collect(),
            fence: Some(dir.join(FENCE_AGENT)).filter(|p| ok(p)),
        }
    }
}

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
        let tools = Arc::new(Tools::find(opts.ganesha_service)?);
        let ids = pacemaker_ids()?;
        if let Some(note) = check_addresses_free(&tools, &opts)? {
            opts.say(&note);
        }
        if let Some(root) = &opts.root {
            let sf = root.join(STATE_FILE);
            if sf.exists() {
                let st = LabState::read(&sf)?;
                if st.is_alive() {
                    return Err(LabError::AlreadyRunning {
                        detail: format!(
                            "its state is {}; tear it down first (ganesha-lab --name {} down)",
                            sf.display(),
                            st.name
                        ),
                        name: st.name,
                    });
                }
                opts.say(&format!(
                    "removing the remains of lab {:?}, which no longer runs",
                    st.name
                ));
                down_state(&sf)?;
            }
        }
        for suffix in ["sw", "n1"] {
            let ns = Path::new("/run/netns").join(format!("{}-{suffix}", opts.name));
            if ns.exists() {
                return Err(LabError::AlreadyRunning {
                    name: opts.name.clone(),
                    detail: format!(
                        "network namespace {} exists (another lab of that name runs elsewhere; \
                         if it is a leftover: ip netns del {})",
                        ns.display(),
                        ns.file_name().unwrap_or_default().to_string_lossy()
                    ),
                });
            }
        }
        let (tmp, root_path) = match &opts.root {
            Some(root) => (None, claim_root(root, &opts.name)?),
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix(&format!("ganesha-lab-{}-", opts.name))
                    .tempdir()
                    .map_err(io_err("create the lab's temporary directory"))?;
                let path = tmp.path().to_path_buf();
                (Some(tmp), path)
            }
        };
        fs::set_permissions(&root_path, fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("chmod {}", root_path.display())))?;
        let shared = root_path.join("shared");
        let mut state = LabState::new(&opts.name, &root_path, &shared, opts.subnet());
        state.ganesha_service = opts.ganesha_service;
        let mut lab = Lab {
            name: opts.name.clone(),
            root: tmp,
            root_path,
            state,
            nodes: Vec::new(),
            tools,
            startup: Duration::ZERO,
            installed: Vec::new(),
            owned: true,
            torn_down: false,
        };
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
            .map(|n| Node::new(n, tools.clone(), state.ganesha_service, &state.root))
            .collect();
        Ok(Lab {
            name: state.name.clone(),
            root: None,
            root_path: state.root.clone(),
            state,
            nodes,
            tools,
            startup: Duration::ZERO,
            installed: Vec::new(),
            owned: false,
            torn_down: false,
        })
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

    fn build(&mut self, opts: &LabOptions, ids: (u32, u32), t0: Instant) -> Result<(), LabError> {
        let say = |line: &str| opts.say(&format!("[{:5.1}s] {line}", t0.elapsed().as_secs_f64()));
        let switch = format!("{}-sw", self.name);
        self.ip(&["netns", "add", &switch])
            .map_err(|e| LabError::NoNetns(e.to_string()))?;
        self.state.switch_netns = Some(switch.clone());
        self.state.switch_ino = sys::ns_inode(&Path::new("/run/netns").join(&switch)).ok();
        self.save()?;
        self.ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        self.ip(&["-n", &switch, "link", "set", "br0", "up"])?;

        let agents = Agents::find(opts.agents_dir.as_deref());
        let fencing = agents.fence.is_some() && opts.nodes > 1;
        for (name, _) in &agents.ocf {
            self.installed.push(format!("ocf:{OWN_PROVIDER}:{name}"));
        }
        if agents.fence.is_some() {
            self.installed.push(format!("/usr/sbin/{FENCE_AGENT}"));
        }
        let ganesha_conf = if opts.ganesha_service {
            let export = self.state.shared.join("export");
            fs::create_dir(&export).map_err(io_err(format!("create {}", export.display())))?;
            fs::write(export.join("hello.txt"), "hello from ganesha-lab\n")
                .map_err(io_err("write export/hello.txt"))?;
            let mut c = GaneshaConf::new(GANESHA_RECOVERY_ROOT, &export);
            c.clustered = Some(false);
            Some(c.render())
        } else {
            None
        };

        let [a, b, c] = opts.subnet_base;
        let mut members = Vec::new();
        for i in 1..=opts.nodes {
            let host = u8::try_from(usize::from(opts.first_host) + i - 1)
                .map_err(|_| LabError::Options("host number out of range".into()))?;
            members.push((i, format!("node{i}"), Ipv4Addr::new(a, b, c, host)));
        }
        let corosync_conf = conf::corosync_conf(
            &self.name,
            &members
                .iter()
                .map(|(id, name, addr)| conf::Member {
                    id: *id,
                    name,
                    addr: *addr,
                })
                .collect::<Vec<_>>(),
        );
        let setup = NodeSetup {
            ids,
            corosync_conf: opts.form_cluster.then_some(corosync_conf.as_str()),
            agents: &agents,
            ganesha_conf: ganesha_conf.as_deref(),
        };
        for (i, name, addr) in members {
            self.add_node(i, name, addr, &switch, opts.ganesha_service)?;
            self.save()?;
            if let Some(node) = self.nodes.last() {
                prepare_node(node, &self.tools, &setup)?;
            }
        }
        say(&format!(
            "{} node namespace(s), links and mounts ready",
            self.nodes.len()
        ));

        // Each daemon kind on every node before the next kind: the nodes boot in parallel.
        let mut pids = Vec::new();
        for node in &self.nodes {
            pids.push(node.start_dbus()?);
        }
        for (node, pid) in self.nodes.iter().zip(&pids) {
            node.wait_dbus(*pid, node::DBUS_WAIT)?;
        }
        if opts.ganesha_service {
            for node in &self.nodes {
                node.start_ganesha()?;
            }
        }
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

        let Some(first) = self.nodes.first() else {
            return Ok(());
        };
        let crm_attribute = self.tools.get("crm_attribute");
        if fencing {
            let hosts: Vec<&str> = self.nodes.iter().map(Node::name).collect();
            let xml = fence_resource_xml(&self.state_file(), &hosts.join(" "));
            first.run_setup(
                self.tools.get("cibadmin"),
                &["--create", "--scope", "resources", "--xml-text", &xml],
            )?;
        }
        let no_quorum = if fencing && opts.nodes >= 3 {
            "stop"
        } else {
            "ignore"
        };
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
        self.save()?;
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

    /// Creates node `i`'s namespace, link and holder, and records it for teardown at once.
    fn add_node(
        &mut self,
        i: usize,
        name: String,
        addr: Ipv4Addr,
        switch: &str,
        ganesha_service: bool,
    ) -> Result<(), LabError> {
        let netns = format!("{}-n{i}", self.name);
        let dir = self.root_path.join(&name);
        fs::create_dir_all(dir.join("logs"))
            .map_err(io_err(format!("create {}", dir.display())))?;
        self.ip(&["netns", "add", &netns])?;
        let netns_ino = sys::ns_inode(&Path::new("/run/netns").join(&netns))
            .map_err(io_err(format!("stat /run/netns/{netns}")))?;
        let st = NodeState {
            index: i,
            name,
            addr,
            netns: netns.clone(),
            netns_ino,
            dir: dir.clone(),
            holder_pid: 0,
            holder_start: 0,
        };
        self.nodes.push(Node::new(
            &st,
            self.tools.clone(),
            ganesha_service,
            &self.root_path,
        ));

        let port = format!("p{i}");
        let cidr = format!("{addr}/24");
        self.ip(&[
            "-n", &netns, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns",
            switch,
        ])?;
        self.ip(&["-n", switch, "link", "set", &port, "master", "br0"])?;
        self.ip(&["-n", switch, "link", "set", &port, "up"])?;
        self.ip(&["-n", &netns, "addr", "add", &cidr, "dev", "eth0"])?;
        self.ip(&["-n", &netns, "link", "set", "eth0", "up"])?;
        self.ip(&["-n", &netns, "link", "set", "lo", "up"])?;

        // The holder, in a session of its own: `setsid`, `ip netns exec` and `unshare` (no
        // --fork) all exec, so the child's pid ends up being `sleep`'s, inside the new
        // namespaces.
        let mut cmd = Command::new(self.tools.get("setsid"));
        cmd.arg(self.tools.get("ip"))
            .args(["netns", "exec", &netns])
            .arg(self.tools.get("unshare"))
            .args(["--mount", "--uts", "--propagation", "private", "--"])
            .arg(self.tools.get("sleep"))
            .arg("infinity");
        let log = dir.join("logs").join("holder.out");
        let child = spawn_logged(cmd, &log)?;
        let pid = child.id();
        if let Some(node) = self.nodes.last_mut() {
            node.holder = Some(child);
            node.holder_pid = pid;
        }
        let pid = i32::try_from(pid).map_err(|_| LabError::Setup(format!("odd pid {pid}")))?;
        let my_mnt = sys::ns_inode(Path::new("/proc/self/ns/mnt"));
        let my_uts = sys::ns_inode(Path::new("/proc/self/ns/uts"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = sys::comm(pid).as_deref() == Some("sleep")
                && sys::proc_ns(pid, "net").ok() == Some(netns_ino)
                && sys::proc_ns(pid, "mnt").ok() != my_mnt.as_ref().ok().copied()
                && sys::proc_ns(pid, "uts").ok() != my_uts.as_ref().ok().copied();
            if ready {
                if let Some(node) = self.nodes.last_mut() {
                    node.holder_start = sys::start_time(pid).unwrap_or(0);
                }
                return Ok(());
            }
            let exited = self
                .nodes
                .last_mut()
                .and_then(|n| n.holder.as_mut())
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited || Instant::now() >= deadline {
                return Err(LabError::Setup(format!(
                    "the holder of {netns} (pid {pid}) did not settle in its namespaces; {}:\n{}",
                    log.display(),
                    sys::tail(&log, 20)
                )));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn wait_for_cluster(&self, timeout: Duration, say: &dyn Fn(&str)) -> Result<(), LabError> {
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

    fn wait_fencing_device(&self, limit: Duration) -> Result<(), LabError> {
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

    fn wait_ganesha(&self, limit: Duration) -> Result<(), LabError> {
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

    /// Stops everything; returns what could not be undone. Never panics.
    fn teardown(&mut self) -> Vec<String> {
        let t0 = Instant::now();
        let mut problems = Vec::new();
        if self.root_path.is_dir() {
            // No node may be powered on again (e.g. by a fence agent still running).
            let _ = fs::write(self.root_path.join(STOPPING_MARKER), "");
        }
        // The namespaces confirmed to be the lab's: by their /run/netns file or by a live
        // holder. An inode of a namespace that no longer exists may be reused by another.
        let mut inodes = Vec::new();
        for node in &self.nodes {
            let file = Path::new("/run/netns").join(&node.netns);
            if sys::ns_inode(&file).ok() == Some(node.netns_ino) || node.holder_alive() {
                inodes.push(node.netns_ino);
            }
        }
        let left = sys::kill_in_netns(&inodes, &[], TEARDOWN_KILL);
        if !left.is_empty() {
            problems.push(format!(
                "processes {left:?} in the lab's namespaces survived SIGKILL"
            ));
        }
        for node in &mut self.nodes {
            node.reap_all();
        }
        let mut names: Vec<(String, Option<u64>)> = self
            .nodes
            .iter()
            .map(|n| (n.netns.clone(), Some(n.netns_ino)))
            .collect();
        if let Some(sw) = &self.state.switch_netns {
            names.push((sw.clone(), self.state.switch_ino));
        }
        for (ns, ino) in names {
            let file = Path::new("/run/netns").join(&ns);
            let Ok(found) = sys::ns_inode(&file) else {
                continue;
            };
            if ino.is_some_and(|i| i != found) {
                problems.push(format!(
                    "network namespace {ns} is not the lab's (another inode); left alone"
                ));
                continue;
            }
            if let Err(e) = self.ip(&["netns", "del", &ns]) {
                problems.push(e.to_string());
            }
            if file.exists() {
                problems.push(format!("network namespace {ns} is still there"));
            }
        }
        let leaked = sys::mounts_under(&self.root_path);
        if !leaked.is_empty() {
            // Never delete through a mount point: keep the directory.
            if let Some(tmp) = self.root.take() {
                let _ = tmp.keep();
            }
            problems.push(format!(
                "mounts {leaked:?} are visible on the host; kept {}",
                self.root_path.display()
            ));
        } else if let Some(tmp) = self.root.take() {
            if let Err(e) = tmp.close() {
                problems.push(format!("remove {}: {e}", self.root_path.display()));
            }
        } else if let Err(e) = remove_lab_root(&self.root_path, &self.name) {
            problems.push(e);
        }
        tracing::info!("lab {} torn down in {:.1?}", self.name, t0.elapsed());
        problems
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

/// Creates the lab's root directory; an existing empty directory is taken over.
fn claim_root(root: &Path, name: &str) -> Result<PathBuf, LabError> {
    if let Some(parent) = root.parent() {
        fs::create_dir_all(parent).map_err(io_err(format!("create {}", parent.display())))?;
    }
    if root.is_dir() {
        // Only an empty one (fails otherwise).
        if fs::remove_dir(root).is_err() {
            return Err(LabError::Options(format!(
                "{} exists and does not hold a lab's state; remove it or choose another name than {name:?}",
                root.display()
            )));
        }
    }
    match fs::create_dir(root) {
        Ok(()) => Ok(root.to_path_buf()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(LabError::AlreadyRunning {
            name: name.to_string(),
            detail: format!(
                "{} is being created by another process right now",
                root.display()
            ),
        }),
        Err(e) => Err(io_err(format!("create {}", root.display()))(e)),
    }
}

/// Removes a lab's root directory after teardown, after checking it is one (it holds the
/// lab's state file).
fn remove_lab_root(root: &Path, name: &str) -> Result<(), String> {
    if !root.exists() {
        return Ok(());
    }
    let ours = root.is_absolute()
        && root.parent().is_some()
        && LabState::read(&root.join(STATE_FILE)).is_ok_and(|s| s.name == name);
    if !ours {
        return Err(format!(
            "{} does not hold lab {name:?}'s state; not removed",
            root.display()
        ));
    }
    fs::remove_dir_all(root).map_err(|e| format!("remove {}: {e}", root.display()))
}

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

/// What [`prepare_node`] needs besides the node.
struct NodeSetup<'a> {
    ids: (u32, u32),
    /// `None`: a bare node (no corosync.conf, not even the package's example).
    corosync_conf: Option<&'a str>,
    agents: &'a Agents,
    ganesha_conf: Option<&'a str>,
}

/// Writes the node's host-side directories and configs, then builds its mount namespace.
fn prepare_node(node: &Node, tools: &Tools, setup: &NodeSetup<'_>) -> Result<(), LabError> {
    let dir = node.dir();
    let (hacluster, haclient) = setup.ids;
    let mut binds = Vec::new();
    for &(sub, target) in NODE_BINDS {
        let original = Path::new(target);
        if !original.is_dir() {
            tracing::warn!("{target} does not exist on the host; the node shares nothing there");
            continue;
        }
        let own = dir.join(sub);
        let what = || format!("prepare {} for {target}", own.display());
        fs::create_dir(&own).map_err(io_err(what()))?;
        if COPIED_CONTENTS.contains(&target) {
            sys::copy_tree(original, &own, 2000).map_err(io_err(what()))?;
        }
        sys::mirror_attrs(original, &own).map_err(io_err(what()))?;
        binds.push((own, target));
    }
    let conf_file = dir.join("etc-corosync").join("corosync.conf");
    match setup.corosync_conf {
        Some(text) => fs::write(&conf_file, text).map_err(io_err("write corosync.conf"))?,
        None => match fs::remove_file(&conf_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_err("remove the package's corosync.conf")(e))
            }
            _ => {}
        },
    }
    let pcmk = dir.join("var-lib-pacemaker");
    for sub in PACEMAKER_DIRS {
        let p = pcmk.join(sub);
        let what = || format!("prepare {}", p.display());
        fs::create_dir_all(&p).map_err(io_err(what()))?;
        sys::chown(&p, hacluster, haclient).map_err(io_err(what()))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o750)).map_err(io_err(what()))?;
    }
    let cib = pcmk.join("cib").join("cib.xml");
    fs::write(&cib, conf::SEED_CIB).map_err(io_err("write cib.xml"))?;
    sys::chown(&cib, hacluster, haclient).map_err(io_err("chown cib.xml"))?;
    fs::set_permissions(&cib, fs::Permissions::from_mode(0o600))
        .map_err(io_err("chmod cib.xml"))?;
    fs::write(
        dir.join("dbus-system.conf"),
        conf::dbus_system_conf(conf::SYSTEM_BUS_SOCKET),
    )
    .map_err(io_err("write dbus-system.conf"))?;
    if let Some(text) = setup.ganesha_conf {
        let etc = dir.join("etc-ganesha");
        if !etc.is_dir() {
            return Err(LabError::Missing {
                missing: "/etc/ganesha".into(),
                packages: "nfs-ganesha nfs-ganesha-vfs".into(),
            });
        }
        fs::write(etc.join("ganesha.conf"), text).map_err(io_err("write ganesha.conf"))?;
    }

    // The node's /usr/lib/ocf/resource.d: `ocf/` with the host's providers bound into it,
    // except `ganesha`, which is the node's own.
    let ocf = node.ocf_dir();
    fs::create_dir(&ocf).map_err(io_err("create ocf/"))?;
    sys::mirror_attrs(Path::new(OCF_RESOURCE_D), &ocf).map_err(io_err("chmod ocf/"))?;
    let mut providers = Vec::new();
    for entry in fs::read_dir(OCF_RESOURCE_D).map_err(io_err(format!("read {OCF_RESOURCE_D}")))? {
        let entry = entry.map_err(io_err(format!("read {OCF_RESOURCE_D}")))?;
        let from = entry.path();
        let to = ocf.join(entry.file_name());
        if entry.file_name() == OWN_PROVIDER {
            continue;
        }
        let ft = entry
            .file_type()
            .map_err(io_err(format!("stat {}", from.display())))?;
        if ft.is_symlink() {
            let target =
                fs::read_link(&from).map_err(io_err(format!("readlink {}", from.display())))?;
            std::os::unix::fs::symlink(target, &to)
                .map_err(io_err(format!("symlink {}", to.display())))?;
        } else if ft.is_dir() {
            fs::create_dir(&to).map_err(io_err(format!("create {}", to.display())))?;
            providers.push((from, to));
        }
    }
    let own = ocf.join(OWN_PROVIDER);
    fs::create_dir(&own).map_err(io_err(format!("create {}", own.display())))?;
    fs::set_permissions(&own, fs::Permissions::from_mode(0o755))
        .map_err(io_err(format!("chmod {}", own.display())))?;
    for (name, path) in &setup.agents.ocf {
        install_file(path, &own.join(name))?;
    }
    // The fence agent: an overlay on /usr/sbin inside the node, its upper layer holding it.
    let sbin_upper = dir.join("sbin-upper");
    if let Some(fence) = &setup.agents.fence {
        let work = dir.join("sbin-work");
        for d in [&sbin_upper, &work] {
            fs::create_dir(d).map_err(io_err(format!("create {}", d.display())))?;
        }
        sys::mirror_attrs(Path::new("/usr/sbin"), &sbin_upper)
            .map_err(io_err(format!("chmod {}", sbin_upper.display())))?;
        install_file(fence, &sbin_upper.join(FENCE_AGENT))?;
    }

    // Inside the node's mount namespace.
    let mount = tools.get("mount");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    node.fresh_run(false)?;
    for (own, target) in &binds {
        node.run_setup(mount, &["--bind", &s(own), target])?;
    }
    for (from, to) in &providers {
        node.run_setup(mount, &["--bind", &s(from), &s(to)])?;
    }
    node.run_setup(mount, &["--rbind", &s(&ocf), OCF_RESOURCE_D])?;
    if setup.agents.fence.is_some() {
        let opts = format!(
            "lowerdir=/usr/sbin,upperdir={},workdir={}",
            s(&sbin_upper),
            s(&dir.join("sbin-work"))
        );
        node.run_setup(
            mount,
            &["-t", "overlay", "overlay", "-o", &opts, "/usr/sbin"],
        )?;
    }
    node.run_setup(tools.get("hostname"), &[node.name()])?;

    let leaked = sys::mounts_under(dir);
    if !leaked.is_empty() {
        return Err(LabError::Setup(format!(
            "mounts made inside {} are visible on the host ({leaked:?}): mount propagation is not private",
            node.name()
        )));
    }
    Ok(())
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
    fn names_are_unique_and_valid() {
        let a = LabOptions::default();
        let b = LabOptions::default();
        assert_ne!(a.name, b.name);
        a.validate().unwrap();
        assert!(LabOptions {
            nodes: 0,
            ..a.clone()
        }
        .validate()
        .is_err());
        assert!(LabOptions {
            name: "a b".into(),
            ..a.clone()
        }
        .validate()
        .is_err());
        assert!(LabOptions {
            root: Some("relative".into()),
            ..a.clone()
        }
        .validate()
        .is_err());
        assert!(LabOptions {
            first_host: 250,
            nodes: 6,
            ..a
        }
        .validate()
        .is_err());
    }

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

    #[test]
    fn lab_roots_are_only_removed_when_they_hold_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lab");
        fs::create_dir(&root).unwrap();
        fs::write(root.join("x"), "").unwrap();
        assert!(remove_lab_root(&root, "lab").is_err());
        assert!(root.exists());
        LabState::new("lab", &root, &root.join("shared"), "192.0.2.0/24".into())
            .write()
            .unwrap();
        assert!(remove_lab_root(&root, "other").is_err());
        remove_lab_root(&root, "lab").unwrap();
        assert!(!root.exists());
        remove_lab_root(&root, "lab").unwrap();
    }
}
