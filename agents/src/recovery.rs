//! The NFSv4 recovery layout on the shared state volume.
//!
//! ```text
//! <state_mount>/<subdir>/<node>/ganesha/v4recov      this node's client records
//! <state_mount>/<subdir>/<node>/ganesha/v4old
//! <state_mount>/<subdir>/<node>/ganesha/<peer>  ->  ../../<peer>/ganesha   (one per peer)
//! <recovery_root>  ->  <state_mount>/<subdir>/<node>/ganesha
//! ```
//!
//! ganesha.nfsd's RecoveryRoot is `<recovery_root>` on every node, so each node records its
//! own clients under its own directory on the shared volume. When ganesha_grace sends
//! `5:<peer>` (EVENT_TAKE_IP), the fs recovery backend reads
//! `RecoveryRoot/<peer>/v4recov`, which the peer link resolves to the failed node's own
//! `v4recov`: the **key** in the grace argument is the peer's node name, exactly as this
//! layout names the directories. This is the glusterfs `nfs-ganesha/<node>/nfs/ganesha`
//! layout with relative links (storhaug's lesson: links must not embed the mount path).
//! ganesha's `Clustered = false` keeps its own records directly in `v4recov`.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// Suffix of the directory an existing local recovery root is moved to on start.
pub const BACKUP_SUFFIX: &str = ".ganesha-ha-local";

/// Whether `name` can be used as a directory name and grace key.
pub fn valid_key(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains(':')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The layout of one node.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
    node: String,
}

impl Layout {
    /// `root` is `<state_mount>/<subdir>`.
    pub fn new(root: impl Into<PathBuf>, node: impl Into<String>) -> Layout {
        Layout {
            root: root.into(),
            node: node.into(),
        }
    }

    /// `<root>/<node>/ganesha`: the target of this node's recovery root.
    pub fn node_dir(&self) -> PathBuf {
        self.dir_of(&self.node)
    }

    fn dir_of(&self, node: &str) -> PathBuf {
        self.root.join(node).join("ganesha")
    }

    /// Creates this node's directories and the links between it and every peer that has a
    /// directory, in both directions. Idempotent; a wrong link is replaced, a real directory
    /// where a link belongs is left alone and reported.
    pub fn prepare(&self) -> io::Result<Vec<String>> {
        let own = self.node_dir();
        for sub in ["v4recov", "v4old"] {
            fs::create_dir_all(own.join(sub))?;
        }
        let mut linked = Vec::new();
        for peer in self.peers()? {
            ensure_link(&own.join(&peer), &relative_target(&peer))?;
            ensure_link(
                &self.dir_of(&peer).join(&self.node),
                &relative_target(&self.node),
            )?;
            linked.push(peer);
        }
        Ok(linked)
    }

    /// Nodes other than this one that have a directory under the root.
    pub fn peers(&self) -> io::Result<Vec<String>> {
        let mut peers = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != self.node && valid_key(&name) && entry.path().join("ganesha").is_dir() {
                peers.push(name);
            }
        }
        peers.sort();
        Ok(peers)
    }

    /// Makes sure the link to `peer` exists in this node's directory (a peer added after we
    /// started); returns whether the peer has a recovery directory at all.
    pub fn link_peer(&self, peer: &str) -> io::Result<bool> {
        if !self.dir_of(peer).is_dir() {
            return Ok(false);
        }
        ensure_link(&self.node_dir().join(peer), &relative_target(peer))?;
        Ok(true)
    }

    /// Points `recovery_root` at this node's directory. An existing real directory there is
    /// moved aside to `<recovery_root>.ganesha-ha-local` (restored by [`Layout::release`]), so
    /// nothing a local ganesha recorded is lost.
    pub fn attach(&self, recovery_root: &Path) -> io::Result<()> {
        let target = self.node_dir();
        match fs::symlink_metadata(recovery_root) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if fs::read_link(recovery_root)? == target {
                    return Ok(());
                }
                fs::remove_file(recovery_root)?;
            }
            Ok(meta) if meta.is_dir() => {
                let backup = backup_path(recovery_root);
                if fs::symlink_metadata(&backup).is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!(
                            "{} is a directory and {} already exists; move one of them away",
                            recovery_root.display(),
                            backup.display()
                        ),
                    ));
                }
                fs::rename(recovery_root, &backup)?;
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a directory", recovery_root.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(parent) = recovery_root.parent() {
            fs::create_dir_all(parent)?;
        }
        symlink(&target, recovery_root)
    }

    /// Undoes [`Layout::attach`]: removes our link and restores a moved-aside directory.
    pub fn release(&self, recovery_root: &Path) -> io::Result<()> {
        if let Ok(meta) = fs::symlink_metadata(recovery_root) {
            if meta.file_type().is_symlink() && fs::read_link(recovery_root)? == self.node_dir() {
                fs::remove_file(recovery_root)?;
            }
        }
        let backup = backup_path(recovery_root);
        if backup.is_dir() && fs::symlink_metadata(recovery_root).is_err() {
            fs::rename(&backup, recovery_root)?;
        }
        Ok(())
    }
}

fn relative_target(node: &str) -> PathBuf {
    Path::new("..").join("..").join(node).join("ganesha")
}

fn backup_path(recovery_root: &Path) -> PathBuf {
    let mut name = recovery_root.as_os_str().to_owned();
    name.push(BACKUP_SUFFIX);
    PathBuf::from(name)
}

/// Makes `link` point at `target`. Nodes starting together make each other's links (both
/// directions), so another node may create or replace the same link between our look and
/// our write: EEXIST and ENOENT then mean "look again", a few times.
fn ensure_link(link: &Path, target: &Path) -> io::Result<()> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match fs::symlink_metadata(link) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if fs::read_link(link)? == target {
                    return Ok(());
                }
                match fs::remove_file(link) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 5 => continue,
                    other => other?,
                }
            }
            Ok(_) => {
                tracing::warn!("{} is not a link; leaving it alone", link.display());
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match symlink(target, link) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 5 => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_preparing_at_once_all_succeed() {
        let Some(dir) = tmp() else { return };
        let root = dir.path().to_path_buf();
        for round in 0..20 {
            let names: Vec<String> = (0..4).map(|i| format!("r{round}n{i}")).collect();
            let handles: Vec<_> = names
                .iter()
                .map(|n| {
                    let layout = Layout::new(&root, n);
                    std::thread::spawn(move || layout.prepare().map(drop))
                })
                .collect();
            for h in handles {
                assert!(matches!(h.join(), Ok(Ok(()))), "round {round}");
            }
        }
    }

    fn tmp() -> Option<tempfile::TempDir> {
        tempfile::tempdir().ok()
    }

    #[test]
    fn keys_are_single_safe_path_components() {
        assert!(valid_key("node1"));
        assert!(valid_key("node-1.example.com"));
        for bad in ["", ".", "..", "a/b", "a b", "a:b", "a\nb"] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn survivor_reads_failed_peer_records_through_its_link() {
        let Some(dir) = tmp() else { return };
        let root = dir.path().join("nfs-ganesha");
        let n1 = Layout::new(&root, "node1");
        let n2 = Layout::new(&root, "node2");
        assert!(n1.prepare().is_ok());
        // node2 comes later and links both ways.
        assert_eq!(n2.prepare().ok(), Some(vec!["node1".to_string()]));
        // A client record of node1...
        assert!(fs::create_dir_all(n1.node_dir().join("v4recov/client-a")).is_ok());
        // ...is what node2's ganesha reads for `5:node1`: RecoveryRoot/node1/v4recov.
        let rr2 = dir.path().join("node2-recovery-root");
        assert!(n2.attach(&rr2).is_ok());
        assert!(rr2.join("node1/v4recov/client-a").is_dir());
        // And node1 sees node2 the same way, although node1 prepared first.
        assert!(n1.node_dir().join("node2/v4recov").is_dir());
    }

    #[test]
    fn attach_moves_a_local_directory_aside_and_release_restores_it() {
        let Some(dir) = tmp() else { return };
        let layout = Layout::new(dir.path().join("state"), "node1");
        assert!(layout.prepare().is_ok());
        let rr = dir.path().join("var/lib/nfs/ganesha");
        assert!(fs::create_dir_all(rr.join("v4recov/local-client")).is_ok());
        assert!(layout.attach(&rr).is_ok());
        assert_eq!(fs::read_link(&rr).ok(), Some(layout.node_dir()));
        assert!(layout.attach(&rr).is_ok(), "idempotent");
        assert!(layout.release(&rr).is_ok());
        assert!(rr.join("v4recov/local-client").is_dir(), "nothing lost");
        assert!(layout.release(&rr).is_ok(), "idempotent");
    }

    #[test]
    fn attach_refuses_when_both_directory_and_backup_exist() {
        let Some(dir) = tmp() else { return };
        let layout = Layout::new(dir.path().join("state"), "node1");
        let rr = dir.path().join("rr");
        assert!(fs::create_dir_all(&rr).is_ok());
        assert!(fs::create_dir_all(backup_path(&rr)).is_ok());
        assert!(layout.attach(&rr).is_err());
        assert!(rr.is_dir() && !rr.is_symlink());
    }
}
