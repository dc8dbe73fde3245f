//! Cleaning up after labs whose process died without tearing them down.

use std::fs;
use std::process::Command;
use std::time::Duration;

use crate::node::SETUP_TIMEOUT;
use crate::state::{LabState, STATE_FILE};
use crate::util::run_checked;
use crate::{io_err, sys, LabError};

/// Removes what labs of processes that no longer exist left behind (a test process killed by
/// a signal never runs `Drop`). Only labs with default names (`gl<hex pid>-<n>`) are
/// recognized, and only when no process with that pid exists and the lab was not detached
/// ([`Lab::detach`](crate::Lab::detach)): every process in such a lab's network namespaces
/// is killed, the namespaces are deleted and its temporary directories
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
