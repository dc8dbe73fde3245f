//! A real Pacemaker/Corosync + D-Bus + NFS-Ganesha cluster in network namespaces.
//!
//! [`Lab::up`] builds a cluster of one or more nodes on this host and waits until Pacemaker
//! has quorum, a DC and every node online; dropping the [`Lab`] (or [`Lab::down`]) tears
//! everything down again. Each node is
//!
//! * a network namespace `<lab>-n<i>` with `eth0` = `A.B.C.<first_host + i - 1>/24`
//!   (`192.0.2.11`, ... by default), linked by a veth pair to a bridge in a switch namespace
//!   `<lab>-sw`;
//! * a "holder" process (`sleep infinity`, in a session of its own) in that network namespace
//!   and in its own mount and UTS namespaces; everything else enters the node through it
//!   (`nsenter -t <holder> -n -m -u -- ...`, see [`Node::command`]);
//! * inside, tmpfs on `/run` and `/dev/shm`, its own copies of `/etc/corosync`,
//!   `/var/lib/corosync`, `/var/lib/pacemaker`, `/var/log/{corosync,pacemaker,ganesha}`,
//!   `/var/lib/nfs` and `/etc/ganesha` (bind mounts of directories under [`Node::dir`]),
//!   its own `/usr/lib/ocf/resource.d` (the host's providers, except `ganesha` which is the
//!   node's own, plus those added with [`Node::install_ocf_provider`]), and hostname =
//!   [`Node::name`];
//! * a system bus (`dbus-daemon` on `/run/dbus/system_bus_socket`), `corosync -f` and
//!   `pacemakerd`, and with [`LabOptions::ganesha_service`] a `ganesha.nfsd` serving
//!   `<shared>/export` (with gluster: the volume [`DATA_VOLUME`] through FSAL GLUSTER), all
//!   started by the lab, detached (sessions of their own).
//!
//! With [`LabOptions::gluster`], every node is also a GlusterFS server: its own glusterd
//! and gluster state, one trusted pool, the volume [`DATA_VOLUME`] and the shared storage
//! [`SHARED_STORAGE_VOLUME`] mounted at [`SHARED_STORAGE_MOUNT`] on every node
//! ([`Node::gluster`], [`Node::mount_volume`], [`Node::kill_brick`], ...).
//!
//! [`Sites`] (`sites.rs`, `sites/`) builds two such labs with GlusterFS as two disaster
//! recovery sites joined through a wan bridge with booth's arbitrator: tickets, cutting a
//! site off, geo-replication's ssh prerequisites.
//!
//! With [`LabOptions::agents_dir`], the project's agents are installed in every node
//! (`ocf:ganesha:*`) and, with `fence_ganesha_lab` there and more than one node, a
//! `lab-fencing` stonith device powers nodes off and on ([`Node::power_off`],
//! [`Node::power_on`]) and `stonith-enabled=true`.
//!
//! A lab is described by a state file ([`Lab::state_file`], see [`LabState`]): another
//! process can [`Lab::attach`] to it, operate its nodes and tear it down, pid-based: the
//! processes of a node are exactly those whose network namespace is the node's.
//!
//! Nothing on the host changes: no host interface, route, firewall rule or mount is touched,
//! every address lives in namespaces the lab created, and only processes that the lab started
//! or that live in its namespaces are ever signalled.
//!
//! ```no_run
//! use ganesha_lab::{Lab, LabOptions};
//! # fn main() -> Result<(), ganesha_lab::LabError> {
//! let lab = Lab::up(LabOptions::default())?;
//! let node = lab.node(0);
//! let out = node.run("crm_mon", &["--one-shot", "--output-as=xml"])?;
//! assert!(String::from_utf8_lossy(&out.stdout).contains("node1"));
//! lab.down()?;
//! # Ok(())
//! # }
//! ```
//!
//! Labs are independent: tests may build several at once, in threads of one process (names
//! are unique per lab), and the library uses no process-global state (cwd, environment).
//!
//! # Layout
//!
//! The [`Lab`] type is `lab.rs`; its steps are in `lab/`: `build.rs` (the order of things),
//! `namespaces.rs` (switch, node namespaces and links, holders), `prepare.rs` (a node's
//! directories, configs and mounts), `ready.rs` (waiting for quorum and ganesha),
//! `fencing.rs` (the `lab-fencing` device), `gluster.rs` (glusterd, the pool and the volumes),
//! `teardown.rs` and `root.rs` (the lab's name and directory). A [`Node`] is `node.rs`, a node
//! as a GlusterFS server `gluster.rs`, the state file `state.rs`; two labs as disaster
//! recovery sites [`Sites`] `sites.rs` (`sites/`: booth, network, ssh, state). Around them: [`LabOptions`]
//! (`options.rs`), [`Progress`] (`progress.rs`), [`LabError`] (`error.rs`), [`preflight`]
//! (`preflight.rs`), the programs the lab runs (`tools.rs`), the project's agents
//! (`agents.rs`), [`ClusterStatus`] (`status.rs`), [`cleanup_stale_labs`] (`stale.rs`),
//! [`process_state`] (`process.rs`), config files (`conf.rs`, `ganesha.rs`), host system
//! calls (`sys.rs`) and external commands ([`util`], bounded by `ocf::command`). Public
//! modules: [`cli`] (the `ganesha-lab` program), [`fence`] (the fence agent's protocol),
//! [`graph`] (offline scheduler checks) and [`ha_model`] (the spec of a lab's nodes, for
//! `ganesha-ha`'s HA model).

mod agents;
pub mod cli;
mod conf;
mod error;
pub mod fence;
mod ganesha;
mod gluster;
pub mod graph;
pub mod ha_model;
mod lab;
mod node;
mod options;
mod preflight;
mod process;
mod progress;
mod sites;
mod stale;
mod state;
mod status;
mod sys;
mod tools;
pub mod util;

pub use agents::{FENCE_AGENT, OCF_AGENTS, OCF_RESOURCE_D, OWN_PROVIDER};
pub use conf::dbus_system_conf;
pub use error::LabError;
pub use ganesha::{write_ganesha_conf, GaneshaConf, GaneshaExport, HELLO_FILE, HELLO_TEXT};
pub use gluster::{
    VolumeInfo, DATA_VOLUME, GLUSTERD, GLUSTERFS, GLUSTERFSD, PING_TIMEOUT, SHARED_STORAGE_MOUNT,
    SHARED_STORAGE_VOLUME,
};
pub use lab::{down_state, Lab, FENCE_RESOURCE};
pub use nix::sys::signal::Signal;
pub use nix::unistd::Pid;
pub use node::{
    FailMode, Node, COROSYNC, DBUS_DAEMON, GANESHA, GANESHA_CONF, GANESHA_LOG, GANESHA_PID_FILE,
    GANESHA_RECOVERY_ROOT, PACEMAKERD,
};
pub use options::LabOptions;
pub use preflight::preflight;
pub use process::{process_name, process_state};
pub use progress::Progress;
pub use sites::{
    booth_conf, ssh_args, ticket_granted_in, BoothLayout, BoothTicket, Site, SiteLab, Sites,
    SitesOptions, SitesState, ARBITRATOR_HOST, BOOTHD, BOOTH_AUTHKEY, BOOTH_CONF, BOOTH_PORT,
    DATA_TICKET, REPL_STATE_PREREQ, ROOT_KEY, SITES_STATE_FILE, SITE_A_FIRST_HOST,
    SITE_B_FIRST_HOST, SSHD,
};
pub use stale::cleanup_stale_labs;
pub use state::{GlusterState, LabState, NodeState, STATE_FILE};
pub use status::{ClusterStatus, FailedOp};
pub use util::{run_checked, CommandFailed};

// Crate-internal names the modules reach from the crate root.
pub(crate) use error::io_err;
pub(crate) use tools::Tools;
pub(crate) use util::spawn_logged;
