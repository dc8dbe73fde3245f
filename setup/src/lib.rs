//! `ganesha-ha`: highly available NFS-Ganesha on GlusterFS with Pacemaker/Corosync.
//!
//! The command line is [`cli`], one module per subcommand: `install-agents` puts the resource
//! agents where Pacemaker finds them; `validate` checks a `ganesha-ha.conf`; `setup` forms
//! the cluster and applies the configuration (`--dry-run` writes the corosync.conf, authkey
//! and CIB it would apply); `status` reports the cluster's HA health from Pacemaker's XML.
//! The other modules are the library behind them. Exit status: 0 success (HEALTHY),
//! 1 error, 2 usage, 3 FAILOVER, 4 BAD.

pub mod apply;
pub mod cib;
pub mod cli;
pub mod config;
pub mod corosync;
pub mod error;
pub mod exports;
pub mod form;
pub mod generate;
pub mod gluster;
pub mod install;
pub mod membership;
pub mod model;
pub mod site;
pub mod spec;
pub mod status;
pub mod transport;
