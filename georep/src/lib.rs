//! GlusterFS geo-replication: sessions over the real `gluster` CLI, and site failover and
//! failback as Pacemaker-managed resources. Not implemented yet; this crate reserves its
//! place in the workspace layout.
