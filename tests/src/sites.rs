//! Two sites with the disaster-recovery stack as `ganesha-ha site setup` configures it
//! (`docs/sites.md`): the lab's [`Sites`] (two gluster clusters, a wan, booth's arbitrator),
//! this build's agents, `booth-site` and the `georep-data` clone at each site, the session
//! `data` → `b`'s `data` created and started at `a`, and the ticket granted to `a`.

use std::path::Path;
use std::time::{Duration, Instant};

use ganesha_lab::{BoothTicket, Node, Site, Sites, SitesOptions, DATA_TICKET, DATA_VOLUME};
use ganesha_testkit::Ran;

use crate::bins::bin_dir;
use crate::lab::{ganesha_ha_in, in_node};

/// Where each site's first node mounts its `data` volume for the tests' readers and writers.
pub const MOUNT: &str = "/run/dr-data";
/// The sites configuration inside each node.
pub const SITES_CONF: &str = "/etc/ganesha/ganesha-ha-sites.conf";
/// The pair's clone, as `site setup` names it.
pub const CLONE: &str = "georep-data-clone";
/// The pair's primitive.
pub const RESOURCE: &str = "georep-data";

/// Two sites set up for disaster recovery of the volume pair `data`.
pub struct DrSites {
    pub sites: Sites,
    pub auto: bool,
    pub started: Instant,
}

impl DrSites {
    /// Brings both sites up and configures them; `auto` gives the ticket booth's automatic
    /// failover with the freshness gate (`attr-prereq`), otherwise it is manual.
    pub fn up(auto: bool) -> DrSites {
        let started = Instant::now();
        let sites = Sites::up(SitesOptions {
            agents_dir: Some(bin_dir().to_path_buf()),
            auto_ticket: auto,
            attr_prereq: auto,
            ..SitesOptions::default()
        })
        .unwrap_or_else(|e| panic!("sites up: {e}"));
        let dr = DrSites {
            sites,
            auto,
            started,
        };
        dr.step("sites up");
        for site in Site::ALL {
            let node = dr.node(site);
            let conf = dr.conf(site);
            std::fs::write(node.host_path(SITES_CONF), conf)
                .unwrap_or_else(|e| panic!("write {SITES_CONF} at {site:?}: {e}"));
            dr.ganesha_ha(site, &["site", "setup"]).expect_success();
            node.mount_volume(DATA_VOLUME, Path::new(MOUNT))
                .unwrap_or_else(|e| panic!("mount at {site:?}: {e}"));
        }
        dr.step("site setup at both sites");
        // Every instance starts Unpromoted: both copies read-only until a ticket is granted.
        dr.wait_until("both sites read-only", Duration::from_secs(60), || {
            dr.read_only(Site::A) == Some(true) && dr.read_only(Site::B) == Some(true)
        });
        let secondary = format!("{}::{DATA_VOLUME}", dr.sites.booth_addr(Site::B));
        dr.ganesha_ha(
            Site::A,
            &["georep", "create", DATA_VOLUME, &secondary, "--push-pem"],
        )
        .expect_success();
        dr.step("session created");
        dr.sites
            .grant(Site::A, DATA_TICKET)
            .unwrap_or_else(|e| panic!("grant to a: {e}"));
        dr.wait_until("a promoted and writable", Duration::from_secs(60), || {
            dr.promoted(Site::A) && dr.read_only(Site::A) == Some(false)
        });
        dr.step("ticket at a, a promoted");
        dr
    }

    /// The sites configuration `site` gets.
    pub fn conf(&self, site: Site) -> String {
        let other = site.other();
        let mode = if self.auto { "auto" } else { "manual" };
        // booth's timers as the lab gives them to the arbitrator (expire 20 s): the same
        // booth.conf at every daemon, and leases short enough for a test to outlive.
        let t = self.timers();
        let other_state = self
            .sites
            .lab(other)
            .map(|l| l.state_file())
            .unwrap_or_else(|| panic!("no lab for {other:?}"));
        format!(
            "SITE_NAME={here}\n\
             SITE_ADDR_a={a}\n\
             SITE_ADDR_b={b}\n\
             SITE_ARBITRATOR={arb}\n\
             SITE_LOCAL_HOST={local}\n\
             OTHER_SITE_NODE={remote_node}\n\
             OTHER_SITE_TRANSPORT=lab:{state}\n\
             PAIR_{DATA_VOLUME}=\"remote_host={remote} remote_volume={DATA_VOLUME} mode={mode} max_lag=300 \
             expire={expire} renewal_freq={renewal} acquire_after={acquire} timeout={timeout} retries={retries}\"\n",
            here = site.as_str(),
            a = self.sites.booth_addr(Site::A),
            b = self.sites.booth_addr(Site::B),
            arb = self.sites.arbitrator_addr(),
            local = self.sites.booth_addr(site),
            remote = self.sites.booth_addr(other),
            remote_node = self.node(other).name(),
            state = other_state.display(),
            expire = t.expire,
            renewal = t.renewal_freq,
            acquire = t.acquire_after,
            timeout = t.timeout,
            retries = t.retries,
        )
    }

    /// The data ticket's booth timers, as the lab's arbitrator has them.
    pub fn timers(&self) -> BoothTicket {
        self.sites
            .booth_layout()
            .tickets
            .into_iter()
            .find(|t| t.name == DATA_TICKET)
            .unwrap_or_else(|| panic!("the lab's booth layout has no {DATA_TICKET}"))
    }

    /// The first node of `site`, where the tests run `ganesha-ha` and mount the volume.
    pub fn node(&self, site: Site) -> &Node {
        self.sites.node(site, 0)
    }

    /// This build's `ganesha-ha args` in `site`'s first node, to its end.
    pub fn ganesha_ha(&self, site: Site, args: &[&str]) -> Ran {
        ganesha_ha_in(self.node(site)).args(args).run()
    }

    /// Whether `site`'s instance of the pair's clone is Promoted (crm_mon).
    pub fn promoted(&self, site: Site) -> bool {
        self.node(site)
            .cluster_status()
            .is_ok_and(|s| s.roles(RESOURCE).iter().any(|(_, r)| r == "Promoted"))
    }

    /// `features.read-only` of `site`'s `data` volume; `None` when gluster does not answer.
    pub fn read_only(&self, site: Site) -> Option<bool> {
        let got = in_node(self.node(site), "gluster")
            .args([
                "--mode=script",
                "volume",
                "get",
                DATA_VOLUME,
                "features.read-only",
            ])
            .timeout(Duration::from_secs(30))
            .try_run()
            .ok()?;
        let value = got
            .stdout()
            .lines()
            .find(|l| l.starts_with("features.read-only"))?
            .split_whitespace()
            .nth(1)?
            .to_owned();
        Some(value == "on")
    }

    /// Writes `name` with `content` through `site`'s mount; the error says why (read-only).
    pub fn write(&self, site: Site, name: &str, content: &[u8]) -> Result<(), String> {
        let to = format!("of={MOUNT}/{name}");
        in_node(self.node(site), "dd")
            .args([to.as_str(), "status=none", "conv=fsync"])
            .stdin(content.to_vec())
            .timeout(Duration::from_secs(30))
            .try_run()
            .and_then(Ran::checked)
            .map(drop)
    }

    /// Reads `name` through `site`'s mount.
    pub fn read(&self, site: Site, name: &str) -> Option<Vec<u8>> {
        in_node(self.node(site), "cat")
            .arg(format!("{MOUNT}/{name}"))
            .timeout(Duration::from_secs(30))
            .try_run()
            .and_then(Ran::checked)
            .ok()
            .map(|r| r.stdout().as_bytes().to_vec())
    }

    /// Waits until every file of `files` is at `site` with its content; gluster 10.3
    /// sometimes loses a worker's changelog events, so the session is kicked (stopped and
    /// started: it catches up through a history crawl) once before giving up.
    pub fn wait_synced(&self, from: Site, to: Site, files: &[(String, Vec<u8>)]) {
        let all_there = || {
            files
                .iter()
                .all(|(n, c)| self.read(to, n).as_deref() == Some(c.as_slice()))
        };
        let first = Instant::now();
        while first.elapsed() < Duration::from_secs(45) {
            if all_there() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        eprintln!("not synced from {from:?} to {to:?} in 45 s: kicking the session");
        let secondary = format!("{}::{DATA_VOLUME}", self.sites.booth_addr(to));
        for action in ["stop", "start"] {
            let _ = self.ganesha_ha(from, &["georep", action, DATA_VOLUME, &secondary]);
        }
        self.wait_until(
            &format!("files synced from {from:?} to {to:?}"),
            Duration::from_secs(90),
            all_there,
        );
    }

    /// Polls `check` every 300 ms until it holds; the failure shows both sites' status.
    pub fn wait_until(&self, what: &str, bound: Duration, mut check: impl FnMut() -> bool) {
        let t = Instant::now();
        while !check() {
            assert!(
                t.elapsed() < bound,
                "{what}: not within {bound:?}\n{}",
                self.context()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Both sites' `ganesha-ha site status` and crm_mon, for failure messages.
    pub fn context(&self) -> String {
        let mut out = String::new();
        for site in Site::ALL {
            let status = ganesha_ha_in(self.node(site))
                .args(["site", "status", DATA_VOLUME])
                .timeout(Duration::from_secs(60))
                .try_run()
                .map_or_else(|e| e, |r| r.to_string());
            let mon = in_node(self.node(site), "crm_mon")
                .args(["--one-shot", "--inactive", "--tickets"])
                .timeout(Duration::from_secs(30))
                .try_run()
                .map_or_else(|e| e, |r| r.to_string());
            out.push_str(&format!("--- site {site:?}\n{status}\n{mon}\n"));
        }
        out
    }

    /// Prints a step with the time since `up` began.
    pub fn step(&self, what: &str) {
        eprintln!("[{:>6.1}s] {what}", self.started.elapsed().as_secs_f64());
    }
}
