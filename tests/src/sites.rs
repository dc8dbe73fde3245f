//! Two sites with the disaster-recovery stack as `ganesha-ha site setup` configures it
//! (`docs/sites.md`): the lab's [`Sites`] (two gluster clusters, a wan, booth's arbitrator),
//! this build's agents, `booth-site` and the `georep-data` clone at each site, the session
//! `data` → `b`'s `data` created and started at `a`, and the ticket granted to `a`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ganesha_agents::names::REPL_STATE;
use ganesha_lab::{BoothTicket, Node, Site, Sites, SitesOptions, DATA_TICKET, DATA_VOLUME};
use ganesha_testkit::Ran;

use crate::bins::bin_dir;
use crate::ha::LabSlot;
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
    /// Two sites are two labs: they hold both of a test binary's lab slots.
    _slots: (LabSlot, LabSlot),
}

impl DrSites {
    /// Brings both sites up and configures them; `auto` gives the ticket booth's automatic
    /// failover with the freshness gate (`attr-prereq`), otherwise it is manual.
    pub fn up(auto: bool) -> DrSites {
        let slots = LabSlot::take_two();
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
            _slots: slots,
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

    /// The sites configuration `site` gets. The pair carries the lab's booth timers
    /// ([`BoothTicket::new`]: expire 20 s, renewal 5 s, ...), so that the booth.conf `site
    /// setup` writes at each site says what the arbitrator's says; without them it writes
    /// booth's production defaults (a 600 s lease) and an automatic ticket would move only
    /// after ten minutes.
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

    /// Writes `name` at `site` with content that names both (a few KiB) and records it in
    /// `files`, for the check that every file ends up at both sites; a refused write fails
    /// the test with both sites' status.
    pub fn write_recorded(&self, site: Site, name: &str, files: &mut Vec<(String, Vec<u8>)>) {
        let content = format!("{name} written at {site:?}\n")
            .repeat(64)
            .into_bytes();
        self.write(site, name, &content)
            .unwrap_or_else(|e| panic!("write {name} at {site:?}: {e}\n{}", self.context()));
        files.push((name.to_owned(), content));
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

    /// `repl_state` as booth holds it at `site` (`geostore get` there; written by the
    /// owner's monitor at the other site); empty when booth does not answer or it is not set.
    pub fn repl_state(&self, site: Site) -> String {
        in_node(self.node(site), "geostore")
            .args(["get", "-t", DATA_TICKET, REPL_STATE])
            .timeout(Duration::from_secs(20))
            .try_run()
            .ok()
            .filter(Ran::success)
            .map(|r| r.stdout().trim().to_owned())
            .unwrap_or_default()
    }

    /// Writes numbered files `<prefix><n>.txt` at `site` one after another (each `dd
    /// conv=fsync`, so an exit 0 is an acknowledged write) until `stop` is set, pushing each
    /// acknowledged file to `acked`; a refused write is retried after a pause. Run it on a
    /// scoped thread beside the test.
    pub fn write_until(
        &self,
        site: Site,
        prefix: &str,
        stop: &AtomicBool,
        acked: &Mutex<Vec<(String, Vec<u8>)>>,
    ) {
        let mut n = 0u32;
        while !stop.load(Ordering::SeqCst) {
            let name = format!("{prefix}{n:04}.txt");
            let content = format!("{name} written at {site:?}\n")
                .repeat(16)
                .into_bytes();
            if self.write(site, &name, &content).is_ok() {
                if let Ok(mut files) = acked.lock() {
                    files.push((name, content));
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(200));
            } else {
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }

    /// Polls both sites' `crm_ticket --info` (~every 300 ms) until `stop` is set; a site
    /// whose CIB does not answer (powered off) counts as no answer, never as granted.
    pub fn watch_ticket(&self, stop: &AtomicBool) -> TicketWatch {
        let mut watch = TicketWatch::default();
        while !stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            let mut granted = [false; 2];
            for (i, site) in Site::ALL.into_iter().enumerate() {
                if let Ok(g) = self.sites.ticket_granted(site, DATA_TICKET) {
                    watch.answered[i] += 1;
                    granted[i] = g;
                    if g {
                        watch.granted[i] += 1;
                        watch.first_granted[i].get_or_insert(now);
                    } else if watch.granted[i] > 0 {
                        watch.first_revoked[i].get_or_insert(now);
                    }
                }
            }
            watch.polls += 1;
            if granted == [true, true] {
                watch.both.push(now);
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        watch
    }

    /// Prints a step with the time since `up` began.
    pub fn step(&self, what: &str) {
        eprintln!("[{:>6.1}s] {what}", self.started.elapsed().as_secs_f64());
    }
}

/// Writes at both sites every 150 ms while a command runs; each write's outcome and time.
pub struct Prober<'a> {
    dr: &'a DrSites,
    pub stop: AtomicBool,
    seen: Mutex<Vec<(Instant, Site, bool)>>,
}

impl<'a> Prober<'a> {
    pub fn new(dr: &'a DrSites) -> Prober<'a> {
        Prober {
            dr,
            stop: AtomicBool::new(false),
            seen: Mutex::new(Vec::new()),
        }
    }

    pub fn run(&self) {
        let mut n = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            for site in Site::ALL {
                n += 1;
                let ok = self
                    .dr
                    .write(site, &format!("probe-{}-{n}", site.as_str()), b"probe\n")
                    .is_ok();
                self.seen.lock().unwrap_or_else(|e| e.into_inner()).push((
                    Instant::now(),
                    site,
                    ok,
                ));
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// From the first refused write at `old` to the first accepted one at `new` after it.
    pub fn gap(&self, old: Site, new: Site) -> Duration {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let refused = seen
            .iter()
            .find(|(_, s, ok)| *s == old && !ok)
            .map(|(t, ..)| *t)
            .unwrap_or_else(|| panic!("the old owner never refused a write"));
        let accepted = seen
            .iter()
            .find(|(t, s, ok)| *s == new && *ok && *t > refused)
            .map(|(t, ..)| *t)
            .unwrap_or_else(|| panic!("the new owner never accepted a write"));
        accepted - refused
    }

    /// Whether `old` accepted a write after `new` had accepted one: both copies writable at
    /// once.
    pub fn overlap(&self, old: Site, new: Site) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let Some(first_new) = seen
            .iter()
            .find(|(_, s, ok)| *s == new && *ok)
            .map(|(t, ..)| *t)
        else {
            return false;
        };
        seen.iter()
            .any(|(t, s, ok)| *s == old && *ok && *t > first_new)
    }
}
/// Sets its flag when dropped: a scoped thread polling until the flag is set then ends
/// even when the test body panics (the scope would otherwise wait for it for ever).
pub struct StopOnDrop<'a>(pub &'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// What [`DrSites::watch_ticket`] saw; index 0 is site `a`, 1 is `b`.
#[derive(Debug, Default)]
pub struct TicketWatch {
    /// Rounds of polling.
    pub polls: usize,
    /// Rounds in which each site's CIB answered.
    pub answered: [usize; 2],
    /// Rounds in which each site had the ticket granted.
    pub granted: [usize; 2],
    /// When each site was first seen granted.
    pub first_granted: [Option<Instant>; 2],
    /// When each site, once seen granted, was first seen revoked.
    pub first_revoked: [Option<Instant>; 2],
    /// The rounds in which both sites had it granted (must stay empty).
    pub both: Vec<Instant>,
}
