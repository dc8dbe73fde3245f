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
/// Every agent, as named in `ocf:ganesha:<agent>` and as its binary is called.
pub const AGENTS: [&str; 3] = [NFSD_AGENT, MON_AGENT, GRACE_AGENT];

/// The transient node attribute `ganesha_mon` sets while the daemon is healthy (the default
/// of its `ganesha_active` parameter).
pub const GANESHA_ACTIVE: &str = "ganesha-active";
/// The transient node attribute whose withdrawal triggers grace and the VIP move (the
/// default of `ganesha_mon`'s `grace_active` parameter).
pub const GRACE_ACTIVE: &str = "grace-active";

/// ganesha.nfsd's pid file (the default of both `ganesha_nfsd`'s and `ganesha_mon`'s
/// `pid_file`).
pub const GANESHA_PID_FILE: &str = "/run/ganesha/ganesha.pid";

/// The agent that gives a volume pair's site its role (promotable: Promoted owns the writes).
pub const GEOREP_AGENT: &str = "georep_monitor";
/// The agent that runs a site's boothd under Pacemaker.
pub const BOOTH_AGENT: &str = "booth_site";
