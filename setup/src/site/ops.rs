//! The site operations: `status`, `failover`, and the three failback phases, each run
//! through a [`SiteRunner`] and bounded by the command's [`Deadline`].
//!
//! Where each command runs:
//! - booth (`booth list|grant|revoke`, `geostore get`) here: booth's own protocol reaches
//!   the other site (`-s <site address>`), so a ticket moves without a shell there;
//! - the pair's volume, the reverse session and the marker mount here, with the gluster CLI;
//! - the other site's own session (stopped before the reverse sync, started after the
//!   commit) and its clone's role (the commit waits until it is Promoted there) on the other
//!   site's node ([`SitesSpec::other_node`]) over the transport.
//!
//! Each phase looks at what is done before doing it (the session exists, runs, is
//! configured; the ticket is granted where; the volume is read-only), so a rerun after an
//! interruption finishes the job. One fact cannot be seen after the fact: that the reverse
//! sync completed before this site gave the ticket up (a stopped session reports no
//! checkpoint). The commit records it in [`SYNCED_DIR`]`/<volume>` before it revokes, and
//! removes it when done.

use std::thread;
use std::time::{Duration, Instant};

use ganesha_agents::names::georep_handover_attr;
use georep::{CreateOptions, Gluster, Secondary, Session};
use ocf::Deadline;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::Serialize;

use super::runner::{At, Output, SiteRunner};
use super::spec::{Pair, SitesSpec};
use crate::error::CliError;
use crate::gluster::SHARED_STORAGE_MOUNT;
use crate::status;
use georep::time::format_utc;

/// The bound on one short call (booth, crm_mon, gluster volume get/set).
const CALL: Duration = Duration::from_secs(30);
/// The bound on one gluster geo-replication call.
const GLUSTER_CALL: Duration = Duration::from_secs(120);
/// Where the commit records that the reverse sync completed before the ticket moved.
pub const SYNCED_DIR: &str = "/var/lib/ganesha-ha/failback";

/// Everything an operation needs: the sites, the runner, the deadline and how to report.
pub struct Site<'a> {
    pub spec: &'a SitesSpec,
    pub runner: &'a dyn SiteRunner,
    pub deadline: &'a Deadline,
    /// How often waits poll.
    pub poll: Duration,
    /// Seconds since the epoch (fixed in tests).
    pub now: fn() -> u64,
    pub progress: &'a dyn Fn(&str),
}

/// The georep driver over a site runner, at one place, within the deadline.
struct Via<'a> {
    runner: &'a dyn SiteRunner,
    at: At,
    deadline: &'a Deadline,
}

/// How long to wait before asking gluster again when another transaction holds its lock.
const BUSY_PAUSE: Duration = Duration::from_secs(1);
/// How long the commit waits for its checkpoint before it restarts the reverse session.
const CHECKPOINT_KICK: Duration = Duration::from_secs(60);
/// How many times a session is read when gluster does not answer.
const SESSION_READS: u32 = 4;

impl georep::Runner for Via<'_> {
    fn run(&self, argv: &[String], timeout: Duration) -> Result<georep::Output, georep::Error> {
        let mut answer = self
            .runner
            .run(&self.at, argv, self.deadline.bound(timeout));
        // A georep_monitor instance or glusterd's own hook may hold the cluster lock for a
        // moment: ask again while the deadline leaves room for one more call.
        while let Ok(o) = &answer {
            // gluster's --xml replies say it with exit 0 and opRet -1.
            let busy = georep::is_busy_message(&o.stdout) || georep::is_busy_message(&o.stderr);
            if !busy || self.deadline.remaining() < BUSY_PAUSE + timeout.min(Duration::from_secs(5))
            {
                break;
            }
            std::thread::sleep(BUSY_PAUSE);
            answer = self
                .runner
                .run(&self.at, argv, self.deadline.bound(timeout));
        }
        match answer {
            Ok(o) => Ok(georep::Output {
                code: o.code,
                stdout: o.stdout,
                stderr: o.stderr,
            }),
            Err(CliError::Command(e)) => Err(georep::Error::Run(e)),
            Err(e) => Err(georep::Error::Gluster {
                command: argv.join(" "),
                exit_code: -1,
                op_ret: None,
                op_errno: None,
                message: e.to_string(),
            }),
        }
    }
}

/// A clone instance's role on one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeRole {
    pub node: String,
    /// `Promoted`, `Unpromoted`, `Stopped`, ...
    pub role: String,
}

/// What `site status` reports about one pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PairStatus {
    pub volume: String,
    pub ticket: String,
    pub site: String,
    /// The ticket is granted here (this site's CIB).
    pub granted_here: bool,
    /// The site booth names as the ticket's holder (its address), if it answered.
    pub leader: Option<String>,
    pub roles: Vec<NodeRole>,
    /// `features.read-only` of the local volume (`None`: gluster did not say).
    pub read_only: Option<bool>,
    /// The outgoing session's roll-up (`None`: no session).
    pub session: Option<String>,
    /// Seconds since the outgoing session last synced.
    pub lag: Option<u64>,
    /// `repl_state` in this site's booth (written by the owner's monitor when the other
    /// site owns the pair).
    pub repl_state: Option<String>,
    pub last_synced: Option<u64>,
    /// Desired (the ticket) against actual (Pacemaker, gluster): empty when they agree.
    pub drift: Vec<String>,
}

/// What `site failback status` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailbackStatus {
    pub volume: String,
    /// `Sync in progress` or `Sync completed`.
    pub state: String,
    pub session: String,
    pub checkpoint_completed: bool,
    pub lag: Option<u64>,
    pub entry_pending: u64,
    pub data_pending: u64,
    pub meta_pending: u64,
}

/// What a phase did: its steps, in order, and warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Done {
    pub steps: Vec<String>,
    pub warnings: Vec<String>,
}

fn words(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|s| (*s).to_owned()).collect()
}

fn failed(argv: &[String], out: &Output) -> String {
    let why = if out.stderr.trim().is_empty() {
        out.stdout.trim()
    } else {
        out.stderr.trim()
    };
    format!("`{}` failed (exit {}): {why}", argv.join(" "), out.code)
}

impl<'a> Site<'a> {
    /// The pair of `volume`, or why there is none.
    pub fn pair(&self, volume: &str) -> Result<&'a Pair, CliError> {
        self.spec.pair(volume).ok_or_else(|| {
            let known: Vec<&str> = self.spec.pairs.iter().map(|p| p.volume.as_str()).collect();
            CliError::Refused(format!(
                "{volume} is not a volume of the sites configuration (its pairs: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    fn call(&self, at: &At, argv: &[&str], limit: Duration) -> Result<Output, CliError> {
        self.runner
            .run(at, &words(argv), self.deadline.bound(limit))
    }

    /// Runs `argv` here; its stdout, or an error when it exits non-zero.
    fn check(&self, argv: &[&str], limit: Duration) -> Result<String, CliError> {
        let out = self.call(&At::Here, argv, limit)?;
        if out.code == 0 {
            Ok(out.stdout)
        } else {
            Err(CliError::Cluster(failed(&words(argv), &out)))
        }
    }

    fn step(&self, done: &mut Done, text: String) {
        (self.progress)(&text);
        done.steps.push(text);
    }

    fn gluster_here(&self) -> Gluster<Via<'a>> {
        let mut g = Gluster::new(Via {
            runner: self.runner,
            at: At::Here,
            deadline: self.deadline,
        });
        g.timeout = GLUSTER_CALL;
        g.poll = self.poll;
        g
    }

    fn gluster_there(&self, pair: &Pair) -> Gluster<Via<'a>> {
        let mut g = Gluster::new(Via {
            runner: self.runner,
            at: At::There(self.spec.other_node(pair)),
            deadline: self.deadline,
        });
        g.timeout = GLUSTER_CALL;
        g.poll = self.poll;
        g
    }

    /// The original session, at the other site: its volume to this site's.
    fn original_secondary(&self, pair: &Pair) -> Secondary {
        Secondary {
            user: pair.user.clone(),
            host: self.spec.local_host(),
            volume: pair.volume.clone(),
        }
    }

    fn booth(&self, verb: &str, site: Option<&str>, force: bool, ticket: &str) -> Vec<String> {
        let mut argv = words(&["booth", verb, "-c", &self.spec.booth_conf]);
        if let Some(site) = site {
            argv.extend(words(&["-s", site]));
        }
        if force {
            argv.push("-F".into());
        }
        argv.push(ticket.into());
        argv
    }

    fn run_booth(&self, argv: &[String]) -> Result<Output, CliError> {
        self.runner.run(&At::Here, argv, self.deadline.bound(CALL))
    }

    // ----- looking -----

    /// crm_mon's XML at `at`.
    fn crm_mon(&self, at: &At) -> Result<String, CliError> {
        let argv = ["crm_mon", "--one-shot", "--output-as=xml", "--inactive"];
        let out = self.call(at, &argv, CALL)?;
        if out.code == 0 {
            Ok(out.stdout)
        } else {
            Err(CliError::Cluster(failed(&words(&argv), &out)))
        }
    }

    /// The ticket's state and the clone's roles at `at`.
    fn cluster_view(&self, at: &At, pair: &Pair) -> Result<(bool, Vec<NodeRole>), CliError> {
        let xml = self.crm_mon(at)?;
        let granted = ticket_granted(&xml, &pair.ticket());
        let state = status::parse(&xml)?;
        let clone = pair.clone_id();
        let roles = state
            .resources
            .iter()
            .filter(|r| r.parent.as_deref() == Some(clone.as_str()))
            .map(|r| NodeRole {
                node: r.nodes.first().cloned().unwrap_or_default(),
                role: normal_role(&r.role),
            })
            .collect();
        Ok((granted, roles))
    }

    /// The address of the site booth says holds the ticket (`booth list` here).
    fn leader(&self, pair: &Pair) -> Option<String> {
        let argv = words(&["booth", "list", "-c", &self.spec.booth_conf]);
        let out = self.run_booth(&argv).ok().filter(|o| o.code == 0)?;
        booth_leader(&out.stdout, &pair.ticket())
    }

    /// A booth attribute of the pair's ticket at this site (`geostore get`).
    fn attribute(&self, pair: &Pair, name: &str) -> Option<String> {
        let ticket = pair.ticket();
        let argv = [
            "geostore",
            "get",
            "-c",
            &self.spec.booth_conf,
            "-t",
            &ticket,
            name,
        ];
        let out = self.call(&At::Here, &argv, CALL).ok()?;
        let value = out.stdout.trim();
        (out.code == 0 && !value.is_empty() && !value.contains("not set")).then(|| value.to_owned())
    }

    /// `gluster volume get VOLUME OPTION` here: the value.
    fn volume_option(&self, volume: &str, option: &str) -> Result<String, CliError> {
        self.volume_option_at(&At::Here, volume, option)
    }

    /// `gluster volume get VOLUME OPTION` at `at`: the value.
    fn volume_option_at(&self, at: &At, volume: &str, option: &str) -> Result<String, CliError> {
        let argv = ["gluster", "--mode=script", "volume", "get", volume, option];
        let out = self.call(at, &argv, CALL)?;
        if out.code != 0 {
            return Err(CliError::Cluster(failed(&words(&argv), &out)));
        }
        let out = out.stdout;
        option_value(&out, option).ok_or_else(|| {
            CliError::Cluster(format!(
                "gluster volume get {volume} {option}: no value in {out:?}"
            ))
        })
    }

    fn read_only(&self, volume: &str) -> Result<bool, CliError> {
        Ok(is_on(&self.volume_option(volume, "features.read-only")?))
    }

    fn set_option(&self, volume: &str, option: &str, value: &str) -> Result<(), CliError> {
        self.check(
            &[
                "gluster",
                "--mode=script",
                "volume",
                "set",
                volume,
                option,
                value,
            ],
            CALL,
        )
        .map(drop)
    }

    fn lag_of(&self, session: &Session) -> Option<u64> {
        let now = (self.now)();
        session.last_synced().map(|t| now.saturating_sub(t))
    }

    /// Polls `ready` until it says yes (`Ok(None)`), or fails with its last reason when the
    /// deadline passes.
    fn wait(
        &self,
        what: &str,
        ready: impl Fn() -> Result<Option<String>, CliError>,
    ) -> Result<(), CliError> {
        let started = Instant::now();
        loop {
            let why = match ready() {
                Ok(None) => return Ok(()),
                Ok(Some(why)) => why,
                Err(e) => e.to_string(),
            };
            if self.deadline.remaining() <= self.poll {
                return Err(CliError::Timeout(format!(
                    "gave up after {:.0?} waiting for {what}: {why}",
                    started.elapsed()
                )));
            }
            thread::sleep(self.poll);
        }
    }

    // ----- status -----

    /// `site status VOLUME`.
    pub fn status(&self, volume: &str) -> Result<PairStatus, CliError> {
        let pair = self.pair(volume)?;
        let (granted_here, roles) = self.cluster_view(&At::Here, pair)?;
        let read_only = self.read_only(&pair.volume).ok();
        let mut drift = Vec::new();
        // A gluster that does not answer is reported, not fatal: the rest still informs.
        let session = match self.gluster_here().session(&pair.volume, &pair.secondary()) {
            Ok(s) => s,
            Err(e) => {
                drift.push(format!("the session's state is unknown: {e}"));
                None
            }
        };
        let lag = session.as_ref().and_then(|s| self.lag_of(s));
        let running = session.as_ref().is_some_and(|s| s.status.is_running());
        let promoted = roles.iter().filter(|r| r.role == "Promoted").count();
        if granted_here {
            if promoted == 0 {
                drift.push(format!(
                    "the ticket is granted here but {} is not Promoted on any node",
                    pair.clone_id()
                ));
            }
            if read_only == Some(true) {
                drift.push(format!(
                    "the ticket is granted here but {} is read-only",
                    pair.volume
                ));
            }
            if session.is_some() && !running {
                drift.push(format!(
                    "the ticket is granted here but the session to {} does not run",
                    pair.secondary()
                ));
            }
        } else {
            if promoted > 0 {
                drift.push(format!(
                    "the ticket is not granted here but {} is Promoted",
                    pair.clone_id()
                ));
            }
            if read_only == Some(false) {
                drift.push(format!(
                    "the ticket is not granted here but {} is writable",
                    pair.volume
                ));
            }
            if running {
                drift.push(format!(
                    "the ticket is not granted here but the session to {} runs",
                    pair.secondary()
                ));
            }
        }
        if promoted > 1 {
            drift.push(format!(
                "{} is Promoted on {promoted} nodes",
                pair.clone_id()
            ));
        }
        Ok(PairStatus {
            volume: pair.volume.clone(),
            ticket: pair.ticket(),
            site: self.spec.this_site.clone(),
            granted_here,
            leader: self.leader(pair),
            roles,
            read_only,
            session: session.map(|s| s.status.label().to_owned()),
            lag,
            repl_state: self.attribute(pair, ganesha_agents::names::REPL_STATE),
            last_synced: self
                .attribute(pair, ganesha_agents::names::LAST_SYNCED)
                .and_then(|v| v.parse().ok()),
            drift,
        })
    }

    // ----- failover -----

    /// Waits until the clone is Promoted here and the volume writable.
    fn wait_owner_here(&self, pair: &Pair) -> Result<(), CliError> {
        self.wait(
            &format!(
                "{} to be Promoted here and {} writable",
                pair.clone_id(),
                pair.volume
            ),
            || {
                let (_, roles) = self.cluster_view(&At::Here, pair)?;
                if !roles.iter().any(|r| r.role == "Promoted") {
                    return Ok(Some(format!("{} is not Promoted", pair.clone_id())));
                }
                if self.read_only(&pair.volume)? {
                    return Ok(Some(format!("{} is still read-only", pair.volume)));
                }
                Ok(None)
            },
        )
    }

    /// Waits until the other site no longer owns the pair: its clone Promoted on no node
    /// and its volume read-only. booth's revoke only starts its demotion (loss-policy), and
    /// a grant here at once would promote this site while the other may still take writes.
    /// When the other site cannot be asked at all it is down, and nothing writes there: a
    /// warning, and the failover goes on.
    fn wait_demoted_there(&self, pair: &Pair, done: &mut Done) -> Result<(), CliError> {
        let node = self.spec.other_node(pair);
        let there = At::There(node.clone());
        let other = &self.spec.other().name;
        let demoted = || -> Result<Option<String>, CliError> {
            let (_, roles) = self.cluster_view(&there, pair)?;
            if roles.iter().any(|r| r.role == "Promoted") {
                return Ok(Some(format!(
                    "{} is still Promoted at {other}",
                    pair.clone_id()
                )));
            }
            let value = self.volume_option_at(&there, &pair.remote_volume, "features.read-only")?;
            Ok((!is_on(&value))
                .then(|| format!("{} is still writable at {other}", pair.remote_volume)))
        };
        match demoted() {
            Ok(None) => Ok(()),
            Ok(Some(_)) => {
                self.wait(
                    &format!("{} to be demoted at {other}", pair.clone_id()),
                    demoted,
                )?;
                self.step(
                    done,
                    format!(
                        "{} is demoted at {other}, {} read-only there",
                        pair.clone_id(),
                        pair.remote_volume
                    ),
                );
                Ok(())
            }
            Err(e) => {
                let w = format!(
                    "cannot ask {node} at {other} whether it still owns {} ({e}); granting anyway",
                    pair.volume
                );
                (self.progress)(&format!("warning: {w}"));
                done.warnings.push(w);
                Ok(())
            }
        }
    }

    /// `site failover VOLUME [--force]`: the ticket here, after the freshness gate.
    pub fn failover(&self, volume: &str, force: bool) -> Result<Done, CliError> {
        let pair = self.pair(volume)?;
        let here = self.spec.here();
        let other = self.spec.other();
        let ticket = pair.ticket();
        let mut done = Done::default();
        let (granted, _) = self.cluster_view(&At::Here, pair)?;
        if !granted {
            let state = self.attribute(pair, ganesha_agents::names::REPL_STATE);
            if state.as_deref() != Some("ACTIVE") {
                let since = match self
                    .attribute(pair, ganesha_agents::names::LAST_SYNCED)
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    Some(t) => format_utc(t),
                    None => "an unknown time (no last_synced recorded)".into(),
                };
                let state = state.unwrap_or_else(|| "not set".into());
                let loss = format!("writes made at {} after {since} may be lost", other.name);
                if !force {
                    return Err(CliError::Refused(format!(
                        "refusing to fail {volume} over to {}: repl_state of {ticket} here is {state}, \
                         last synced {since}; the copy here may be stale. \
                         `ganesha-ha site failover {volume} --force` takes over anyway: {loss}",
                        here.name
                    )));
                }
                (self.progress)(&format!("warning: {loss}"));
                done.warnings.push(loss);
            }
            let other_addr = other.addr.to_string();
            let here_addr = here.addr.to_string();
            let mut unreachable = false;
            if self.leader(pair).as_deref() == Some(other_addr.as_str()) {
                let argv = self.booth("revoke", Some(&other_addr), false, &ticket);
                match self.run_booth(&argv) {
                    Ok(o) if o.code == 0 => {
                        self.step(&mut done, format!("revoked {ticket} at {}", other.name));
                    }
                    Ok(o) => {
                        unreachable = true;
                        let w = format!(
                            "{} did not revoke {ticket} ({}); granting with -F",
                            other.name,
                            failed(&argv, &o)
                        );
                        (self.progress)(&format!("warning: {w}"));
                        done.warnings.push(w);
                    }
                    Err(e) => {
                        unreachable = true;
                        let w = format!("{} does not answer ({e}); granting with -F", other.name);
                        (self.progress)(&format!("warning: {w}"));
                        done.warnings.push(w);
                    }
                }
            }
            if !unreachable {
                self.wait_demoted_there(pair, &mut done)?;
            }
            let argv = self.booth("grant", Some(&here_addr), unreachable, &ticket);
            let mut out = self.run_booth(&argv)?;
            if out.code != 0 && !unreachable && force {
                // booth grants without every site answering only with -F.
                let w = format!("{}; granting with -F", failed(&argv, &out));
                (self.progress)(&format!("warning: {w}"));
                done.warnings.push(w);
                out = self.run_booth(&self.booth("grant", Some(&here_addr), true, &ticket))?;
            }
            if out.code != 0 {
                return Err(CliError::Cluster(format!(
                    "{}{}",
                    failed(&argv, &out),
                    if unreachable || force {
                        ""
                    } else {
                        " (if the other site is down, --force grants with booth's -F)"
                    }
                )));
            }
            self.step(&mut done, format!("granted {ticket} to {}", here.name));
        } else {
            self.step(&mut done, format!("{ticket} is already granted here"));
        }
        self.wait_owner_here(pair)?;
        self.step(
            &mut done,
            format!("{} is Promoted here and {volume} writable", pair.clone_id()),
        );
        Ok(done)
    }

    // ----- failback -----

    fn require_owner(&self, pair: &Pair, phase: &str) -> Result<(), CliError> {
        let (granted, roles) = self.cluster_view(&At::Here, pair)?;
        if !granted || !roles.iter().any(|r| r.role == "Promoted") {
            return Err(CliError::Refused(format!(
                "failback {phase} runs at the current owner: {} does not hold {} here{}",
                self.spec.this_site,
                pair.ticket(),
                if granted {
                    format!(" with {} Promoted", pair.clone_id())
                } else {
                    String::new()
                }
            )));
        }
        Ok(())
    }

    fn reverse_session(&self, pair: &Pair) -> Result<Option<Session>, CliError> {
        let g = self.gluster_here();
        let secondary = pair.secondary();
        let mut attempt = 1;
        loop {
            match g.session(&pair.volume, &secondary) {
                // gluster 10.3 sometimes fails `status detail --xml` (exit 2, no XML) while
                // its plain form lists the session, right after the session was created
                // (seen when a killed `failback start` left its `create push-pem` running):
                // no answer, not a failure. Asked again, a few times within the deadline.
                Err(e)
                    if e.is_no_answer()
                        && attempt < SESSION_READS
                        && self.deadline.remaining() > self.poll + Duration::from_secs(5) =>
                {
                    (self.progress)(&format!(
                        "gluster did not answer about {} {secondary} (attempt {attempt}): asking again",
                        pair.volume
                    ));
                    attempt += 1;
                    thread::sleep(self.poll);
                }
                other => return Ok(other?),
            }
        }
    }

    /// `site failback start VOLUME`: the returned old owner becomes the target of a reverse
    /// session (push-pem force, `special-sync-mode recover`, `gfid-conflict-resolution
    /// false`), started, with a checkpoint.
    pub fn failback_start(&self, volume: &str) -> Result<Done, CliError> {
        let pair = self.pair(volume)?;
        self.require_owner(pair, "start")?;
        let mut done = Done::default();
        let other = self.spec.other();
        let reverse = pair.secondary();
        // The old owner's own session must not run: its target is now the owner.
        let there = self.gluster_there(pair);
        let original = self.original_secondary(pair);
        let running = there.running(&pair.remote_volume, &original).map_err(|e| {
            CliError::Refused(format!(
                "cannot ask {} at {} about its session {} {original} ({e}); the old owner must be up and reachable",
                self.spec.other_node(pair),
                other.name,
                pair.remote_volume
            ))
        })?;
        if running {
            there.stop(&pair.remote_volume, &original, true)?;
            self.step(
                &mut done,
                format!(
                    "stopped {} {original} at {}",
                    pair.remote_volume, other.name
                ),
            );
        }
        let g = self.gluster_here();
        let session = match self.reverse_session(pair)? {
            Some(s) => s,
            None => {
                // gsec_create (inside create) makes this site's keys; push-pem installs them
                // at the old owner; force because its volume is not empty.
                let opts = CreateOptions {
                    push_pem: true,
                    no_verify: false,
                    ssh_port: Some(pair.ssh_port),
                    force: true,
                };
                let outcome = g.create(&pair.volume, &reverse, &opts)?;
                done.warnings.extend(outcome.notes);
                self.step(
                    &mut done,
                    format!(
                        "created the reverse session {} {reverse} (push-pem force)",
                        pair.volume
                    ),
                );
                self.reverse_session(pair)?.ok_or_else(|| {
                    CliError::Cluster(format!(
                        "gluster created {} {reverse} but does not list it",
                        pair.volume
                    ))
                })?
            }
        };
        let config = g.config_list(&pair.volume, &reverse)?;
        if config.get("use_meta_volume").map(String::as_str) == Some("true") {
            let out = self.call(&At::Here, &["mountpoint", "-q", SHARED_STORAGE_MOUNT], CALL)?;
            if out.code != 0 {
                return Err(CliError::Refused(format!(
                    "the reverse session uses the meta volume (use-meta-volume true) but the shared storage is not mounted at {SHARED_STORAGE_MOUNT}: \
                     enable it (`gluster volume set all cluster.enable-shared-storage enable`) or set use-meta-volume false"
                )));
            }
        }
        for (key, gluster_key, value) in [
            ("special-sync-mode", "special_sync_mode", "recover"),
            (
                "gfid-conflict-resolution",
                "gfid_conflict_resolution",
                "false",
            ),
        ] {
            if config.get(gluster_key).map(String::as_str) != Some(value) {
                g.config_set(&pair.volume, &reverse, key, value)?;
                self.step(&mut done, format!("set {key} {value}"));
            }
        }
        if !session.status.is_running() {
            let outcome = g.start(&pair.volume, &reverse, false)?;
            done.warnings.extend(outcome.notes);
            self.step(&mut done, format!("started {} {reverse}", pair.volume));
        }
        let session = self.reverse_session(pair)?;
        let has_checkpoint = session
            .as_ref()
            .is_some_and(|s| s.details.iter().any(|d| d.checkpoint_time.is_some()));
        if !has_checkpoint {
            g.checkpoint_set(&pair.volume, &reverse)?;
            // A checkpoint completes only once a change made after it has synced: on an
            // idle volume "Sync completed" would never come without this marker.
            let marker = self.write_marker(pair)?;
            self.step(
                &mut done,
                format!("checkpoint set, marker {marker} written"),
            );
        }
        Ok(done)
    }

    /// `site failback status VOLUME`: the reverse session's checkpoint, lag and pending
    /// counts.
    pub fn failback_status(&self, volume: &str) -> Result<FailbackStatus, CliError> {
        let pair = self.pair(volume)?;
        let session = self.reverse_session(pair)?.ok_or_else(|| {
            CliError::Refused(format!(
                "no reverse session {} {}: run `ganesha-ha site failback start {volume}` first",
                pair.volume,
                pair.secondary()
            ))
        })?;
        let sum = |f: fn(&georep::model::SessionDetail) -> Option<u64>| {
            session.details.iter().filter_map(f).sum::<u64>()
        };
        let completed = session.checkpoint_completed();
        Ok(FailbackStatus {
            volume: pair.volume.clone(),
            state: if completed {
                "Sync completed"
            } else {
                "Sync in progress"
            }
            .into(),
            session: session.status.label().into(),
            checkpoint_completed: completed,
            lag: self.lag_of(&session),
            entry_pending: sum(|d| d.entry_pending),
            data_pending: sum(|d| d.data_pending),
            meta_pending: sum(|d| d.meta_pending),
        })
    }

    fn synced_file(&self, pair: &Pair) -> String {
        format!("{SYNCED_DIR}/{}", pair.volume)
    }

    /// Writes `.ganesha-ha-failback-<epoch>` in the root of the local volume through a
    /// private mount with gsyncd's client pid (-1): gluster lets it write a read-only
    /// volume, and the changelog records the change, so a checkpoint set before it can
    /// complete.
    fn write_marker(&self, pair: &Pair) -> Result<String, CliError> {
        let dir = self.check(&["mktemp", "-d", "/run/ganesha-ha-marker.XXXXXX"], CALL)?;
        let dir = dir.trim().to_owned();
        // The marker's path is built on this answer: anything but a fresh directory under
        // /run would write the marker somewhere else.
        if !dir.starts_with("/run/ganesha-ha-marker.") || dir.contains("..") {
            return Err(CliError::Cluster(format!(
                "mktemp -d gave {dir:?}, not a directory under /run for the marker mount"
            )));
        }
        let server = format!("--volfile-server={}", self.spec.local_host());
        let id = format!("--volfile-id={}", pair.volume);
        let mounted = self.check(&["glusterfs", "--client-pid=-1", &server, &id, &dir], CALL);
        let result = mounted.and_then(|_| {
            self.wait(&format!("the marker mount at {dir}"), || {
                let out = self.call(&At::Here, &["mountpoint", "-q", &dir], CALL)?;
                Ok((out.code != 0).then(|| format!("{dir} is not mounted yet")))
            })?;
            let marker = format!("{dir}/.ganesha-ha-failback-{}", (self.now)());
            self.check(&["touch", &marker], CALL)?;
            Ok(marker)
        });
        // Unmounted whatever happened: a lazy detach when umount does not finish.
        let out = self.call(&At::Here, &["umount", &dir], CALL);
        if !matches!(out, Ok(ref o) if o.code == 0) {
            let _ = self.call(&At::Here, &["umount", "-l", &dir], CALL);
        }
        let _ = self.call(&At::Here, &["rmdir", &dir], CALL);
        let marker = result?;
        Ok(marker.rsplit('/').next().unwrap_or_default().to_owned())
    }

    /// Waits until the clone is Promoted on no node here and the volume read-only.
    fn wait_demoted_here(&self, pair: &Pair) -> Result<(), CliError> {
        self.wait(&format!("{} to be demoted here", pair.clone_id()), || {
            let (_, roles) = self.cluster_view(&At::Here, pair)?;
            if roles.iter().any(|r| r.role == "Promoted") {
                return Ok(Some(format!("{} is still Promoted", pair.clone_id())));
            }
            if !self.read_only(&pair.volume)? {
                return Ok(Some(format!("{} is still writable", pair.volume)));
            }
            Ok(None)
        })
    }

    /// `site failback commit VOLUME`: stop writes here, sync the rest, give the ticket back
    /// to the original owner, remove the reverse session and restart the original one.
    pub fn failback_commit(&self, volume: &str) -> Result<Done, CliError> {
        let pair = self.pair(volume)?;
        let mut done = Done::default();
        let ticket = pair.ticket();
        let here = self.spec.here();
        let other = self.spec.other();
        let other_addr = other.addr.to_string();
        let (granted, roles) = self.cluster_view(&At::Here, pair)?;
        let synced = self.synced_file(pair);
        if granted {
            let g = self.gluster_here();
            let reverse = pair.secondary();
            let status = self.failback_status(volume)?;
            // Only the commit makes the owner's volume read-only: a read-only volume here
            // means a commit began and was cut off, possibly after it set its own
            // checkpoint, which completes only after its marker. Refusing then would
            // refuse every rerun; the checkpoint and marker below are set again and waited
            // for, so the old owner still has every write before the ticket moves.
            let begun = self.read_only(&pair.volume)?;
            if !status.checkpoint_completed && !begun {
                return Err(CliError::Refused(format!(
                    "the reverse sync of {volume} is not complete ({}, session {}, pending entry {} data {} meta {}): \
                     wait until `ganesha-ha site failback status {volume}` says Sync completed",
                    status.state, status.session, status.entry_pending, status.data_pending, status.meta_pending
                )));
            }
            // The promoted instance must not take the read-only volume for a failure
            // (it would be demoted and promoted again, writable): tell it first.
            let handover = georep_handover_attr(&pair.volume);
            let since = (self.now)().to_string();
            for r in roles.iter().filter(|r| r.role == "Promoted") {
                self.check(
                    &[
                        "attrd_updater",
                        "-n",
                        &handover,
                        "-U",
                        &since,
                        "-N",
                        &r.node,
                    ],
                    CALL,
                )?;
            }
            if begun {
                self.step(
                    &mut done,
                    format!("{volume} is read-only here already: resuming the commit"),
                );
            } else {
                self.set_option(&pair.volume, "features.read-only", "on")?;
                self.step(&mut done, format!("{volume} is read-only here"));
            }
            if begun
                && !self
                    .reverse_session(pair)?
                    .is_some_and(|s| s.status.is_running())
            {
                // A commit cut off while it restarted the session (below).
                let outcome = g.start(&pair.volume, &reverse, false)?;
                done.warnings.extend(outcome.notes);
                self.step(&mut done, format!("started {} {reverse}", pair.volume));
            }
            g.checkpoint_set(&pair.volume, &reverse)?;
            let marker = self.write_marker(pair)?;
            self.step(
                &mut done,
                format!("checkpoint set, marker {marker} written"),
            );
            // gluster 10.3 sometimes loses a worker's changelog events: the marker is then
            // never synced and the checkpoint never completes while the session stays
            // Active (seen after a killed commit). A restart catches up through a history
            // crawl from the bricks' stime: once, after CHECKPOINT_KICK (or half the time left).
            let first = (self.deadline.remaining() / 2).min(CHECKPOINT_KICK);
            match g.checkpoint_wait(&pair.volume, &reverse, first, None) {
                Ok(_) => {}
                Err(georep::Error::Timeout { .. }) if !self.deadline.expired() => {
                    self.step(
                        &mut done,
                        format!(
                            "the checkpoint did not complete in {first:.0?}: restarting {} {reverse}",
                            pair.volume
                        ),
                    );
                    if g.running(&pair.volume, &reverse)? {
                        g.stop(&pair.volume, &reverse, true)?;
                    }
                    let outcome = g.start(&pair.volume, &reverse, false)?;
                    done.warnings.extend(outcome.notes);
                    g.checkpoint_wait(&pair.volume, &reverse, self.deadline.remaining(), None)?;
                }
                Err(e) => return Err(e.into()),
            }
            self.step(
                &mut done,
                "the checkpoint completed: the old owner has every write".into(),
            );
            self.check(&["mkdir", "-p", SYNCED_DIR], CALL)?;
            self.check(&["touch", &synced], CALL)?;
            let argv = self.booth("revoke", Some(&here.addr.to_string()), false, &ticket);
            let out = self.run_booth(&argv)?;
            if out.code != 0 {
                return Err(CliError::Cluster(failed(&argv, &out)));
            }
            self.step(&mut done, format!("revoked {ticket} here"));
        }
        self.wait_demoted_here(pair)?;
        let leader = self.leader(pair);
        if leader.as_deref() != Some(other_addr.as_str()) {
            let out = self.call(&At::Here, &["test", "-e", &synced], CALL)?;
            if out.code != 0 {
                return Err(CliError::Refused(format!(
                    "{ticket} is granted nowhere and nothing here says the reverse sync of {volume} completed \
                     before it was revoked: grant it back here (`booth grant -s {} {ticket}`) and rerun the commit",
                    here.addr
                )));
            }
            let argv = self.booth("grant", Some(&other_addr), false, &ticket);
            let out = self.run_booth(&argv)?;
            if out.code != 0 {
                return Err(CliError::Cluster(failed(&argv, &out)));
            }
            self.step(&mut done, format!("granted {ticket} to {}", other.name));
        }
        let there = At::There(self.spec.other_node(pair));
        self.wait(
            &format!("{} to be Promoted at {}", pair.clone_id(), other.name),
            || {
                let (_, roles) = self.cluster_view(&there, pair)?;
                Ok((!roles.iter().any(|r| r.role == "Promoted"))
                    .then(|| format!("{} is not Promoted there", pair.clone_id())))
            },
        )?;
        self.step(
            &mut done,
            format!("{} is Promoted at {}", pair.clone_id(), other.name),
        );
        let g = self.gluster_here();
        let reverse = pair.secondary();
        if let Some(s) = self.reverse_session(pair)? {
            if s.status.is_running() {
                g.stop(&pair.volume, &reverse, true)?;
            }
            g.delete(&pair.volume, &reverse, false)?;
            self.step(
                &mut done,
                format!("deleted the reverse session {} {reverse}", pair.volume),
            );
        }
        for (get, reset) in [
            (
                "geo-replication.indexing",
                &["geo-replication.indexing", "force"][..],
            ),
            ("changelog.changelog", &["changelog"][..]),
        ] {
            if is_on(&self.volume_option(&pair.volume, get)?) {
                let mut argv = vec![
                    "gluster",
                    "--mode=script",
                    "volume",
                    "reset",
                    pair.volume.as_str(),
                ];
                argv.extend_from_slice(reset);
                self.check(&argv, CALL)?;
                self.step(&mut done, format!("reset {} on {volume}", reset.join(" ")));
            }
        }
        let there = self.gluster_there(pair);
        let original = self.original_secondary(pair);
        if !there.running(&pair.remote_volume, &original)? {
            let outcome = there.start(&pair.remote_volume, &original, false)?;
            done.warnings.extend(outcome.notes);
            self.step(
                &mut done,
                format!(
                    "started {} {original} at {}",
                    pair.remote_volume, other.name
                ),
            );
        }
        self.check(&["rm", "-f", "--", &synced], CALL)?;
        self.step(&mut done, format!("{volume} is back at {}", other.name));
        Ok(done)
    }
}

/// `Promoted`/`Unpromoted` for both generations of crm_mon's role names.
fn normal_role(role: &str) -> String {
    match role {
        "Master" => "Promoted".into(),
        "Slave" => "Unpromoted".into(),
        other => other.into(),
    }
}

fn is_on(value: &str) -> bool {
    matches!(value, "on" | "true" | "yes" | "enable" | "1")
}

/// Whether crm_mon's XML shows `ticket` granted (`<tickets><ticket id=".." status="granted">`).
pub fn ticket_granted(xml: &str, ticket: &str) -> bool {
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.name().as_ref() == b"ticket" => {
                let attr = |name: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name)
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                };
                if attr(b"id").as_deref() == Some(ticket) {
                    return attr(b"status").as_deref() == Some("granted");
                }
            }
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// The leader of `ticket` in `booth list` output (`ticket: T, leader: ADDR, ...`); `None`
/// when there is none (`NONE`).
pub fn booth_leader(list: &str, ticket: &str) -> Option<String> {
    list.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.first()?.strip_prefix("ticket:")?.trim() != ticket {
            return None;
        }
        // booth 1.0 appends ` [manual mode]` to a manual ticket's line.
        let leader = fields
            .iter()
            .find_map(|f| f.strip_prefix("leader:"))?
            .split_whitespace()
            .next()
            .unwrap_or_default();
        (!leader.is_empty() && leader != "NONE").then(|| leader.to_owned())
    })
}

/// The value of `option` in `gluster volume get` output (a table `Option Value`).
pub fn option_value(text: &str, option: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut w = line.split_whitespace();
        (w.next()? == option)
            .then(|| w.next().map(str::to_owned))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn booth_list_and_volume_get_are_read() {
        let list = "ticket: ticket-data, leader: 192.0.2.222, expires: 2026/12/02 17:00:00\n\
                    ticket: ticket-logs, leader: NONE [manual mode]\n";
        assert_eq!(
            booth_leader(list, "ticket-data").as_deref(),
            Some("192.0.2.222")
        );
        assert_eq!(booth_leader(list, "ticket-logs"), None);
        assert_eq!(booth_leader(list, "ticket-x"), None);
        let get = "Option                                  Value\n\
                   ------                                  -----\n\
                   features.read-only                      on\n";
        assert_eq!(
            option_value(get, "features.read-only").as_deref(),
            Some("on")
        );
        let xml = r#"<crm_mon><tickets><ticket id="ticket-data" status="granted" standby="false"/>
            <ticket id="ticket-logs" status="revoked"/></tickets></crm_mon>"#;
        assert!(ticket_granted(xml, "ticket-data"));
        assert!(!ticket_granted(xml, "ticket-logs"));
        assert!(!ticket_granted(xml, "ticket-x"));
    }
}
