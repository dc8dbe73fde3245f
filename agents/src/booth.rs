//! `booth_site`: boothd as a Pacemaker primitive, modelled on upstream booth's `booth-site`
//! agent. A boothd that dies alone leaves its site holding a ticket nobody renews (the
//! other site acquires it when the lease ends while this site's CIB still says granted), so
//! Pacemaker must restart it.
//!
//! start runs `boothd daemon -c CONFIG`: boothd daemonizes itself (the parent returns at
//! once) and holds its lock file, whose pid `booth status` reports as `booth_lockpid`. So
//! the agent keeps no process of its own, the daemon is outside the agent's process group
//! (which Pacemaker kills at a timeout), and every later action finds the daemon through
//! booth's own lock. `booth status` only reads the lock; whether the daemon answers is
//! asked with `booth list`, which talks to it.
//!
//! booth 1.0 (Debian 12) pitfalls checked by validate: the authfile must be mode 0600 and
//! at least 8 bytes, `site-user`/`site-group`/`arbitrator-user`/`arbitrator-group` make it
//! segfault, any IPv6 address makes it hang on kernels from 6.9, and it runs `crm_ticket`
//! through `/bin/sh`, so the daemon's PATH is set here to include `/usr/sbin` (else grants
//! "succeed" without ever reaching the CIB).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use ocf::process::{self, Termination};
use ocf::{Action, ActionSpec, Agent, Context, Deadline, ExitCode, Metadata, OcfError, ParamSpec};

use crate::names::{BOOTH_AGENT, BOOTH_CONF};

static PARAMS: [ParamSpec; 3] = [
    ParamSpec::string("config").default(BOOTH_CONF).describe(
        "booth configuration",
        "booth's configuration file (sites, arbitrator, tickets, authfile).",
    ),
    ParamSpec::string("daemon")
        .default("boothd")
        .describe("boothd program", "The booth daemon."),
    ParamSpec::string("booth")
        .default("booth")
        .describe("booth client", "The booth client, for status and list."),
];

static ACTIONS: [ActionSpec; 5] = [
    ActionSpec::new(Action::Start, 20),
    ActionSpec::new(Action::Stop, 20),
    ActionSpec::new(Action::Monitor, 20).every(10, 0),
    ActionSpec::new(Action::ValidateAll, 10),
    ActionSpec::new(Action::MetaData, 5),
];

static METADATA: Metadata = Metadata {
    name: BOOTH_AGENT,
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "boothd, the site's booth daemon",
    longdesc: "Runs boothd for one site under Pacemaker, so that a boothd that dies is \
               restarted before its site's tickets go stale. start runs boothd daemon -c \
               config and waits until booth status says started and the daemon answers; \
               monitor is booth status (7 when not running) and booth list (1 when the \
               daemon does not answer); stop ends the daemon whose pid booth's lock holds, \
               TERM then KILL.",
    params: &PARAMS,
    actions: &ACTIONS,
};

/// The PATH boothd and the booth client run with: boothd runs `crm_ticket`, in
/// `/usr/sbin`, through `/bin/sh`.
pub const DAEMON_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// The options that make booth 1.0 segfault.
pub const SEGFAULTING_OPTIONS: [&str; 4] = [
    "site-user",
    "site-group",
    "arbitrator-user",
    "arbitrator-group",
];

/// Longest one booth client call may take (a hung daemon never answers `booth list`).
const CLIENT_LIMIT: Duration = Duration::from_secs(5);

/// The agent.
#[derive(Debug, Default)]
pub struct BoothSite;

struct Config {
    config: PathBuf,
    daemon: String,
    booth: String,
}

impl Config {
    fn read(ctx: &Context) -> Result<Config, OcfError> {
        let p = ctx.params();
        let config = PathBuf::from(p.require("config")?);
        if !config.is_absolute() {
            return Err(OcfError::configured("config", "must be an absolute path"));
        }
        let program = |name: &str| -> Result<String, OcfError> {
            let v = p.require(name)?;
            if v.is_empty() || v.chars().any(char::is_whitespace) {
                return Err(OcfError::configured(
                    name,
                    format!("must be a program, got '{v}'"),
                ));
            }
            Ok(v.to_owned())
        };
        Ok(Config {
            config,
            daemon: program("daemon")?,
            booth: program("booth")?,
        })
    }

    fn client(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.booth);
        cmd.args(args)
            .arg("-c")
            .arg(&self.config)
            .env("PATH", DAEMON_PATH);
        cmd
    }
}

/// `key = value` lines of booth.conf (quotes removed; comments and blank lines skipped).
pub fn config_entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.trim().trim_matches('"').trim_matches('\'').to_owned(),
            )
        })
        .collect()
}

/// What `booth status` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// No daemon holds the lock (exit 7).
    Stopped,
    /// A daemon holds the lock: its pid and `booth_state`.
    Locked { pid: Option<i32>, state: String },
}

/// Parses `booth status`'s `key=value` words (values may be quoted).
pub fn parse_status(text: &str) -> Status {
    let mut pid = None;
    let mut state = String::new();
    for word in text.split_whitespace() {
        let Some((k, v)) = word.split_once('=') else {
            continue;
        };
        let v = v.trim_matches('\'').trim_matches('"');
        match k {
            "booth_lockpid" => pid = v.parse().ok(),
            "booth_pid" if pid.is_none() => pid = v.parse().ok(),
            "booth_state" => state = v.to_owned(),
            _ => {}
        }
    }
    Status::Locked { pid, state }
}

fn status(cfg: &Config, deadline: Deadline) -> Result<Status, OcfError> {
    let out = ocf::command::output(&mut cfg.client(&["status"]), deadline.bound(CLIENT_LIMIT))?;
    match out.status.code() {
        Some(0) => Ok(parse_status(&String::from_utf8_lossy(&out.stdout))),
        Some(7) => Ok(Status::Stopped),
        _ => Err(OcfError::generic(format!(
            "booth status -c {}: {}: {}",
            cfg.config.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// Whether the daemon answers a `booth list`, asked up to three times within the deadline.
fn answers(cfg: &Config, deadline: Deadline) -> Result<(), OcfError> {
    let mut last = None;
    for _ in 0..3 {
        if deadline.expired() {
            break;
        }
        match ocf::command::run(&mut cfg.client(&["list"]), deadline.bound(CLIENT_LIMIT)) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => OcfError::generic(format!("boothd runs but does not answer: {e}")),
        None => OcfError::Timeout {
            what: "booth list".into(),
            after: Duration::ZERO,
        },
    })
}

fn on_path(program: &str, path: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program)).filter(|p| p.is_file());
    }
    path.split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

impl BoothSite {
    fn validate_config(cfg: &Config) -> Result<(), OcfError> {
        let text = std::fs::read_to_string(&cfg.config).map_err(|e| {
            OcfError::InvalidHere(format!("cannot read {}: {e}", cfg.config.display()))
        })?;
        for (key, value) in config_entries(&text) {
            if SEGFAULTING_OPTIONS.contains(&key.as_str()) {
                tracing::warn!(
                    "{} sets {key}: booth 1.0 segfaults on it (leave it out; boothd runs as hacluster anyway)",
                    cfg.config.display()
                );
            }
            if key == "authfile" {
                let meta = std::fs::metadata(&value)
                    .map_err(|e| OcfError::InvalidHere(format!("authfile {value}: {e}")))?;
                if meta.mode() & 0o077 != 0 {
                    return Err(OcfError::InvalidHere(format!(
                        "authfile {value} has mode {:04o}: booth wants 0600",
                        meta.mode() & 0o7777
                    )));
                }
                if meta.len() < 8 {
                    return Err(OcfError::InvalidHere(format!(
                        "authfile {value} has {} bytes: booth needs at least 8",
                        meta.len()
                    )));
                }
            }
        }
        let ipv6 = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
        if !ipv6.trim().is_empty() {
            tracing::warn!(
                "this host has IPv6 addresses: booth 1.0 hangs on them on kernels from 6.9 (disable IPv6 or use booth 1.2)"
            );
        }
        for program in [cfg.daemon.as_str(), cfg.booth.as_str(), "crm_ticket"] {
            if on_path(program, DAEMON_PATH).is_none() {
                return Err(OcfError::NotInstalled {
                    what: program.to_owned(),
                    detail: format!("not found on {DAEMON_PATH}"),
                });
            }
        }
        Ok(())
    }

    /// The pid of the daemon, `None` when none holds the lock.
    fn daemon_pid(cfg: &Config, deadline: Deadline) -> Result<Option<Pid>, OcfError> {
        match status(cfg, deadline)? {
            Status::Stopped => Ok(None),
            Status::Locked { pid: Some(pid), .. } if pid > 0 => Ok(Some(Pid::from_raw(pid))),
            Status::Locked { .. } => Err(OcfError::generic(
                "booth status names no pid for the daemon holding the lock",
            )),
        }
    }
}

impl Agent for BoothSite {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn validate(&self, ctx: &Context) -> Result<(), OcfError> {
        let cfg = Config::read(ctx)?;
        Self::validate_config(&cfg)
    }

    fn start(&self, ctx: &Context) -> Result<(), OcfError> {
        let cfg = Config::read(ctx)?;
        let deadline = ctx.deadline();
        if status(&cfg, deadline)? == Status::Stopped {
            let mut cmd = Command::new(&cfg.daemon);
            cmd.args(["daemon", "-c"])
                .arg(&cfg.config)
                .env("PATH", DAEMON_PATH);
            ocf::command::run(&mut cmd, deadline.bound(Duration::from_secs(10)))?;
        }
        loop {
            let last = match status(&cfg, deadline) {
                Ok(Status::Locked { state, .. }) if state == "started" => {
                    match answers(&cfg, deadline.portion(0.5)) {
                        Ok(()) => {
                            tracing::info!("boothd started ({})", cfg.config.display());
                            return Ok(());
                        }
                        Err(e) => e.to_string(),
                    }
                }
                Ok(other) => format!("booth status: {other:?}"),
                Err(e) => e.to_string(),
            };
            if deadline.remaining() < Duration::from_millis(300) {
                return Err(OcfError::generic(format!("boothd did not start: {last}")));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop(&self, ctx: &Context) -> Result<(), OcfError> {
        let cfg = Config::read(ctx)?;
        let deadline = ctx.deadline();
        let Some(pid) = Self::daemon_pid(&cfg, deadline)? else {
            return Ok(());
        };
        let term = deadline.portion(0.6);
        match process::terminate(pid, &[(Signal::SIGTERM, term)], deadline) {
            Termination::NotRunning | Termination::Exited(_) => {
                tracing::info!("boothd (pid {pid}) stopped");
                Ok(())
            }
            Termination::Survived => Err(OcfError::generic(format!(
                "boothd (pid {pid}) survived SIGTERM and SIGKILL"
            ))),
        }
    }

    fn monitor(&self, ctx: &Context) -> Result<ExitCode, OcfError> {
        let cfg = Config::read(ctx)?;
        let deadline = ctx.deadline();
        match status(&cfg, deadline)? {
            Status::Stopped => Err(OcfError::NotRunning("boothd is not running".into())),
            Status::Locked { pid, .. } => {
                if let Some(pid) = pid {
                    if !process::is_alive(Pid::from_raw(pid)) {
                        return Err(OcfError::NotRunning(format!("boothd (pid {pid}) is gone")));
                    }
                }
                answers(&cfg, deadline)?;
                Ok(ExitCode::Success)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_give_the_lock_pid_and_state() {
        let text = "booth_lockpid=6610 booth_lockfile='/var/run/booth//booth.pid' booth_pid=6610 booth_state=started booth_type=site booth_cfg_name='booth' booth_id=1246768927 booth_addr_string='192.0.2.60' booth_port=9929\n";
        assert_eq!(
            parse_status(text),
            Status::Locked {
                pid: Some(6610),
                state: "started".into()
            }
        );
    }

    #[test]
    fn config_entries_drop_quotes_and_comments() {
        let text = "transport = UDP\n# site-user = x\nauthfile = /etc/booth/authkey\nticket = \"ticket-data\"\n    expire = 20 # s\n";
        assert_eq!(
            config_entries(text),
            [
                ("transport".to_string(), "UDP".to_string()),
                ("authfile".into(), "/etc/booth/authkey".into()),
                ("ticket".into(), "ticket-data".into()),
                ("expire".into(), "20".into()),
            ]
        );
    }
}
