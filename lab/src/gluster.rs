//! A node as a GlusterFS server: its own gluster state, its glusterd, the gluster CLI inside
//! it, its brick processes, FUSE mounts of volumes and the shared storage mount.
//!
//! A gluster node's state is its own: `/var/lib/glusterd` (seeded with the host's `hooks`,
//! which mount the shared storage, and `groups`), `/var/log/glusterfs` and `/var/lib/misc`
//! are bind mounts of directories under [`Node::dir`], `/run/gluster` is in its own `/run`;
//! `/etc/hosts` is the host's plus every lab node's name (the shared storage hook names
//! bricks and mounts by the node's hostname) and `/etc/fstab` a copy (the hook appends its
//! mount there; its rename onto a bind-mounted file fails, which leaves the host's untouched).
//! Bricks are `<node dir>/bricks/<volume>`. Every process glusterd daemonizes (bricks,
//! self-heal, FUSE clients) stays in the node's network namespace, which is how the lab finds
//! and kills them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::thread;
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::util::run_checked;
use crate::{io_err, sys, LabError, Node};

/// The lab's data volume (what FSAL_GLUSTER exports).
pub const DATA_VOLUME: &str = "data";
/// The shared storage volume and its mount point, as `ganesha-ha` knows them.
pub use ganesha_ha::gluster::{SHARED_STORAGE_MOUNT, SHARED_STORAGE_VOLUME};
/// `network.ping-timeout` of the lab's volumes, in seconds, instead of glusterfs's 42: how
/// long a client of a crashed node's brick blocks before it gives up on it (why the lab sets
/// it: `lab/src/lab/gluster.rs`).
pub const PING_TIMEOUT: u32 = 10;
/// glusterd (command name).
pub const GLUSTERD: &str = "glusterd";
/// A brick process (command name).
pub const GLUSTERFSD: &str = "glusterfsd";
/// A gluster client: FUSE mount, self-heal daemon (command name).
pub const GLUSTERFS: &str = "glusterfs";

/// glusterd's working directory: (directory under [`Node::dir`], path inside the node).
const STATE_DIR: (&str, &str) = ("var-lib-glusterd", "/var/lib/glusterd");
/// Per-node directories bind-mounted inside the node: (directory under [`Node::dir`], path
/// inside). `/var/lib/misc` as a whole: the host has no `/var/lib/misc/gluster` to bind onto.
const GLUSTER_BINDS: &[(&str, &str)] = &[
    STATE_DIR,
    ("var-log-glusterfs", "/var/log/glusterfs"),
    ("var-lib-misc", "/var/lib/misc"),
];
/// What each node's `/var/lib/glusterd` starts with, from the host's.
const SEEDED: &[&str] = &["hooks", "groups"];
/// Per-node files bind-mounted over the host's: (file under [`Node::dir`], path inside).
const HOSTS_FILE: (&str, &str) = ("etc-hosts", "/etc/hosts");
const FSTAB_FILE: (&str, &str) = ("etc-fstab", "/etc/fstab");
/// Brick directories under [`Node::dir`].
const BRICKS_DIR: &str = "bricks";
/// The shared storage brick glusterfs's hook uses, inside the node.
const SHARED_STORAGE_BRICK: &str = "/var/lib/glusterd/ss_brick";

/// glusterd's pid file, inside the node.
const GLUSTERD_PID_FILE: &str = "/run/gluster/glusterd.pid";
/// The socket the CLI talks to glusterd on, inside the node.
const GLUSTERD_SOCKET: &str = "/run/glusterd.socket";
/// The file system type of a FUSE-mounted volume in mountinfo.
const FUSE_GLUSTERFS: &str = "fuse.glusterfs";
/// Directories created in a gluster node's `/run` tmpfs.
pub(crate) const GLUSTER_RUN_DIRS: &[&str] = &["gluster"];

/// Bound on one gluster CLI call (`volume start` takes a few seconds).
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on glusterd answering after it started.
pub(crate) const GLUSTERD_WAIT: Duration = Duration::from_secs(30);
/// Bound on a FUSE mount or unmount.
const MOUNT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on a killed brick being gone (reaped: glusterd takes a zombie for a running brick)
/// and on a restarted one running.
const BRICK_WAIT: Duration = Duration::from_secs(20);

/// What `gluster volume info VOLUME` says about a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// `Replicate`, `Distribute`, ...
    pub kind: String,
    /// `Created`, `Started`, `Stopped`.
    pub status: String,
    /// `Number of Bricks`: `1 x 3 = 3`, `1`, ...
    pub layout: String,
    /// The bricks, `host:path`, in order.
    pub bricks: Vec<String>,
}

impl Node {
    /// Runs `gluster --mode=script args...` inside the node (its own glusterd), bounded.
    pub fn gluster(&self, args: &[&str]) -> Result<Output, LabError> {
        let mut all = vec!["--mode=script"];
        all.extend_from_slice(args);
        self.run_timeout(self.tools.get("gluster"), &all, CLI_TIMEOUT)
    }

    /// `gluster volume info VOLUME`, parsed.
    pub fn volume_info(&self, volume: &str) -> Result<VolumeInfo, LabError> {
        let out = self.gluster(&["volume", "info", volume])?;
        parse_volume_info(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| {
            LabError::Setup(format!(
                "{}: unexpected `gluster volume info {volume}` output",
                self.name
            ))
        })
    }

    /// The node's peers as its glusterd sees them (`gluster peer status`): (hostname, state),
    /// state being e.g. `Peer in Cluster (Connected)`.
    pub fn gluster_peers(&self) -> Result<Vec<(String, String)>, LabError> {
        let out = self.gluster(&["peer", "status"])?;
        Ok(parse_peer_status(&String::from_utf8_lossy(&out.stdout)))
    }

    /// The node's brick processes (`glusterfsd`) of `volume`.
    pub fn brick_pids(&self, volume: &str) -> Vec<Pid> {
        self.raw_named(GLUSTERFSD)
            .into_iter()
            .filter(|&p| brick_volume(&cmdline(p)).as_deref() == Some(volume))
            .map(Pid::from_raw)
            .collect()
    }

    /// SIGKILLs the node's brick processes of `volume` (a brick crash: the volume's other
    /// replicas keep serving) and waits until they are gone; returns their pids.
    /// `gluster volume start VOLUME force` (or [`Node::heal`]) starts them again.
    pub fn kill_brick(&self, volume: &str) -> Result<Vec<Pid>, LabError> {
        let pids = self.brick_pids(volume);
        if pids.is_empty() {
            return Err(LabError::Setup(format!(
                "{}: no brick of volume {volume} runs in the node",
                self.name
            )));
        }
        let raw: Vec<i32> = pids.iter().map(|p| p.as_raw()).collect();
        self.kill_and_wait(&raw)?;
        // glusterd takes a brick whose pid still exists (a zombie not yet reaped by the
        // host's init) for a running one and would not restart it.
        wait_bounded(
            &format!("killed bricks {raw:?} to be reaped"),
            BRICK_WAIT,
            || {
                raw.iter()
                    .all(|p| !Path::new(&format!("/proc/{p}")).exists())
            },
        )?;
        Ok(pids)
    }

    /// Mounts `volume` (FUSE, served by this node's glusterd) at `at` inside the node. `at`
    /// is created when missing; it must be in the node's own `/run` or under [`Node::dir`]
    /// (anywhere else is the host's file system).
    pub fn mount_volume(&self, volume: &str, at: &Path) -> Result<(), LabError> {
        if !(at.starts_with("/run/") || at.starts_with(&self.dir)) {
            return Err(LabError::Options(format!(
                "{}: mount point {} is not in the node's /run or under {}",
                self.name,
                at.display(),
                self.dir.display()
            )));
        }
        let dir = self.host_path(at);
        fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
        let source = format!("{}:/{volume}", self.addr);
        let at = at.to_string_lossy();
        self.run_timeout(
            self.tools.get("mount"),
            &["-t", "glusterfs", &source, &at],
            MOUNT_TIMEOUT,
        )
        .map(drop)
    }

    /// Unmounts `at` inside the node.
    pub fn unmount(&self, at: &Path) -> Result<(), LabError> {
        let at = at.to_string_lossy();
        self.run_timeout(self.tools.get("umount"), &[&at], MOUNT_TIMEOUT)
            .map(drop)
    }

    /// The node's FUSE mounts of gluster volumes (fstype `fuse.glusterfs` in
    /// `/proc/<holder>/mountinfo`), mount points as seen inside the node. A mount whose
    /// client was killed (a crash) is still listed until it is unmounted.
    pub fn glusterfs_mounts(&self) -> Vec<PathBuf> {
        if !self.holder_alive() {
            return Vec::new();
        }
        let info =
            fs::read_to_string(format!("/proc/{}/mountinfo", self.holder_pid)).unwrap_or_default();
        mounts_of_type(&info, FUSE_GLUSTERFS)
    }

    /// Whether the shared storage is mounted at [`SHARED_STORAGE_MOUNT`] (fstype
    /// `fuse.glusterfs`) in the node and its FUSE client runs.
    pub fn shared_storage_mounted(&self) -> bool {
        let at = Path::new(SHARED_STORAGE_MOUNT);
        self.glusterfs_mounts().iter().any(|m| m == at) && self.fuse_client_runs(at)
    }

    /// Whether a `glusterfs` FUSE client of the node serves mount point `at`.
    fn fuse_client_runs(&self, at: &Path) -> bool {
        !self.fuse_client_pids(at).is_empty()
    }

    /// The node's `glusterfs` FUSE clients serving mount point `at` (their last argument);
    /// looked up by pid, so a hung mount cannot block the question. Stopping one
    /// (`SIGSTOP`, [`Node::kill`]) makes the mount hang for every process in the node.
    pub fn fuse_client_pids(&self, at: &Path) -> Vec<Pid> {
        self.raw_named(GLUSTERFS)
            .into_iter()
            .filter(|&p| cmdline(p).last().is_some_and(|a| Path::new(a) == at))
            .map(Pid::from_raw)
            .collect()
    }

    /// The node's own gluster state and files (see the module documentation), bind-mounted
    /// inside it; `hosts` are the `/etc/hosts` lines naming every lab node.
    pub(crate) fn prepare_gluster(&self, hosts: &str) -> Result<(), LabError> {
        let mount = self.tools.get("mount");
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let mut binds = Vec::new();
        for &(sub, target) in GLUSTER_BINDS {
            let own = self.dir.join(sub);
            let what = || format!("prepare {} for {target}", own.display());
            fs::create_dir(&own).map_err(io_err(what()))?;
            if Path::new(target).is_dir() {
                sys::mirror_attrs(Path::new(target), &own).map_err(io_err(what()))?;
            }
            binds.push((own, target));
        }
        let state = self.dir.join(STATE_DIR.0);
        for sub in SEEDED {
            let from = Path::new(STATE_DIR.1).join(sub);
            let to = state.join(sub);
            let what = || format!("copy {} to {}", from.display(), to.display());
            fs::create_dir(&to).map_err(io_err(what()))?;
            sys::copy_tree(&from, &to, 2000).map_err(io_err(what()))?;
            sys::mirror_attrs(&from, &to).map_err(io_err(what()))?;
        }
        let bricks = self.dir.join(BRICKS_DIR);
        fs::create_dir(&bricks).map_err(io_err(format!("create {}", bricks.display())))?;
        let host_hosts = fs::read_to_string(HOSTS_FILE.1).unwrap_or_default();
        for ((file, target), text) in [
            (HOSTS_FILE, format!("{}\n{hosts}", host_hosts.trim_end())),
            (
                FSTAB_FILE,
                fs::read_to_string(FSTAB_FILE.1).unwrap_or_default(),
            ),
        ] {
            let own = self.dir.join(file);
            fs::write(&own, text).map_err(io_err(format!("write {}", own.display())))?;
            binds.push((own, target));
        }
        for (own, target) in &binds {
            self.run_setup(mount, &["--bind", &s(own), target])?;
        }
        Ok(())
    }

    /// Starts glusterd in the node (clean environment, as its unit does); returns its pid.
    pub(crate) fn start_glusterd(&self) -> Result<u32, LabError> {
        let socket = self.host_path(GLUSTERD_SOCKET);
        if socket.exists() {
            fs::remove_file(&socket).map_err(io_err(format!("remove {}", socket.display())))?;
        }
        self.start_daemon(
            GLUSTERD,
            self.tools.get("glusterd"),
            &["-N", "-p", GLUSTERD_PID_FILE],
            &[("HOME", "/root")],
        )
    }

    /// Waits until glusterd `pid` answers the CLI.
    pub(crate) fn wait_glusterd(&self, pid: u32, limit: Duration) -> Result<(), LabError> {
        let socket = self.host_path(GLUSTERD_SOCKET);
        self.wait_daemon("glusterd to answer", GLUSTERD, pid, limit, || {
            socket.exists() && self.gluster(&["pool", "list"]).is_ok()
        })
    }

    /// Mounts the shared storage at [`SHARED_STORAGE_MOUNT`], as the hook (or, at boot, its
    /// fstab line) does.
    pub(crate) fn mount_shared_storage(&self) -> Result<(), LabError> {
        self.mount_volume(SHARED_STORAGE_VOLUME, Path::new(SHARED_STORAGE_MOUNT))
    }

    /// A gluster node's part of a boot: glusterd when it does not run, the node's missing
    /// bricks (`volume start VOLUME force`), the shared storage mount. Returns what it
    /// started.
    pub(crate) fn boot_gluster(&self) -> Result<Vec<&'static str>, LabError> {
        let mut started = Vec::new();
        if self.raw_named(GLUSTERD).is_empty() {
            let pid = self.start_glusterd()?;
            self.wait_glusterd(pid, GLUSTERD_WAIT)?;
            started.push(GLUSTERD);
        }
        let out = self.gluster(&["volume", "list"])?;
        for volume in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let info = self.volume_info(volume)?;
            let mine = info.bricks.iter().any(|b| self.is_brick_host(b));
            if info.status != "Started" || !mine || !self.brick_pids(volume).is_empty() {
                continue;
            }
            self.gluster(&["volume", "start", volume, "force"])?;
            wait_bounded(
                &format!("a brick of {volume} on {}", self.name),
                BRICK_WAIT,
                || !self.brick_pids(volume).is_empty(),
            )?;
            started.push(GLUSTERFSD);
        }
        let has_shared_storage = self
            .gluster(&["volume", "info", SHARED_STORAGE_VOLUME])
            .is_ok();
        if has_shared_storage && !self.shared_storage_mounted() {
            let at = Path::new(SHARED_STORAGE_MOUNT);
            if self.glusterfs_mounts().iter().any(|m| m == at) {
                // Its client is gone: a dead FUSE mount only answers ENOTCONN.
                run_checked(
                    self.command(self.tools.get("umount"))
                        .args(["-l", SHARED_STORAGE_MOUNT]),
                    MOUNT_TIMEOUT,
                )?;
            }
            self.mount_shared_storage()?;
            started.push(GLUSTERFS);
        }
        Ok(started)
    }

    /// Whether brick `host:path` is on this node (named by its address or its hostname).
    fn is_brick_host(&self, brick: &str) -> bool {
        brick
            .split_once(':')
            .is_some_and(|(host, _)| host == self.name || host == self.addr.to_string())
    }

    /// Lazily unmounts every FUSE mount of a gluster volume in the node (so that no process
    /// blocks on a client that is killed next); returns what failed.
    pub(crate) fn unmount_glusterfs(&self) -> Vec<String> {
        let umount = self.tools.get("umount");
        self.glusterfs_mounts()
            .into_iter()
            .filter_map(|m| {
                let at = m.to_string_lossy().into_owned();
                run_checked(self.command(umount).args(["-l", &at]), MOUNT_TIMEOUT)
                    .err()
                    .map(|e| format!("{}: {e}", self.name))
            })
            .collect()
    }
}

/// The brick path of `volume` on the node at `dir` (the same inside the node).
pub(crate) fn brick_path(dir: &Path, volume: &str) -> PathBuf {
    dir.join(BRICKS_DIR).join(volume)
}

/// The shared storage brick of a one-node lab, `address:path`, where glusterfs's hook would
/// put it.
pub(crate) fn shared_storage_brick(addr: &str) -> String {
    format!("{addr}:{SHARED_STORAGE_BRICK}")
}

/// The NUL-separated command line of a process (empty when it is gone).
fn cmdline(pid: i32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The volume a `glusterfsd` serves, from its `--volfile-id VOLUME.HOST.PATH` (volume names
/// have no dots).
fn brick_volume(args: &[String]) -> Option<String> {
    let i = args.iter().position(|a| a == "--volfile-id")?;
    let id = args.get(i + 1)?;
    id.split_once('.').map(|(v, _)| v.to_string())
}

/// Mount points (unescaped) of the mounts of file system type `fstype` in a mountinfo text.
fn mounts_of_type(info: &str, fstype: &str) -> Vec<PathBuf> {
    info.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split(' ').next() == Some(fstype))
                .then(|| left.split(' ').nth(4).map(sys::unescape_mountinfo))
                .flatten()
                .map(PathBuf::from)
        })
        .collect()
}

/// `gluster volume info VOLUME` text.
fn parse_volume_info(text: &str) -> Option<VolumeInfo> {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    };
    let bricks = text
        .lines()
        .filter_map(|l| {
            let (key, value) = l.trim().split_once(": ")?;
            let n = key.strip_prefix("Brick")?;
            (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit())).then(|| value.to_string())
        })
        .collect();
    Some(VolumeInfo {
        kind: field("Type")?,
        status: field("Status")?,
        layout: field("Number of Bricks")?,
        bricks,
    })
}

/// `gluster peer status` text: (hostname, state).
fn parse_peer_status(text: &str) -> Vec<(String, String)> {
    let mut peers = Vec::new();
    let mut host = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("Hostname:") {
            host = Some(h.trim().to_string());
        } else if let Some(s) = line.strip_prefix("State:") {
            if let Some(h) = host.take() {
                peers.push((h, s.trim().to_string()));
            }
        }
    }
    peers
}

/// Polls `done` every 100 ms up to `limit`.
pub(crate) fn wait_bounded(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<Duration, LabError> {
    let start = Instant::now();
    loop {
        if done() {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            return Err(LabError::Timeout {
                what: what.to_string(),
                waited: start.elapsed(),
                detail: String::new(),
            });
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn parses_volume_info() {
        let text = " \nVolume Name: data\nType: Replicate\nVolume ID: 3ba6\nStatus: Started\n\
                    Snapshot Count: 0\nNumber of Bricks: 1 x 3 = 3\nTransport-type: tcp\n\
                    Bricks:\nBrick1: 192.0.2.11:/l/node1/bricks/data\n\
                    Brick2: 192.0.2.12:/l/node2/bricks/data\nBrick3: node3:/l/node3/bricks/data\n\
                    Options Reconfigured:\nnfs.disable: on\n";
        let info = parse_volume_info(text).unwrap();
        assert_eq!(info.kind, "Replicate");
        assert_eq!(info.status, "Started");
        assert_eq!(info.layout, "1 x 3 = 3");
        assert_eq!(
            info.bricks,
            [
                "192.0.2.11:/l/node1/bricks/data",
                "192.0.2.12:/l/node2/bricks/data",
                "node3:/l/node3/bricks/data"
            ]
        );
        assert_eq!(
            parse_volume_info("Volume gluster_shared_storage does not exist"),
            None
        );
    }

    #[test]
    fn parses_peer_status() {
        let text = "Number of Peers: 2\n\nHostname: 192.0.2.12\nUuid: f8fa\n\
                    State: Peer in Cluster (Connected)\n\nHostname: node1\nUuid: 847a\n\
                    State: Accepted peer request (Connected)\n";
        assert_eq!(
            parse_peer_status(text),
            [
                ("192.0.2.12".into(), "Peer in Cluster (Connected)".into()),
                ("node1".into(), "Accepted peer request (Connected)".into())
            ]
        );
    }

    #[test]
    fn finds_a_bricks_volume_and_fuse_mounts() {
        let args: Vec<String> = [
            "/usr/sbin/glusterfsd",
            "-s",
            "192.0.2.12",
            "--volfile-id",
            "gluster_shared_storage.192.0.2.12.var-lib-glusterd-ss_brick",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            brick_volume(&args).as_deref(),
            Some("gluster_shared_storage")
        );
        assert_eq!(brick_volume(&args[..3]), None);
        let info = "164 45 0:54 / /run/gluster/shared_storage rw,relatime - fuse.glusterfs \
                    node1:/gluster_shared_storage rw,user_id=0\n\
                    45 30 0:40 / /run rw - tmpfs tmpfs rw\n\
                    170 45 0:60 / /l/node1/mnt\\040x rw - fuse.glusterfs 192.0.2.11:/data rw\n";
        assert_eq!(
            mounts_of_type(info, FUSE_GLUSTERFS),
            [
                PathBuf::from("/run/gluster/shared_storage"),
                PathBuf::from("/l/node1/mnt x")
            ]
        );
    }
}
