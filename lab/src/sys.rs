//! Process, namespace and file helpers (Linux `/proc` based).

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Gid, Pid, Uid};

/// The inode number of a namespace file (`/run/netns/X`, `/proc/<pid>/ns/net`, ...).
pub(crate) fn ns_inode(path: &Path) -> io::Result<u64> {
    fs::metadata(path).map(|m| m.ino())
}

/// The inode of one of a process's namespaces, `kind` being `net`, `mnt`, `uts`, ...
pub(crate) fn proc_ns(pid: i32, kind: &str) -> io::Result<u64> {
    ns_inode(&PathBuf::from(format!("/proc/{pid}/ns/{kind}")))
}

/// The command name of a process (`/proc/<pid>/comm`), if it still exists.
pub(crate) fn comm(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// Whether a process exists and is not a zombie.
pub(crate) fn pid_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X')
    })
}

/// The fields of `/proc/<pid>/stat` after the command name: index 0 is the state (field 3).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The state letter of a process (`R`, `S`, `D`, `T`, `Z`, ...), if it exists.
pub(crate) fn process_state(pid: i32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// The start time of a process (field 22 of `/proc/<pid>/stat`, clock ticks since boot):
/// with the pid, it identifies a process even when pids are reused.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    // Field 22 overall is index 19 after the command name (fields 3..).
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// Every live process whose network namespace is the one with inode `netns`.
/// Zombies have no namespaces any more and are not listed.
pub(crate) fn pids_in_netns(netns: u64) -> Vec<i32> {
    let me = std::process::id();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|&pid| u32::try_from(pid).is_ok_and(|p| p != me))
        .filter(|&pid| proc_ns(pid, "net").is_ok_and(|ino| ino == netns))
        .collect()
}

/// Kills (SIGKILL) every process in any of the network namespaces `netns` except the pids in
/// `except`, repeating until none is left (bounded by `limit`). Returns the pids that survived.
pub(crate) fn kill_in_netns(netns: &[u64], except: &[i32], limit: Duration) -> Vec<i32> {
    let end = Instant::now() + limit;
    loop {
        let pids: Vec<i32> = netns
            .iter()
            .flat_map(|&ns| pids_in_netns(ns))
            .filter(|p| !except.contains(p))
            .collect();
        if pids.is_empty() || Instant::now() >= end {
            return pids;
        }
        for &pid in &pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Mount points (as this process sees them) at or below `root`.
pub(crate) fn mounts_under(root: &Path) -> Vec<String> {
    let root = root.to_string_lossy();
    let root = root.trim_end_matches('/');
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|m| m == root || m.starts_with(&format!("{root}/")))
        .collect()
}

/// Undoes the octal escapes (`\040` for a space, ...) of `/proc/*/mountinfo`.
pub(crate) fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Gives `dst` the owner, group and permission bits of `src`.
pub(crate) fn mirror_attrs(src: &Path, dst: &Path) -> io::Result<()> {
    let m = fs::symlink_metadata(src)?;
    chown(dst, m.uid(), m.gid())?;
    fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777))
}

pub(crate) fn chown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    nix::unistd::chown(path, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .map_err(io::Error::from)
}

/// Copies a directory tree (directories, regular files, symlinks; owner and mode kept) into
/// the existing directory `dst`. Stops with an error after `limit` entries.
pub(crate) fn copy_tree(src: &Path, dst: &Path, limit: usize) -> io::Result<usize> {
    let mut count = 0;
    copy_tree_inner(src, dst, limit, &mut count)?;
    Ok(count)
}

fn copy_tree_inner(src: &Path, dst: &Path, limit: usize, count: &mut usize) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        *count += 1;
        if *count > limit {
            return Err(io::Error::other(format!(
                "{} has more than {limit} entries",
                src.display()
            )));
        }
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let ft = entry.file_type()?;
        if ft.is_dir() {
            fs::create_dir(&to)?;
            copy_tree_inner(&from, &to, limit, count)?;
            mirror_attrs(&from, &to)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            fs::copy(&from, &to)?;
            mirror_attrs(&from, &to)?;
        }
    }
    Ok(())
}

/// Finds a program in `$PATH` and the usual system directories (root's sbin ones included,
/// since a test runner's `PATH` may lack them).
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            [
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ]
            .map(PathBuf::from),
        )
        .map(|d| d.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The last `n` lines of a text file, for error messages ("(unreadable: ...)" if it cannot be read).
pub(crate) fn tail(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(data) => {
            let text = String::from_utf8_lossy(&data);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(unreadable: {e})"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape_mountinfo(r"/a\040b/c"), "/a b/c");
        assert_eq!(unescape_mountinfo(r"/plain"), "/plain");
        assert_eq!(unescape_mountinfo(r"/end\04"), r"/end\04");
    }

    #[test]
    fn reads_own_stat() {
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(matches!(process_state(me), Some('R' | 'S')));
        let t = start_time(me).unwrap();
        assert!(t > 0);
        assert_eq!(start_time(me), Some(t));
        assert_eq!(process_state(i32::MAX), None);
    }

    #[test]
    fn finds_sleep() {
        assert!(find_program("sleep").is_some());
        assert!(find_program("no-such-program-here").is_none());
    }
}
