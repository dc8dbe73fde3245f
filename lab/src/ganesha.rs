//! A minimal NFS-Ganesha configuration for the lab: NFSv4 only, one export, of a directory
//! (FSAL VFS) or of a GlusterFS volume (FSAL GLUSTER).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// The file every lab export with `ganesha_service` holds, and its text.
pub const HELLO_FILE: &str = "hello.txt";
/// See [`HELLO_FILE`].
pub const HELLO_TEXT: &str = "hello from ganesha-lab\n";

/// What the one export serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GaneshaExport {
    /// A local directory through FSAL VFS (`EXPORT { Path }`).
    Vfs(PathBuf),
    /// The root of a GlusterFS volume through FSAL GLUSTER (libgfapi), served by the
    /// glusterd at `localhost` of the node.
    Gluster {
        /// The volume's name (`FSAL { Volume }`).
        volume: String,
    },
}

/// What goes into the `ganesha.conf` written by [`write_ganesha_conf`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaneshaConf {
    /// `NFSV4 { RecoveryRoot }`: where ganesha keeps client recovery records
    /// (`<root>/<node or address>/v4recov`).
    pub recovery_root: PathBuf,
    /// What is exported.
    pub export: GaneshaExport,
    /// The NFSv4 pseudo path of the export, `/export` by default.
    pub pseudo: String,
    /// `NFSV4 { Grace_Period }` in seconds, 15 by default.
    pub grace_period: u32,
    /// `NFSV4 { Lease_Lifetime }` in seconds, 10 by default.
    pub lease_lifetime: u32,
    /// `NFS_CORE_PARAM { Clustered }`, left out when `None` (the default).
    pub clustered: Option<bool>,
}

impl GaneshaConf {
    /// A configuration exporting the directory `export_path` (FSAL VFS) with the defaults
    /// (`/export`, grace 15 s, lease 10 s).
    pub fn new(recovery_root: impl Into<PathBuf>, export_path: impl Into<PathBuf>) -> Self {
        Self::with_export(recovery_root, GaneshaExport::Vfs(export_path.into()))
    }

    /// [`GaneshaConf::new`] exporting the root of the GlusterFS volume `volume` (FSAL
    /// GLUSTER) instead.
    pub fn gluster(recovery_root: impl Into<PathBuf>, volume: impl Into<String>) -> Self {
        Self::with_export(
            recovery_root,
            GaneshaExport::Gluster {
                volume: volume.into(),
            },
        )
    }

    fn with_export(recovery_root: impl Into<PathBuf>, export: GaneshaExport) -> Self {
        Self {
            recovery_root: recovery_root.into(),
            export,
            pseudo: "/export".to_string(),
            grace_period: 15,
            lease_lifetime: 10,
            clustered: None,
        }
    }

    /// The configuration text.
    pub fn render(&self) -> String {
        let (path, fsal) = match &self.export {
            GaneshaExport::Vfs(dir) => (
                dir.to_string_lossy().into_owned(),
                "\tFSAL {\n\t\tName = VFS;\n\t}\n".to_string(),
            ),
            // The volume's root, ACLs off: what glusterfs's own export script writes.
            GaneshaExport::Gluster { volume } => (
                "/".to_string(),
                format!(
                    "\tDisable_ACL = true;\n\
                     \tFSAL {{\n\
                     \t\tName = GLUSTER;\n\
                     \t\tHostname = \"localhost\";\n\
                     \t\tVolume = {};\n\
                     \t}}\n",
                    conf_string(volume)
                ),
            ),
        };
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            "# Written by ganesha-lab.\n\
             NFS_CORE_PARAM {{\n\
             \tProtocols = 4;\n\
             \tNFS_Port = 2049;\n\
             \tEnable_NLM = false;\n\
             \tEnable_RQUOTA = false;\n\
             {clustered}\
             }}\n\
             \n\
             NFSV4 {{\n\
             \tGrace_Period = {grace};\n\
             \tLease_Lifetime = {lease};\n\
             \tRecoveryRoot = {recov};\n\
             }}\n\
             \n\
             EXPORT {{\n\
             \tExport_Id = 1;\n\
             \tPath = {path};\n\
             \tPseudo = {pseudo};\n\
             \tAccess_Type = RW;\n\
             \tSquash = No_Root_Squash;\n\
             \tProtocols = 4;\n\
             {fsal}\
             }}\n",
            clustered = match self.clustered {
                Some(c) => format!("\tClustered = {c};\n"),
                None => String::new(),
            },
            grace = self.grace_period,
            lease = self.lease_lifetime,
            recov = conf_string(&self.recovery_root.to_string_lossy()),
            path = conf_string(&path),
            pseudo = conf_string(&self.pseudo),
            fsal = fsal,
        );
        s
    }
}

/// Quotes a value for ganesha's config parser.
fn conf_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes a ganesha configuration file (see [`GaneshaConf::render`]).
pub fn write_ganesha_conf(path: &Path, opts: &GaneshaConf) -> io::Result<()> {
    std::fs::write(path, opts.render())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn renders_all_fields() {
        let c = GaneshaConf::new("/srv/recov", "/srv/export");
        let t = c.render();
        assert!(t.contains("RecoveryRoot = \"/srv/recov\";"), "{t}");
        assert!(t.contains("Path = \"/srv/export\";"), "{t}");
        assert!(t.contains("Pseudo = \"/export\";"), "{t}");
        assert!(t.contains("Grace_Period = 15;"), "{t}");
        assert!(t.contains("Lease_Lifetime = 10;"), "{t}");
        assert!(t.contains("Name = VFS;"), "{t}");
        assert!(!t.contains("Clustered"), "{t}");
        let t = GaneshaConf {
            clustered: Some(false),
            ..c
        }
        .render();
        assert!(
            t.contains("\tEnable_RQUOTA = false;\n\tClustered = false;\n}"),
            "{t}"
        );
    }

    #[test]
    fn renders_a_gluster_volume_export() {
        let t = GaneshaConf::gluster("/srv/recov", "data").render();
        assert!(
            t.contains(
                "\tPath = \"/\";\n\tPseudo = \"/export\";\n\tAccess_Type = RW;\n\
                 \tSquash = No_Root_Squash;\n\tProtocols = 4;\n\tDisable_ACL = true;\n\
                 \tFSAL {\n\t\tName = GLUSTER;\n\t\tHostname = \"localhost\";\n\
                 \t\tVolume = \"data\";\n\t}\n}\n"
            ),
            "{t}"
        );
        assert!(!t.contains("VFS"), "{t}");
        assert!(t.contains("RecoveryRoot = \"/srv/recov\";"), "{t}");
        // The VFS export is what it was.
        let v = GaneshaConf::new("/srv/recov", "/srv/export").render();
        assert!(
            v.contains("\tProtocols = 4;\n\tFSAL {\n\t\tName = VFS;\n\t}\n}\n"),
            "{v}"
        );
        assert!(!v.contains("Disable_ACL"), "{v}");
    }
}
