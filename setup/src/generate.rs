//! `ganesha-ha validate` and `ganesha-ha setup --dry-run`: from the configuration file to
//! the files a cluster is built from, without touching anything else.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::{self, ConfigErrors};
use crate::corosync;
use crate::error::CliError;
use crate::model::model;
use crate::spec::{ClusterSpec, Fencing};

/// The warning every command prints while fencing is disabled.
pub const NO_FENCING_WARNING: &str = "warning: fencing is disabled (HA_STONITH=off): a node that \
stops responding is not fenced, so two nodes may serve the same VIP and NFS lock state is \
unprotected; configure HA_FENCE_<id> devices for production";

/// Loads and validates the configuration; every problem is reported with its line.
pub fn load(file: &Path) -> Result<ClusterSpec, ConfigErrors> {
    let spec = config::load(file)?;
    if spec.fencing == Fencing::Disabled {
        eprintln!("{NO_FENCING_WARNING}");
    }
    Ok(spec)
}

/// Writes `corosync.conf`, `authkey` (mode 0400) and `cib.xml` into `dir`; returns the paths.
pub fn write_files(spec: &ClusterSpec, dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let io = |what: &Path, e| CliError::io(format!("writing {}", what.display()), e);
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let conf = dir.join("corosync.conf");
    fs::write(&conf, corosync::corosync_conf(spec)).map_err(|e| io(&conf, e))?;
    let key = dir.join("authkey");
    let bytes = corosync::authkey().map_err(|e| CliError::io("generating the authkey", e))?;
    fs::write(&key, bytes).map_err(|e| io(&key, e))?;
    fs::set_permissions(&key, fs::Permissions::from_mode(0o400)).map_err(|e| io(&key, e))?;
    let cib_file = dir.join("cib.xml");
    fs::write(&cib_file, model(spec).to_xml()).map_err(|e| io(&cib_file, e))?;
    Ok(vec![conf, key, cib_file])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_writes_the_three_files() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let conf = dir.path().join("ganesha-ha.conf");
        let _ = fs::write(
            &conf,
            "HA_NAME=t\nHA_CLUSTER_NODES=a,b\nVIP_a=192.0.2.101\nVIP_b=192.0.2.102\nHA_STONITH=off\n",
        );
        let spec = load(&conf);
        let Ok(spec) = spec else {
            assert!(spec.is_ok(), "{spec:?}");
            return;
        };
        let out = dir.path().join("out");
        let files = write_files(&spec, &out).unwrap_or_default();
        assert_eq!(files.len(), 3);
        let cib = fs::read_to_string(out.join("cib.xml")).unwrap_or_default();
        assert!(cib.contains("validate-with=\"pacemaker-3.0\""));
        assert!(cib.contains("name=\"stonith-enabled\" value=\"false\""));
        let mode = fs::metadata(out.join("authkey")).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o400));
    }
}
