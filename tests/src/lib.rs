//! A real Pacemaker/Corosync + D-Bus + NFS-Ganesha cluster in network namespaces.
//!
//! [`Lab::up`] builds a cluster of one or more nodes on this host and waits until Pacemaker
//! has elected a DC and every node is online; dropping the [`Lab`] (or [`Lab::down`]) tears
//! everything down again. Each node is
//!
//! * a network namespace `<lab>-n<i>` with `eth0` = `192.0.2.<first_host + i - 1>/24`, linked
//!   by a veth pair to a bridge in a switch namespace `<lab>-sw`;
//! * a "holder" process (`sleep infinity`) in that network namespace and in its own mount and
//!   UTS namespaces; everything else enters the node through it
//!   (`nsenter -t <holder> -n -m -u -- ...`, see [`Node::command`]);
//! * inside, tmpfs on `/run` and `/dev/shm`, its own copies of `/etc/corosync`,
//!   `/var/lib/corosync`, `/var/lib/pacemaker`, `/var/log/{corosync,pacemaker,ganesha}`,
//!   `/var/lib/nfs` and `/etc/ganesha` (bind mounts of directories under [`Node::dir`]),
//!   its own `/usr/lib/ocf/resource.d` (the host's providers plus those added with
//!   [`Node::install_ocf_provider`]), and hostname = [`Node::name`];
//! * a system bus (`dbus-daemon` on `/run/dbus/system_bus_socket`), `corosync -f` and
//!   `pacemakerd`, all started by the lab.
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

mod conf;
mod ganesha;
mod sys;
pub mod util;

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

pub use conf::dbus_system_conf;
pub use ganesha::{write_ganesha_conf, GaneshaConf};
pub use util::{run_checked, CommandFailed};

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

/// Directories created in each node's `/run` tmpfs.
const RUN_DIRS: &[&str] = &["dbus", "ganesha", "resource-agents"];

/// Where OCF resource agents live.
pub const OCF_RESOURCE_D: &str = "/usr/lib/ocf/resource.d";

/// Programs the lab needs and the Debian package of each.
const REQUIRED_TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nsenter", "util-linux"),
    ("unshare", "util-linux"),
    ("setsid", "util-linux"),
    ("mount", "mount"),
    ("hostname", "hostname"),
    ("sleep", "coreutils"),
    ("corosync", "corosync"),
    ("pacemakerd", "pacemaker"),
    ("crm_mon", "pacemaker-cli-utils"),
    ("crm_attribute", "pacemaker-cli-utils"),
    ("dbus-daemon", "dbus-daemon"),
];

/// Bound on the small setup commands (`ip`, `mount`, ...).
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `pacemakerd` gets to stop after `SIGTERM` before it is killed.
const PACEMAKER_STOP: Duration = Duration::from_secs(30);
/// How often a stopping pacemakerd's children get `SIGTERM` from the lab (see `Lab::teardown`).
const PACEMAKER_NUDGE: Duration = Duration::from_secs(3);
/// How long `corosync` and `dbus-daemon` get to stop after `SIGTERM`.
const DAEMON_STOP: Duration = Duration::from_secs(10);

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

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}

/// How to build a [`Lab`].
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Number of nodes (1 by default).
    pub nodes: usize,
    /// Unique prefix of the lab's namespace names (letters, digits, `-`; at most 16 chars).
    /// The default is derived from the process id and a counter.
    pub name: String,
    /// The first three octets of the node addresses (`192.0.2`, TEST-NET-1, by default).
    pub subnet_base: [u8; 3],
    /// Host part of node 1's address (11 by default); node i gets `first_host + i - 1`.
    pub first_host: u8,
    /// Bound on waiting for a DC and every node online (90 s by default).
    pub wait_timeout: Duration,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            nodes: 1,
            name: unique_name(),
            subnet_base: [192, 0, 2],
            first_host: 11,
            wait_timeout: Duration::from_secs(90),
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
        Ok(())
    }
}

/// Absolute paths of the programs the lab runs.
#[derive(Debug, Clone)]
struct Tools(Vec<(&'static str, PathBuf)>);

impl Tools {
    fn find() -> Result<Tools, LabError> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        let mut packages: Vec<&str> = Vec::new();
        for &(name, package) in REQUIRED_TOOLS {
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

    fn get(&self, name: &'static str) -> &Path {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(Path::new(name), |(_, p)| p.as_path())
    }
}

/// Checks what [`Lab::up`] needs: root, the programs, the `hacluster` user and `haclient`
/// group. The error says what is missing and which `apt-get install` provides it.
pub fn preflight() -> Result<(), LabError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(LabError::NotRoot);
    }
    Tools::find()?;
    pacemaker_ids().map(|_| ())
}

/// Removes what labs of processes that no longer exist left behind (a test process killed by
/// a signal never runs `Drop`). Only labs with default names (`gl<hex pid>-<n>`) are
/// recognized, and only when no process with that pid exists: every process in such a lab's
/// network namespaces is killed, the namespaces are deleted and its temporary directories
/// (`ganesha-lab-<name>-*` in the temp dir) removed. Returns what was cleaned.
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
            if let Ok(ino) = sys::ns_inode(&entry.path()) {
                let left = sys::kill_netns_processes(ino, Duration::from_secs(10));
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
            if stale_lab_of(&format!("{lab}-sw")).is_none() {
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

/// A daemon the lab started in a node.
#[derive(Debug)]
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

/// One cluster node. Obtained from [`Lab::node`] / [`Lab::nodes`].
#[derive(Debug)]
pub struct Node {
    index: usize,
    name: String,
    addr: Ipv4Addr,
    netns: String,
    netns_ino: u64,
    dir: PathBuf,
    holder: Option<Child>,
    holder_pid: u32,
    nsenter: PathBuf,
    setsid: PathBuf,
    daemons: Vec<Daemon>,
}

impl Node {
    /// The node's name: its hostname and its Pacemaker/Corosync node name (`node1`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// 1-based node number (its corosync nodeid).
    pub fn id(&self) -> usize {
        self.index
    }

    /// The node's address on `eth0`.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The name of the node's network namespace (`ip netns list`).
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The pid of the holder process whose namespaces are the node.
    pub fn holder_pid(&self) -> u32 {
        self.holder_pid
    }

    /// Host-side per-node scratch directory. It holds `logs/` (stdout and stderr of the
    /// daemons), the directories bind-mounted into the node (`etc-corosync`,
    /// `var-lib-pacemaker`, `var-log-pacemaker`, `var-log-corosync`, `var-log-ganesha`,
    /// `etc-ganesha`, `var-lib-nfs`, `var-lib-corosync`) and `ocf/` (the node's
    /// `/usr/lib/ocf/resource.d`). Files written here by a test are visible inside the node
    /// at the same path.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A command that runs `program` inside the node's network, mount and UTS namespaces
    /// (`nsenter -t <holder> -n -m -u -- program`). Add arguments and environment on it; run
    /// it with [`run_checked`] to get a time bound. Its working directory inside the node is
    /// `/`; give absolute paths.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(&self.nsenter);
        c.arg("-t")
            .arg(self.holder_pid.to_string())
            .args(["-n", "-m", "-u", "--"])
            .arg(program);
        c
    }

    /// Runs `program args...` inside the node, bounded by [`util::DEFAULT_TIMEOUT`] (killed
    /// when it runs longer). Fails unless it exits 0; the error shows the command line, the
    /// status, stdout and stderr.
    pub fn run(&self, program: impl AsRef<OsStr>, args: &[&str]) -> Result<Output, LabError> {
        self.run_timeout(program, args, util::DEFAULT_TIMEOUT)
    }

    /// [`Node::run`] with an explicit time bound.
    pub fn run_timeout(
        &self,
        program: impl AsRef<OsStr>,
        args: &[&str],
        timeout: Duration,
    ) -> Result<Output, LabError> {
        Ok(run_checked(self.command(program).args(args), timeout)?)
    }

    /// Starts `program args...` inside the node in the background, in a session of its own,
    /// stdin from `/dev/null` and stdout and stderr appended to `log` (a host path). The
    /// child's pid is the program's. Whatever is still running in the node at teardown is
    /// killed then.
    pub fn spawn(
        &self,
        program: impl AsRef<OsStr>,
        args: &[&str],
        log: &Path,
    ) -> Result<Child, LabError> {
        let mut cmd = self.session_command(program);
        cmd.args(args);
        spawn_logged(cmd, log)
    }

    /// `setsid nsenter ... -- program`: `setsid` and `nsenter` both exec, so the child's pid
    /// is the program's.
    fn session_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(&self.setsid);
        c.arg(&self.nsenter)
            .arg("-t")
            .arg(self.holder_pid.to_string())
            .args(["-n", "-m", "-u", "--"])
            .arg(program);
        c
    }

    /// Installs OCF resource agents that only this node sees: a copy of each binary (mode
    /// 0755) at `/usr/lib/ocf/resource.d/<provider>/<name>` inside the node. Replacing an
    /// agent that is running is fine (the copy is renamed into place). The host's
    /// `/usr/lib/ocf` does not change. `provider` must not be one the host already has.
    pub fn install_ocf_provider(
        &self,
        provider: &str,
        agents: &[(&str, &Path)],
    ) -> Result<(), LabError> {
        check_component("provider", provider)?;
        if Path::new(OCF_RESOURCE_D).join(provider).exists() {
            return Err(LabError::Options(format!(
                "OCF provider {provider:?} exists on the host; use another name"
            )));
        }
        let dir = self.ocf_dir().join(provider);
        fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("chmod {}", dir.display())))?;
        for &(name, binary) in agents {
            check_component("agent name", name)?;
            let dest = dir.join(name);
            let tmp = dir.join(format!(".{name}.lab-tmp"));
            let what = format!("install {} as {}", binary.display(), dest.display());
            fs::copy(binary, &tmp).map_err(io_err(what.clone()))?;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
                .map_err(io_err(what.clone()))?;
            fs::rename(&tmp, &dest).map_err(io_err(what))?;
        }
        Ok(())
    }

    /// Host-side directory that is the node's `/usr/lib/ocf/resource.d`.
    pub fn ocf_dir(&self) -> PathBuf {
        self.dir.join("ocf")
    }

    /// A path inside the node as seen from the host (`/proc/<holder>/root/<path>`): the way to
    /// read a node's `/run` from a test.
    pub fn host_path(&self, path_in_node: impl AsRef<Path>) -> PathBuf {
        let p = path_in_node.as_ref();
        PathBuf::from(format!("/proc/{}/root", self.holder_pid))
            .join(p.strip_prefix("/").unwrap_or(p))
    }

    /// Runs `crm_mon --one-shot --output-as=xml` inside the node and parses it.
    pub fn cluster_status(&self) -> Result<ClusterStatus, LabError> {
        let out = self.run_timeout(
            "crm_mon",
            &["--one-shot", "--output-as=xml"],
            Duration::from_secs(20),
        )?;
        Ok(ClusterStatus::parse(&String::from_utf8_lossy(&out.stdout)))
    }

    fn run_setup(&self, program: &Path, args: &[&str]) -> Result<Output, LabError> {
        Ok(run_checked(
            self.command(program).args(args),
            SETUP_TIMEOUT,
        )?)
    }

    fn start_daemon(
        &mut self,
        name: &'static str,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<(), LabError> {
        let log = self.dir.join("logs").join(format!("{name}.out"));
        let mut cmd = self.session_command(program);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = spawn_logged(cmd, &log)?;
        tracing::debug!("{}: started {name} (pid {})", self.name, child.id());
        self.daemons.push(Daemon { name, child, log });
        Ok(())
    }

    /// Fails when a daemon the lab started has ended.
    fn check_daemons(&mut self) -> Result<(), LabError> {
        for d in &mut self.daemons {
            if let Ok(Some(status)) = d.child.try_wait() {
                return Err(LabError::Setup(format!(
                    "{}: {} exited ({status}); {}:\n{}",
                    self.name,
                    d.name,
                    d.log.display(),
                    sys::tail(&d.log, 30)
                )));
            }
        }
        Ok(())
    }

    /// Log tails for error messages.
    fn log_tails(&self) -> String {
        let mut s = String::new();
        for (label, path) in [
            (
                "corosync.log",
                self.dir.join("var-log-corosync/corosync.log"),
            ),
            (
                "pacemaker.log",
                self.dir.join("var-log-pacemaker/pacemaker.log"),
            ),
        ] {
            s.push_str(&format!(
                "---- {} {label} ({}) ----\n{}\n",
                self.name,
                path.display(),
                sys::tail(&path, 25)
            ));
        }
        s
    }
}

fn check_component(what: &str, s: &str) -> Result<(), LabError> {
    if s.is_empty() || s == "." || s == ".." || s.contains('/') || s.contains('\0') {
        Err(LabError::Options(format!("bad {what} {s:?}")))
    } else {
        Ok(())
    }
}

fn spawn_logged(mut cmd: Command, log: &Path) -> Result<Child, LabError> {
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

/// A cluster in a box; see the crate documentation. Dropping it tears it down (best effort,
/// problems are logged); [`Lab::down`] does the same and reports problems.
#[derive(Debug)]
pub struct Lab {
    name: String,
    root: Option<TempDir>,
    root_path: PathBuf,
    shared: PathBuf,
    switch: Option<String>,
    nodes: Vec<Node>,
    ip: PathBuf,
    startup: Duration,
    torn_down: bool,
}

impl Lab {
    /// Builds the lab and waits (bounded by [`LabOptions::wait_timeout`]) until Pacemaker has
    /// a DC and every node is online, then sets `stonith-enabled=false` and
    /// `no-quorum-policy=ignore`. On failure everything built so far is torn down.
    pub fn up(opts: LabOptions) -> Result<Lab, LabError> {
        let started = Instant::now();
        opts.validate()?;
        preflight()?;
        let tools = Tools::find()?;
        let ids = pacemaker_ids()?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!("ganesha-lab-{}-", opts.name))
            .tempdir()
            .map_err(io_err("create the lab's temporary directory"))?;
        let root_path = tmp.path().to_path_buf();
        fs::set_permissions(&root_path, fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("chmod {}", root_path.display())))?;
        let shared = root_path.join("shared");
        fs::create_dir(&shared).map_err(io_err(format!("create {}", shared.display())))?;
        let mut lab = Lab {
            name: opts.name.clone(),
            root: Some(tmp),
            root_path,
            shared,
            switch: None,
            nodes: Vec::new(),
            ip: tools.get("ip").to_path_buf(),
            startup: Duration::ZERO,
            torn_down: false,
        };
        // On error `lab` is dropped here, which tears down what was built.
        lab.build(&opts, &tools, ids)?;
        lab.startup = started.elapsed();
        tracing::info!(
            "lab {} with {} node(s) up in {:.1?}",
            lab.name,
            lab.nodes.len(),
            lab.startup
        );
        Ok(lab)
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

    /// A host directory visible at the same path in every node; stands in for the shared
    /// state volume.
    pub fn shared_dir(&self) -> &Path {
        &self.shared
    }

    /// The lab's temporary directory (node directories are `node1/`, ...).
    pub fn root_dir(&self) -> &Path {
        &self.root_path
    }

    /// How long [`Lab::up`] took.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Every namespace name the lab created (nodes and the switch).
    pub fn netns_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.nodes.iter().map(|n| n.netns.clone()).collect();
        v.extend(self.switch.clone());
        v
    }

    /// Tears the lab down and reports whatever could not be undone.
    pub fn down(mut self) -> Result<(), LabError> {
        self.torn_down = true;
        let problems = self.teardown();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(LabError::Teardown(problems))
        }
    }

    fn ip(&self, args: &[&str]) -> Result<Output, LabError> {
        Ok(run_checked(
            Command::new(&self.ip).args(args),
            SETUP_TIMEOUT,
        )?)
    }

    fn build(&mut self, opts: &LabOptions, tools: &Tools, ids: (u32, u32)) -> Result<(), LabError> {
        let t0 = Instant::now();
        let switch = format!("{}-sw", self.name);
        self.ip(&["netns", "add", &switch])?;
        self.switch = Some(switch.clone());
        self.ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        self.ip(&["-n", &switch, "link", "set", "br0", "up"])?;

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
        for (i, name, addr) in members {
            self.add_node(i, name, addr, &switch, tools)?;
            if let Some(node) = self.nodes.last() {
                prepare_node(node, tools, ids, &corosync_conf)?;
            }
        }
        tracing::debug!(
            "lab {}: namespaces and mounts ready after {:.1?}",
            self.name,
            t0.elapsed()
        );

        for node in &mut self.nodes {
            start_node_daemons(node, tools)?;
        }
        tracing::debug!(
            "lab {}: daemons started after {:.1?}",
            self.name,
            t0.elapsed()
        );
        self.wait_for_cluster(opts.wait_timeout)?;
        tracing::debug!("lab {}: DC elected after {:.1?}", self.name, t0.elapsed());
        if let Some(first) = self.nodes.first() {
            let crm_attribute = tools.get("crm_attribute");
            for (prop, value) in [("stonith-enabled", "false"), ("no-quorum-policy", "ignore")] {
                first.run_setup(
                    crm_attribute,
                    &["--type", "crm_config", "--name", prop, "--update", value],
                )?;
            }
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
        tools: &Tools,
    ) -> Result<(), LabError> {
        let netns = format!("{}-n{i}", self.name);
        let dir = self.root_path.join(&name);
        fs::create_dir_all(dir.join("logs"))
            .map_err(io_err(format!("create {}", dir.display())))?;
        self.ip(&["netns", "add", &netns])?;
        let netns_ino = sys::ns_inode(&Path::new("/run/netns").join(&netns))
            .map_err(io_err(format!("stat /run/netns/{netns}")))?;
        self.nodes.push(Node {
            index: i,
            name,
            addr,
            netns: netns.clone(),
            netns_ino,
            dir: dir.clone(),
            holder: None,
            holder_pid: 0,
            nsenter: tools.get("nsenter").to_path_buf(),
            setsid: tools.get("setsid").to_path_buf(),
            daemons: Vec::new(),
        });

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

        // The holder: `ip netns exec` and `unshare` (no --fork) both exec, so the child's pid
        // ends up being `sleep`'s, inside the new namespaces.
        let mut cmd = Command::new(&self.ip);
        cmd.args(["netns", "exec", &netns])
            .arg(tools.get("unshare"))
            .args(["--mount", "--uts", "--propagation", "private", "--"])
            .arg(tools.get("sleep"))
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

    fn wait_for_cluster(&mut self, timeout: Duration) -> Result<(), LabError> {
        let start = Instant::now();
        let want: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
        let mut last = String::from("(no answer yet)");
        loop {
            for node in &mut self.nodes {
                node.check_daemons()?;
            }
            if let Some(first) = self.nodes.first() {
                match first.cluster_status() {
                    Ok(st) => {
                        if st.dc.is_some() && want.iter().all(|n| st.online.contains(n)) {
                            return Ok(());
                        }
                        last = format!(
                            "dc={:?} online={:?} offline={:?}",
                            st.dc, st.online, st.offline
                        );
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            if start.elapsed() >= timeout {
                let mut detail = format!("last crm_mon: {last}\n");
                for n in &self.nodes {
                    detail.push_str(&n.log_tails());
                }
                return Err(LabError::Timeout {
                    what: format!("a DC and nodes {want:?} online"),
                    waited: start.elapsed(),
                    detail,
                });
            }
            thread::sleep(Duration::from_millis(300));
        }
    }

    /// Stops everything; returns what could not be undone. Never panics.
    fn teardown(&mut self) -> Vec<String> {
        let t0 = Instant::now();
        let mut problems = Vec::new();
        // Stop daemons in reverse start order, each kind on all nodes at once.
        for (name, grace) in [
            ("pacemakerd", PACEMAKER_STOP),
            ("corosync", DAEMON_STOP),
            ("dbus-daemon", DAEMON_STOP),
        ] {
            let mut running: Vec<(String, &mut Daemon)> = Vec::new();
            for node in &mut self.nodes {
                for d in node.daemons.iter_mut().filter(|d| d.name == name) {
                    if let Ok(None) = d.child.try_wait() {
                        running.push((node.name.clone(), d));
                    }
                }
            }
            // A pacemakerd told to stop while it is still forking its children can lose the
            // signal it forwards to a child that has not yet exec'd, and then waits for that
            // child forever: when it takes long, its children get SIGTERM from us too.
            for (_, d) in &running {
                sys::signal(d.child.id(), Signal::SIGTERM);
            }
            let deadline = Instant::now() + grace;
            let mut nudge = Instant::now() + PACEMAKER_NUDGE;
            loop {
                running.retain_mut(|(_, d)| matches!(d.child.try_wait(), Ok(None)));
                let now = Instant::now();
                if running.is_empty() || now >= deadline {
                    break;
                }
                if name == "pacemakerd" && now >= nudge {
                    for (node, d) in &running {
                        for child in sys::children_of(d.child.id()) {
                            tracing::debug!(
                                "{node}: pacemakerd still waits; SIGTERM to its child {child}"
                            );
                            sys::signal(child, Signal::SIGTERM);
                        }
                    }
                    nudge = now + PACEMAKER_NUDGE;
                }
                thread::sleep(Duration::from_millis(20));
            }
            for (node, d) in running {
                let _ = d.child.kill();
                if sys::wait_until_exit(&mut d.child, Duration::from_secs(5)) {
                    tracing::warn!("{node}: {name} ignored SIGTERM for {grace:?}; killed it");
                } else {
                    problems.push(format!(
                        "{node}: {name} (pid {}) survived SIGKILL",
                        d.child.id()
                    ));
                }
            }
            tracing::debug!(
                "lab {}: {name} stopped after {:.1?}",
                self.name,
                t0.elapsed()
            );
        }
        // Whatever else lives in a node's network namespace is the lab's (the namespace is).
        for node in &mut self.nodes {
            let left = sys::kill_netns_processes(node.netns_ino, Duration::from_secs(10));
            if !left.is_empty() {
                problems.push(format!(
                    "{}: processes {left:?} survived SIGKILL",
                    node.name
                ));
            }
            if let Some(holder) = node.holder.as_mut() {
                let _ = holder.kill();
                if !sys::wait_until_exit(holder, Duration::from_secs(5)) {
                    problems.push(format!(
                        "{}: holder pid {} did not end",
                        node.name, node.holder_pid
                    ));
                }
            }
            for d in &mut node.daemons {
                let _ = d.child.try_wait();
            }
        }
        let mut names: Vec<String> = self.nodes.iter().map(|n| n.netns.clone()).collect();
        names.extend(self.switch.take());
        for ns in names {
            if let Err(e) = self.ip(&["netns", "del", &ns]) {
                problems.push(e.to_string());
            }
            if Path::new("/run/netns").join(&ns).exists() {
                problems.push(format!("network namespace {ns} is still there"));
            }
        }
        let leaked = sys::mounts_under(&self.root_path);
        match self.root.take() {
            Some(tmp) if leaked.is_empty() => {
                if let Err(e) = tmp.close() {
                    problems.push(format!("remove {}: {e}", self.root_path.display()));
                }
            }
            Some(tmp) => {
                // Never delete through a mount point: keep the directory.
                let kept = tmp.keep();
                problems.push(format!(
                    "mounts {leaked:?} are visible on the host; kept {}",
                    kept.display()
                ));
            }
            None => {}
        }
        tracing::info!("lab {} torn down in {:.1?}", self.name, t0.elapsed());
        problems
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.torn_down {
            self.torn_down = true;
            let problems = self.teardown();
            if !problems.is_empty() {
                tracing::warn!("lab {} teardown: {}", self.name, problems.join("; "));
            }
        }
    }
}

/// Writes the node's host-side directories and configs, then builds its mount namespace.
fn prepare_node(
    node: &Node,
    tools: &Tools,
    ids: (u32, u32),
    corosync_conf: &str,
) -> Result<(), LabError> {
    let dir = &node.dir;
    let (hacluster, haclient) = ids;
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
    let etc_corosync = dir.join("etc-corosync");
    fs::write(etc_corosync.join("corosync.conf"), corosync_conf)
        .map_err(io_err("write corosync.conf"))?;
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

    // The node's /usr/lib/ocf/resource.d: `ocf/` with the host's providers bound into it.
    let ocf = node.ocf_dir();
    fs::create_dir(&ocf).map_err(io_err("create ocf/"))?;
    sys::mirror_attrs(Path::new(OCF_RESOURCE_D), &ocf).map_err(io_err("chmod ocf/"))?;
    let mut providers = Vec::new();
    for entry in fs::read_dir(OCF_RESOURCE_D).map_err(io_err(format!("read {OCF_RESOURCE_D}")))? {
        let entry = entry.map_err(io_err(format!("read {OCF_RESOURCE_D}")))?;
        let from = entry.path();
        let to = ocf.join(entry.file_name());
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

    // Inside the node's mount namespace.
    let mount = tools.get("mount");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    node.run_setup(
        mount,
        &[
            "-t",
            "tmpfs",
            "-o",
            "mode=0755,nosuid,nodev",
            "tmpfs",
            "/run",
        ],
    )?;
    node.run_setup(
        mount,
        &[
            "-t",
            "tmpfs",
            "-o",
            "mode=1777,nosuid,nodev",
            "tmpfs",
            "/dev/shm",
        ],
    )?;
    for sub in RUN_DIRS {
        let p = node.host_path("/run").join(sub);
        fs::create_dir(&p).map_err(io_err(format!("create {}", p.display())))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("chmod {}", p.display())))?;
    }
    for (own, target) in &binds {
        node.run_setup(mount, &["--bind", &s(own), target])?;
    }
    for (from, to) in &providers {
        node.run_setup(mount, &["--bind", &s(from), &s(to)])?;
    }
    node.run_setup(mount, &["--rbind", &s(&ocf), OCF_RESOURCE_D])?;
    node.run_setup(tools.get("hostname"), &[&node.name])?;

    let leaked = sys::mounts_under(dir);
    if !leaked.is_empty() {
        return Err(LabError::Setup(format!(
            "mounts made inside {} are visible on the host ({leaked:?}): mount propagation is not private",
            node.name
        )));
    }
    Ok(())
}

/// Starts the system bus, corosync and pacemakerd in a node, each once the previous is ready.
fn start_node_daemons(node: &mut Node, tools: &Tools) -> Result<(), LabError> {
    let bus_conf = format!(
        "--config-file={}",
        node.dir.join("dbus-system.conf").display()
    );
    node.start_daemon(
        "dbus-daemon",
        tools.get("dbus-daemon"),
        &[&bus_conf, "--nofork", "--nopidfile"],
        &[],
    )?;
    let socket = node.host_path("/run/dbus/system_bus_socket");
    wait_for(
        node,
        "the system bus socket",
        Duration::from_secs(10),
        |_| socket.exists(),
    )?;

    node.start_daemon("corosync", tools.get("corosync"), &["-f"], &[])?;
    let log = node.dir.join("var-log-corosync/corosync.log");
    wait_for(
        node,
        "corosync to be ready",
        Duration::from_secs(30),
        |_| fs::read_to_string(&log).is_ok_and(|t| t.contains("ready to provide service")),
    )?;

    node.start_daemon(
        "pacemakerd",
        tools.get("pacemakerd"),
        &[],
        &[
            ("PCMK_logfile", "/var/log/pacemaker/pacemaker.log"),
            ("PCMK_logfacility", "none"),
        ],
    )
}

/// Polls `ready` every 20 ms up to `limit`, failing early when a daemon of the node ended.
fn wait_for(
    node: &mut Node,
    what: &str,
    limit: Duration,
    mut ready: impl FnMut(&Node) -> bool,
) -> Result<(), LabError> {
    let start = Instant::now();
    loop {
        if ready(node) {
            tracing::debug!("{}: {what} after {:.1?}", node.name, start.elapsed());
            return Ok(());
        }
        node.check_daemons()?;
        if start.elapsed() >= limit {
            return Err(LabError::Timeout {
                what: format!("{} on {}", what, node.name),
                waited: start.elapsed(),
                detail: node.log_tails(),
            });
        }
        thread::sleep(Duration::from_millis(20));
    }
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
  <node_attributes>
    <node name="node1"><attribute name="x" value="1"/></node>
  </node_attributes>
</pacemaker-result>"#;
        let st = ClusterStatus::parse(xml);
        assert_eq!(st.dc.as_deref(), Some("node1"));
        assert_eq!(st.online, ["node1"]);
        assert_eq!(st.offline, ["node2"]);
        let none = ClusterStatus::parse(r#"<summary><current_dc present="false"/></summary>"#);
        assert_eq!(none.dc, None);
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
            first_host: 250,
            nodes: 6,
            ..a
        }
        .validate()
        .is_err());
    }
}
