//! The shared state volume: is it mounted, does it answer, mount it, unmount it, each bounded
//! in time. The `mount`/`umount` programs are used (not the syscalls) so that helpers such as
//! `mount.glusterfs` work as they do for an administrator.
//!
//! A network file system can hang (a FUSE client stopped, a server gone without a reset):
//! then any `stat`, `readlink` or `open` under the mount point blocks, in-process or not.
//! Nothing here touches the volume outside [`within`] (a worker thread the caller stops
//! waiting for) or a bounded `umount --no-canonicalize` (plain `umount` stats the path
//! first); whether it is mounted comes from `/proc/self/mountinfo`, which never blocks.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ocf::command;
use ocf::{Deadline, OcfError};

/// Bound on one `umount` (with `--no-canonicalize` it does not touch the file system).
const UMOUNT_LIMIT: Duration = Duration::from_secs(5);
/// A busy volume is retried this long at most before the last resorts.
const BUSY_PATIENCE: Duration = Duration::from_secs(5);
/// Bound on asking a volume whether it answers during stop (only for the log, and to skip
/// the busy retries when it does not).
const STOP_PROBE_LIMIT: Duration = Duration::from_secs(1);
/// How long an unmount is retried after aborting a FUSE connection, while the requests
/// that were blocked fail and release the mount.
const AFTER_ABORT: Duration = Duration::from_secs(1);
/// Where the kernel's FUSE control file system is (systemd mounts it there).
const FUSECTL: &str = "/sys/fs/fuse/connections";
/// At most this many processes holding the volume are named in the log.
const HOLDERS_SHOWN: usize = 8;

/// One line of `/proc/self/mountinfo`, the fields we need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
    /// `st_dev` of the file system, from field 3 (`major:minor`): for FUSE the minor is the
    /// connection's number under `/sys/fs/fuse/connections`, found without a `stat`.
    pub major: u32,
    pub minor: u32,
}

impl MountEntry {
    /// Whether this is a FUSE mount (`fuse`, `fuseblk`, `fuse.<subtype>`).
    pub fn is_fuse(&self) -> bool {
        self.fstype == "fuse" || self.fstype == "fuseblk" || self.fstype.starts_with("fuse.")
    }
}

/// Parses mountinfo (proc(5)): field 3 is `major:minor`, field 5 the mount point, then after
/// the `-` separator the file-system type and the source. Octal escapes (`\040` for space)
/// are decoded. Lines that do not have these fields are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            let (major, minor) = parse_dev(fields.get(2)?)?;
            Some(MountEntry {
                mount_point: PathBuf::from(unescape(fields.get(4)?)),
                fstype: unescape(fields.get(sep + 1)?),
                source: unescape(fields.get(sep + 2)?),
                major,
                minor,
            })
        })
        .collect()
}

/// `major:minor`, both decimal.
fn parse_dev(field: &str) -> Option<(u32, u32)> {
    let (major, minor) = field.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() && field.is_char_boundary(i + 4) {
            let digits = &field[i + 1..i + 4];
            if let Ok(value) = u8::from_str_radix(digits, 8) {
                out.push(value);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount on `mount_point`, if any (the last one wins, as the kernel shows it).
pub fn find(mount_point: &Path) -> Result<Option<MountEntry>, OcfError> {
    let text = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| OcfError::io("reading /proc/self/mountinfo", e))?;
    Ok(parse_mountinfo(&text)
        .into_iter()
        .rev()
        .find(|m| m.mount_point == mount_point))
}

/// Runs `work` on a worker thread and waits for it at most `bound`: `None` when it did not
/// finish (it may be blocked on a hung mount; the thread is left behind and ends with the
/// process, whose exit kills a FUSE request that is still pending).
pub fn within<T: Send + 'static>(
    bound: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("fs-probe".into())
        .spawn(move || {
            let _ = tx.send(work());
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start a worker thread: {e}");
        return None;
    }
    rx.recv_timeout(bound).ok()
}

/// [`within`] for file-system work: a timeout becomes [`OcfError::Timeout`] naming `what`,
/// an I/O error [`OcfError::Io`].
pub fn bounded_io<T: Send + 'static>(
    what: &str,
    bound: Duration,
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, OcfError> {
    let started = Instant::now();
    match within(bound, work) {
        Some(Ok(value)) => Ok(value),
        Some(Err(e)) => Err(OcfError::io(what, e)),
        None => Err(OcfError::Timeout {
            what: what.to_owned(),
            after: started.elapsed(),
        }),
    }
}

/// How long start waits for an existing mount to answer before replacing it.
const START_PROBE: Duration = Duration::from_secs(3);

/// Whether `dir` answers: it is opened and its first entry read (a `stat` could be served
/// from the kernel's attribute cache while the server is gone), within `bound`.
pub fn probe_dir(dir: &Path, bound: Duration) -> Result<(), OcfError> {
    let path = dir.to_path_buf();
    bounded_io(&format!("reading {}", dir.display()), bound, move || {
        fs::read_dir(&path)?.next().transpose().map(drop)
    })
}

/// What [`Volume::mount`] found or did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mounted {
    /// Mounted by this call.
    Now,
    /// A mount that answers was there already (gluster's shared-storage hook, fstab).
    Already,
}

/// What to mount where.
#[derive(Clone, Debug)]
pub struct Volume {
    pub device: String,
    pub fstype: Option<String>,
    pub options: Option<String>,
    pub mount_point: PathBuf,
}

impl Volume {
    /// Mounts the volume unless a mount that answers is there already (one that does not is
    /// unmounted first).
    pub fn mount(&self, deadline: Deadline) -> Result<Mounted, OcfError> {
        if let Some(existing) = find(&self.mount_point)? {
            // A mount whose client died (ENOTCONN) or hangs would fail the recovery layout
            // step, and a failed start bans the node: replace it instead of adopting it.
            match probe_dir(&self.mount_point, deadline.bound(START_PROBE)) {
                Ok(()) => {
                    tracing::info!(
                        "{} is already mounted ({} from {})",
                        self.mount_point.display(),
                        existing.fstype,
                        existing.source
                    );
                    return Ok(Mounted::Already);
                }
                Err(e) => {
                    tracing::warn!(
                        "{} is mounted ({} from {}) but {e}; unmounting it to mount afresh",
                        self.mount_point.display(),
                        existing.fstype,
                        existing.source
                    );
                    self.unmount(deadline.portion(0.5))?;
                }
            }
        }
        fs::create_dir_all(&self.mount_point).map_err(|e| {
            OcfError::io(
                format!("creating mount point {}", self.mount_point.display()),
                e,
            )
        })?;
        let mut cmd = Command::new("mount");
        if let Some(fstype) = &self.fstype {
            cmd.arg("-t").arg(fstype);
        }
        if let Some(options) = &self.options {
            cmd.arg("-o").arg(options);
        }
        cmd.arg("--").arg(&self.device).arg(&self.mount_point);
        command::run(&mut cmd, deadline.remaining())?;
        tracing::info!("mounted {} on {}", self.device, self.mount_point.display());
        Ok(Mounted::Now)
    }

    /// Unmounts the volume if mounted, within `deadline`, whatever state it is in: stop must
    /// leave nothing mounted here, and a failed stop means fencing.
    ///
    /// A busy volume is retried for a few seconds (not when it does not answer: that will
    /// not pass). Then the last resorts, each logged: a FUSE mount's connection is aborted
    /// (every pending and future request fails, the hung client lets go), and the volume is
    /// unmounted again, or detached lazily (`umount -l`) if something still holds it: the
    /// volume is gone from this node's namespace either way.
    pub fn unmount(&self, deadline: Deadline) -> Result<(), OcfError> {
        let Some(entry) = find(&self.mount_point)? else {
            return Ok(());
        };
        let at = self.mount_point.display().to_string();
        let answers = match probe_dir(&self.mount_point, deadline.bound(STOP_PROBE_LIMIT)) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("the state volume on {at} does not answer: {e}");
                // An error answer (ENOTCONN) is an answer: the volume is not hung.
                !matches!(e, OcfError::Timeout { .. })
            }
        };
        let patience = Deadline::after(deadline.portion(0.5).bound(BUSY_PATIENCE));
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.umount(&[], deadline) {
                Ok(()) => {
                    tracing::info!("unmounted {at}");
                    return self.check_gone();
                }
                Err(e) if answers && !patience.expired() => {
                    if attempts == 1 {
                        tracing::warn!(
                            "{e}; retrying for up to {:.1?}{}",
                            patience.remaining(),
                            held_by(&self.mount_point)
                        );
                    } else {
                        tracing::debug!("{e}; retrying");
                    }
                    std::thread::sleep(patience.bound(Duration::from_millis(250)));
                }
                Err(e) => {
                    tracing::warn!(
                        "{e} (after {attempts} attempt(s)){}",
                        held_by(&self.mount_point)
                    );
                    break;
                }
            }
            if find(&self.mount_point)?.is_none() {
                return Ok(());
            }
        }
        if entry.is_fuse() {
            match abort_fuse(&entry, deadline) {
                Ok(file) => {
                    tracing::warn!(
                        "aborted the FUSE connection {}:{} of {at} ({}): its pending and \
                         future requests fail",
                        entry.major,
                        entry.minor,
                        file.display()
                    );
                    // Requests that were blocked (ours too) now fail and let go of the
                    // mount, which takes a moment.
                    let settle = Deadline::after(deadline.portion(0.5).bound(AFTER_ABORT));
                    loop {
                        match self.umount(&[], deadline) {
                            Ok(()) => {
                                tracing::info!("unmounted {at} after aborting its connection");
                                return self.check_gone();
                            }
                            Err(e) if settle.expired() => {
                                tracing::warn!("{e}");
                                break;
                            }
                            Err(_) => std::thread::sleep(settle.bound(Duration::from_millis(100))),
                        }
                    }
                }
                Err(e) => tracing::warn!("cannot abort the FUSE connection of {at}: {e}"),
            }
        }
        tracing::warn!("detaching {at} lazily (umount -l)");
        self.umount(&["-l"], deadline)?;
        self.check_gone()
    }

    /// `umount --no-canonicalize [extra] -- <mount point>`, bounded.
    fn umount(&self, extra: &[&str], deadline: Deadline) -> Result<(), OcfError> {
        command::run(
            Command::new("umount")
                .arg("--no-canonicalize")
                .args(extra)
                .arg("--")
                .arg(&self.mount_point),
            deadline.bound(UMOUNT_LIMIT),
        )?;
        Ok(())
    }

    fn check_gone(&self) -> Result<(), OcfError> {
        match find(&self.mount_point)? {
            None => Ok(()),
            Some(still) => Err(OcfError::generic(format!(
                "{} is still mounted ({} from {}) after umount",
                self.mount_point.display(),
                still.fstype,
                still.source
            ))),
        }
    }
}

/// Writes to the FUSE connection's `abort` file (found by the mount's device minor), after
/// mounting the FUSE control file system where it belongs if it is not there yet. Returns
/// the file written.
fn abort_fuse(entry: &MountEntry, deadline: Deadline) -> Result<PathBuf, OcfError> {
    let dir = Path::new(FUSECTL);
    let file = dir.join(entry.minor.to_string()).join("abort");
    if find(dir)?.is_none() {
        tracing::info!("mounting the FUSE control file system on {FUSECTL}");
        command::run(
            Command::new("mount")
                .args(["-t", "fusectl", "fusectl", "--"])
                .arg(dir),
            deadline.bound(UMOUNT_LIMIT),
        )?;
    }
    fs::write(&file, "1").map_err(|e| OcfError::io(format!("writing {}", file.display()), e))?;
    Ok(file)
}

/// `; held by ...` for a log line, or nothing when no process is found holding it.
fn held_by(mount_point: &Path) -> String {
    let found = holders(mount_point);
    if found.is_empty() {
        String::new()
    } else {
        format!("; held by {}", found.join(", "))
    }
}

/// Processes of this mount namespace whose cwd, root or an open file is under `mount_point`,
/// as `pid (comm): what`. Only `/proc` is read (links there are names, not lookups).
pub fn holders(mount_point: &Path) -> Vec<String> {
    let own_ns = fs::read_link("/proc/self/ns/mnt").ok();
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for pid in procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        if found.len() == HOLDERS_SHOWN {
            found.push("...".to_string());
            break;
        }
        let base = PathBuf::from(format!("/proc/{pid}"));
        if fs::read_link(base.join("ns/mnt")).ok() != own_ns {
            continue;
        }
        let under = |link: &Path| fs::read_link(link).is_ok_and(|t| t.starts_with(mount_point));
        let mut what: Vec<String> = ["cwd", "root"]
            .into_iter()
            .filter(|l| under(&base.join(l)))
            .map(str::to_owned)
            .collect();
        if let Ok(fds) = fs::read_dir(base.join("fd")) {
            what.extend(
                fds.flatten()
                    .filter(|fd| under(&fd.path()))
                    .map(|fd| format!("fd {}", fd.file_name().to_string_lossy())),
            );
        }
        if !what.is_empty() {
            let comm = fs::read_to_string(base.join("comm")).unwrap_or_default();
            found.push(format!("pid {pid} ({}): {}", comm.trim(), what.join(" ")));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_with_optional_fields_and_escapes() {
        let text = "36 35 98:0 /mnt1 /mnt/my\\040state rw,noatime master:1 - glusterfs localhost:/gv0 rw\n\
                    22 1 0:21 / /run rw shared:5 - tmpfs tmpfs rw\n";
        let entries = parse_mountinfo(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].mount_point, PathBuf::from("/mnt/my state"));
        assert_eq!(entries[0].fstype, "glusterfs");
        assert_eq!(entries[0].source, "localhost:/gv0");
        assert_eq!(entries[1].mount_point, PathBuf::from("/run"));
    }

    #[test]
    fn parses_the_device_numbers_of_a_fuse_mount() {
        let text = "83 45 0:44 / /run/gluster/shared_storage rw,relatime - fuse.glusterfs \
                    192.0.2.11:/gluster_shared_storage rw,user_id=0,group_id=0\n\
                    66 51 254:0 /usr/lib/ocf /mnt/ocf rw,relatime - ext4 /dev/vda rw\n";
        let entries = parse_mountinfo(text);
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].major, entries[0].minor), (0, 44));
        assert!(entries[0].is_fuse());
        assert_eq!((entries[1].major, entries[1].minor), (254, 0));
        assert!(!entries[1].is_fuse());
    }

    #[test]
    fn skips_lines_without_a_device_number() {
        for bad in [
            "36 35 98 / /a rw - ext4 /dev/x rw",
            "36 35 a:b / /a rw - ext4 /dev/x rw",
        ] {
            assert!(parse_mountinfo(bad).is_empty(), "{bad}");
        }
        assert_eq!(parse_dev("0:1048575"), Some((0, 1_048_575)));
    }

    #[test]
    fn fuse_types() {
        let entry = |fstype: &str| MountEntry {
            mount_point: PathBuf::from("/m"),
            fstype: fstype.into(),
            source: "s".into(),
            major: 0,
            minor: 1,
        };
        for fuse in ["fuse", "fuseblk", "fuse.glusterfs", "fuse.sshfs"] {
            assert!(entry(fuse).is_fuse(), "{fuse}");
        }
        for other in ["glusterfs", "fusectl", "nfs4", "ext4"] {
            assert!(!entry(other).is_fuse(), "{other}");
        }
    }

    #[test]
    fn root_is_mounted() {
        assert!(matches!(find(Path::new("/")), Ok(Some(_))));
        assert!(matches!(find(Path::new("/surely/not/a/mount")), Ok(None)));
    }

    #[test]
    fn work_that_does_not_finish_is_given_up_within_its_bound() {
        let started = Instant::now();
        let r = within(Duration::from_millis(100), || {
            std::thread::sleep(Duration::from_secs(5));
        });
        assert!(r.is_none());
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(within(Duration::from_secs(5), || 7), Some(7));
        let hung = bounded_io("waiting", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        });
        assert!(matches!(hung, Err(OcfError::Timeout { .. })), "{hung:?}");
    }

    #[test]
    fn a_readable_directory_answers_and_a_missing_one_does_not() {
        let Ok(dir) = tempfile::tempdir() else { return };
        assert!(probe_dir(dir.path(), Duration::from_secs(5)).is_ok());
        let missing = probe_dir(&dir.path().join("nope"), Duration::from_secs(5));
        assert!(matches!(missing, Err(OcfError::Io { .. })), "{missing:?}");
    }

    #[test]
    fn this_process_holds_a_directory_it_has_open() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let Ok(_open) = fs::File::create(dir.path().join("f")) else {
            return;
        };
        let me = std::process::id().to_string();
        let held = holders(dir.path());
        assert!(
            held.iter().any(|h| h.starts_with(&format!("pid {me} "))),
            "{held:?}"
        );
    }
}
