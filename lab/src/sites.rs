//! Two sites for disaster recovery (`docs/sites.md`): two labs, each its own Pacemaker
//! cluster and GlusterFS trusted pool with the volume `data`, joined through a wan bridge
//! that also holds booth's arbitrator. Built by [`Sites::up`], reached from another process
//! by [`Sites::attach`], torn down by [`Sites::down`] or on drop.
//!
//! Layout (sites name `S`, 192.0.2.0/24):
//!
//! | namespace | what | address |
//! |---|---|---|
//! | `S-a-n<i>`, `S-a-sw` | site `a`: the lab `S-a` (cluster `S-a`) | `.11`, `.12`, ... |
//! | `S-b-n<i>`, `S-b-sw` | site `b`: the lab `S-b` (cluster `S-b`) | `.31`, `.32`, ... |
//! | `S-wan` | bridge `br0`, ports `site-a`, `site-b` (to each lab's switch) and `arb` | – |
//! | `S-arb` | the arbitrator: `boothd` only, private `/run` and `/etc/booth` | `.250` |
//!
//! The two clusters stay separate on the shared wan (different nodelists: corosync's knet
//! talks only to its own members). [`Sites::cut`] takes a site's wan port down: the site is
//! cut off from the other site and the arbitrator, its own nodes still see each other.
//! IPv6 is disabled in every namespace of the sites (booth 1.0 hangs otherwise; corosync,
//! pacemaker and glusterd use IPv4 here).
//!
//! booth: one key (`booth-keygen`, in `<root>/booth/`) and one `booth.conf`
//! ([`booth_conf`]) installed at [`BOOTH_AUTHKEY`] and [`BOOTH_CONF`] in every node's private
//! `/etc/booth` and the arbitrator's; one ticket [`DATA_TICKET`] for the pair of `data`
//! volumes, `mode = manual` unless [`SitesOptions::auto_ticket`]. The lab starts only the
//! arbitrator's boothd; a site's boothd is a Pacemaker resource (`ocf:ganesha:booth_site`)
//! that `ganesha-ha site setup` configures, or [`Sites::start_site_boothd`] for tests. A
//! site's booth address is its first node's address ([`Sites::booth_addr`]).
//!
//! Geo-replication's prerequisites: sshd on port 22 in every node, root keys so that every
//! node reaches every node of the other site as root (`ssh.rs`).

mod booth;
mod network;
mod ssh;
mod state;

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub use booth::{
    booth_conf, ticket_granted_in, BoothLayout, BoothTicket, BOOTH_AUTHKEY, BOOTH_CONF, BOOTH_PORT,
    DATA_TICKET, REPL_STATE_PREREQ,
};
pub use ssh::{ssh_args, ROOT_KEY, SSHD};
pub use state::{Site, SiteLab, SitesState, SITES_STATE_FILE};

use self::network::{
    add_arbitrator, add_netns, add_wan_bridge, arbitrator_node, ip, wan_bridge, SWITCH_UPLINK,
};
use self::ssh::SshTools;
use crate::gluster::wait_bounded;
use crate::node::SETUP_TIMEOUT;
use crate::state::NodeState;
use crate::util::run_checked;
use crate::{io_err, preflight, sys, Lab, LabError, LabOptions, Node, Progress, Tools};

/// Host number of site `a`'s first node (`192.0.2.11`).
pub const SITE_A_FIRST_HOST: u8 = 11;
/// Host number of site `b`'s first node (`192.0.2.31`).
pub const SITE_B_FIRST_HOST: u8 = 31;
/// Host number of the arbitrator (`192.0.2.250`).
pub const ARBITRATOR_HOST: u8 = 250;
/// boothd (command name).
pub const BOOTHD: &str = "boothd";

/// At most this many nodes per site (the host ranges must not meet).
const MAX_NODES_PER_SITE: usize = 20;
/// Bound on a boothd answering `booth status`.
const BOOTH_WAIT: Duration = Duration::from_secs(20);
/// Bound on one booth or crm_ticket client call.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound on killing the arbitrator's processes at teardown.
const TEARDOWN_KILL: Duration = Duration::from_secs(15);

static SITES_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// How to build [`Sites`].
#[derive(Debug, Clone)]
pub struct SitesOptions {
    /// Prefix of every name (letters, digits, `-`; at most 12 characters): the labs are
    /// `<name>-a` and `<name>-b`. The default is derived from the process id and a counter.
    pub name: String,
    /// Nodes per site (1 by default).
    pub nodes_per_site: usize,
    /// Passed to both labs ([`LabOptions::agents_dir`]).
    pub agents_dir: Option<PathBuf>,
    /// The sites' root directory (`None`: a new temporary directory); it must not exist or
    /// be empty, and is removed at teardown.
    pub root: Option<PathBuf>,
    /// The data ticket moves automatically (no `mode = manual`): a site cut off loses it
    /// when its lease expires and the other site acquires it. False by default.
    pub auto_ticket: bool,
    /// The ticket has `attr-prereq = auto repl_state eq ACTIVE` (false by default).
    pub attr_prereq: bool,
    /// Bound on each lab's quorum wait (120 s by default).
    pub wait_timeout: Duration,
    /// Receives a line per phase.
    pub progress: Option<Progress>,
}

impl Default for SitesOptions {
    fn default() -> Self {
        let n = SITES_COUNTER.fetch_add(1, Ordering::Relaxed);
        SitesOptions {
            name: format!("gs{:x}-{n}", std::process::id()),
            nodes_per_site: 1,
            agents_dir: None,
            root: None,
            auto_ticket: false,
            attr_prereq: false,
            wait_timeout: Duration::from_secs(120),
            progress: None,
        }
    }
}

impl SitesOptions {
    fn validate(&self) -> Result<(), LabError> {
        let bad = |m: String| Err(LabError::Options(m));
        let ok_name = !self.name.is_empty()
            && self.name.len() <= 12
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok_name {
            return bad(format!(
                "sites name {:?} must be 1-12 letters, digits or '-'",
                self.name
            ));
        }
        if self.nodes_per_site == 0 || self.nodes_per_site > MAX_NODES_PER_SITE {
            return bad(format!(
                "nodes per site {} must be 1..={MAX_NODES_PER_SITE}",
                self.nodes_per_site
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
}

/// The programs the sites run besides the lab's, by absolute path.
struct SitesTools {
    boothd: PathBuf,
    booth: PathBuf,
    keygen: PathBuf,
    crm_ticket: PathBuf,
    ssh: SshTools,
}

impl SitesTools {
    const NEEDED: [(&'static str, &'static str); 7] = [
        ("boothd", "booth"),
        ("booth", "booth"),
        ("booth-keygen", "booth"),
        ("crm_ticket", "pacemaker-cli-utils"),
        ("sshd", "openssh-server"),
        ("ssh", "openssh-client"),
        ("ssh-keygen", "openssh-client"),
    ];

    /// Every program, or what is missing and which packages provide it; with `lenient`
    /// (attached sites) a missing one is run by its bare name.
    fn find(lenient: bool) -> Result<SitesTools, LabError> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        let mut packages = Vec::new();
        for (name, package) in Self::NEEDED {
            match sys::find_program(name) {
                Some(p) => found.push(p),
                None if lenient => found.push(PathBuf::from(name)),
                None => {
                    missing.push(name);
                    if !packages.contains(&package) {
                        packages.push(package);
                    }
                }
            }
        }
        if !missing.is_empty() {
            return Err(LabError::Missing {
                missing: format!("programs {}", missing.join(", ")),
                packages: packages.join(" "),
            });
        }
        let mut it = found.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(SitesTools {
            boothd: next(),
            booth: next(),
            keygen: next(),
            crm_ticket: next(),
            ssh: SshTools {
                sshd: next(),
                ssh: next(),
                keygen: next(),
            },
        })
    }
}

/// Two sites and an arbitrator; see the module documentation. Built by [`Sites::up`]: torn
/// down when dropped unless [`Sites::detach`]ed; [`Sites::attach`]ed: not. [`Sites::down`]
/// always tears down.
pub struct Sites {
    state: SitesState,
    tmp: Option<TempDir>,
    labs: Vec<(Site, Lab)>,
    arbitrator: Option<Node>,
    tools: Arc<Tools>,
    bins: SitesTools,
    progress: Option<Progress>,
    phases: Vec<(String, Duration)>,
    owned: bool,
    torn_down: bool,
}

impl std::fmt::Debug for Sites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sites")
            .field("state", &self.state)
            .field("phases", &self.phases)
            .finish_non_exhaustive()
    }
}

impl Sites {
    /// Builds the sites (see the module documentation) and returns once both clusters have
    /// quorum and a DC, both pools their `data` volume, every node reaches every node of the
    /// other site by ssh as root, and the arbitrator's boothd answers. Phases and their
    /// times go to [`SitesOptions::progress`] and [`Sites::up_phases`]. On failure
    /// everything built so far is torn down.
    pub fn up(opts: SitesOptions) -> Result<Sites, LabError> {
        let t0 = Instant::now();
        opts.validate()?;
        preflight()?;
        let tools = Arc::new(Tools::find(false, true)?);
        let bins = SitesTools::find(false)?;
        refuse_same_name(&opts.name)?;
        let (tmp, root) = claim_root(&opts)?;
        let mut state = SitesState::new(&opts.name, &root, opts.nodes_per_site);
        state.auto_ticket = opts.auto_ticket;
        state.attr_prereq = opts.attr_prereq;
        for site in Site::ALL {
            let lab_name = format!("{}-{site}", opts.name);
            state.labs.push(SiteLab {
                site,
                state_file: root.join(site.as_str()).join(crate::STATE_FILE),
                lab_name,
                wan_port: format!("site-{site}"),
            });
        }
        let mut sites = Sites {
            state,
            tmp,
            labs: Vec::new(),
            arbitrator: None,
            tools,
            bins,
            progress: opts.progress.clone(),
            phases: Vec::new(),
            owned: true,
            torn_down: false,
        };
        // From here on, an error drops `sites`, which tears down what was built.
        sites.save()?;
        let layout = sites.booth_layout();
        layout.validate()?;
        let mut phase = Instant::now();

        sites.build_wan_and_arbitrator()?;
        sites.phase(
            &mut phase,
            t0,
            "wan bridge and arbitrator namespace (IPv6 off)",
        );

        sites.build_labs(&opts, t0)?;
        sites.phase(
            &mut phase,
            t0,
            "both sites' labs up (in parallel): quorum, DC, gluster pool and volume data",
        );

        for (site, lab) in &sites.labs {
            let port = format!("site-{site}");
            let wan = sites.state.wan_netns.clone().unwrap_or_default();
            lab.uplink(SWITCH_UPLINK, &wan, wan_bridge(), &port)?;
        }
        sites.phase(&mut phase, t0, "both switches linked to the wan bridge");

        sites.setup_ssh()?;
        sites.phase(
            &mut phase,
            t0,
            "sshd and root keys in every node; every node reaches the other site as root",
        );

        sites.install_booth(&layout)?;
        sites.start_arbitrator_boothd()?;
        sites.phase(
            &mut phase,
            t0,
            "booth key and booth.conf installed; the arbitrator's boothd answers",
        );

        sites.state.complete = true;
        sites.save()?;
        Ok(sites)
    }

    /// A handle on running sites described by their state file (`<root>/sites.json`).
    /// Dropping it tears nothing down; [`Sites::down`] does.
    pub fn attach(state_file: &Path) -> Result<Sites, LabError> {
        let state = SitesState::read(state_file)?;
        let tools = Arc::new(Tools::find_lenient());
        let bins = SitesTools::find(true)?;
        let mut labs = Vec::new();
        for l in &state.labs {
            if l.state_file.exists() {
                labs.push((l.site, Lab::attach(&l.state_file)?));
            }
        }
        let arbitrator = state
            .arbitrator
            .as_ref()
            .map(|st| arbitrator_node(st, tools.clone(), &state.root));
        Ok(Sites {
            state,
            tmp: None,
            labs,
            arbitrator,
            tools,
            bins,
            progress: None,
            phases: Vec::new(),
            owned: false,
            torn_down: false,
        })
    }

    /// Leaves the sites running (no teardown now or on drop); returns their state file.
    pub fn detach(mut self) -> PathBuf {
        if let Some(tmp) = self.tmp.take() {
            let _ = tmp.keep();
        }
        for (_, lab) in std::mem::take(&mut self.labs) {
            let _ = lab.detach();
        }
        self.torn_down = true;
        self.state_file()
    }

    /// The sites' name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The state as recorded.
    pub fn state(&self) -> &SitesState {
        &self.state
    }

    /// `<root>/sites.json`.
    pub fn state_file(&self) -> PathBuf {
        self.state.path()
    }

    /// The sites' root directory.
    pub fn root_dir(&self) -> &Path {
        &self.state.root
    }

    /// Site `site`'s lab (`None` only for attached sites whose lab is gone).
    pub fn lab(&self, site: Site) -> Option<&Lab> {
        self.labs
            .iter()
            .find(|(s, _)| *s == site)
            .map(|(_, lab)| lab)
    }

    /// Site `site`'s nodes (`node1` first).
    pub fn nodes(&self, site: Site) -> &[Node] {
        self.lab(site).map_or(&[], Lab::nodes)
    }

    /// Node `i` (0-based) of site `site`; run commands in it with [`Node::run`] or
    /// [`Node::command`]. Panics when `i` is out of range, like slice indexing.
    pub fn node(&self, site: Site, i: usize) -> &Node {
        &self.nodes(site)[i]
    }

    /// The arbitrator (commands inside its namespaces, like a node's); `None` before it is
    /// built.
    pub fn arbitrator(&self) -> Option<&Node> {
        self.arbitrator.as_ref()
    }

    /// The arbitrator's address (`192.0.2.250`).
    pub fn arbitrator_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, ARBITRATOR_HOST)
    }

    /// Site `site`'s booth address: its first node's address.
    pub fn booth_addr(&self, site: Site) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, first_host(site))
    }

    /// The booth layout the sites use (what [`booth_conf`] wrote).
    pub fn booth_layout(&self) -> BoothLayout {
        let mut ticket = BoothTicket::new(DATA_TICKET);
        ticket.manual = !self.state.auto_ticket;
        ticket.attr_prereq = self.state.attr_prereq;
        BoothLayout {
            sites: Site::ALL.iter().map(|&s| self.booth_addr(s)).collect(),
            arbitrator: Some(self.arbitrator_addr()),
            port: BOOTH_PORT,
            authfile: BOOTH_AUTHKEY.to_string(),
            tickets: vec![ticket],
        }
    }

    /// Every namespace of the sites: both labs', the wan and the arbitrator's.
    pub fn netns_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .labs
            .iter()
            .flat_map(|(_, l)| l.netns_names())
            .collect();
        v.extend(self.state.wan_netns.clone());
        v.extend(self.state.arbitrator.as_ref().map(|a| a.netns.clone()));
        v
    }

    /// [`Sites::up`]'s phases with how long each took.
    pub fn up_phases(&self) -> &[(String, Duration)] {
        &self.phases
    }

    /// Cuts site `site` off the wan (its port on the wan bridge down): it reaches neither the
    /// other site nor the arbitrator; its own nodes still see each other.
    pub fn cut(&self, site: Site) -> Result<(), LabError> {
        self.wan_port(site, "down")
    }

    /// Undoes [`Sites::cut`].
    pub fn heal(&self, site: Site) -> Result<(), LabError> {
        self.wan_port(site, "up")
    }

    /// Whether site `site`'s wan port is down.
    pub fn is_cut(&self, site: Site) -> Result<bool, LabError> {
        let (wan, port) = self.wan_and_port(site)?;
        let out = run_checked(
            Command::new(self.tools.get("ip"))
                .args(["-n", &wan, "-o", "link", "show", "dev", &port]),
            SETUP_TIMEOUT,
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        let up = text
            .find('<')
            .and_then(|a| text[a + 1..].find('>').map(|b| &text[a + 1..a + 1 + b]))
            .is_some_and(|flags| flags.split(',').any(|f| f == "UP"));
        Ok(!up)
    }

    /// Powers every node of site `site` off ([`Node::power_off`]).
    pub fn power_off(&self, site: Site) -> Result<(), LabError> {
        for n in self.nodes(site) {
            n.power_off()?;
        }
        Ok(())
    }

    /// Powers every node of site `site` on ([`Node::power_on`]) and starts its sshd again,
    /// like a boot. A boothd started by [`Sites::start_site_boothd`] is not restarted (at a
    /// real site Pacemaker starts it).
    pub fn power_on(&self, site: Site) -> Result<(), LabError> {
        for n in self.nodes(site) {
            n.power_on()?;
            if n.raw_named(SSHD).is_empty() {
                ssh::start_sshd_only(n, &self.bins.ssh)?;
            }
        }
        Ok(())
    }

    /// Starts site `site`'s boothd directly in its first node (`boothd daemon -S -c
    /// /etc/booth/booth.conf`, output in the node's `logs/boothd.out`) and waits until it
    /// answers `booth status`; returns its pid. At a real site it is the Pacemaker resource
    /// `ocf:ganesha:booth_site`: this is for tests of the lab and as a fallback. Killed at
    /// teardown like every process of the node.
    pub fn start_site_boothd(&self, site: Site) -> Result<u32, LabError> {
        let node = self.node(site, 0);
        if let Some(pid) = node.raw_named(BOOTHD).first() {
            return Err(LabError::Setup(format!(
                "site {site}: a boothd (pid {pid}) already runs in {}",
                node.name()
            )));
        }
        self.start_boothd(node)
    }

    /// `booth status -c /etc/booth/booth.conf` in `node` (a site's node or the
    /// arbitrator): `booth_state=started booth_type=... booth_addr_string=...`.
    pub fn booth_status(&self, node: &Node) -> Result<String, LabError> {
        let out = node.run_timeout(
            &self.bins.booth,
            &["status", "-c", BOOTH_CONF],
            CLIENT_TIMEOUT,
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `booth grant -c /etc/booth/booth.conf -s <site's booth address> TICKET`, from the
    /// site's first node.
    pub fn grant(&self, site: Site, ticket: &str) -> Result<Output, LabError> {
        let addr = self.booth_addr(site).to_string();
        self.node(site, 0).run_timeout(
            &self.bins.booth,
            &["grant", "-c", BOOTH_CONF, "-s", &addr, ticket],
            CLIENT_TIMEOUT,
        )
    }

    /// `booth revoke -c /etc/booth/booth.conf -s <site's booth address> TICKET`, from the
    /// site's first node.
    pub fn revoke(&self, site: Site, ticket: &str) -> Result<Output, LabError> {
        let addr = self.booth_addr(site).to_string();
        self.node(site, 0).run_timeout(
            &self.bins.booth,
            &["revoke", "-c", BOOTH_CONF, "-s", &addr, ticket],
            CLIENT_TIMEOUT,
        )
    }

    /// `crm_ticket --info` at site `site` (its first node): every ticket the site's CIB
    /// knows, `NAME granted|revoked ...`.
    pub fn ticket_info(&self, site: Site) -> Result<String, LabError> {
        let out =
            self.node(site, 0)
                .run_timeout(&self.bins.crm_ticket, &["--info"], CLIENT_TIMEOUT)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether site `site`'s CIB has `ticket` granted.
    pub fn ticket_granted(&self, site: Site, ticket: &str) -> Result<bool, LabError> {
        Ok(ticket_granted_in(&self.ticket_info(site)?, ticket))
    }

    /// Tears everything down (the arbitrator, both labs, the wan, the root directory) and
    /// reports what could not be undone. Works from the state alone.
    pub fn down(mut self) -> Result<(), LabError> {
        self.torn_down = true;
        let problems = self.teardown();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(LabError::Teardown(problems))
        }
    }

    // ---- building ----

    fn say(&self, line: &str) {
        tracing::info!("{line}");
        if let Some(p) = &self.progress {
            p.say(line);
        }
    }

    fn phase(&mut self, since: &mut Instant, t0: Instant, what: &str) {
        let took = since.elapsed();
        self.say(&format!(
            "[{:5.1}s] sites {}: {what} ({:.1} s)",
            t0.elapsed().as_secs_f64(),
            self.state.name,
            took.as_secs_f64()
        ));
        self.phases.push((what.to_string(), took));
        *since = Instant::now();
    }

    fn save(&self) -> Result<(), LabError> {
        self.state.write()
    }

    fn build_wan_and_arbitrator(&mut self) -> Result<(), LabError> {
        let wan = format!("{}-wan", self.state.name);
        let ino = add_netns(&self.tools, &wan)?;
        self.state.wan_netns = Some(wan.clone());
        self.state.wan_ino = Some(ino);
        self.save()?;
        add_wan_bridge(&self.tools, &wan)?;
        let arb = format!("{}-arb", self.state.name);
        let arb_ino = add_netns(&self.tools, &arb)?;
        let addr = self.arbitrator_addr();
        // Recorded before its holder exists: a teardown then still deletes the namespace.
        self.state.arbitrator = Some(NodeState {
            index: 1,
            name: network::ARBITRATOR.to_string(),
            addr,
            netns: arb.clone(),
            netns_ino: arb_ino,
            dir: self.state.root.join(network::ARBITRATOR),
            holder_pid: 0,
            holder_start: 0,
        });
        self.save()?;
        let node = add_arbitrator(&self.tools, &self.state.root, &arb, arb_ino, &wan, addr)?;
        self.state.arbitrator = Some(node.state());
        self.arbitrator = Some(node);
        self.save()
    }

    /// Both labs, built in parallel (each waits mostly for its DC election).
    fn build_labs(&mut self, opts: &SitesOptions, t0: Instant) -> Result<(), LabError> {
        let lab_opts = |site: Site| {
            let progress = opts.progress.clone();
            LabOptions {
                nodes: opts.nodes_per_site,
                name: format!("{}-{site}", opts.name),
                first_host: first_host(site),
                wait_timeout: opts.wait_timeout,
                root: Some(self.state.root.join(site.as_str())),
                agents_dir: opts.agents_dir.clone(),
                gluster: true,
                ipv6: false,
                progress: Some(Progress::new(move |line| {
                    let line = format!("[{:5.1}s] site {site}: {line}", t0.elapsed().as_secs_f64());
                    tracing::info!("{line}");
                    if let Some(p) = &progress {
                        p.say(&line);
                    }
                })),
                ..LabOptions::default()
            }
        };
        let (a, b) = (lab_opts(Site::A), lab_opts(Site::B));
        let (ra, rb) = thread::scope(|s| {
            let ha = s.spawn(move || Lab::up(a));
            let hb = s.spawn(move || Lab::up(b));
            (ha.join(), hb.join())
        });
        let mut first_err = None;
        for (site, res) in [(Site::A, ra), (Site::B, rb)] {
            match res {
                Ok(Ok(lab)) => self.labs.push((site, lab)),
                Ok(Err(e)) => {
                    first_err.get_or_insert(LabError::Setup(format!("site {site}: {e}")));
                }
                Err(_) => {
                    first_err.get_or_insert(LabError::Setup(format!(
                        "site {site}: building its lab panicked"
                    )));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn setup_ssh(&self) -> Result<(), LabError> {
        let all: Vec<&Node> = self.labs.iter().flat_map(|(_, l)| l.nodes()).collect();
        let mut keys = Vec::new();
        for n in &all {
            keys.push(ssh::prepare_root(n, &self.bins.ssh)?);
        }
        for n in &all {
            ssh::start_sshd(n, &keys, &self.bins.ssh)?;
        }
        for site in Site::ALL {
            for from in self.nodes(site) {
                for to in self.nodes(site.other()) {
                    ssh::wait_reachable(from, to, &self.bins.ssh)?;
                }
            }
        }
        Ok(())
    }

    /// `booth-keygen` once into `<root>/booth/authkey`, then that key (0600) and
    /// `booth.conf` into every node's private `/etc/booth` and the arbitrator's.
    fn install_booth(&self, layout: &BoothLayout) -> Result<(), LabError> {
        let dir = self.state.root.join("booth");
        fs::create_dir(&dir).map_err(io_err(format!("create {}", dir.display())))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(io_err(format!("chmod {}", dir.display())))?;
        let key = dir.join("authkey");
        run_checked(Command::new(&self.bins.keygen).arg(&key), SETUP_TIMEOUT)?;
        let conf = booth_conf(layout);
        fs::write(dir.join("booth.conf"), &conf).map_err(io_err("write booth.conf"))?;
        let mut targets: Vec<&Node> = self.labs.iter().flat_map(|(_, l)| l.nodes()).collect();
        targets.extend(self.arbitrator.as_ref());
        for n in targets {
            let etc = n.dir().join("etc-booth");
            if !etc.is_dir() {
                return Err(LabError::Setup(format!(
                    "{}: no private /etc/booth ({} is missing; the host needs /etc/booth: \
                     apt-get install -y booth)",
                    n.name(),
                    etc.display()
                )));
            }
            let conf_file = etc.join("booth.conf");
            fs::write(&conf_file, &conf)
                .map_err(io_err(format!("write {}", conf_file.display())))?;
            let key_file = etc.join("authkey");
            fs::copy(&key, &key_file).map_err(io_err(format!("copy {}", key_file.display())))?;
            fs::set_permissions(&key_file, fs::Permissions::from_mode(0o600))
                .map_err(io_err(format!("chmod {}", key_file.display())))?;
        }
        Ok(())
    }

    fn start_arbitrator_boothd(&self) -> Result<u32, LabError> {
        let arb = self
            .arbitrator()
            .ok_or_else(|| LabError::Setup(format!("sites {}: no arbitrator", self.state.name)))?;
        self.start_boothd(arb)
    }

    /// boothd in `node` (its role from its address), waited for.
    fn start_boothd(&self, node: &Node) -> Result<u32, LabError> {
        let pid = node.start_daemon(
            BOOTHD,
            &self.bins.boothd,
            &["daemon", "-S", "-c", BOOTH_CONF],
            &[],
        )?;
        let mut last = String::new();
        let res = wait_bounded(
            &format!(
                "boothd (pid {pid}) in {} to answer booth status",
                node.name()
            ),
            BOOTH_WAIT,
            || match self.booth_status(node) {
                Ok(text) => {
                    last = text;
                    last.contains("booth_state=started")
                }
                Err(e) => {
                    last = e.to_string();
                    false
                }
            },
        );
        let log = node.dir().join("logs").join(format!("{BOOTHD}.out"));
        res.map_err(|e| {
            LabError::Setup(format!(
                "{e}\nlast booth status: {last}\n{}:\n{}",
                log.display(),
                sys::tail(&log, 20)
            ))
        })?;
        Ok(pid)
    }

    // ---- teardown ----

    fn teardown(&mut self) -> Vec<String> {
        let t0 = Instant::now();
        let mut phase = Instant::now();
        let mut problems = Vec::new();
        let mut timed = |sites: &mut Sites, what: &str| {
            sites.phase(&mut phase, t0, what);
        };
        // The arbitrator: every process in its namespace, then the namespace.
        if let Some(arb) = self.state.arbitrator.clone() {
            let file = Path::new("/run/netns").join(&arb.netns);
            if sys::ns_inode(&file).ok() == Some(arb.netns_ino) {
                let left = sys::kill_in_netns(&[arb.netns_ino], &[], TEARDOWN_KILL);
                if !left.is_empty() {
                    problems.push(format!("arbitrator: processes {left:?} survived SIGKILL"));
                }
            }
            if let Some(node) = self.arbitrator.as_mut() {
                node.reap_all();
            }
            self.del_netns(&arb.netns, Some(arb.netns_ino), &mut problems);
        }
        timed(self, "down: the arbitrator");
        // Both labs (recorded ones that are not attached are torn down from their state).
        let mut attached: Vec<(Site, Lab)> = std::mem::take(&mut self.labs);
        for l in self.state.labs.clone() {
            let res = match attached.iter().position(|(s, _)| *s == l.site) {
                Some(i) => attached.remove(i).1.down(),
                None => crate::down_state(&l.state_file).map(drop),
            };
            if let Err(e) = res {
                problems.push(format!("site {}: {e}", l.site));
            }
            timed(self, &format!("down: site {}", l.site));
        }
        if let Some(wan) = self.state.wan_netns.clone() {
            self.del_netns(&wan, self.state.wan_ino, &mut problems);
        }
        let root = self.state.root.clone();
        let leaked = sys::mounts_under(&root);
        if !leaked.is_empty() {
            if let Some(tmp) = self.tmp.take() {
                let _ = tmp.keep();
            }
            problems.push(format!(
                "mounts {leaked:?} are visible on the host; kept {}",
                root.display()
            ));
        } else if let Some(tmp) = self.tmp.take() {
            if let Err(e) = tmp.close() {
                problems.push(format!("remove {}: {e}", root.display()));
            }
        } else if root.exists() {
            let ours = root.is_absolute()
                && root.parent().is_some()
                && SitesState::read(&root.join(SITES_STATE_FILE))
                    .is_ok_and(|s| s.name == self.state.name);
            if ours {
                if let Err(e) = fs::remove_dir_all(&root) {
                    problems.push(format!("remove {}: {e}", root.display()));
                }
            } else {
                problems.push(format!(
                    "{} does not hold sites {:?}'s state; not removed",
                    root.display(),
                    self.state.name
                ));
            }
        }
        timed(self, "down: the wan and the files");
        problems
    }

    /// `ip netns del NAME` when it is still the recorded namespace (inode `ino`).
    fn del_netns(&self, name: &str, ino: Option<u64>, problems: &mut Vec<String>) {
        let file = Path::new("/run/netns").join(name);
        let Ok(found) = sys::ns_inode(&file) else {
            return;
        };
        if ino.is_some_and(|i| i != found) {
            problems.push(format!(
                "network namespace {name} is not the sites' (another inode); left alone"
            ));
            return;
        }
        if let Err(e) = ip(&self.tools, &["netns", "del", name]) {
            problems.push(e.to_string());
        }
    }

    fn wan_and_port(&self, site: Site) -> Result<(String, String), LabError> {
        let wan = self.state.wan_netns.clone().ok_or_else(|| {
            LabError::Setup(format!("sites {}: no wan namespace", self.state.name))
        })?;
        let port = self
            .state
            .lab(site)
            .map(|l| l.wan_port.clone())
            .ok_or_else(|| LabError::Setup(format!("sites {}: no site {site}", self.state.name)))?;
        Ok((wan, port))
    }

    fn wan_port(&self, site: Site, updown: &str) -> Result<(), LabError> {
        let (wan, port) = self.wan_and_port(site)?;
        ip(&self.tools, &["-n", &wan, "link", "set", &port, updown])
    }
}

impl Drop for Sites {
    fn drop(&mut self) {
        if self.owned && !self.torn_down {
            self.torn_down = true;
            let problems = self.teardown();
            if !problems.is_empty() {
                tracing::warn!(
                    "sites {} teardown: {}",
                    self.state.name,
                    problems.join("; ")
                );
            }
        }
    }
}

/// Host number of `site`'s first node.
fn first_host(site: Site) -> u8 {
    match site {
        Site::A => SITE_A_FIRST_HOST,
        Site::B => SITE_B_FIRST_HOST,
    }
}

/// Refuses a name whose wan or arbitrator namespace exists.
fn refuse_same_name(name: &str) -> Result<(), LabError> {
    for suffix in ["wan", "arb"] {
        let ns = Path::new("/run/netns").join(format!("{name}-{suffix}"));
        if ns.exists() {
            return Err(LabError::AlreadyRunning {
                name: name.to_string(),
                detail: format!(
                    "network namespace {} exists (other sites of that name run; if it is a \
                     leftover: ganesha-lab --name {name} sites down)",
                    ns.display()
                ),
            });
        }
    }
    Ok(())
}

/// The sites' root directory, mode 0755 (the labs' roots go below it).
fn claim_root(opts: &SitesOptions) -> Result<(Option<TempDir>, PathBuf), LabError> {
    let (tmp, root) = match &opts.root {
        Some(root) => {
            if let Some(parent) = root.parent() {
                fs::create_dir_all(parent)
                    .map_err(io_err(format!("create {}", parent.display())))?;
            }
            if root.is_dir() && fs::remove_dir(root).is_err() {
                return Err(LabError::AlreadyRunning {
                    name: opts.name.clone(),
                    detail: format!(
                        "{} exists and is not empty (sites of that name run, or remains: \
                         ganesha-lab --name {} sites down)",
                        root.display(),
                        opts.name
                    ),
                });
            }
            fs::create_dir(root).map_err(io_err(format!("create {}", root.display())))?;
            (None, root.clone())
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix(&format!("ganesha-sites-{}-", opts.name))
                .tempdir()
                .map_err(io_err("create the sites' temporary directory"))?;
            let path = tmp.path().to_path_buf();
            (Some(tmp), path)
        }
    };
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755))
        .map_err(io_err(format!("chmod {}", root.display())))?;
    Ok((tmp, root))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn options_are_checked() {
        let o = SitesOptions::default();
        o.validate().unwrap();
        assert_ne!(o.name, SitesOptions::default().name);
        for bad in [
            SitesOptions {
                name: "much-too-long-name".into(),
                ..o.clone()
            },
            SitesOptions {
                name: "a b".into(),
                ..o.clone()
            },
            SitesOptions {
                nodes_per_site: 0,
                ..o.clone()
            },
            SitesOptions {
                nodes_per_site: 21,
                ..o.clone()
            },
            SitesOptions {
                root: Some("rel".into()),
                ..o.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        // The host ranges never meet, nor the arbitrator.
        let last_a = usize::from(SITE_A_FIRST_HOST) + MAX_NODES_PER_SITE - 1;
        assert!(last_a < usize::from(SITE_B_FIRST_HOST));
        let last_b = usize::from(SITE_B_FIRST_HOST) + MAX_NODES_PER_SITE - 1;
        assert!(last_b < usize::from(ARBITRATOR_HOST));
    }
}
