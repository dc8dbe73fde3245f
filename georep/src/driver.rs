//! Drives the real `gluster` CLI: `gluster --mode=script volume geo-replication ... --xml`,
//! argv only, every call bounded in time, through a [`Runner`] so that tests can record or
//! redirect the calls.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::Error;
use crate::model::{check_volume_name, Secondary, Session, SessionStatus};
use crate::options::{self, Setting};
use crate::rollup::Layout;
use crate::xml;

/// What a program printed and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit code; -1 when killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs one program (`argv[0]` is `gluster`, `ssh` or `touch`) for at most `timeout`.
pub trait Runner {
    fn run(&self, argv: &[String], timeout: Duration) -> Result<Output, Error>;
}

/// Runs programs on this machine, optionally behind a prefix (`nsenter -t PID -n -m --`)
/// and with another `gluster` program.
#[derive(Clone, Debug)]
pub struct CommandRunner {
    prefix: Vec<String>,
    gluster: String,
}

impl Default for CommandRunner {
    fn default() -> Self {
        CommandRunner {
            prefix: Vec::new(),
            gluster: "gluster".into(),
        }
    }
}

impl CommandRunner {
    /// Uses `program` wherever `gluster` would run.
    pub fn with_gluster(mut self, program: impl Into<String>) -> Self {
        self.gluster = program.into();
        self
    }

    /// Runs every program as `prefix... program args...`.
    pub fn with_prefix(mut self, prefix: Vec<String>) -> Self {
        self.prefix = prefix;
        self
    }
}

impl Runner for CommandRunner {
    fn run(&self, argv: &[String], timeout: Duration) -> Result<Output, Error> {
        let mut words: Vec<&str> = self.prefix.iter().map(String::as_str).collect();
        for (i, arg) in argv.iter().enumerate() {
            words.push(if i == 0 && arg == "gluster" {
                &self.gluster
            } else {
                arg
            });
        }
        let Some((program, args)) = words.split_first() else {
            return Err(Error::Parse("empty command".into()));
        };
        let mut cmd = Command::new(program);
        cmd.args(args);
        let out = ocf::command::output(&mut cmd, timeout)?;
        Ok(Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// How `create` sets the session up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// Distribute the keys: `system:: execute gsec_create`, then `create push-pem`.
    pub push_pem: bool,
    /// Skip gverify's checks (`no-verify`); not with `push_pem`.
    pub no_verify: bool,
    pub ssh_port: Option<u16>,
    pub force: bool,
}

/// What to do when the secondary's rsync is known to sync empty files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RsyncPolicy {
    /// Set `sync-method tarssh` and warn.
    #[default]
    SwitchToTarssh,
    /// Refuse to start.
    Refuse,
}

/// A successful action, with what gluster or the driver had to say about it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// gluster's `opErrstr` on success (e.g. "geo-replication is not set up" when pausing a
    /// session that never started) and the driver's warnings.
    pub notes: Vec<String>,
}

/// The gluster CLI.
pub struct Gluster<R: Runner = CommandRunner> {
    runner: R,
    /// Bound for each gluster call.
    pub timeout: Duration,
    /// Longest wait for push-pem's hook and for a started monitor to show up.
    pub settle_timeout: Duration,
    /// How often waits poll.
    pub poll: Duration,
    pub rsync_policy: RsyncPolicy,
    notes: RefCell<Vec<String>>,
}

impl Default for Gluster<CommandRunner> {
    fn default() -> Self {
        Gluster::new(CommandRunner::default())
    }
}

/// rsync releases whose receiver, run by gsyncd, writes regular files empty and still
/// exits 0 (3.5.0 breaks on gsyncd's `/proc/<pid>/cwd` destination; 3.2.7
/// works). Later releases are treated as affected until one is verified.
pub fn rsync_is_broken(version: (u32, u32, u32)) -> bool {
    version >= (3, 5, 0)
}

/// The version in `rsync --version`'s first line.
pub fn parse_rsync_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)?;
    let mut parts = word.split(['.', 'p', '-']).map(|p| p.parse::<u32>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

impl<R: Runner> Gluster<R> {
    pub fn new(runner: R) -> Self {
        Gluster {
            runner,
            timeout: Duration::from_secs(120),
            settle_timeout: Duration::from_secs(60),
            poll: Duration::from_millis(500),
            rsync_policy: RsyncPolicy::default(),
            notes: RefCell::new(Vec::new()),
        }
    }

    pub fn runner(&self) -> &R {
        &self.runner
    }

    fn note(&self, text: impl Into<String>) {
        self.notes.borrow_mut().push(text.into());
    }

    fn outcome(&self) -> Outcome {
        Outcome {
            notes: self.notes.borrow_mut().drain(..).collect(),
        }
    }

    fn gluster(&self, args: &[String]) -> Result<Output, Error> {
        let mut argv = vec!["gluster".to_owned(), "--mode=script".to_owned()];
        argv.extend(args.iter().cloned());
        self.runner.run(&argv, self.timeout)
    }

    /// Runs a gluster command with `--xml` and returns its envelope; gluster's failures
    /// (opRet ≠ 0, or a non-zero exit without XML) become [`Error::Gluster`].
    fn xml_call(&self, args: &[String]) -> Result<xml::CliOutput, Error> {
        let mut args = args.to_vec();
        args.push("--xml".into());
        let out = self.gluster(&args)?;
        let command = format!("gluster {}", args.join(" "));
        if out.stdout.trim_start().starts_with('<') {
            let parsed = xml::parse_cli_output(&out.stdout)?;
            if parsed.op_ret != 0 {
                return Err(Error::Gluster {
                    command,
                    exit_code: out.code,
                    op_ret: Some(parsed.op_ret),
                    op_errno: Some(parsed.op_errno),
                    message: parsed.op_errstr,
                });
            }
            return Ok(parsed);
        }
        Err(Error::Gluster {
            command,
            exit_code: out.code,
            op_ret: None,
            op_errno: None,
            message: message_of(&out),
        })
    }

    fn session_args(
        primary: &str,
        secondary: &Secondary,
        rest: &[&str],
    ) -> Result<Vec<String>, Error> {
        check_volume_name(primary)?;
        let mut args = vec![
            "volume".to_owned(),
            "geo-replication".to_owned(),
            primary.to_owned(),
            secondary.to_string(),
        ];
        args.extend(rest.iter().map(|s| (*s).to_owned()));
        Ok(args)
    }

    fn action(
        &self,
        primary: &str,
        secondary: &Secondary,
        rest: &[&str],
    ) -> Result<Outcome, Error> {
        let out = self.xml_call(&Self::session_args(primary, secondary, rest)?)?;
        // Success messages gluster puts in opErrstr are routine; these two are not.
        if matches!(out.op_errstr.as_str(), "geo-replication is not set up") {
            self.note(format!("gluster: {}", out.op_errstr));
        }
        Ok(self.outcome())
    }

    /// `system:: execute gsec_create`: makes the keys on every primary node and collects
    /// them in `common_secret.pem.pub` for push-pem.
    pub fn gsec_create(&self) -> Result<(), Error> {
        let args = ["system::", "execute", "gsec_create"].map(String::from);
        let out = self.gluster(&args)?;
        if out.code == 0 {
            Ok(())
        } else {
            Err(Error::Gluster {
                command: "gluster system:: execute gsec_create".into(),
                exit_code: out.code,
                op_ret: None,
                op_errno: None,
                message: message_of(&out),
            })
        }
    }

    /// Creates the session. With push-pem it generates and distributes the keys and waits
    /// for the hook that finishes after `create` returns; an ssh port is also stored in
    /// the session config (gluster uses it only for its checks).
    pub fn create(
        &self,
        primary: &str,
        secondary: &Secondary,
        opts: &CreateOptions,
    ) -> Result<Outcome, Error> {
        if opts.push_pem && opts.no_verify {
            return Err(Error::InvalidName {
                what: "create options",
                value: "push-pem no-verify".into(),
                why: "gluster takes one of push-pem and no-verify",
            });
        }
        if opts.push_pem {
            self.gsec_create()?;
        }
        let port = opts.ssh_port.map(|p| p.to_string());
        let mut rest = vec!["create"];
        if let Some(port) = &port {
            rest.extend(["ssh-port", port.as_str()]);
        }
        if opts.push_pem {
            rest.push("push-pem");
        }
        if opts.no_verify {
            rest.push("no-verify");
        }
        if opts.force {
            rest.push("force");
        }
        let mut outcome = self.action(primary, secondary, &rest)?;
        if let Some(port) = &port {
            self.config_set(primary, secondary, "ssh-port", port)?;
        }
        if opts.push_pem {
            if secondary.is_non_root() {
                self.note(format!(
                    "non-root session: run `set_geo_rep_pem_keys.sh {} {primary} {}` as root on a secondary node before start",
                    secondary.user, secondary.volume
                ));
            } else {
                self.wait_secondary_read_only(secondary)?;
            }
        }
        outcome.notes.extend(self.outcome().notes);
        Ok(outcome)
    }

    /// Waits until the secondary volume has `features.read-only on`, the push-pem hook's
    /// last step: a `start` before that finds no keys and leaves a dead "Created" session.
    pub fn wait_secondary_read_only(&self, secondary: &Secondary) -> Result<(), Error> {
        let args = vec![
            format!("--remote-host={}", secondary.host),
            "volume".into(),
            "info".into(),
            secondary.volume.clone(),
        ];
        let started = Instant::now();
        loop {
            let last = match self.xml_call(&args) {
                Ok(out) => match xml::volume_option_from(&out, "features.read-only") {
                    Some(v) if v == "on" => return Ok(()),
                    v => format!("features.read-only is {}", v.as_deref().unwrap_or("unset")),
                },
                Err(e) => e.to_string(),
            };
            if started.elapsed() >= self.settle_timeout {
                return Err(Error::Timeout {
                    after: started.elapsed(),
                    what: format!("push-pem to finish on {} ({last})", secondary.host),
                });
            }
            thread::sleep(self.poll);
        }
    }

    /// Starts the session. Before: the rsync check. After: waits until the monitor shows
    /// up, since a monitor that dies at once leaves the session "Created" with `start`
    /// having succeeded.
    pub fn start(
        &self,
        primary: &str,
        secondary: &Secondary,
        force: bool,
    ) -> Result<Outcome, Error> {
        self.check_rsync(primary, secondary)?;
        // The rsync check's notes come back with this action's.
        let mut outcome = self.action(
            primary,
            secondary,
            if force {
                &["start", "force"]
            } else {
                &["start"]
            },
        )?;
        let started = Instant::now();
        loop {
            match self.session(primary, secondary)? {
                Some(s) if s.status != SessionStatus::Created => break,
                Some(_) if started.elapsed() < self.settle_timeout.min(Duration::from_secs(15)) => {
                    thread::sleep(self.poll)
                }
                Some(_) => {
                    return Err(Error::Gluster {
                        command: "start".into(),
                        exit_code: 0,
                        op_ret: None,
                        op_errno: None,
                        message: format!(
                            "gluster accepted start but the session is still Created: the monitor exited (see /var/log/glusterfs/geo-replication/{primary}_{}_{}/gsyncd.log); run start again",
                            secondary.host, secondary.volume
                        ),
                    })
                }
                None => return Err(Error::NoSession(format!("{primary} {secondary}"))),
            }
        }
        outcome.notes.extend(self.outcome().notes);
        Ok(outcome)
    }

    /// With `sync-method rsync`, asks the secondary for its rsync version over ssh (as the
    /// session user, like gverify) and switches to tarssh or refuses when it is broken.
    pub fn check_rsync(&self, primary: &str, secondary: &Secondary) -> Result<(), Error> {
        let config = self.config_list(primary, secondary)?;
        if config.get("sync_method").map(String::as_str) == Some("tarssh") {
            return Ok(());
        }
        let port = config
            .get("ssh_port")
            .cloned()
            .unwrap_or_else(|| "22".into());
        let argv: Vec<String> = [
            "ssh",
            "-oBatchMode=yes",
            "-oStrictHostKeyChecking=no",
            "-oConnectTimeout=10",
            "-p",
            &port,
            &format!("{}@{}", secondary.user, secondary.host),
            "rsync",
            "--version",
        ]
        .map(String::from)
        .to_vec();
        let version = self
            .runner
            .run(&argv, Duration::from_secs(20))
            .ok()
            .filter(|o| o.code == 0)
            .and_then(|o| parse_rsync_version(&o.stdout));
        let Some(version) = version else {
            self.note(format!(
                "could not read rsync's version on {}; rsync 3.5.0 and later sync empty files: consider `config sync-method tarssh`",
                secondary.host
            ));
            return Ok(());
        };
        if !rsync_is_broken(version) {
            return Ok(());
        }
        let found = format!(
            "rsync {}.{}.{} on {} syncs regular files empty under gsyncd",
            version.0, version.1, version.2, secondary.host
        );
        match self.rsync_policy {
            RsyncPolicy::Refuse => Err(Error::BrokenRsync(format!(
                "{found}: install rsync 3.2.7 there or set sync-method tarssh"
            ))),
            RsyncPolicy::SwitchToTarssh => {
                self.config_set(primary, secondary, "sync-method", "tarssh")?;
                self.note(format!(
                    "{found}: switched the session to sync-method tarssh"
                ));
                Ok(())
            }
        }
    }

    pub fn stop(
        &self,
        primary: &str,
        secondary: &Secondary,
        force: bool,
    ) -> Result<Outcome, Error> {
        self.action(
            primary,
            secondary,
            if force { &["stop", "force"] } else { &["stop"] },
        )
    }

    pub fn pause(
        &self,
        primary: &str,
        secondary: &Secondary,
        force: bool,
    ) -> Result<Outcome, Error> {
        self.action(
            primary,
            secondary,
            if force {
                &["pause", "force"]
            } else {
                &["pause"]
            },
        )
    }

    pub fn resume(
        &self,
        primary: &str,
        secondary: &Secondary,
        force: bool,
    ) -> Result<Outcome, Error> {
        self.action(
            primary,
            secondary,
            if force {
                &["resume", "force"]
            } else {
                &["resume"]
            },
        )
    }

    /// Deletes a stopped session; `reset_sync_time` makes a new session resync everything.
    pub fn delete(
        &self,
        primary: &str,
        secondary: &Secondary,
        reset_sync_time: bool,
    ) -> Result<Outcome, Error> {
        self.action(
            primary,
            secondary,
            if reset_sync_time {
                &["delete", "reset-sync-time"]
            } else {
                &["delete"]
            },
        )
    }

    /// Every option's effective value, by gluster's `_` name.
    pub fn config_list(
        &self,
        primary: &str,
        secondary: &Secondary,
    ) -> Result<BTreeMap<String, String>, Error> {
        let out = self.xml_call(&Self::session_args(primary, secondary, &["config"])?)?;
        xml::config_from(&out)
    }

    /// One option's value (gluster's `config KEY --xml` is empty, so from the list).
    pub fn config_get(
        &self,
        primary: &str,
        secondary: &Secondary,
        key: &str,
    ) -> Result<Option<String>, Error> {
        let spec = options::lookup(key)?;
        let list = self.config_list(primary, secondary)?;
        Ok(list.get(&spec.list_name()).cloned())
    }

    /// Validates, then sets. The result says whether gluster restarts the session for it.
    pub fn config_set(
        &self,
        primary: &str,
        secondary: &Secondary,
        key: &str,
        value: &str,
    ) -> Result<Setting, Error> {
        let setting = options::validate(key, value)?;
        self.xml_call(&Self::session_args(
            primary,
            secondary,
            &["config", setting.name, &setting.value],
        )?)?;
        Ok(setting)
    }

    /// Back to the default (`config '!KEY'`).
    pub fn config_reset(
        &self,
        primary: &str,
        secondary: &Secondary,
        key: &str,
    ) -> Result<&'static options::OptionSpec, Error> {
        let spec = options::lookup(key)?;
        if !spec.configurable {
            return Err(options::ConfigError::NotConfigurable(spec.name.into()).into());
        }
        let bang = format!("!{}", spec.name);
        self.xml_call(&Self::session_args(primary, secondary, &["config", &bang])?)?;
        Ok(spec)
    }

    /// Sets a checkpoint at the current time.
    pub fn checkpoint_set(&self, primary: &str, secondary: &Secondary) -> Result<(), Error> {
        self.config_set(primary, secondary, "checkpoint", "now")
            .map(|_| ())
    }

    /// Waits until every Active worker completed the checkpoint. A checkpoint completes
    /// only once a change after it was synced, so when `touch` names a path on a primary
    /// volume mount, its times are updated on every poll that finds it incomplete.
    pub fn checkpoint_wait(
        &self,
        primary: &str,
        secondary: &Secondary,
        timeout: Duration,
        touch: Option<&str>,
    ) -> Result<Session, Error> {
        let started = Instant::now();
        loop {
            let session = self
                .session(primary, secondary)?
                .ok_or_else(|| Error::NoSession(format!("{primary} {secondary}")))?;
            if session.checkpoint_completed() {
                return Ok(session);
            }
            if started.elapsed() >= timeout {
                return Err(Error::Timeout {
                    after: started.elapsed(),
                    what: format!(
                        "the checkpoint of {primary} {secondary} (status {})",
                        session.status
                    ),
                });
            }
            if let Some(path) = touch {
                let argv = ["touch", "-c", "--", path].map(String::from);
                let out = self.runner.run(&argv, Duration::from_secs(30))?;
                if out.code != 0 {
                    self.note(format!("touch {path}: {}", message_of(&out)));
                }
            }
            thread::sleep(self.poll.max(Duration::from_secs(1)));
        }
    }

    /// Every session on this cluster.
    pub fn status_all(&self) -> Result<Vec<Session>, Error> {
        self.status(&["volume", "geo-replication", "status", "detail"].map(String::from))
    }

    /// The sessions of one primary volume.
    pub fn status_volume(&self, primary: &str) -> Result<Vec<Session>, Error> {
        check_volume_name(primary)?;
        self.status(&["volume", "geo-replication", primary, "status", "detail"].map(String::from))
    }

    /// One session, or `None` when gluster has no such session.
    pub fn session(&self, primary: &str, secondary: &Secondary) -> Result<Option<Session>, Error> {
        let args = Self::session_args(primary, secondary, &["status", "detail"])?;
        Ok(self
            .status(&args)?
            .into_iter()
            .find(|s| s.secondary_host == secondary.host && s.secondary_volume == secondary.volume))
    }

    /// Whether the session exists (for snapshot, remove-brick, volume stop guards).
    pub fn exists(&self, primary: &str, secondary: &Secondary) -> Result<bool, Error> {
        Ok(self.session(primary, secondary)?.is_some())
    }

    /// Whether the session's workers run ("Created" after a start is not running).
    pub fn running(&self, primary: &str, secondary: &Secondary) -> Result<bool, Error> {
        Ok(self
            .session(primary, secondary)?
            .is_some_and(|s| s.status.is_running()))
    }

    /// A primary volume's brick order and replica group size.
    pub fn layout(&self, volume: &str) -> Result<Layout, Error> {
        let args = ["volume", "info", volume].map(String::from);
        let out = self.xml_call(&args)?;
        xml::volume_info_from(&out, volume).map(|(layout, _)| layout)
    }

    /// `volume get VOLUME OPTION`: the option's effective value (`off` for an unset
    /// `features.read-only`, whose reply says `off (DEFAULT)`).
    pub fn volume_get(&self, volume: &str, option: &str) -> Result<String, Error> {
        check_volume_name(volume)?;
        let args = ["volume", "get", volume, option].map(String::from);
        let out = self.xml_call(&args)?;
        xml::volume_get_from(&out, option)
    }

    /// `volume set VOLUME OPTION VALUE`.
    pub fn volume_set(&self, volume: &str, option: &str, value: &str) -> Result<(), Error> {
        check_volume_name(volume)?;
        let args = ["volume", "set", volume, option, value].map(String::from);
        self.xml_call(&args).map(drop)
    }

    /// Whether the volume is started (`volume info`'s `statusStr`); a volume that does not
    /// exist is an error ([`Error::is_no_such_volume`]).
    pub fn volume_started(&self, volume: &str) -> Result<bool, Error> {
        check_volume_name(volume)?;
        let args = ["volume", "info", volume].map(String::from);
        let out = self.xml_call(&args)?;
        xml::volume_info_from(&out, volume).map(|(_, started)| started)
    }

    fn status(&self, args: &[String]) -> Result<Vec<Session>, Error> {
        let out = match self.xml_call(args) {
            Ok(out) => out,
            // With --xml a failed status prints only "geo-replication command failed"; the
            // plain form says why, and "No active geo-replication sessions" means none.
            Err(Error::Gluster {
                op_ret: None,
                exit_code,
                command,
                ..
            }) => {
                let plain = self.gluster(args)?;
                let message = message_of(&plain);
                if message.contains("No active geo-replication sessions") {
                    return Ok(Vec::new());
                }
                return Err(Error::Gluster {
                    command,
                    exit_code,
                    op_ret: None,
                    op_errno: None,
                    message,
                });
            }
            Err(e) => return Err(e),
        };
        let first = xml::sessions_from(&out, &BTreeMap::new())?;
        let mut layouts = BTreeMap::new();
        for s in &first {
            if !layouts.contains_key(&s.primary_volume) {
                if let Ok(layout) = self.layout(&s.primary_volume) {
                    layouts.insert(s.primary_volume.clone(), layout);
                }
            }
        }
        if layouts.is_empty() {
            return Ok(first);
        }
        xml::sessions_from(&out, &layouts)
    }
}

/// gluster's own words: the lines other than its generic "geo-replication command failed".
fn message_of(out: &Output) -> String {
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .chain(out.stdout.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let specific: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| *l != "geo-replication command failed")
        .collect();
    if specific.is_empty() {
        lines.join("; ")
    } else {
        specific.join("; ")
    }
}
