//! OCF resource agents for highly available NFS-Ganesha under Pacemaker.
//!
//! - [`nfsd::GaneshaNfsd`] (`ganesha_nfsd`): shared state volume, recovery directory and the
//!   ganesha.nfsd daemon.
//! - [`mon::GaneshaMon`] (`ganesha_mon`): publishes the daemon's health as node attributes.
//! - [`grace::GaneshaGrace`] (`ganesha_grace`): puts the local daemon into NFS grace when a
//!   peer stops serving or comes back.
//!
//! - [`georep_monitor::GeorepMonitor`] (`georep_monitor`): one geo-replicated volume pair at
//!   one site, promotable: Promoted owns the writes, Unpromoted keeps a read-only copy.
//! - [`booth::BoothSite`] (`booth_site`): boothd supervised by Pacemaker.
//!
//! Each binary's `main` is one call to [`ocf::run`]. The names the Pacemaker model shares
//! with the agents (agents, provider, node attributes, pid file) are in [`names`].

pub mod booth;
pub mod daemon;
pub mod dbus;
pub mod georep_monitor;
pub mod grace;
pub mod mon;
pub mod mount;
pub mod names;
pub mod nfsd;
pub mod recovery;
pub mod state;
