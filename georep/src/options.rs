//! gsyncd's options (`/etc/glusterfs/gsyncd.conf`, GlusterFS 10) with their defaults, types
//! and allowed values, and the checks glusterd and gsyncd make, done here before anything
//! is sent: unknown names, reserved names, session-internal names, wrong types, out of
//! range, not an allowed value.

use serde::Serialize;

/// What values an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Text,
    /// An integer, optionally bounded (gsyncd's `minmax`).
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    /// gsyncd takes only `true`/`false`; `yes`/`no`/`on`/`off`/`1`/`0` are normalised.
    Bool,
    /// One of these (gsyncd's `choice`; compared case-insensitively, sent as listed).
    Choice(&'static [&'static str]),
    /// A Unix time after 1970, `now`, or `YYYY-mm-dd HH:MM:SS` (checkpoint).
    UnixTime,
    /// A program name or path (gsyncd checks it on every node).
    ExecPath,
}

/// One option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct OptionSpec {
    /// The GlusterFS 10 name, `-` form.
    pub name: &'static str,
    /// The name before GlusterFS 10 (master/slave), when it differs.
    pub old_name: Option<&'static str>,
    /// gsyncd.conf's default (`${...}` templates are filled in per session).
    pub default: &'static str,
    pub kind: Kind,
    /// `false`: session-internal, written by glusterd.
    pub configurable: bool,
}

impl OptionSpec {
    /// Changing it restarts a running session (all but glusterd's `gsync_no_restart_opts`).
    pub fn restarts_session(&self) -> bool {
        !matches!(self.name, "checkpoint" | "log-rsync-performance")
    }

    /// The name as `config` lists it (`_` form).
    pub fn list_name(&self) -> String {
        self.name.replace('-', "_")
    }
}

const LOG_LEVELS: &[&str] = &["ERROR", "INFO", "WARNING", "DEBUG"];
const fn opt(name: &'static str, default: &'static str, kind: Kind) -> OptionSpec {
    OptionSpec {
        name,
        old_name: None,
        default,
        kind,
        configurable: true,
    }
}
const fn internal(
    name: &'static str,
    old: Option<&'static str>,
    default: &'static str,
    kind: Kind,
) -> OptionSpec {
    OptionSpec {
        name,
        old_name: old,
        default,
        kind,
        configurable: false,
    }
}
const fn renamed(
    name: &'static str,
    old: &'static str,
    default: &'static str,
    kind: Kind,
) -> OptionSpec {
    OptionSpec {
        name,
        old_name: Some(old),
        default,
        kind,
        configurable: true,
    }
}
const T: Kind = Kind::Text;
const B: Kind = Kind::Bool;
const I: Kind = Kind::Int {
    min: None,
    max: None,
};
const X: Kind = Kind::ExecPath;
const L: Kind = Kind::Choice(LOG_LEVELS);

/// The 71 options of gsyncd.conf.in (GlusterFS 10/11), in its order.
pub const OPTIONS: &[OptionSpec] = &[
    internal("primary-bricks", Some("master-bricks"), "", T),
    internal("secondary-bricks", Some("slave-bricks"), "", T),
    internal("primary-volume-id", Some("master-volume-id"), "", T),
    internal("secondary-volume-id", Some("slave-volume-id"), "", T),
    internal("primary-replica-count", Some("master-replica-count"), "1", I),
    internal("primary-disperse-count", Some("master-disperse-count"), "1", I),
    internal("primary-distribution-count", Some("master-distribution-count"), "1", I),
    opt("glusterd-workdir", "/var/lib/glusterd", T),
    opt("gluster-logdir", "/var/log/glusterfs", T),
    opt("gluster-rundir", "/var/run/gluster", T),
    opt("gsyncd-miscdir", "/var/lib/misc/gluster/gsyncd", T),
    opt("stime-xattr-prefix", "", T),
    opt("checkpoint", "0", Kind::UnixTime),
    opt("gluster-cli-options", "", T),
    internal("pid-file", None, "${gluster_rundir}/gsyncd-${primary}-${primary_secondary_host}-${secondaryvol}.pid", T),
    internal("state-file", None, "${glusterd_workdir}/geo-replication/${primary}_${primary_secondary_host}_${secondaryvol}/monitor.status", T),
    internal("georep-session-working-dir", None, "${glusterd_workdir}/geo-replication/${primary}_${primary_secondary_host}_${secondaryvol}/", T),
    opt("access-mount", "false", B),
    renamed("secondary-access-mount", "slave-access-mount", "false", B),
    renamed("isolated-secondarys", "isolated-slaves", "", T),
    opt("changelog-batch-size", "727040", I),
    renamed("secondary-timeout", "slave-timeout", "120", I),
    opt("connection-timeout", "60", I),
    opt("replica-failover-interval", "1", I),
    opt("changelog-archive-format", "%Y%m", T),
    opt("use-meta-volume", "false", B),
    opt("meta-volume-mnt", "/run/gluster/shared_storage", T),
    opt("allow-network", "", T),
    opt("change-interval", "5", I),
    opt("sync-method", "rsync", Kind::Choice(&["tarssh", "rsync"])),
    opt("remote-gsyncd", "", T),
    opt("gluster-command-dir", "/usr/sbin", T),
    renamed("secondary-gluster-command-dir", "slave-gluster-command-dir", "/usr/sbin", T),
    opt("gluster-params", "aux-gfid-mount acl", T),
    renamed("secondary-gluster-params", "slave-gluster-params", "aux-gfid-mount acl", T),
    opt("ignore-deletes", "false", B),
    opt("special-sync-mode", "", Kind::Choice(&["partial", "recover"])),
    opt("gfid-conflict-resolution", "true", B),
    internal("working-dir", None, "${gsyncd_miscdir}/${primary}_${primary_secondary_host}_${secondaryvol}/", T),
    opt("change-detector", "changelog", Kind::Choice(&["changelog", "xsync"])),
    internal("cli-log-file", None, "${gluster_logdir}/geo-replication/cli.log", T),
    opt("cli-log-level", "INFO", L),
    internal("log-file", None, "${gluster_logdir}/geo-replication/${primary}_${primary_secondary_host}_${secondaryvol}/gsyncd.log", T),
    internal("changelog-log-file", None, "${gluster_logdir}/geo-replication/${primary}_${primary_secondary_host}_${secondaryvol}/changes-${local_id}.log", T),
    internal("gluster-log-file", None, "${gluster_logdir}/geo-replication/${primary}_${primary_secondary_host}_${secondaryvol}/mnt-${local_id}.log", T),
    internal("secondary-log-file", Some("slave-log-file"), "${gluster_logdir}/geo-replication-secondaries/${primary}_${primary_secondary_host}_${secondaryvol}/gsyncd.log", T),
    internal("secondary-gluster-log-file", Some("slave-gluster-log-file"), "${gluster_logdir}/geo-replication-secondaries/${primary}_${primary_secondary_host}_${secondaryvol}/mnt-${primary_node}-${primary_brick_id}.log", T),
    internal("secondary-gluster-log-file-mbr", Some("slave-gluster-log-file-mbr"), "${gluster_logdir}/geo-replication-secondaries/${primary}_${primary_secondary_host}_${secondaryvol}/mnt-mbr-${primary_node}-${primary_brick_id}.log", T),
    opt("log-level", "INFO", L),
    opt("gluster-log-level", "INFO", L),
    opt("changelog-log-level", "INFO", L),
    renamed("secondary-log-level", "slave-log-level", "INFO", L),
    renamed("secondary-gluster-log-level", "slave-gluster-log-level", "INFO", L),
    opt("ssh-port", "22", Kind::Int { min: Some(1), max: Some(65535) }),
    opt("ssh-command", "ssh", X),
    opt("tar-command", "tar", X),
    opt("ssh-options", "-oPasswordAuthentication=no -oStrictHostKeyChecking=no -i ${glusterd_workdir}/geo-replication/secret.pem", T),
    opt("ssh-options-tar", "-oPasswordAuthentication=no -oStrictHostKeyChecking=no -i ${glusterd_workdir}/geo-replication/tar_ssh.pem", T),
    opt("gluster-command", "gluster", X),
    opt("sync-jobs", "3", Kind::Int { min: Some(1), max: Some(100) }),
    opt("rsync-command", "rsync", X),
    opt("rsync-options", "", T),
    opt("rsync-ssh-options", "", T),
    opt("rsync-opt-ignore-missing-args", "true", B),
    opt("rsync-opt-existing", "true", B),
    opt("log-rsync-performance", "false", B),
    opt("use-rsync-xattrs", "false", B),
    opt("sync-xattrs", "true", B),
    opt("sync-acls", "true", B),
    opt("max-rsync-retries", "10", I),
    opt("state_socket_unencoded", "", T),
];

/// Names glusterd refuses with "Reserved option" (`gsync_reserved_opts`).
pub const RESERVED: &[&str] = &[
    "gluster-command",
    "pid-file",
    "state-file",
    "session-owner",
    "state-socket-unencoded",
    "socketdir",
    "local-id",
    "local-path",
    "secondary-id",
];

/// A config key or value that would be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown geo-replication option {key:?}{}", suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownKey {
        key: String,
        suggestion: Option<&'static str>,
    },
    #[error("option {0} is reserved: gluster manages it itself")]
    Reserved(String),
    #[error("option {0} is session-internal: glusterd writes it")]
    NotConfigurable(String),
    #[error("option {key}: {value:?} is not {expected}")]
    InvalidValue {
        key: String,
        value: String,
        expected: String,
    },
}

/// Turns a user's spelling (`sync_jobs`, `Sync-Jobs`, an old `slave-*` name) into the
/// option's GlusterFS 10 `-` name.
fn canonical(key: &str) -> String {
    let dashed = key.trim().to_ascii_lowercase().replace('_', "-");
    match OPTIONS.iter().find(|o| o.old_name == Some(dashed.as_str())) {
        Some(o) => o.name.to_owned(),
        None => dashed,
    }
}

/// Finds an option by any accepted spelling. Reserved names are refused.
pub fn lookup(key: &str) -> Result<&'static OptionSpec, ConfigError> {
    let name = canonical(key);
    let reserved = |n: &str| RESERVED.contains(&n) || n == "slave-id";
    if reserved(&name) {
        return Err(ConfigError::Reserved(name));
    }
    OPTIONS
        .iter()
        .find(|o| o.name.replace('_', "-") == name)
        .ok_or_else(|| ConfigError::UnknownKey {
            key: key.to_owned(),
            suggestion: suggest(&name),
        })
}

/// The option whose name differs from `name` by the fewest edits, if it is close.
fn suggest(name: &str) -> Option<&'static str> {
    OPTIONS
        .iter()
        .map(|o| (edit_distance(name, o.name), o.name))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A setting that passed validation: what to send and what it does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The `-` name to send.
    pub name: &'static str,
    /// The normalised value to send.
    pub value: String,
    /// gluster will restart a running session to apply it.
    pub restarts_session: bool,
}

/// Checks `key` and `value` against the table.
pub fn validate(key: &str, value: &str) -> Result<Setting, ConfigError> {
    let spec = lookup(key)?;
    if !spec.configurable {
        return Err(ConfigError::NotConfigurable(spec.name.to_owned()));
    }
    let invalid = |expected: String| ConfigError::InvalidValue {
        key: spec.name.to_owned(),
        value: value.to_owned(),
        expected,
    };
    let v = value.trim();
    let value = match spec.kind {
        Kind::Text => {
            if v.contains(['\n', '\0']) {
                return Err(invalid("a single line".into()));
            }
            v.to_owned()
        }
        Kind::Int { min, max } => {
            let n: i64 = v.parse().map_err(|_| invalid("an integer".into()))?;
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(invalid(format!(
                    "in {}..={}",
                    min.map_or("".into(), |m| m.to_string()),
                    max.map_or("".into(), |m| m.to_string())
                )));
            }
            n.to_string()
        }
        Kind::Bool => match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => "true".into(),
            "false" | "no" | "off" | "0" => "false".into(),
            _ => return Err(invalid("true or false".into())),
        },
        Kind::Choice(allowed) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(v))
            .map(|a| (*a).to_owned())
            .ok_or_else(|| invalid(format!("one of {}", allowed.join(", "))))?,
        Kind::UnixTime => {
            if v == "now" || is_datetime(v) {
                v.to_owned()
            } else {
                match v.parse::<i64>() {
                    // gsyncd's `unixtime` validator refuses times in 1970.
                    Ok(n) if n >= 31_536_000 => n.to_string(),
                    _ => {
                        return Err(invalid(
                            "now, a Unix time after 1970 or \"YYYY-mm-dd HH:MM:SS\"".into(),
                        ))
                    }
                }
            }
        }
        Kind::ExecPath => {
            if v.is_empty() || v.chars().any(char::is_whitespace) {
                return Err(invalid("a program name or path".into()));
            }
            v.to_owned()
        }
    };
    Ok(Setting {
        name: spec.name,
        value,
        restarts_session: spec.restarts_session(),
    })
}

/// `YYYY-mm-dd HH:MM:SS`, the only other checkpoint form the CLI takes.
fn is_datetime(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_gsyncds_71_options_once_each() {
        assert_eq!(OPTIONS.len(), 71);
        let mut names: Vec<_> = OPTIONS.iter().map(|o| o.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 71);
    }

    #[test]
    fn spellings() {
        for key in ["sync-jobs", "sync_jobs", "SYNC_JOBS"] {
            assert_eq!(validate(key, "4").map(|s| s.name), Ok("sync-jobs"));
        }
        assert_eq!(
            validate("slave-timeout", "30").map(|s| s.name),
            Ok("secondary-timeout")
        );
    }

    #[test]
    fn values_are_checked_and_normalised() {
        let ok = |k: &str, v: &str| validate(k, v).map(|s| s.value);
        assert_eq!(ok("sync-jobs", "100"), Ok("100".into()));
        assert!(matches!(
            validate("sync-jobs", "0"),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            validate("sync-jobs", "101"),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            validate("sync-jobs", "abc"),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            validate("ssh-port", "65536"),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert_eq!(ok("use-meta-volume", "yes"), Ok("true".into()));
        assert_eq!(ok("ignore_deletes", "0"), Ok("false".into()));
        assert!(validate("sync-acls", "maybe").is_err());
        assert_eq!(ok("log-level", "debug"), Ok("DEBUG".into()));
        assert!(validate("log-level", "critical").is_err());
        assert_eq!(ok("sync-method", "TarSSH"), Ok("tarssh".into()));
        assert!(validate("sync-method", "scp").is_err());
        assert_eq!(ok("special-sync-mode", "recover"), Ok("recover".into()));
        assert!(validate("change-detector", "inotify").is_err());
        assert_eq!(ok("checkpoint", "now"), Ok("now".into()));
        assert_eq!(
            ok("checkpoint", "2026-11-21 05:13:12"),
            Ok("2026-11-21 05:13:12".into())
        );
        assert!(validate("checkpoint", "12").is_err());
        assert!(validate("checkpoint", "yesterday").is_err());
        assert!(validate("rsync-command", "rm -rf").is_err());
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(
            validate("sync-job", "3"),
            Err(ConfigError::UnknownKey {
                key: "sync-job".into(),
                suggestion: Some("sync-jobs")
            })
        );
        assert!(matches!(
            validate("use-tarssh", "true"),
            Err(ConfigError::UnknownKey { .. })
        ));
        assert_eq!(
            validate("pid_file", "/x"),
            Err(ConfigError::Reserved("pid-file".into()))
        );
        assert_eq!(
            validate("gluster-command", "/x"),
            Err(ConfigError::Reserved("gluster-command".into()))
        );
        assert_eq!(
            validate("master-bricks", "x"),
            Err(ConfigError::NotConfigurable("primary-bricks".into()))
        );
    }

    #[test]
    fn restarts() {
        assert_eq!(
            validate("checkpoint", "now").map(|s| s.restarts_session),
            Ok(false)
        );
        assert_eq!(
            validate("log-rsync-performance", "true").map(|s| s.restarts_session),
            Ok(false)
        );
        assert_eq!(
            validate("sync-jobs", "2").map(|s| s.restarts_session),
            Ok(true)
        );
    }
}
