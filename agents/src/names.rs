//! The names the agents share with whatever configures and runs them (`ganesha-ha`'s CIB
//! model, its installer, the lab): declared here once, so that a rename cannot leave one
//! side behind.

/// The OCF provider: the agents are `ocf:ganesha:<agent>`, installed as
/// `$OCF_ROOT/resource.d/ganesha/<agent>`.
pub const PROVIDER: &str = "ganesha";

/// The agent that runs ganesha.nfsd and its shared recovery state.
pub const NFSD_AGENT: &str = "ganesha_nfsd";
/// The agent that publishes the daemon's health as node attributes.
pub const MON_AGENT: &str = "ganesha_mon";
/// The agent that puts the survivors into NFS grace.
pub const GRACE_AGENT: &str = "ganesha_grace";
/// The promotable agent of one geo-replicated volume pair at one site (`docs/sites.md`).
pub const GEOREP_AGENT: &str = "georep_monitor";
/// The agent that runs boothd as a Pacemaker primitive.
pub const BOOTH_AGENT: &str = "booth_site";
/// Every agent, as named in `ocf:ganesha:<agent>` and as its binary is called.
pub const AGENTS: [&str; 5] = [
    NFSD_AGENT,
    MON_AGENT,
    GRACE_AGENT,
    GEOREP_AGENT,
    BOOTH_AGENT,
];

/// The transient node attribute `ganesha_mon` sets while the daemon is healthy (the default
/// of its `ganesha_active` parameter).
pub const GANESHA_ACTIVE: &str = "ganesha-active";
/// The transient node attribute whose withdrawal triggers grace and the VIP move (the
/// default of `ganesha_mon`'s `grace_active` parameter).
pub const GRACE_ACTIVE: &str = "grace-active";

/// ganesha.nfsd's pid file (the default of both `ganesha_nfsd`'s and `ganesha_mon`'s
/// `pid_file`).
pub const GANESHA_PID_FILE: &str = "/run/ganesha/ganesha.pid";

/// booth's configuration file (the default of `booth_site`'s `config` and of
/// `georep_monitor`'s `booth_conf`).
pub const BOOTH_CONF: &str = "/etc/booth/booth.conf";

/// The booth attribute (geostore, at the *other* site) holding the owner's replication
/// state: `ACTIVE` while the session is healthy and fresh, else the roll-up or `STALE`.
/// booth's `attr-prereq = auto repl_state eq ACTIVE` reads it.
pub const REPL_STATE: &str = "repl_state";
/// The booth attribute holding the owner's last-synced time (seconds since the epoch).
pub const LAST_SYNCED: &str = "last_synced";

/// The pair's booth ticket unless configured otherwise: `ticket-<volume>`.
pub fn default_ticket(volume: &str) -> String {
    format!("ticket-{volume}")
}

/// Node attribute with the outgoing session's roll-up (`ACTIVE`, `FAULTY`, ..., `NONE`).
pub fn georep_status_attr(volume: &str) -> String {
    format!("georep-{volume}-status")
}

/// Node attribute with the outgoing session's lag (seconds since last synced).
pub fn georep_lag_attr(volume: &str) -> String {
    format!("georep-{volume}-lag")
}

/// Node attribute `site failback commit` sets on the promoted node while it hands the pair
/// back (seconds since the epoch): the volume is read-only on purpose while the last writes
/// sync, so the promoted monitor must not call that a failure.
pub fn georep_handover_attr(volume: &str) -> String {
    format!("georep-{volume}-handover")
}

/// Node attribute with the outgoing session's checkpoint (`completed`, `pending`, `none`).
pub fn georep_checkpoint_attr(volume: &str) -> String {
    format!("georep-{volume}-checkpoint")
}
