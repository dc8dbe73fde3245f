//! `ganesha_nfsd`: the shared state volume, this node's NFSv4 recovery directory on it, and
//! the ganesha.nfsd daemon itself.
//!
//! - start: mount the state volume (when a device is configured; a plain existing
//!   directory is used as-is), prepare the [`crate::recovery`] layout and point the
//!   recovery root at it, start `ganesha.nfsd -F` detached, and return once the daemon
//!   answers on D-Bus.
//! - monitor: the pid file names a live process whose command name is ganesha.nfsd (a
//!   reused pid does not count) and the state volume is still mounted; at `OCF_CHECK_LEVEL`
//!   10 the daemon answers `get_grace` on D-Bus within a bound; at 20 this node's recovery
//!   directory on the volume can also be read within half the budget (a hung mount fails
//!   the monitor instead of blocking it; not at the lower depths, where a peer's crash
//!   stalling the volume for gluster's `network.ping-timeout` must not fail survivors).
//! - stop: D-Bus `shutdown`, then SIGTERM, then SIGKILL, in most of the stop timeout; then
//!   the recovery root is released and, when start mounted it, the volume unmounted in the
//!   rest, whatever state it is in ([`crate::mount::Volume::unmount`]: a busy volume
//!   retried, then a FUSE connection aborted, then a lazy detach). A volume that was mounted
//!   before start (gluster's shared-storage hook mounts it for every gluster feature) stays.
//!   Nothing touches the volume without a bound.
//!   Stopping a stopped resource succeeds.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use ocf::process::{self, Termination};
use ocf::{
    attrs, Action, ActionSpec, Agent, CheckLevel, Context, Deadline, ExitCode, Metadata, OcfError,
    ParamSpec,
};

use crate::daemon::{self, DaemonState};
use crate::dbus::{DbusError, GaneshaAdmin};
use crate::mount::{self, Volume};
use crate::names::{GANESHA_PID_FILE, NFSD_AGENT};
use crate::recovery::{self, Layout};
use crate::state;

static PARAMS: [ParamSpec; 13] = [
    ParamSpec::string("binary")
        .default("/usr/bin/ganesha.nfsd")
        .describe(
            "ganesha.nfsd binary",
            "Full path of the ganesha.nfsd program.",
        ),
    ParamSpec::string("config")
        .default("/etc/ganesha/ganesha.conf")
        .describe(
            "ganesha configuration file",
            "The configuration file passed with -f. Its NFSV4 RecoveryRoot must be the path given \
         in recovery_root, and NFS_CORE_PARAM Clustered should be false so that the daemon \
         keeps its own client records directly in RecoveryRoot/v4recov.",
        ),
    ParamSpec::string("pid_file")
        .default(GANESHA_PID_FILE)
        .describe(
            "pid file",
            "The pid file ganesha.nfsd writes (-p); monitor and stop find the daemon through it.",
        ),
    ParamSpec::string("log_file")
        .default("/var/log/ganesha/ganesha.log")
        .describe(
            "log file",
            "The daemon's log file (-L); start quotes its most severe message when the daemon dies.",
        ),
    ParamSpec::string("options").describe(
        "extra arguments",
        "Further arguments for ganesha.nfsd, separated by white space (no shell quoting), \
         e.g. \"-N NIV_EVENT -E 123\".",
    ),
    ParamSpec::string("state_device").describe(
        "shared state volume",
        "What to mount as the shared state volume (e.g. localhost:/gluster_shared_storage). \
         Empty: state_mount is an existing directory used as it is.",
    ),
    ParamSpec::string("state_fstype").describe(
        "state volume type",
        "File-system type for mount -t (e.g. glusterfs). Empty lets mount decide.",
    ),
    ParamSpec::string("state_options").describe(
        "state volume options",
        "Mount options for mount -o (e.g. _netdev,defaults).",
    ),
    ParamSpec::string("state_mount")
        .default("/run/gluster/shared_storage")
        .describe(
            "state volume mount point",
            "Where the shared state volume is mounted, or the existing shared directory when no \
         state_device is given. Monitor at OCF_CHECK_LEVEL 20 fails when this node's recovery \
         directory there does not answer within half its timeout. Stop unmounts the state_device that start mounted (one \
         that was mounted before start, e.g. by gluster's shared-storage hook, stays) whatever \
         its state: a busy volume is retried for a few seconds, then (FUSE) its connection is \
         aborted through /sys/fs/fuse/connections, then it is detached lazily; the processes holding it are logged.",
        ),
    ParamSpec::string("state_subdir")
        .default("nfs-ganesha")
        .describe(
            "directory on the state volume",
            "The recovery layout lives in <state_mount>/<state_subdir>/<node>/ganesha.",
        ),
    ParamSpec::string("recovery_root")
        .default("/var/lib/nfs/ganesha")
        .describe(
            "ganesha RecoveryRoot",
            "The RecoveryRoot of ganesha.conf (an absolute path). The agent makes it a link to this \
         node's directory on the state volume (a local directory found there is moved aside \
         and restored on stop); monitor checks the link.",
        ),
    ParamSpec::string("node_name").describe(
        "recovery key",
        "The name of this node's recovery directory, which ganesha_grace uses as the grace key \
         on the survivors. Default: the Pacemaker node name.",
    ),
    ParamSpec::integer("dbus_timeout").default("10").describe(
        "D-Bus call bound (s)",
        "Longest wait for one D-Bus call to ganesha.nfsd (also capped by the operation timeout).",
    ),
];

static ACTIONS: [ActionSpec; 6] = [
    ActionSpec::new(Action::Start, 60),
    ActionSpec::new(Action::Stop, 60),
    ActionSpec::new(Action::Monitor, 20).every(10, 0),
    ActionSpec::new(Action::Monitor, 20).every(31, 10),
    ActionSpec::new(Action::ValidateAll, 20),
    ActionSpec::new(Action::MetaData, 5),
];

static METADATA: Metadata = Metadata {
    name: NFSD_AGENT,
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "NFS-Ganesha daemon with shared NFSv4 recovery state",
    longdesc: "Manages ganesha.nfsd for a highly available NFS-Ganesha cluster: mounts the \
               shared state volume, prepares this node's NFSv4 recovery directory on it \
               (<state_mount>/<state_subdir>/<node>/ganesha, with links to every peer so that \
               a survivor can read a failed node's client records), starts the daemon and waits \
               until it answers on D-Bus. Monitor at depth 20 also reads this node's recovery directory \
               on the volume, with a bound, so that a hung or disconnected volume fails it. Stop \
               asks ganesha to shut down over D-Bus, then escalates to SIGTERM and SIGKILL, and \
               unmounts the volume it mounted (one mounted before start stays) even when it is \
               busy, disconnected or hung (aborting a hung \
               FUSE connection, detaching lazily as the last resort), all within the stop \
               timeout; nothing touches the volume without a bound. Use it as a clone together \
               with ganesha_mon and ganesha_grace.",
    params: &PARAMS,
    actions: &ACTIONS,
};

/// Bound on the recovery layout work on the state volume during start and stop.
const STATE_WORK_LIMIT: Duration = Duration::from_secs(10);
/// The daemon's share of the stop budget when there is a volume to unmount after it.
const DAEMON_SHARE: f64 = 0.6;

/// A daemon that was still there after SIGKILL.
#[derive(Debug)]
struct Survived(Pid);

/// The agent.
#[derive(Debug, Default)]
pub struct GaneshaNfsd;

/// The parameters, read and checked.
#[derive(Debug)]
struct Config {
    binary: PathBuf,
    config: PathBuf,
    pid_file: PathBuf,
    log_file: Option<PathBuf>,
    options: Vec<String>,
    volume: Option<Volume>,
    state_mount: PathBuf,
    state_subdir: String,
    recovery_root: Option<PathBuf>,
    node_name: Option<String>,
    dbus_timeout: Duration,
}

fn absolute(ctx: &Context, name: &str) -> Result<Option<PathBuf>, OcfError> {
    match ctx.params().get(name) {
        None => Ok(None),
        Some(value) if Path::new(value).is_absolute() => Ok(Some(PathBuf::from(value))),
        Some(value) => Err(OcfError::configured(
            name,
            format!("must be an absolute path, got '{value}'"),
        )),
    }
}

fn required_path(ctx: &Context, name: &str) -> Result<PathBuf, OcfError> {
    absolute(ctx, name)?.ok_or_else(|| OcfError::configured(name, "must not be empty"))
}

impl Config {
    fn read(ctx: &Context) -> Result<Config, OcfError> {
        let p = ctx.params();
        let state_mount = required_path(ctx, "state_mount")?;
        let volume = p.get("state_device").map(|device| Volume {
            device: device.to_owned(),
            fstype: p.get("state_fstype").map(str::to_owned),
            options: p.get("state_options").map(str::to_owned),
            mount_point: state_mount.clone(),
        });
        let state_subdir = p.get("state_subdir").unwrap_or("nfs-ganesha").to_owned();
        if !recovery::valid_key(&state_subdir) {
            return Err(OcfError::configured(
                "state_subdir",
                format!("must be one directory name, got '{state_subdir}'"),
            ));
        }
        let node_name = p.get("node_name").map(str::to_owned);
        if let Some(name) = &node_name {
            if !recovery::valid_key(name) {
                return Err(OcfError::configured(
                    "node_name",
                    format!("must be one directory name without ':' or spaces, got '{name}'"),
                ));
            }
        }
        let dbus_timeout = p
            .seconds("dbus_timeout")?
            .unwrap_or(Duration::from_secs(10));
        if dbus_timeout.is_zero() {
            return Err(OcfError::configured(
                "dbus_timeout",
                "must be at least 1 second",
            ));
        }
        Ok(Config {
            binary: required_path(ctx, "binary")?,
            config: required_path(ctx, "config")?,
            pid_file: required_path(ctx, "pid_file")?,
            log_file: absolute(ctx, "log_file")?,
            options: p
                .get("options")
                .map(|o| o.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            volume,
            state_mount,
            state_subdir,
            recovery_root: Some(required_path(ctx, "recovery_root")?),
            node_name,
            dbus_timeout,
        })
    }

    fn comm(&self) -> String {
        process::comm_of(&self.binary)
    }

    fn layout(&self, ctx: &Context) -> Result<Layout, OcfError> {
        let node = match &self.node_name {
            Some(name) => name.clone(),
            None => attrs::local_node_name(ctx.on_node(), ctx.deadline()),
        };
        if !recovery::valid_key(&node) {
            return Err(OcfError::InvalidHere(format!(
                "the node name '{node}' cannot name a recovery directory; set node_name"
            )));
        }
        Ok(Layout::new(self.state_mount.join(&self.state_subdir), node))
    }

    /// The command line: `-F` keeps ganesha in the foreground so that the pid we spawn is
    /// the daemon; we detach it ourselves.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("-F")
            .arg("-f")
            .arg(&self.config)
            .arg("-p")
            .arg(&self.pid_file);
        if let Some(log) = &self.log_file {
            cmd.arg("-L").arg(log);
        }
        cmd.args(&self.options);
        cmd
    }
}

impl GaneshaNfsd {
    fn check_installed(cfg: &Config) -> Result<(), OcfError> {
        if !is_executable(&cfg.binary) {
            return Err(OcfError::NotInstalled {
                what: "ganesha.nfsd".into(),
                detail: format!("{} is not an executable file", cfg.binary.display()),
            });
        }
        if let Err(e) = File::open(&cfg.config) {
            return Err(OcfError::NotInstalled {
                what: "the ganesha configuration".into(),
                detail: format!("cannot read {}: {e}", cfg.config.display()),
            });
        }
        if cfg.volume.is_none() && !cfg.state_mount.is_dir() {
            return Err(OcfError::InvalidHere(format!(
                "state_mount {} is not a directory (and no state_device is configured)",
                cfg.state_mount.display()
            )));
        }
        Ok(())
    }

    fn spawn_daemon(cfg: &Config, deadline: Deadline) -> Result<(), OcfError> {
        if let Some(dir) = cfg.pid_file.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| OcfError::io(format!("creating {}", dir.display()), e))?;
        }
        if let Some(dir) = cfg.log_file.as_deref().and_then(Path::parent) {
            fs::create_dir_all(dir)
                .map_err(|e| OcfError::io(format!("creating {}", dir.display()), e))?;
        }
        // A stale pid file would make us wait on the wrong process.
        let _ = fs::remove_file(&cfg.pid_file);
        let mut cmd = cfg.command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Own session: Pacemaker kills the agent's process group on timeout, and the daemon
        // must not be part of it or hold the agent's output pipes.
        // SAFETY: setsid is async-signal-safe and touches nothing of the parent.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(drop)
                    .map_err(std::io::Error::from)
            });
        }
        let cmdline = ocf::command::display(&cmd);
        tracing::info!("starting {cmdline}");
        let mut child = cmd
            .spawn()
            .map_err(|e| OcfError::generic(format!("cannot start {cmdline}: {e}")))?;

        let comm = cfg.comm();
        let waiting = std::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(OcfError::generic(format!(
                    "ganesha.nfsd exited during start ({status}){}",
                    startup_error(cfg.log_file.as_deref(), child.id())
                )));
            }
            if let DaemonState::Running(pid) = daemon::state(&cfg.pid_file, &comm) {
                match answers_as(pid, cfg.dbus_timeout, deadline) {
                    Ok(in_grace) => {
                        tracing::info!(
                            "ganesha.nfsd (pid {pid}) answers on D-Bus (in grace: {in_grace})"
                        );
                        return Ok(());
                    }
                    Err(e) => tracing::debug!("not ready yet: {e}"),
                }
            }
            if deadline.expired() {
                return Err(OcfError::Timeout {
                    what: "ganesha.nfsd start (answering on D-Bus)".into(),
                    after: waiting.elapsed(),
                });
            }
            std::thread::sleep(deadline.bound(pause));
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Stops the daemon within `deadline`; a daemon that survives SIGKILL (blocked in the
    /// kernel, on a hung volume say) is returned for the caller to wait on later.
    fn stop_daemon(cfg: &Config, deadline: Deadline) -> Result<(), Survived> {
        let comm = cfg.comm();
        let pid = match daemon::state(&cfg.pid_file, &comm) {
            DaemonState::Running(pid) => pid,
            DaemonState::Stopped(reason) => {
                tracing::info!("ganesha.nfsd already stopped: {reason}");
                remove_stale_pid_file(&cfg.pid_file, &comm);
                return Ok(());
            }
        };
        // Half the budget for a clean D-Bus shutdown, then TERM, then KILL.
        let clean = deadline.portion(0.5);
        let asked = match GaneshaAdmin::connect(clean.bound(cfg.dbus_timeout))
            .and_then(|admin| admin.shutdown(clean.bound(cfg.dbus_timeout)))
        {
            Ok((true, _)) => {
                tracing::info!("asked ganesha.nfsd (pid {pid}) to shut down");
                true
            }
            Ok((false, error)) => {
                tracing::warn!("ganesha.nfsd refused to shut down: {error}");
                false
            }
            Err(e) => {
                tracing::warn!("D-Bus shutdown of ganesha.nfsd failed: {e}");
                false
            }
        };
        // A daemon that did not take the shutdown (hung, or refusing) will not exit on its
        // own: go on to the signals at once rather than wait out the clean half.
        if asked && process::wait_for_exit(pid, clean) {
            tracing::info!("ganesha.nfsd (pid {pid}) exited");
        } else {
            let term = deadline.portion(0.6);
            match process::terminate(pid, &[(Signal::SIGTERM, term)], deadline) {
                Termination::Survived => {
                    tracing::warn!(
                        "ganesha.nfsd (pid {pid}) survived SIGTERM and SIGKILL so far; \
                         unmounting the state volume first"
                    );
                    return Err(Survived(pid));
                }
                other => tracing::info!("ganesha.nfsd (pid {pid}) ended: {other:?}"),
            }
        }
        remove_stale_pid_file(&cfg.pid_file, &comm);
        Ok(())
    }
}

/// Asks the daemon for `get_grace` and checks that the answer comes from `pid`: another
/// ganesha.nfsd owning the bus name (a second instance, a leftover) must not make a daemon
/// that is about to fail look ready.
fn answers_as(pid: Pid, limit: Duration, deadline: Deadline) -> Result<bool, DbusError> {
    let admin = GaneshaAdmin::connect(deadline.bound(limit))?;
    let owner = admin.owner_pid(deadline.bound(limit))?;
    if i64::from(owner) != i64::from(pid.as_raw()) {
        return Err(DbusError::Failed(format!(
            "org.ganesha.nfsd belongs to pid {owner}, not to ganesha.nfsd pid {pid}"
        )));
    }
    admin.get_grace(deadline.bound(limit))
}

fn remove_stale_pid_file(pid_file: &Path, comm: &str) {
    if let DaemonState::Stopped(_) = daemon::state(pid_file, comm) {
        match fs::remove_file(pid_file) {
            Ok(()) => tracing::debug!("removed {}", pid_file.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove {}: {e}", pid_file.display()),
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Why a daemon died during start, from its own log lines (ganesha writes
/// `... ganesha.nfsd-<pid>[thread] function :COMPONENT :LEVEL :message`). Pacemaker cuts exit
/// reasons short, so the most severe message comes first; the last lines go to the log.
fn startup_error(log: Option<&Path>, pid: u32) -> String {
    let Some(path) = log else {
        return String::new();
    };
    let Ok(text) = fs::read_to_string(path) else {
        return String::new();
    };
    let tag = format!("ganesha.nfsd-{pid}[");
    let own: Vec<&str> = text.lines().filter(|l| l.contains(&tag)).collect();
    for line in own.iter().rev().take(5).rev() {
        tracing::error!("ganesha.nfsd: {line}");
    }
    let message = |line: &str, level: &str| {
        let token = format!(":{level} :");
        line.find(&token)
            .map(|i| line[i + token.len()..].trim().to_owned())
    };
    let severe = own.iter().rev().find_map(|l| {
        ["FATAL", "CRIT", "MAJ"]
            .iter()
            .find_map(|level| message(l, level))
    });
    match severe {
        Some(msg) => format!(": {msg} (see {})", path.display()),
        None => format!(" (see {})", path.display()),
    }
}

/// The state-file key naming the mount point start mounted itself.
const MOUNTED_BY_START: &str = "mounted_by_start";

/// Notes whether start mounted the state volume, so that stop unmounts only what start
/// mounted (per boot: the state file lives under `HA_RSCTMP`).
fn record_mount(ctx: &Context, volume: &Volume, mounted: mount::Mounted) -> Result<(), OcfError> {
    let file = ctx.state_file(NFSD_AGENT);
    let result = match mounted {
        mount::Mounted::Now => state::write(
            &file,
            &[(
                MOUNTED_BY_START.to_owned(),
                volume.mount_point.display().to_string(),
            )]
            .into_iter()
            .collect(),
        ),
        // Adopting a mount that was there already: never take over its unmount, but keep
        // a note from an earlier start of ours that mounted it.
        mount::Mounted::Already if mounted_by_start(ctx, volume) => Ok(()),
        mount::Mounted::Already => state::remove(&file),
    };
    result.map_err(|e| OcfError::io(format!("writing {}", file.display()), e))
}

fn mounted_by_start(ctx: &Context, volume: &Volume) -> bool {
    state::read(&ctx.state_file(NFSD_AGENT))
        .ok()
        .flatten()
        .and_then(|entries| entries.get(MOUNTED_BY_START).cloned())
        .is_some_and(|at| Path::new(&at) == volume.mount_point)
}

fn forget_mount(ctx: &Context) -> Result<(), OcfError> {
    let file = ctx.state_file(NFSD_AGENT);
    state::remove(&file).map_err(|e| OcfError::io(format!("removing {}", file.display()), e))
}

impl Agent for GaneshaNfsd {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn validate(&self, ctx: &Context) -> Result<(), OcfError> {
        let cfg = Config::read(ctx)?;
        // Level 0 must not inspect the local environment (OCF 1.1, validate-all); start
        // always does.
        if ctx.action() == Action::Start || ctx.check_level() >= CheckLevel::THOROUGH {
            Self::check_installed(&cfg)?;
        }
        Ok(())
    }

    fn start(&self, ctx: &Context) -> Result<(), OcfError> {
        let cfg = Config::read(ctx)?;
        let deadline = ctx.deadline();
        if let Some(volume) = &cfg.volume {
            let mounted = volume.mount(deadline)?;
            record_mount(ctx, volume, mounted)?;
        }
        let layout = cfg.layout(ctx)?;
        // On the volume: bounded, a hung mount must fail the start, not block it.
        let preparing = layout.clone();
        let peers = mount::bounded_io(
            &format!(
                "preparing the recovery directory {}",
                layout.node_dir().display()
            ),
            deadline.bound(STATE_WORK_LIMIT),
            move || preparing.prepare(),
        )?;
        tracing::info!(
            "recovery directory {} ready, linked to peers {peers:?}",
            layout.node_dir().display()
        );
        if let Some(root) = &cfg.recovery_root {
            let (attaching, link) = (layout.clone(), root.clone());
            mount::bounded_io(
                &format!("pointing {} at the state volume", root.display()),
                deadline.bound(STATE_WORK_LIMIT),
                move || attaching.attach(&link),
            )?;
        }
        match daemon::state(&cfg.pid_file, &cfg.comm()) {
            DaemonState::Running(pid) => {
                tracing::info!("ganesha.nfsd already running (pid {pid})");
                Ok(())
            }
            DaemonState::Stopped(_) => Self::spawn_daemon(&cfg, deadline),
        }
    }

    fn stop(&self, ctx: &Context) -> Result<(), OcfError> {
        let cfg = Config::read(ctx)?;
        let deadline = ctx.deadline();
        // The daemon gets most of the budget, the unmount keeps the rest: its last resorts
        // (aborting a hung FUSE connection, a lazy detach) take a few seconds at most.
        let daemon_budget = match cfg.volume {
            Some(_) => deadline.portion(DAEMON_SHARE),
            None => deadline,
        };
        let daemon = Self::stop_daemon(&cfg, daemon_budget);
        if let Some(root) = &cfg.recovery_root {
            match cfg.layout(ctx) {
                Ok(layout) => {
                    // Only local paths, unless the recovery root was put on the volume
                    // itself: bounded all the same.
                    let link = root.clone();
                    if let Err(e) = mount::bounded_io(
                        &format!("restoring {}", root.display()),
                        deadline.bound(STATE_WORK_LIMIT),
                        move || layout.release(&link),
                    ) {
                        tracing::warn!("{e}");
                    }
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
        if let Some(volume) = &cfg.volume {
            if mounted_by_start(ctx, volume) {
                volume.unmount(deadline)?;
                forget_mount(ctx)?;
            } else if mount::find(&volume.mount_point)?.is_some() {
                // Other users of the volume (gluster's shared storage serves geo-replication
                // and the snapshot scheduler too) keep what they mounted.
                tracing::info!(
                    "{} was mounted before start; left mounted",
                    volume.mount_point.display()
                );
            }
        }
        match daemon {
            // A daemon blocked on the hung volume dies once the unmount has aborted its
            // requests.
            Err(Survived(pid)) if process::wait_for_exit(pid, deadline) => {
                tracing::info!("ganesha.nfsd (pid {pid}) exited once the volume was gone");
                remove_stale_pid_file(&cfg.pid_file, &cfg.comm());
                Ok(())
            }
            Err(Survived(pid)) => Err(OcfError::generic(format!(
                "ganesha.nfsd (pid {pid}) survived SIGTERM and SIGKILL"
            ))),
            Ok(()) => Ok(()),
        }
    }

    fn monitor(&self, ctx: &Context) -> Result<ExitCode, OcfError> {
        let cfg = Config::read(ctx)?;
        let pid = match daemon::state(&cfg.pid_file, &cfg.comm()) {
            DaemonState::Running(pid) => pid,
            DaemonState::Stopped(reason) => return Err(OcfError::NotRunning(reason)),
        };
        if let Some(volume) = &cfg.volume {
            if mount::find(&volume.mount_point)?.is_none() {
                return Err(OcfError::generic(format!(
                    "ganesha.nfsd (pid {pid}) runs but the state volume is not mounted on {}",
                    volume.mount_point.display()
                )));
            }
        }
        // The resource is the daemon *with* its recovery root on the shared layout: a daemon
        // started outside the cluster (a system service) is not this resource until start
        // has attached the layout, and a link that disappeared means takeover would find no
        // records. A probe then says "not running", so that Pacemaker runs start, which
        // prepares the layout and adopts the daemon.
        let layout = cfg.layout(ctx)?;
        if let Some(root) = &cfg.recovery_root {
            // A local link: reading it does not touch the volume.
            if std::fs::read_link(root).ok() != Some(layout.node_dir()) {
                let problem = format!(
                    "ganesha.nfsd (pid {pid}) runs but {} does not point to {}",
                    root.display(),
                    layout.node_dir().display()
                );
                return Err(if ctx.is_probe() {
                    OcfError::NotRunning(problem)
                } else {
                    OcfError::generic(problem)
                });
            }
        }
        // At depth 20 only: the volume answers, this node's recovery directory can be read
        // within half the budget (a hung mount blocks whoever touches it; the D-Bus check
        // needs the rest). Not at the depths setup configures: a crashed gluster peer stalls
        // every client of the volume for network.ping-timeout, and a monitor failing then
        // would restart every survivor's daemon in the middle of the failover.
        if ctx.check_level() >= CheckLevel::DEEP {
            let probe = ctx.deadline().portion(0.5).remaining();
            mount::probe_dir(&layout.node_dir(), probe).map_err(|e| {
                OcfError::generic(format!(
                    "ganesha.nfsd (pid {pid}) runs but its recovery directory on the state \
                     volume does not answer: {e}"
                ))
            })?;
        }
        if ctx.check_level() >= CheckLevel::THOROUGH {
            answers_as(pid, cfg.dbus_timeout, ctx.deadline()).map_err(|e| match e {
                DbusError::TimedOut(after) => OcfError::Timeout {
                    what: format!("ganesha.nfsd (pid {pid}) D-Bus get_grace"),
                    after,
                },
                other => OcfError::generic(format!(
                    "ganesha.nfsd (pid {pid}) does not answer on D-Bus: {other}"
                )),
            })?;
        }
        Ok(ExitCode::Success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_error_leads_with_the_dying_daemons_most_severe_message() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let log = dir.path().join("ganesha.log");
        let text = "\
21/11/2026 05:47:59 : epoch 1 : vm : ganesha.nfsd-100[main] main :MAIN :CRIT :an older run\n\
21/11/2026 05:47:59 : epoch 1 : vm : ganesha.nfsd-200[main] gsh_dbus_pkginit :DBUS :CRIT :server failed becoming primary bus owner (org.ganesha.nfsd, 2)\n\
21/11/2026 05:47:59 : epoch 1 : vm : ganesha.nfsd-200[main] Bind_sockets_V6 :DISP :WARN :Cannot bind NFS tcp6 socket, error 98 (Address already in use)\n";
        let _ = fs::write(&log, text);
        let reason = startup_error(Some(&log), 200);
        assert!(
            reason.starts_with(
                ": server failed becoming primary bus owner (org.ganesha.nfsd, 2) (see "
            ),
            "{reason}"
        );
        assert_eq!(startup_error(None, 200), "");
    }
}
