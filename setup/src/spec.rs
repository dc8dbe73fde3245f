//! The cluster as the configuration describes it: what the config parser produces and what
//! the Corosync and CIB generators consume. Plain data, validated by the parser.

use std::net::IpAddr;

use ganesha_agents::names::GANESHA_PID_FILE;
use ipnetwork::IpNetwork;

use crate::gluster::SHARED_STORAGE_MOUNT;

/// Everything `ganesha-ha` needs to build and manage one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    /// `HA_NAME`: the Corosync cluster name.
    pub name: String,
    /// `HA_CLUSTER_NODES`, in that order (the ring order of VIP preferences).
    pub nodes: Vec<NodeSpec>,
    /// Fencing: devices, or explicitly disabled.
    pub fencing: Fencing,
    /// Recurring monitor intervals (Pacemaker interval strings such as "5s").
    pub intervals: Intervals,
    /// The shared state volume ganesha_nfsd mounts (or uses as a directory).
    pub state: StateVolume,
    /// ganesha.nfsd paths, as ganesha_nfsd parameters.
    pub ganesha: GaneshaPaths,
    /// How to reach the nodes.
    pub ssh: SshSettings,
    /// Which transport runs commands on the nodes.
    pub transport: TransportKind,
    /// `HA_EXPORTS_DIR`: where `ganesha-ha export` keeps export files; `None`:
    /// `<state mount>/nfs-ganesha/exports` (see [`ClusterSpec::exports_dir`]).
    pub exports_dir: Option<String>,
    /// Wrap each VIP in portblock block/unblock (TCP 2049), as the glusterfs design did.
    pub portblock: bool,
    /// Interface for the VIPs (IPaddr2 `nic`); `None` lets IPaddr2 find it.
    pub vip_nic: Option<String>,
    /// `HA_GLUSTER_SHARED_STORAGE`: `setup` checks the gluster pool and enables glusterfs's
    /// shared storage, the default state volume then ([`crate::gluster`]).
    pub gluster_shared_storage: bool,
}

impl ClusterSpec {
    /// The directory of the export files ganesha-ha manages: on the shared state volume
    /// unless configured, so every node reads the same files.
    pub fn exports_dir(&self) -> String {
        self.exports_dir
            .clone()
            .unwrap_or_else(|| format!("{}/nfs-ganesha/exports", self.state.mount))
    }
}

/// One cluster node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// The node name (Pacemaker uname, host name).
    pub name: String,
    /// Corosync ring0 address; `None` means the name resolves to it.
    pub addr: Option<IpAddr>,
    /// The node's VIP with its prefix (IPaddr2 `ip` and `cidr_netmask`; /32 by default).
    pub vip: IpNetwork,
}

/// Fencing configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fencing {
    /// `stonith-enabled=false`, requested explicitly; every command warns about it.
    Disabled,
    /// Stonith resources (at least one).
    Devices(Vec<FenceDevice>),
}

/// One stonith resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceDevice {
    /// Resource id.
    pub id: String,
    /// Agent type, e.g. `fence_ipmilan` (class stonith).
    pub agent: String,
    /// Instance parameters, e.g. `ip`, `username`, `pcmk_host_list`.
    pub params: Vec<(String, String)>,
}

/// Monitor intervals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intervals {
    pub nfsd: String,
    pub mon: String,
    pub grace: String,
    pub vip: String,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            nfsd: "10s".into(),
            mon: "1s".into(),
            grace: "20s".into(),
            vip: "10s".into(),
        }
    }
}

/// ganesha_nfsd's state-volume parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateVolume {
    pub device: Option<String>,
    pub fstype: Option<String>,
    pub options: Option<String>,
    pub mount: String,
}

impl Default for StateVolume {
    fn default() -> Self {
        StateVolume {
            device: None,
            fstype: None,
            options: None,
            mount: SHARED_STORAGE_MOUNT.into(),
        }
    }
}

/// ganesha.nfsd paths (ganesha_nfsd's defaults when not configured).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaneshaPaths {
    pub config: String,
    pub pid_file: String,
    pub recovery_root: String,
}

impl Default for GaneshaPaths {
    fn default() -> Self {
        GaneshaPaths {
            config: "/etc/ganesha/ganesha.conf".into(),
            pid_file: GANESHA_PID_FILE.into(),
            recovery_root: "/var/lib/nfs/ganesha".into(),
        }
    }
}

/// How `ganesha-ha` runs commands on the cluster's nodes (`HA_TRANSPORT`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TransportKind {
    /// ssh with [`SshSettings`], host keys checked (the default).
    #[default]
    Ssh,
    /// A `ganesha-lab` lab, reached through its state file (`lab:<state file>`).
    Lab { state_file: String },
}

/// Remote access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshSettings {
    pub user: String,
    pub key: String,
    /// `HA_SSH_KNOWN_HOSTS`: the known-hosts file (ssh's own default otherwise). Host keys
    /// are always checked.
    pub known_hosts: Option<String>,
}

impl Default for SshSettings {
    fn default() -> Self {
        SshSettings {
            user: "root".into(),
            key: "/var/lib/glusterd/nfs/secret.pem".into(),
            known_hosts: None,
        }
    }
}
