//! The two sites as `ganesha-ha-sites.conf` describes them ([`crate::config::sites`] reads
//! it): this site's name, both sites' booth addresses, the arbitrator, and the volume pairs.

use std::net::IpAddr;

use georep::Secondary;

use crate::spec::{SshSettings, TransportKind};

/// Where `ganesha-ha site` reads the sites configuration unless `--config` says otherwise.
pub const DEFAULT_SITES_CONFIG: &str = "/etc/ganesha/ganesha-ha-sites.conf";
/// booth's configuration, identical at both sites and the arbitrator.
pub const DEFAULT_BOOTH_CONF: &str = ganesha_agents::names::BOOTH_CONF;
/// booth's shared key (mode 0600, the same bytes everywhere).
pub const DEFAULT_BOOTH_KEY: &str = "/etc/booth/authkey";
/// booth's port (UDP between the daemons, TCP for clients).
pub const DEFAULT_BOOTH_PORT: u16 = 9929;

/// One site: its name (as commands and messages call it) and its booth address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteAddr {
    pub name: String,
    pub addr: IpAddr,
}

/// Who may move a ticket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TicketMode {
    /// Only `site failover` / `failback commit` move it (booth `mode = manual`).
    #[default]
    Manual,
    /// booth fails over by itself once the owner's lease ends, but only to a fresh copy
    /// (`attr-prereq = auto repl_state eq ACTIVE`).
    Auto,
}

impl TicketMode {
    pub fn word(self) -> &'static str {
        match self {
            TicketMode::Manual => "manual",
            TicketMode::Auto => "auto",
        }
    }
}

/// booth's timers of one ticket, in seconds (`retries` a count). booth refuses
/// `timeout * (retries + 1) >= renewal_freq` and fewer than 3 retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    pub expire: u32,
    pub renewal_freq: u32,
    pub acquire_after: u32,
    pub timeout: u32,
    pub retries: u32,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            expire: 600,
            renewal_freq: 300,
            acquire_after: 60,
            timeout: 5,
            retries: 5,
        }
    }
}

impl Timers {
    /// What booth would refuse about these timers, in its own terms.
    pub fn check(&self) -> Result<(), String> {
        if self.retries < 3 {
            return Err(format!(
                "retries={} is below booth's minimum of 3",
                self.retries
            ));
        }
        let total = u64::from(self.timeout) * (u64::from(self.retries) + 1);
        if total >= u64::from(self.renewal_freq) {
            return Err(format!(
                "timeout*(retries+1) = {}*({}+1) = {total} is not below renewal_freq={} (booth refuses it)",
                self.timeout, self.retries, self.renewal_freq
            ));
        }
        if self.renewal_freq > self.expire {
            return Err(format!(
                "renewal_freq={} is longer than expire={}: the lease would end before its renewal",
                self.renewal_freq, self.expire
            ));
        }
        if self.timeout == 0 || self.expire == 0 {
            return Err("timeout and expire must be at least 1".into());
        }
        Ok(())
    }
}

/// One volume pair, as this site sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The local gluster volume.
    pub volume: String,
    /// A gluster node of the other site (the secondary host of the session from here).
    pub remote_host: String,
    /// The pair's volume at the other site.
    pub remote_volume: String,
    /// The session's secondary user.
    pub user: String,
    pub ssh_port: u16,
    /// The freshness bound, seconds.
    pub max_lag: u64,
    pub mode: TicketMode,
    pub timers: Timers,
}

impl Pair {
    /// The pair's booth ticket, `ticket-<volume>`.
    pub fn ticket(&self) -> String {
        ganesha_agents::names::default_ticket(&self.volume)
    }

    /// The `georep_monitor` primitive, `georep-<volume>`.
    pub fn resource(&self) -> String {
        crate::cib::xml_id(&format!("georep-{}", self.volume))
    }

    /// Its promotable clone, `georep-<volume>-clone`.
    pub fn clone_id(&self) -> String {
        format!("{}-clone", self.resource())
    }

    /// The outgoing session's secondary from here: `[user@]remote_host::remote_volume`.
    pub fn secondary(&self) -> Secondary {
        Secondary {
            user: self.user.clone(),
            host: self.remote_host.clone(),
            volume: self.remote_volume.clone(),
        }
    }
}

/// The sites configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SitesSpec {
    /// This site's name: one of `sites`.
    pub this_site: String,
    /// Both sites, in the order of the file.
    pub sites: Vec<SiteAddr>,
    pub arbitrator: IpAddr,
    pub booth_port: u16,
    pub booth_conf: String,
    pub booth_key: String,
    /// This site's gluster node as the other site and the marker mount name it; `None`:
    /// this host's name.
    pub local_host: Option<String>,
    /// The node of the other site that commands run on; `None`: the pair's remote host.
    pub other_node: Option<String>,
    /// How commands reach the other site's node.
    pub other_transport: TransportKind,
    /// The interface of this site's booth address as a resource (`booth-ip`), grouped with
    /// `booth-site`; `None`: no address resource (a one-node site, or the address is fixed).
    pub booth_nic: Option<String>,
    pub ssh: SshSettings,
    pub pairs: Vec<Pair>,
}

impl SitesSpec {
    /// This site.
    pub fn here(&self) -> &SiteAddr {
        self.sites
            .iter()
            .find(|s| s.name == self.this_site)
            .unwrap_or(&self.sites[0])
    }

    /// The other site.
    pub fn other(&self) -> &SiteAddr {
        self.sites
            .iter()
            .find(|s| s.name != self.this_site)
            .unwrap_or(&self.sites[0])
    }

    /// The pair whose local volume is `volume`.
    pub fn pair(&self, volume: &str) -> Option<&Pair> {
        self.pairs.iter().find(|p| p.volume == volume)
    }

    /// This site's gluster node (the volfile server of the marker mount, the secondary
    /// host of the other site's session).
    pub fn local_host(&self) -> String {
        self.local_host
            .clone()
            .or_else(crate::transport::local_node_name)
            .unwrap_or_else(|| "localhost".into())
    }

    /// The other site's node that commands about `pair` run on.
    pub fn other_node(&self, pair: &Pair) -> String {
        self.other_node
            .clone()
            .unwrap_or_else(|| pair.remote_host.clone())
    }
}
