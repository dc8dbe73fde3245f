//! How to build a lab: [`LabOptions`], their defaults and their validation.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::{LabError, Progress};

static LAB_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// How to build a [`Lab`](crate::Lab).
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Number of nodes (1 by default).
    pub nodes: usize,
    /// Unique prefix of the lab's namespace names (letters, digits, `-`; at most 16 chars).
    /// The default is derived from the process id and a counter.
    pub name: String,
    /// The first three octets of the node addresses (`192.0.2`, TEST-NET-1, by default); the
    /// node network is `A.B.C.0/24`.
    pub subnet_base: [u8; 3],
    /// Host part of node 1's address (11 by default); node i gets `first_host + i - 1`.
    pub first_host: u8,
    /// Bound on waiting for quorum, a DC and every node online (90 s by default).
    pub wait_timeout: Duration,
    /// The lab's root directory (node directories, shared directory, state file). `None`
    /// (the default): a new temporary directory. When given, it must not exist, be empty, or
    /// hold the state of a lab that no longer runs (its remains are removed); it is removed
    /// at teardown.
    pub root: Option<PathBuf>,
    /// A directory with the built `ganesha_nfsd`, `ganesha_mon`, `ganesha_grace` and
    /// `fence_ganesha_lab` binaries. Those present are installed in every node: the agents as
    /// OCF provider `ganesha`, the fence agent as `/usr/sbin/fence_ganesha_lab` (an overlay
    /// inside the node). With the fence agent and more than one node the lab gets the
    /// `lab-fencing` stonith device and `stonith-enabled=true`.
    pub agents_dir: Option<PathBuf>,
    /// Run `ganesha.nfsd` in every node like a system service (false by default), with the
    /// node's own `/etc/ganesha/ganesha.conf` exporting `<shared>/export` as `/export`
    /// (FSAL VFS; with [`gluster`](Self::gluster) the volume `data` through FSAL GLUSTER),
    /// `RecoveryRoot = /var/lib/nfs/ganesha`, pid file `/run/ganesha/ganesha.pid` and log
    /// `/var/log/ganesha/ganesha.log`: ganesha_nfsd's defaults, so a ganesha_nfsd resource
    /// adopts it.
    pub ganesha_service: bool,
    /// Form the cluster (true by default): write corosync.conf, start corosync and
    /// pacemakerd and wait for quorum. With false the nodes come up bare, like freshly
    /// installed machines: packages, D-Bus (and ganesha as a service if asked), no
    /// corosync.conf and no cluster stack, for `ganesha-ha setup` to form the cluster
    /// ([`Node::start_stack`](crate::Node::start_stack) is the lab's
    /// `systemctl start corosync pacemaker`).
    pub form_cluster: bool,
    /// Make every node a GlusterFS server (false by default; it adds a few seconds): its own
    /// glusterd and gluster state, one trusted pool of all nodes, the volume
    /// [`DATA_VOLUME`](crate::DATA_VOLUME) (replica 3, or one replica per node when fewer;
    /// plain with one node) started, and the shared storage volume
    /// [`SHARED_STORAGE_VOLUME`](crate::SHARED_STORAGE_VOLUME) mounted at
    /// [`SHARED_STORAGE_MOUNT`](crate::SHARED_STORAGE_MOUNT) on every node; see
    /// `src/gluster.rs`.
    pub gluster: bool,
    /// IPv6 in the lab's namespaces (true by default). With false, IPv6 is disabled in the
    /// switch and every node namespace before any interface is up, so that no IPv6 address
    /// exists there (booth 1.0 hangs on kernels from 6.9 when one does; corosync, pacemaker
    /// and glusterd use IPv4 here and do not mind).
    pub ipv6: bool,
    /// Receives a line per phase while the lab comes up.
    pub progress: Option<Progress>,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            nodes: 1,
            name: unique_name(),
            subnet_base: [192, 0, 2],
            first_host: 11,
            wait_timeout: Duration::from_secs(90),
            root: None,
            agents_dir: None,
            ganesha_service: false,
            form_cluster: true,
            gluster: false,
            ipv6: true,
            progress: None,
        }
    }
}

/// A lab name not used by any other lab of this process or of any other live process.
fn unique_name() -> String {
    let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("gl{:x}-{n}", std::process::id())
}

impl LabOptions {
    pub(crate) fn validate(&self) -> Result<(), LabError> {
        let bad = |m: String| Err(LabError::Options(m));
        if self.name.is_empty()
            || self.name.len() > 16
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return bad(format!(
                "name {:?} must be 1-16 letters, digits or '-'",
                self.name
            ));
        }
        if self.nodes == 0 {
            return bad("a lab needs at least one node".into());
        }
        let last = usize::from(self.first_host) + self.nodes - 1;
        if self.first_host == 0 || last > 254 {
            return bad(format!(
                "host numbers {}..={last} do not fit in a /24",
                self.first_host
            ));
        }
        if let Some(root) = &self.root {
            if !root.is_absolute() || root.parent().is_none() {
                return bad(format!(
                    "root {} must be an absolute path below /",
                    root.display()
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn subnet(&self) -> String {
        let [a, b, c] = self.subnet_base;
        format!("{a}.{b}.{c}.0/24")
    }

    pub(crate) fn say(&self, line: &str) {
        tracing::info!("{line}");
        if let Some(p) = &self.progress {
            p.say(line);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn names_are_unique_and_valid() {
        let a = LabOptions::default();
        let b = LabOptions::default();
        assert_ne!(a.name, b.name);
        a.validate().unwrap();
        assert!(LabOptions {
            nodes: 0,
            ..a.clone()
        }
        .validate()
        .is_err());
        assert!(LabOptions {
            name: "a b".into(),
            ..a.clone()
        }
        .validate()
        .is_err());
        assert!(LabOptions {
            root: Some("relative".into()),
            ..a.clone()
        }
        .validate()
        .is_err());
        assert!(LabOptions {
            first_host: 250,
            nodes: 6,
            ..a
        }
        .validate()
        .is_err());
    }
}
