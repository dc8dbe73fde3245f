//! The shared state volume: is it mounted, mount it, unmount it, each bounded in time. The
//! `mount`/`umount` programs are used (not the syscalls) so that helpers such as
//! `mount.glusterfs` work as they do for an administrator.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ocf::command;
use ocf::{Deadline, OcfError};

/// One line of `/proc/self/mountinfo`, the fields we need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
}

/// Parses mountinfo (proc(5)): field 5 is the mount point, then after the `-` separator the
/// file-system type and the source. Octal escapes (`\040` for space) are decoded.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            Some(MountEntry {
                mount_point: PathBuf::from(unescape(fields.get(4)?)),
                fstype: unescape(fields.get(sep + 1)?),
                source: unescape(fields.get(sep + 2)?),
            })
        })
        .collect()
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

/// What to mount where.
#[derive(Clone, Debug)]
pub struct Volume {
    pub device: String,
    pub fstype: Option<String>,
    pub options: Option<String>,
    pub mount_point: PathBuf,
}

impl Volume {
    /// Mounts the volume unless something is mounted there already.
    pub fn mount(&self, deadline: Deadline) -> Result<(), OcfError> {
        if let Some(existing) = find(&self.mount_point)? {
            tracing::info!(
                "{} is already mounted ({} from {})",
                self.mount_point.display(),
                existing.fstype,
                existing.source
            );
            return Ok(());
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
        Ok(())
    }

    /// Unmounts the volume if mounted. A busy file system is retried until most of the
    /// budget is used, then detached lazily: the volume is gone from this node's namespace,
    /// which is what stop must guarantee, and a failed stop would mean fencing.
    pub fn unmount(&self, deadline: Deadline) -> Result<(), OcfError> {
        let patient = deadline.portion(0.7);
        loop {
            if find(&self.mount_point)?.is_none() {
                return Ok(());
            }
            let attempt = command::run(
                Command::new("umount").arg("--").arg(&self.mount_point),
                deadline.bound(Duration::from_secs(10)),
            );
            match attempt {
                Ok(_) => {
                    tracing::info!("unmounted {}", self.mount_point.display());
                    continue;
                }
                Err(e) if patient.expired() => {
                    tracing::warn!("{e}; detaching {} lazily", self.mount_point.display());
                    command::run(
                        Command::new("umount")
                            .arg("-l")
                            .arg("--")
                            .arg(&self.mount_point),
                        deadline.remaining(),
                    )?;
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!("{e}; retrying");
                    std::thread::sleep(patient.bound(Duration::from_millis(250)));
                }
            }
        }
    }
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
    fn root_is_mounted() {
        assert!(matches!(find(Path::new("/")), Ok(Some(_))));
        assert!(matches!(find(Path::new("/surely/not/a/mount")), Ok(None)));
    }
}
