//! The programs the lab runs, found once on the host by absolute path.

use std::path::{Path, PathBuf};

use crate::{sys, LabError};

/// Programs the lab needs and the Debian package of each.
const REQUIRED_TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nsenter", "util-linux"),
    ("unshare", "util-linux"),
    ("setsid", "util-linux"),
    ("mount", "mount"),
    ("umount", "mount"),
    ("hostname", "hostname"),
    ("sysctl", "procps"),
    ("sleep", "coreutils"),
    ("corosync", "corosync"),
    ("pacemakerd", "pacemaker"),
    ("crm_mon", "pacemaker-cli-utils"),
    ("crm_attribute", "pacemaker-cli-utils"),
    ("cibadmin", "pacemaker-cli-utils"),
    ("dbus-daemon", "dbus-daemon"),
    ("dbus-send", "dbus-bin"),
];

/// Programs needed for the per-node ganesha service.
const GANESHA_TOOLS: &[(&str, &str)] = &[("ganesha.nfsd", "nfs-ganesha nfs-ganesha-vfs")];

/// Programs needed for GlusterFS servers in the nodes (`mount -t glusterfs` runs
/// `mount.glusterfs`).
const GLUSTER_TOOLS: &[(&str, &str)] = &[
    ("glusterd", "glusterfs-server"),
    ("gluster", "glusterfs-cli"),
    ("mount.glusterfs", "glusterfs-client"),
];

/// Absolute paths of the programs the lab runs.
#[derive(Debug, Clone)]
pub(crate) struct Tools(Vec<(&'static str, PathBuf)>);

impl Tools {
    pub(crate) fn find(need_ganesha: bool, need_gluster: bool) -> Result<Tools, LabError> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        let mut packages: Vec<&str> = Vec::new();
        let ganesha: &[(&str, &str)] = if need_ganesha { GANESHA_TOOLS } else { &[] };
        let gluster: &[(&str, &str)] = if need_gluster { GLUSTER_TOOLS } else { &[] };
        for &(name, package) in REQUIRED_TOOLS.iter().chain(ganesha).chain(gluster) {
            match sys::find_program(name) {
                Some(p) => found.push((name, p)),
                None => {
                    missing.push(name);
                    if !packages.contains(&package) {
                        packages.push(package);
                    }
                }
            }
        }
        if missing.is_empty() {
            Ok(Tools(found))
        } else {
            Err(LabError::Missing {
                missing: format!("programs {}", missing.join(", ")),
                packages: packages.join(" "),
            })
        }
    }

    /// Whatever is found; missing programs are run by their bare name.
    pub(crate) fn find_lenient() -> Tools {
        Tools(
            REQUIRED_TOOLS
                .iter()
                .chain(GANESHA_TOOLS)
                .chain(GLUSTER_TOOLS)
                .filter_map(|&(name, _)| sys::find_program(name).map(|p| (name, p)))
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &'static str) -> &Path {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(Path::new(name), |(_, p)| p.as_path())
    }
}
