//! Installing the agents as `$OCF_ROOT/resource.d/ganesha/<agent>`.
//!
//! Each binary is copied to a temporary name in the target directory and renamed over the
//! old one, so that Pacemaker never runs a half-written agent and a running agent is not
//! disturbed ("text file busy"). Mode 0755 and a 0755 directory: `ocf-tester` runs
//! `meta-data` as `nobody`.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ganesha_agents::names::{AGENTS, PROVIDER};

/// Why installing failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot tell where the agent binaries are; pass --from DIR")]
    NoSource,
    #[error("{0} not found (build the workspace first: cargo build --release)")]
    Missing(PathBuf),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: String) -> impl FnOnce(io::Error) -> InstallError {
    move |source| InstallError::Io { context, source }
}

/// The directory of the running program (where cargo puts the agents too).
pub fn own_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// Copies every agent from `from` into `<ocf_root>/resource.d/ganesha/`.
pub fn install_agents(from: &Path, ocf_root: &Path) -> Result<Vec<PathBuf>, InstallError> {
    let sources: Vec<PathBuf> = AGENTS.iter().map(|a| from.join(a)).collect();
    if let Some(missing) = sources.iter().find(|p| !p.is_file()) {
        return Err(InstallError::Missing(missing.clone()));
    }
    let dir = ocf_root.join("resource.d").join(PROVIDER);
    fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
        .map_err(io_err(format!("setting the mode of {}", dir.display())))?;
    let mut installed = Vec::new();
    for (agent, source) in AGENTS.iter().zip(&sources) {
        let target = dir.join(agent);
        let tmp = dir.join(format!(".{agent}.{}.tmp", std::process::id()));
        fs::copy(source, &tmp).map_err(io_err(format!(
            "copying {} to {}",
            source.display(),
            tmp.display()
        )))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("setting the mode of {}", tmp.display())))?;
        fs::rename(&tmp, &target).map_err(io_err(format!("installing {}", target.display())))?;
        installed.push(target);
    }
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_every_agent_executable_and_replaces_old_copies() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let from = dir.path().join("bin");
        assert!(fs::create_dir_all(&from).is_ok());
        for a in AGENTS {
            assert!(fs::write(from.join(a), b"#!/bin/sh\n").is_ok());
        }
        let root = dir.path().join("ocf");
        let first = install_agents(&from, &root);
        assert_eq!(first.as_ref().map(Vec::len).ok(), Some(AGENTS.len()));
        assert!(
            install_agents(&from, &root).is_ok(),
            "reinstall over existing"
        );
        for a in AGENTS {
            let mode = fs::metadata(root.join("resource.d/ganesha").join(a))
                .map(|m| m.permissions().mode() & 0o777)
                .ok();
            assert_eq!(mode, Some(0o755));
        }
    }

    #[test]
    fn missing_binary_is_a_clear_error() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let err = install_agents(dir.path(), &dir.path().join("ocf")).err();
        assert!(matches!(err, Some(InstallError::Missing(p)) if p.ends_with("ganesha_nfsd")));
    }
}
