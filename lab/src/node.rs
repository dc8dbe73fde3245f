//! One lab node: commands inside it, its daemons, power and failure injection.

use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::gluster::GLUSTER_RUN_DIRS;
use crate::state::{LabState, NodeState, STOPPING_MARKER};
use crate::util::{self, run_checked};
use crate::{
    conf, io_err, spawn_logged, sys, ClusterStatus, LabError, Tools, DATA_VOLUME, OCF_RESOURCE_D,
};

/// The node's system bus daemon (command name).
pub const DBUS_DAEMON: &str = "dbus-daemon";
/// corosync (command name).
pub const COROSYNC: &str = "corosync";
/// pacemakerd (command name); its children are `pacemaker-*`.
pub const PACEMAKERD: &str = "pacemakerd";
/// NFS-Ganesha (command name).
pub const GANESHA: &str = "ganesha.nfsd";

/// The per-node ganesha service's configuration, inside the node (ganesha_nfsd's default).
pub const GANESHA_CONF: &str = "/etc/ganesha/ganesha.conf";
/// Its pid file, inside the node (ganesha_nfsd's default).
pub use ganesha_agents::names::GANESHA_PID_FILE;
/// Its log, inside the node (ganesha_nfsd's default).
pub const GANESHA_LOG: &str = "/var/log/ganesha/ganesha.log";
/// Its NFSv4 recovery root, inside the node (ganesha_nfsd's default `recovery_root`).
pub const GANESHA_RECOVERY_ROOT: &str = "/var/lib/nfs/ganesha";
/// Corosync's configuration, inside the node.
pub const COROSYNC_CONF: &str = "/etc/corosync/corosync.conf";

/// Directories created in each node's `/run` tmpfs.
pub(crate) const RUN_DIRS: &[&str] = &["dbus", "ganesha", "resource-agents"];

/// The `PATH` daemons started by the lab get (their environment is otherwise empty, so a
/// node powered on by the fence agent does not inherit pacemaker-fenced's variables).
const DAEMON_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// Bound on the small setup commands (`ip`, `mount`, ...).
pub(crate) const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on waiting for the node's power lock (another power operation on the node).
const LOCK_WAIT: Duration = Duration::from_secs(120);
/// Bound on waiting for processes to end after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// Bound on the system bus socket appearing.
pub(crate) const DBUS_WAIT: Duration = Duration::from_secs(10);
/// Bound on a started daemon's `setsid`/`nsenter` exec'ing it inside the node.
const EXEC_WAIT: Duration = Duration::from_secs(10);
/// Bound on corosync becoming ready.
pub(crate) const COROSYNC_WAIT: Duration = Duration::from_secs(30);

/// Files in the node directory.
const FAILED_FILE: &str = "failed";
const LOCK_FILE: &str = "power.lock";

/// A failure [`Node::fail`] injects; [`Node::heal`] undoes any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum FailMode {
    /// SIGKILL ganesha.nfsd.
    KillGanesha,
    /// SIGSTOP ganesha.nfsd: it hangs (D-Bus and NFS calls get no answer).
    HangGanesha,
    /// Power the node off ([`Node::power_off`]): every process killed, link down.
    Crash,
    /// Take the node's link down; its processes keep running.
    Isolate,
    /// SIGKILL pacemakerd and every pacemaker-* daemon of the node (corosync keeps running).
    KillPacemaker,
    /// SIGKILL the node's brick of the gluster volume [`DATA_VOLUME`] (a lab with
    /// [`LabOptions::gluster`](crate::LabOptions::gluster)); its other replicas keep serving.
    KillBrick,
}

impl FailMode {
    /// Every mode.
    pub const ALL: [FailMode; 6] = [
        FailMode::KillGanesha,
        FailMode::HangGanesha,
        FailMode::Crash,
        FailMode::Isolate,
        FailMode::KillPacemaker,
        FailMode::KillBrick,
    ];

    /// The CLI name (`kill-ganesha`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::KillGanesha => "kill-ganesha",
            FailMode::HangGanesha => "hang-ganesha",
            FailMode::Crash => "crash",
            FailMode::Isolate => "isolate",
            FailMode::KillPacemaker => "kill-pacemaker",
            FailMode::KillBrick => "kill-brick",
        }
    }
}

impl fmt::Display for FailMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailMode {
    type Err = LabError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FailMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                LabError::Options(format!(
                    "unknown failure {s:?}; one of: {}",
                    FailMode::ALL.map(FailMode::as_str).join(", ")
                ))
            })
    }
}

/// A daemon started by this process in a node (kept to reap it and to see it end early).
#[derive(Debug)]
struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

/// One cluster node. Obtained from [`crate::Lab::node`], [`crate::Lab::nodes`],
/// [`crate::Lab::node_by_name`].
#[derive(Debug)]
pub struct Node {
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) addr: Ipv4Addr,
    pub(crate) netns: String,
    pub(crate) netns_ino: u64,
    pub(crate) dir: PathBuf,
    /// The holder, when this process started it.
    pub(crate) holder: Option<Child>,
    pub(crate) holder_pid: u32,
    pub(crate) holder_start: u64,
    pub(crate) tools: Arc<Tools>,
    pub(crate) ganesha_service: bool,
    /// Whether the node is a GlusterFS server (`src/gluster.rs`).
    pub(crate) gluster: bool,
    pub(crate) lab_root: PathBuf,
    spawned: Mutex<Vec<Daemon>>,
}

impl Node {
    /// Node `st` of the lab `lab`.
    pub(crate) fn new(st: &NodeState, tools: Arc<Tools>, lab: &LabState) -> Node {
        Node {
            index: st.index,
            name: st.name.clone(),
            addr: st.addr,
            netns: st.netns.clone(),
            netns_ino: st.netns_ino,
            dir: st.dir.clone(),
            holder: None,
            holder_pid: st.holder_pid,
            holder_start: st.holder_start,
            tools,
            ganesha_service: lab.ganesha_service,
            gluster: lab.gluster.is_some(),
            lab_root: lab.root.clone(),
            spawned: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn state(&self) -> NodeState {
        NodeState {
            index: self.index,
            name: self.name.clone(),
            addr: self.addr,
            netns: self.netns.clone(),
            netns_ino: self.netns_ino,
            dir: self.dir.clone(),
            holder_pid: self.holder_pid,
            holder_start: self.holder_start,
        }
    }

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

    /// The inode of the node's network namespace: a process belongs to the node exactly when
    /// its `/proc/<pid>/ns/net` has this inode.
    pub fn netns_inode(&self) -> u64 {
        self.netns_ino
    }

    /// The pid of the holder process whose namespaces are the node.
    pub fn holder_pid(&self) -> u32 {
        self.holder_pid
    }

    /// Host-side per-node directory. It holds `logs/` (stdout and stderr of the daemons),
    /// the directories bind-mounted into the node (`etc-corosync`, `var-lib-pacemaker`,
    /// `var-log-pacemaker`, `var-log-corosync`, `var-log-ganesha`, `etc-ganesha`,
    /// `var-lib-nfs`, `var-lib-corosync`, `etc-booth`) and `ocf/` (the node's `/usr/lib/ocf/resource.d`);
    /// on a GlusterFS server also its gluster state and `bricks/` (see `src/gluster.rs`).
    /// Files written here by a test are visible inside the node at the same path.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the node's holder process still exists (same pid, start time and network
    /// namespace as recorded). Without it the node is gone: nothing can enter it.
    pub fn holder_alive(&self) -> bool {
        self.state().holder_alive()
    }

    fn check_holder(&self) -> Result<(), LabError> {
        if self.holder_alive() {
            Ok(())
        } else {
            Err(LabError::Setup(format!(
                "{}: its holder process {} is gone (the lab was torn down, or the host \
                 rebooted); nothing can enter the node; tear the lab down",
                self.name, self.holder_pid
            )))
        }
    }

    /// A command that runs `program` inside the node's network, mount and UTS namespaces
    /// (`nsenter -t <holder> -n -m -u -- program`). Add arguments and environment on it; run
    /// it with [`run_checked`] to get a time bound. Its working directory inside the node is
    /// `/`; give absolute paths.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(self.tools.get("nsenter"));
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
        self.check_holder()?;
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
        self.check_holder()?;
        let mut cmd = self.session_command(program);
        cmd.args(args);
        spawn_logged(cmd, log)
    }

    /// `setsid nsenter ... -- program`: `setsid` and `nsenter` both exec, so the child's pid
    /// is the program's.
    fn session_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(self.tools.get("setsid"));
        c.arg(self.tools.get("nsenter"))
            .arg("-t")
            .arg(self.holder_pid.to_string())
            .args(["-n", "-m", "-u", "--"])
            .arg(program);
        c
    }

    /// Installs OCF resource agents that only this node sees: a copy of each binary (mode
    /// 0755) at `/usr/lib/ocf/resource.d/<provider>/<name>` inside the node. Replacing an
    /// agent that is running is fine (the copy is renamed into place). The host's
    /// `/usr/lib/ocf` does not change. `provider` must not be one the host already has,
    /// except `ganesha`, which is always the node's own.
    pub fn install_ocf_provider(
        &self,
        provider: &str,
        agents: &[(&str, &Path)],
    ) -> Result<(), LabError> {
        check_component("provider", provider)?;
        if provider != crate::OWN_PROVIDER && Path::new(OCF_RESOURCE_D).join(provider).exists() {
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
            install_file(binary, &dir.join(name))?;
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

    /// Reads a text file inside the node (through [`Node::host_path`]).
    pub fn read_file(&self, path_in_node: impl AsRef<Path>) -> io::Result<String> {
        if !self.holder_alive() {
            return Err(io::Error::other(format!(
                "{}: the node's holder process is gone",
                self.name
            )));
        }
        fs::read_to_string(self.host_path(path_in_node))
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

    /// Every live process of the node except its holder (zombies are not listed).
    pub fn pids(&self) -> Vec<Pid> {
        self.raw_pids().into_iter().map(Pid::from_raw).collect()
    }

    fn raw_pids(&self) -> Vec<i32> {
        if !self.holder_alive() {
            return Vec::new();
        }
        let holder = i32::try_from(self.holder_pid).unwrap_or(-1);
        sys::pids_in_netns(self.netns_ino)
            .into_iter()
            .filter(|&p| p != holder)
            .collect()
    }

    /// The node's live processes whose command name (`/proc/<pid>/comm`) is `comm` (only its
    /// first 15 characters count, as for the kernel: `pacemaker-fenced` is
    /// `pacemaker-fence`).
    pub fn pids_named(&self, comm: &str) -> Vec<Pid> {
        self.raw_named(comm)
            .into_iter()
            .map(Pid::from_raw)
            .collect()
    }

    pub(crate) fn raw_named(&self, comm: &str) -> Vec<i32> {
        let key = comm_key(comm);
        self.raw_pids()
            .into_iter()
            .filter(|&p| sys::comm(p).as_deref() == Some(key))
            .collect()
    }

    /// pacemakerd and every `pacemaker-*` daemon of the node.
    fn pacemaker_pids(&self) -> Vec<i32> {
        self.raw_pids()
            .into_iter()
            .filter(|&p| {
                sys::comm(p).is_some_and(|c| c == PACEMAKERD || c.starts_with("pacemaker-"))
            })
            .collect()
    }

    /// Sends `signal` to process `pid`, which must be one of the node's processes (its
    /// network namespace is the node's); anything else is refused.
    pub fn kill(&self, pid: Pid, signal: Signal) -> Result<(), LabError> {
        let raw = pid.as_raw();
        if i64::from(raw) == i64::from(self.holder_pid) || !self.raw_pids().contains(&raw) {
            return Err(LabError::Options(format!(
                "pid {raw} is not a process of {} (or is its holder)",
                self.name
            )));
        }
        nix::sys::signal::kill(pid, signal)
            .map_err(|e| LabError::Setup(format!("kill -{signal} {raw}: {e}")))
    }

    /// Whether `eth0` is administratively up inside the node.
    pub fn link_is_up(&self) -> Result<bool, LabError> {
        let out = self.run_timeout(
            self.tools.get("ip"),
            &["-o", "link", "show", "dev", "eth0"],
            SETUP_TIMEOUT,
        )?;
        Ok(link_flags_up(&String::from_utf8_lossy(&out.stdout)))
    }

    /// The node's IPv4 addresses as `(interface, address)`; with `up_only`, only those on
    /// interfaces that are up.
    pub fn addresses(&self, up_only: bool) -> Result<Vec<(String, Ipv4Addr)>, LabError> {
        let mut args = vec!["-o", "-4", "addr", "show"];
        if up_only {
            args.push("up");
        }
        let out = self.run_timeout(self.tools.get("ip"), &args, SETUP_TIMEOUT)?;
        Ok(parse_ip_addr(&String::from_utf8_lossy(&out.stdout)))
    }

    /// Whether the node is powered on: its system bus or its cluster stack runs and `eth0`
    /// is up.
    pub fn is_powered_on(&self) -> bool {
        self.holder_alive()
            && [COROSYNC, PACEMAKERD, DBUS_DAEMON]
                .iter()
                .any(|d| !self.raw_named(d).is_empty())
            && self.link_is_up().unwrap_or(false)
    }

    /// Whether the node has a `/etc/corosync/corosync.conf` (it is a cluster member; a bare
    /// node has none).
    pub fn has_cluster_config(&self) -> bool {
        self.host_path(COROSYNC_CONF).is_file()
    }

    /// Whether corosync or pacemakerd runs in the node.
    pub fn stack_running(&self) -> bool {
        !self.raw_named(COROSYNC).is_empty() || !self.raw_named(PACEMAKERD).is_empty()
    }

    /// The lab's `systemctl start corosync pacemaker`: starts whichever of corosync (waiting
    /// until it is ready) and pacemakerd is not running. Fails when the node has no
    /// corosync.conf, like the real units. Does not wait for the node to join.
    pub fn start_stack(&self) -> Result<(), LabError> {
        let _lock = self.lock()?;
        self.check_holder()?;
        if self.lab_root.join(STOPPING_MARKER).exists() {
            return Err(LabError::Setup(format!(
                "{}: the lab is being torn down; not starting the stack",
                self.name
            )));
        }
        if !self.has_cluster_config() {
            return Err(LabError::Setup(format!(
                "{}: no {COROSYNC_CONF}; corosync cannot start",
                self.name
            )));
        }
        self.start_stack_locked().map(drop)
    }

    fn start_stack_locked(&self) -> Result<Vec<&'static str>, LabError> {
        let mut started = Vec::new();
        if self.raw_named(COROSYNC).is_empty() {
            // Pacemaker daemons without corosync are of no use: start them afresh.
            self.kill_and_wait(&self.pacemaker_pids())?;
            let (pid, offset) = self.start_corosync()?;
            self.wait_corosync(pid, offset, COROSYNC_WAIT)?;
            started.push(COROSYNC);
        }
        if self.raw_named(PACEMAKERD).is_empty() {
            self.kill_and_wait(&self.pacemaker_pids())?;
            self.start_pacemakerd()?;
            started.push(PACEMAKERD);
        }
        Ok(started)
    }

    /// The lab's `systemctl stop pacemaker corosync`: SIGTERM to pacemakerd, which stops the
    /// node's resources and its daemons, then to corosync, each waited for up to `limit`
    /// (then SIGKILL, as systemd would). Idempotent.
    pub fn stop_stack(&self, limit: Duration) -> Result<(), LabError> {
        let _lock = self.lock()?;
        self.check_holder()?;
        // pacemakerd's SIGTERM is the graceful shutdown (it stops its children itself); wait
        // for all of them.
        let steps = [
            (self.raw_named(PACEMAKERD), self.pacemaker_pids()),
            (self.raw_named(COROSYNC), self.raw_named(COROSYNC)),
        ];
        for (signalled, daemons) in &steps {
            for &p in signalled {
                let _ = nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGTERM);
            }
            let deadline = Instant::now() + limit;
            while daemons
                .iter()
                .any(|&p| u32::try_from(p).is_ok_and(sys::pid_alive))
            {
                if Instant::now() >= deadline {
                    tracing::warn!("{}: {daemons:?} still running; SIGKILL", self.name);
                    self.kill_and_wait(daemons)?;
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        self.reap();
        tracing::info!("{}: cluster stack stopped", self.name);
        Ok(())
    }

    /// Powers the node off like pulling its plug: `eth0` down, every process of the node
    /// except its holder killed (SIGKILL), its addresses removed. Idempotent.
    pub fn power_off(&self) -> Result<(), LabError> {
        let _lock = self.lock()?;
        self.power_off_locked()
    }

    fn power_off_locked(&self) -> Result<(), LabError> {
        self.check_holder()?;
        let down = self.ip(&["link", "set", "eth0", "down"]);
        let holder = i32::try_from(self.holder_pid).unwrap_or(-1);
        let left = sys::kill_in_netns(&[self.netns_ino], &[holder], KILL_WAIT);
        self.reap();
        if !left.is_empty() {
            return Err(LabError::Setup(format!(
                "{}: processes {left:?} survived SIGKILL",
                self.name
            )));
        }
        down?;
        // A machine that is off holds no address (a VIP must not look held by it).
        self.ip(&["addr", "flush", "dev", "eth0"])?;
        tracing::info!("{}: powered off", self.name);
        Ok(())
    }

    /// Powers the node on like a boot: when nothing runs in it, fresh tmpfs on `/run` and
    /// `/dev/shm`; its address and `eth0` up; then whatever of dbus-daemon, glusterd (on a
    /// GlusterFS server, with its missing bricks and the shared storage mount), ganesha.nfsd
    /// (when the lab runs it as a service), corosync and pacemakerd is not running is started
    /// (detached), waiting for the bus, glusterd and corosync to be ready. It does not wait for the
    /// node to rejoin the cluster. Idempotent: a node that is on gets no second set. Refused
    /// while the lab is being torn down.
    pub fn power_on(&self) -> Result<(), LabError> {
        let _lock = self.lock()?;
        self.power_on_locked(true)
    }

    /// [`Node::power_on`] up to the point where a machine is on and still booting: `/run`,
    /// the link, D-Bus and ganesha, but not the cluster stack, which the caller starts
    /// later ([`Node::start_stack`]). The fence device uses it: a Pacemaker that comes up
    /// before its own fencing is reported learns it "was allegedly just fenced" and exits
    /// for good, which real machines never hit because they take longer to boot.
    pub fn power_on_booting(&self) -> Result<(), LabError> {
        let _lock = self.lock()?;
        self.power_on_locked(false)
    }

    fn power_on_locked(&self, with_stack: bool) -> Result<(), LabError> {
        self.check_holder()?;
        if self.lab_root.join(STOPPING_MARKER).exists() {
            return Err(LabError::Setup(format!(
                "{}: the lab is being torn down; not powering on",
                self.name
            )));
        }
        if self.raw_pids().is_empty() {
            self.fresh_run(true)?;
        }
        self.ensure_link()?;
        let mut started = Vec::new();
        if self.raw_named(DBUS_DAEMON).is_empty() {
            let pid = self.start_dbus()?;
            self.wait_dbus(pid, DBUS_WAIT)?;
            started.push(DBUS_DAEMON);
        }
        if self.gluster {
            started.extend(self.boot_gluster()?);
        }
        if self.ganesha_service && self.raw_named(GANESHA).is_empty() {
            self.start_ganesha()?;
            started.push(GANESHA);
        }
        // Like enabled units: a node with no corosync.conf (bare) boots without the stack.
        if with_stack && self.has_cluster_config() {
            started.extend(self.start_stack_locked()?);
        }
        let _ = fs::remove_file(self.dir.join(FAILED_FILE));
        if started.is_empty() {
            tracing::debug!("{}: already on", self.name);
        } else {
            tracing::info!("{}: powered on (started {})", self.name, started.join(", "));
        }
        Ok(())
    }

    /// Injects a failure (see [`FailMode`]) and records it for `ganesha-lab status`.
    pub fn fail(&self, how: FailMode) -> Result<(), LabError> {
        let _lock = self.lock()?;
        self.check_holder()?;
        match how {
            FailMode::KillGanesha => {
                let pids = self.ganesha_pids()?;
                self.kill_and_wait(&pids)?;
            }
            FailMode::HangGanesha => {
                let pids = self.ganesha_pids()?;
                for &p in &pids {
                    let _ = nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGSTOP);
                }
                let deadline = Instant::now() + KILL_WAIT;
                while !pids
                    .iter()
                    .all(|&p| matches!(sys::process_state(p), Some('T') | None))
                {
                    if Instant::now() >= deadline {
                        return Err(LabError::Setup(format!(
                            "{}: ganesha.nfsd {pids:?} did not stop after SIGSTOP",
                            self.name
                        )));
                    }
                    thread::sleep(Duration::from_millis(10));
                }
            }
            FailMode::Crash => self.power_off_locked()?,
            FailMode::Isolate => {
                self.ip(&["link", "set", "eth0", "down"])?;
            }
            FailMode::KillPacemaker => {
                let pids = self.pacemaker_pids();
                if pids.is_empty() {
                    return Err(LabError::Setup(format!(
                        "{}: no pacemaker daemon runs",
                        self.name
                    )));
                }
                self.kill_and_wait(&pids)?;
                // Nothing respawns them once pacemakerd is gone, but be sure.
                self.kill_and_wait(&self.pacemaker_pids())?;
            }
            FailMode::KillBrick => {
                self.kill_brick(DATA_VOLUME)?;
            }
        }
        let record = self.dir.join(FAILED_FILE);
        let mut text = fs::read_to_string(&record).unwrap_or_default();
        text.push_str(how.as_str());
        text.push('\n');
        fs::write(&record, text).map_err(io_err(format!("write {}", record.display())))?;
        tracing::info!("{}: failed with {how}", self.name);
        Ok(())
    }

    /// Undoes any failure: stopped processes get SIGCONT, then everything missing is
    /// started and the link brought up (as [`Node::power_on`]).
    pub fn heal(&self) -> Result<(), LabError> {
        let _lock = self.lock()?;
        self.check_holder()?;
        for p in self.raw_pids() {
            if sys::process_state(p) == Some('T') {
                let _ = nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGCONT);
            }
        }
        self.power_on_locked(true)
    }

    /// The failures injected since the node was last powered on or healed.
    pub fn failures(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join(FAILED_FILE))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn ganesha_pids(&self) -> Result<Vec<i32>, LabError> {
        let pids = self.raw_named(GANESHA);
        if pids.is_empty() {
            Err(LabError::Setup(format!(
                "{}: no ganesha.nfsd runs in the node",
                self.name
            )))
        } else {
            Ok(pids)
        }
    }

    /// SIGKILLs `pids` (node processes) and waits until they are gone.
    pub(crate) fn kill_and_wait(&self, pids: &[i32]) -> Result<(), LabError> {
        for &p in pids {
            let _ = nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        let deadline = Instant::now() + KILL_WAIT;
        loop {
            let left: Vec<i32> = pids
                .iter()
                .copied()
                .filter(|&p| u32::try_from(p).is_ok_and(sys::pid_alive))
                .collect();
            if left.is_empty() {
                self.reap();
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LabError::Setup(format!(
                    "{}: processes {left:?} survived SIGKILL",
                    self.name
                )));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The node's power lock: power operations on one node (from the CLI, a test, the fence
    /// agent) never interleave.
    fn lock(&self) -> Result<Flock<File>, LabError> {
        let path = self.dir.join(LOCK_FILE);
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(io_err(format!("open {}", path.display())))?;
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(lock),
                Err((_, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(50));
                }
                Err((_, e)) => {
                    return Err(LabError::Setup(format!(
                        "{}: cannot take the power lock {} within {LOCK_WAIT:?}: {e}",
                        self.name,
                        path.display()
                    )))
                }
            }
        }
    }

    /// Runs `ip args...` inside the node.
    pub(crate) fn ip(&self, args: &[&str]) -> Result<Output, LabError> {
        self.run_setup(self.tools.get("ip"), args)
    }

    pub(crate) fn run_setup(&self, program: &Path, args: &[&str]) -> Result<Output, LabError> {
        Ok(run_checked(
            self.command(program).args(args),
            SETUP_TIMEOUT,
        )?)
    }

    /// Fresh tmpfs on `/run` and `/dev/shm` (with `replace`, the lab's previous ones are
    /// unmounted first), with [`RUN_DIRS`].
    pub(crate) fn fresh_run(&self, replace: bool) -> Result<(), LabError> {
        let mount = self.tools.get("mount");
        let umount = self.tools.get("umount");
        for (target, mode) in [("/run", "mode=0755"), ("/dev/shm", "mode=1777")] {
            if replace && self.is_tmpfs(target) {
                self.run_setup(umount, &["-l", target])?;
            }
            let opts = format!("{mode},nosuid,nodev");
            self.run_setup(mount, &["-t", "tmpfs", "-o", &opts, "tmpfs", target])?;
        }
        let gluster = if self.gluster { GLUSTER_RUN_DIRS } else { &[] };
        for sub in RUN_DIRS.iter().chain(gluster) {
            let p = self.host_path("/run").join(sub);
            fs::create_dir(&p).map_err(io_err(format!("create {}", p.display())))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755))
                .map_err(io_err(format!("chmod {}", p.display())))?;
        }
        Ok(())
    }

    /// Whether the node's mount at `target` (the topmost) is a tmpfs.
    fn is_tmpfs(&self, target: &str) -> bool {
        let info =
            fs::read_to_string(format!("/proc/{}/mountinfo", self.holder_pid)).unwrap_or_default();
        let mut fs_type = None;
        for line in info.lines() {
            let mut halves = line.splitn(2, " - ");
            let (Some(left), Some(right)) = (halves.next(), halves.next()) else {
                continue;
            };
            if left.split(' ').nth(4) == Some(target) {
                fs_type = right.split(' ').next().map(str::to_string);
            }
        }
        fs_type.as_deref() == Some("tmpfs")
    }

    /// The node's own address on `eth0` (re-added after a power-off flushed it), link up.
    fn ensure_link(&self) -> Result<(), LabError> {
        let has = self
            .addresses(false)?
            .iter()
            .any(|(dev, a)| dev == "eth0" && *a == self.addr);
        if !has {
            let cidr = format!("{}/24", self.addr);
            self.ip(&["addr", "add", &cidr, "dev", "eth0"])?;
        }
        self.ip(&["link", "set", "lo", "up"])?;
        self.ip(&["link", "set", "eth0", "up"])?;
        Ok(())
    }

    /// Starts a daemon of the node, detached (own session), with a clean environment.
    pub(crate) fn start_daemon(
        &self,
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<u32, LabError> {
        let log = self.dir.join("logs").join(format!("{name}.out"));
        let mut cmd = self.session_command(program);
        cmd.args(args).env_clear().env("PATH", DAEMON_PATH);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = spawn_logged(cmd, &log)?;
        let pid = child.id();
        tracing::debug!("{}: started {name} (pid {pid})", self.name);
        self.spawned_lock().push(Daemon {
            name: name.to_string(),
            child,
            log: log.clone(),
        });
        // Until `setsid` and `nsenter` have exec'd, the process is neither named `name` nor
        // in the node: wait, so that whoever looks next finds the daemon.
        let raw = i32::try_from(pid).map_err(|_| LabError::Setup(format!("odd pid {pid}")))?;
        let deadline = Instant::now() + EXEC_WAIT;
        loop {
            if sys::comm(raw).as_deref() == Some(comm_key(name))
                && sys::proc_ns(raw, "net").ok() == Some(self.netns_ino)
            {
                return Ok(pid);
            }
            if !sys::pid_alive(pid) || Instant::now() >= deadline {
                return Err(LabError::Setup(format!(
                    "{}: {name} (pid {pid}) did not start in the node; {}:\n{}",
                    self.name,
                    log.display(),
                    sys::tail(&log, 30)
                )));
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    fn spawned_lock(&self) -> MutexGuard<'_, Vec<Daemon>> {
        self.spawned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reaps daemons this process started that have ended.
    fn reap(&self) {
        self.spawned_lock()
            .retain_mut(|d| matches!(d.child.try_wait(), Ok(None)));
    }

    pub(crate) fn start_dbus(&self) -> Result<u32, LabError> {
        let socket = self.host_path(conf::SYSTEM_BUS_SOCKET);
        if socket.exists() {
            fs::remove_file(&socket).map_err(io_err(format!("remove {}", socket.display())))?;
        }
        let bus_conf = format!(
            "--config-file={}",
            self.dir.join("dbus-system.conf").display()
        );
        self.start_daemon(
            DBUS_DAEMON,
            self.tools.get("dbus-daemon"),
            &[&bus_conf, "--nofork", "--nopidfile"],
            &[],
        )
    }

    pub(crate) fn wait_dbus(&self, pid: u32, limit: Duration) -> Result<(), LabError> {
        let socket = self.host_path(conf::SYSTEM_BUS_SOCKET);
        self.wait_daemon("the system bus socket", DBUS_DAEMON, pid, limit, || {
            socket.exists()
        })
    }

    pub(crate) fn start_ganesha(&self) -> Result<u32, LabError> {
        self.start_daemon(
            GANESHA,
            self.tools.get("ganesha.nfsd"),
            &[
                "-F",
                "-f",
                GANESHA_CONF,
                "-p",
                GANESHA_PID_FILE,
                "-L",
                GANESHA_LOG,
                "-N",
                "NIV_EVENT",
            ],
            &[],
        )
    }

    fn corosync_log(&self) -> PathBuf {
        self.dir.join("var-log-corosync/corosync.log")
    }

    /// Starts corosync; returns its pid and the length of its log before it started.
    pub(crate) fn start_corosync(&self) -> Result<(u32, u64), LabError> {
        let offset = fs::metadata(self.corosync_log()).map_or(0, |m| m.len());
        let pid = self.start_daemon(COROSYNC, self.tools.get("corosync"), &["-f"], &[])?;
        Ok((pid, offset))
    }

    pub(crate) fn wait_corosync(
        &self,
        pid: u32,
        offset: u64,
        limit: Duration,
    ) -> Result<(), LabError> {
        let log = self.corosync_log();
        self.wait_daemon("corosync to be ready", COROSYNC, pid, limit, || {
            fs::read(&log).is_ok_and(|data| {
                let from = usize::try_from(offset).unwrap_or(0).min(data.len());
                String::from_utf8_lossy(&data[from..]).contains("ready to provide service")
            })
        })
    }

    pub(crate) fn start_pacemakerd(&self) -> Result<u32, LabError> {
        self.start_daemon(
            PACEMAKERD,
            self.tools.get("pacemakerd"),
            &[],
            &[
                ("PCMK_logfile", "/var/log/pacemaker/pacemaker.log"),
                ("PCMK_logfacility", "none"),
            ],
        )
    }

    /// Polls `ready` every 20 ms up to `limit`, failing early when the daemon `pid` ended.
    pub(crate) fn wait_daemon(
        &self,
        what: &str,
        daemon: &str,
        pid: u32,
        limit: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), LabError> {
        let start = Instant::now();
        loop {
            if ready() {
                tracing::debug!("{}: {what} after {:.1?}", self.name, start.elapsed());
                return Ok(());
            }
            if !sys::pid_alive(pid) {
                let log = self.dir.join("logs").join(format!("{daemon}.out"));
                return Err(LabError::Setup(format!(
                    "{}: {daemon} (pid {pid}) exited while waiting for {what}; {}:\n{}\n{}",
                    self.name,
                    log.display(),
                    sys::tail(&log, 30),
                    self.log_tails()
                )));
            }
            if start.elapsed() >= limit {
                return Err(LabError::Timeout {
                    what: format!("{what} on {}", self.name),
                    waited: start.elapsed(),
                    detail: self.log_tails(),
                });
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Fails when a daemon this process started in the node has ended (used while the lab
    /// comes up, when every daemon must keep running).
    pub(crate) fn check_daemons(&self) -> Result<(), LabError> {
        for d in self.spawned_lock().iter_mut() {
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

    /// Paths of the node's logs (host side) with a label.
    pub fn log_files(&self) -> Vec<(String, PathBuf)> {
        let mut v = vec![
            ("corosync.log".to_string(), self.corosync_log()),
            (
                "pacemaker.log".to_string(),
                self.dir.join("var-log-pacemaker/pacemaker.log"),
            ),
            (
                "ganesha.log".to_string(),
                self.dir.join("var-log-ganesha/ganesha.log"),
            ),
        ];
        if self.gluster {
            v.push((
                "glusterd.log".to_string(),
                self.dir.join("var-log-glusterfs/glusterd.log"),
            ));
        }
        if let Ok(dir) = fs::read_dir(self.dir.join("logs")) {
            let mut outs: Vec<PathBuf> = dir.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            outs.sort();
            for p in outs {
                let label = p
                    .file_name()
                    .map(|n| format!("stdout/stderr {}", n.to_string_lossy()))
                    .unwrap_or_default();
                v.push((label, p));
            }
        }
        v
    }

    /// Log tails for error messages.
    pub(crate) fn log_tails(&self) -> String {
        let mut s = String::new();
        for (label, path) in self.log_files().into_iter().take(2) {
            s.push_str(&format!(
                "---- {} {label} ({}) ----\n{}\n",
                self.name,
                path.display(),
                sys::tail(&path, 25)
            ));
        }
        s
    }

    /// Reaps every daemon this process started (after teardown killed them).
    pub(crate) fn reap_all(&mut self) {
        for d in self.spawned_lock().iter_mut() {
            let _ = d.child.try_wait();
        }
        if let Some(h) = self.holder.as_mut() {
            let _ = h.try_wait();
        }
    }
}

/// The first 15 characters of a command name (the kernel's `comm` length).
fn comm_key(name: &str) -> &str {
    name.char_indices()
        .nth(15)
        .map_or(name, |(i, _)| &name[..i])
}

/// Whether `ip -o link show` output has the `UP` flag.
fn link_flags_up(text: &str) -> bool {
    text.find('<')
        .and_then(|a| text[a + 1..].find('>').map(|b| &text[a + 1..a + 1 + b]))
        .is_some_and(|flags| flags.split(',').any(|f| f == "UP"))
}

/// `(interface, address)` pairs from `ip -o -4 addr show` output.
fn parse_ip_addr(text: &str) -> Vec<(String, Ipv4Addr)> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let _index = words.next()?;
            let dev = words.next()?;
            let mut rest = words.skip_while(|w| *w != "inet");
            rest.next()?;
            let addr = rest.next()?.split('/').next()?.parse().ok()?;
            Some((dev.to_string(), addr))
        })
        .collect()
}

fn check_component(what: &str, s: &str) -> Result<(), LabError> {
    if s.is_empty() || s == "." || s == ".." || s.contains('/') || s.contains('\0') {
        Err(LabError::Options(format!("bad {what} {s:?}")))
    } else {
        Ok(())
    }
}

/// Copies `from` to `to` with mode 0755 through a temporary file renamed into place.
pub(crate) fn install_file(from: &Path, to: &Path) -> Result<(), LabError> {
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = to.with_file_name(format!(".{name}.lab-tmp"));
    let what = format!("install {} as {}", from.display(), to.display());
    fs::copy(from, &tmp).map_err(io_err(what.clone()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).map_err(io_err(what.clone()))?;
    fs::rename(&tmp, to).map_err(io_err(what))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn parses_ip_output() {
        let link = "2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP";
        assert!(link_flags_up(link));
        let down = "2: eth0@if5: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN";
        assert!(!link_flags_up(down));
        let addrs = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n\
                     2: eth0    inet 192.0.2.11/24 scope global eth0\\       valid_lft forever\n\
                     2: eth0    inet 192.0.2.101/24 scope global secondary eth0\n";
        assert_eq!(
            parse_ip_addr(addrs),
            [
                ("lo".to_string(), Ipv4Addr::new(127, 0, 0, 1)),
                ("eth0".to_string(), Ipv4Addr::new(192, 0, 2, 11)),
                ("eth0".to_string(), Ipv4Addr::new(192, 0, 2, 101)),
            ]
        );
    }

    #[test]
    fn comm_names_are_cut_like_the_kernel() {
        assert_eq!(comm_key("pacemaker-fenced"), "pacemaker-fence");
        assert_eq!(comm_key("pacemaker-based"), "pacemaker-based");
        assert_eq!(comm_key("ganesha.nfsd"), "ganesha.nfsd");
    }

    #[test]
    fn fail_modes_parse() {
        for m in FailMode::ALL {
            assert_eq!(m.as_str().parse::<FailMode>().unwrap(), m);
            assert_eq!(
                <FailMode as clap::ValueEnum>::to_possible_value(&m)
                    .unwrap()
                    .get_name(),
                m.as_str()
            );
        }
        assert!("melt".parse::<FailMode>().is_err());
    }
}
