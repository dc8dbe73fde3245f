//! The parameters of `georep_monitor`, exactly as `docs/sites.md` lists them, and their
//! checks.

use std::path::PathBuf;
use std::time::Duration;

use georep::Secondary;
use ocf::{Context, OcfError, ParamSpec};

use crate::names::{default_ticket, BOOTH_CONF};

pub(crate) static PARAMS: [ParamSpec; 9] = [
    ParamSpec::string("volume").required().unique().describe(
        "local volume",
        "The local gluster volume of the pair: read-only while this site does not own the \
         writes, the primary of the outgoing geo-replication session while it does.",
    ),
    ParamSpec::string("remote_host").required().describe(
        "other site's gluster node",
        "A gluster node of the other site: the secondary host of the session from here.",
    ),
    ParamSpec::string("remote_volume").required().describe(
        "other site's volume",
        "The pair's volume at the other site (the session's secondary volume).",
    ),
    ParamSpec::string("remote_user").default("root").describe(
        "session user",
        "The session's secondary user (root, or a mountbroker user).",
    ),
    ParamSpec::integer("ssh_port").default("22").describe(
        "other site's sshd port",
        "The port of the other site's sshd, which the session uses.",
    ),
    ParamSpec::integer("max_lag").default("300").describe(
        "freshness bound (s)",
        "A session further behind than this many seconds is published as STALE, so that \
         booth does not fail over to the copy automatically.",
    ),
    ParamSpec::string("ticket").describe(
        "booth ticket",
        "The pair's booth ticket; ticket-<volume> when unset.",
    ),
    ParamSpec::string("booth_conf")
        .default(BOOTH_CONF)
        .describe(
            "booth configuration",
            "booth's configuration file, for geostore.",
        ),
    ParamSpec::string("other_site").describe(
        "other site's booth address",
        "The other site's booth address: repl_state and last_synced are published to its \
         booth (geostore). Empty: nothing is published.",
    ),
];

/// The checked parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub volume: String,
    pub secondary: Secondary,
    pub ssh_port: u16,
    pub max_lag: Duration,
    pub ticket: String,
    pub booth_conf: PathBuf,
    pub other_site: Option<String>,
}

fn plain_word(param: &str, value: &str) -> Result<String, OcfError> {
    let ok = !value.is_empty()
        && !value.starts_with('-')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(OcfError::configured(
            param,
            format!("must be letters, digits, '-', '_', '.' or ':', not starting with '-', got '{value}'"),
        ))
    }
}

impl Config {
    /// Reads and checks the parameters (exit 6 naming the parameter).
    pub fn read(ctx: &Context) -> Result<Config, OcfError> {
        let p = ctx.params();
        let volume = p.require("volume")?.to_owned();
        georep::model::check_volume_name(&volume)
            .map_err(|e| OcfError::configured("volume", e.to_string()))?;
        let remote_volume = p.require("remote_volume")?;
        georep::model::check_volume_name(remote_volume)
            .map_err(|e| OcfError::configured("remote_volume", e.to_string()))?;
        let remote_host = plain_word("remote_host", p.require("remote_host")?)?;
        let remote_user = p.require("remote_user")?;
        let text = format!("{remote_user}@{remote_host}::{remote_volume}");
        let secondary = Secondary::parse(&text)
            .map_err(|e| OcfError::configured("remote_user", e.to_string()))?;
        let ssh_port = p
            .integer("ssh_port")?
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| OcfError::configured("ssh_port", "must be a port number 1..65535"))?;
        let max_lag = p
            .seconds("max_lag")?
            .ok_or_else(|| OcfError::configured("max_lag", "is required but not set"))?;
        let ticket = match p.get("ticket") {
            Some(t) => plain_word("ticket", t)?,
            None => default_ticket(&volume),
        };
        let booth_conf = PathBuf::from(p.require("booth_conf")?);
        if !booth_conf.is_absolute() {
            return Err(OcfError::configured(
                "booth_conf",
                "must be an absolute path",
            ));
        }
        let other_site = p
            .get("other_site")
            .map(|s| plain_word("other_site", s))
            .transpose()?;
        Ok(Config {
            volume,
            secondary,
            ssh_port,
            max_lag,
            ticket,
            booth_conf,
            other_site,
        })
    }
}
