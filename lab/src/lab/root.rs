//! A lab's place on the host: its name and root directory, claimed before the build (taking
//! over the remains of a lab that no longer runs), and the directory removed after teardown
//! only when it holds the lab's state.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::down_state;
use crate::state::{LabState, STATE_FILE};
use crate::{io_err, LabError, LabOptions};

/// With [`LabOptions::root`] holding a lab's state: refuses when that lab still runs, else
/// tears down its remains.
pub(super) fn take_over_remains(opts: &LabOptions) -> Result<(), LabError> {
    let Some(root) = &opts.root else {
        return Ok(());
    };
    let sf = root.join(STATE_FILE);
    if !sf.exists() {
        return Ok(());
    }
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
    Ok(())
}

/// Refuses a name whose namespaces exist (another lab of that name, or its leftovers).
pub(super) fn refuse_same_name(opts: &LabOptions) -> Result<(), LabError> {
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
    Ok(())
}

/// The lab's root directory, mode 0755: [`LabOptions::root`], or a new temporary directory
/// (returned too, so that it is removed with the lab).
pub(super) fn create(opts: &LabOptions) -> Result<(Option<TempDir>, PathBuf), LabError> {
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
    Ok((tmp, root_path))
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
pub(super) fn remove_lab_root(root: &Path, name: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

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
