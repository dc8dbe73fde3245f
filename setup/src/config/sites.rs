//! `ganesha-ha-sites.conf`: the two sites, the arbitrator and the volume pairs, in the
//! format of `ganesha-ha.conf` (the same lexer: `KEY=value` lines, quotes, `#` comments,
//! nothing evaluated) and the same key-table style: [`SITE_KEYS`] declares every key once,
//! [`PAIR_SETTINGS`] every setting of a `PAIR_<volume>` line, and README's tables are
//! [`markdown_tables`]. Every problem is reported with its line.
//!
//! ```text
//! SITE_NAME=east
//! SITE_ADDR_east=192.0.2.221
//! SITE_ADDR_west=192.0.2.222
//! SITE_ARBITRATOR=192.0.2.223
//! PAIR_data="remote_host=west-n1 remote_volume=data mode=manual max_lag=300"
//! ```

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

use super::errors::{ConfigError, ConfigErrors, Problem, Report};
use super::lex;
use super::values::{abs_path, interface, node_addr, transport_kind, user_name};
use crate::site::spec::{
    Pair, SiteAddr, SitesSpec, TicketMode, Timers, DEFAULT_BOOTH_CONF, DEFAULT_BOOTH_KEY,
    DEFAULT_BOOTH_PORT,
};
use crate::spec::{SshSettings, TransportKind};

/// The family of site addresses, `SITE_ADDR_<site>`.
const SITE_ADDR: &str = "SITE_ADDR_";
/// The family of volume pairs, `PAIR_<volume>`.
const PAIR: &str = "PAIR_";

/// The spec as the lines fill it in.
#[derive(Default)]
struct Draft {
    this_site: Option<(String, usize)>,
    sites: Vec<(SiteAddr, usize)>,
    arbitrator: Option<IpAddr>,
    booth_port: Option<u16>,
    booth_conf: Option<String>,
    booth_key: Option<String>,
    local_host: Option<String>,
    other_node: Option<String>,
    other_transport: Option<TransportKind>,
    booth_nic: Option<String>,
    ssh_user: Option<String>,
    ssh_key: Option<String>,
    pairs: Vec<Pair>,
}

type Reader = fn(&mut Draft, &str, &str, usize) -> Result<(), Problem>;

/// One key of the sites file, or a family (`name` is then the prefix).
pub struct SiteKey {
    pub name: &'static str,
    /// For a family, what follows the prefix (`<site>`).
    pub placeholder: Option<&'static str>,
    /// `required`, or what applies when unset.
    pub unset: &'static str,
    pub doc: &'static str,
    read: Reader,
}

impl SiteKey {
    /// The key as a file writes it.
    pub fn spelled(&self) -> String {
        format!("{}{}", self.name, self.placeholder.unwrap_or(""))
    }
}

/// Every key of `ganesha-ha-sites.conf`, in the order of the documentation.
pub static SITE_KEYS: &[SiteKey] = &[
    SiteKey {
        name: "SITE_NAME",
        placeholder: None,
        unset: "required",
        doc: "this site's name: one of the two `SITE_ADDR_<site>` names",
        read: |d, _, v, line| {
            d.this_site = Some((site_name(v)?, line));
            Ok(())
        },
    },
    SiteKey {
        name: SITE_ADDR,
        placeholder: Some("<site>"),
        unset: "required, exactly two",
        doc: "a site's booth address (an IP address of the site's `booth-site` resource); the name is letters, digits, `-`, `_`",
        read: |d, site, v, line| {
            let name = site_name(site)?;
            let addr = node_addr(v)?;
            d.sites.push((SiteAddr { name, addr }, line));
            Ok(())
        },
    },
    SiteKey {
        name: "SITE_ARBITRATOR",
        placeholder: None,
        unset: "required",
        doc: "the arbitrator's booth address",
        read: |d, _, v, _| {
            d.arbitrator = Some(node_addr(v)?);
            Ok(())
        },
    },
    SiteKey {
        name: "BOOTH_PORT",
        placeholder: None,
        unset: "`9929`",
        doc: "booth's port (UDP between daemons, TCP for clients)",
        read: |d, _, v, _| {
            d.booth_port = Some(number(v, 1, 65535)? as u16);
            Ok(())
        },
    },
    SiteKey {
        name: "BOOTH_CONF",
        placeholder: None,
        unset: "`/etc/booth/booth.conf`",
        doc: "where `site setup` writes booth's configuration (the same text at both sites and the arbitrator)",
        read: |d, _, v, _| {
            d.booth_conf = Some(abs_path(v)?);
            Ok(())
        },
    },
    SiteKey {
        name: "BOOTH_KEY",
        placeholder: None,
        unset: "`/etc/booth/authkey`",
        doc: "booth's authfile: the same bytes everywhere, mode 0600",
        read: |d, _, v, _| {
            d.booth_key = Some(abs_path(v)?);
            Ok(())
        },
    },
    SiteKey {
        name: "SITE_BOOTH_NIC",
        placeholder: None,
        unset: "none: boothd on a node that holds this site's address",
        doc: "the interface that carries this site's booth address (`SITE_ADDR_<this site>`) as an IPaddr2 resource grouped with `booth-site`, so the address follows boothd from node to node",
        read: |d, _, v, _| {
            d.booth_nic = Some(interface(v)?);
            Ok(())
        },
    },
    SiteKey {
        name: "SITE_LOCAL_HOST",
        placeholder: None,
        unset: "this host's name",
        doc: "this site's gluster node: the volfile server of the failback marker mount, and the secondary host of the other site's session",
        read: |d, _, v, _| {
            d.local_host = Some(host(v)?);
            Ok(())
        },
    },
    SiteKey {
        name: "OTHER_SITE_NODE",
        placeholder: None,
        unset: "each pair's `remote_host`",
        doc: "the node of the other site that `site failback` runs commands on",
        read: |d, _, v, _| {
            d.other_node = Some(host(v)?);
            Ok(())
        },
    },
    SiteKey {
        name: "OTHER_SITE_TRANSPORT",
        placeholder: None,
        unset: "`ssh`",
        doc: "how that node is reached: `ssh`, or `lab:<ganesha-lab state file>`",
        read: |d, _, v, _| {
            d.other_transport = Some(transport_kind(v)?);
            Ok(())
        },
    },
    SiteKey {
        name: "OTHER_SITE_SSH_USER",
        placeholder: None,
        unset: "`root`",
        doc: "the ssh user there",
        read: |d, _, v, _| {
            d.ssh_user = Some(user_name(v)?);
            Ok(())
        },
    },
    SiteKey {
        name: "OTHER_SITE_SSH_KEY",
        placeholder: None,
        unset: "`/var/lib/glusterd/nfs/secret.pem`",
        doc: "the ssh private key for it (host keys are always checked)",
        read: |d, _, v, _| {
            d.ssh_key = Some(abs_path(v)?);
            Ok(())
        },
    },
    SiteKey {
        name: PAIR,
        placeholder: Some("<volume>"),
        unset: "none: no pairs",
        doc: "a volume pair: the local volume in the key, the settings below as `name=value` words in the value",
        read: |d, volume, v, _| {
            let pair = pair(volume, v)?;
            if d.pairs.iter().any(|p| p.volume == pair.volume) {
                return Err(Problem::new(
                    format!("the pair of {volume} is declared twice"),
                    "keep one PAIR_ line per volume",
                ));
            }
            d.pairs.push(pair);
            Ok(())
        },
    },
];

/// One setting of a `PAIR_<volume>` value.
pub struct PairSetting {
    pub name: &'static str,
    pub unset: &'static str,
    pub doc: &'static str,
    read: fn(&mut Pair, &str) -> Result<(), Problem>,
}

fn seconds(v: &str) -> Result<u32, Problem> {
    number(v, 0, u64::from(u32::MAX)).map(|n| n as u32)
}

/// Every setting of a pair, in the order of the documentation.
pub static PAIR_SETTINGS: &[PairSetting] = &[
    PairSetting {
        name: "remote_host",
        unset: "required",
        doc: "a gluster node of the other site: the secondary host of the session from here",
        read: |p, v| {
            p.remote_host = host(v)?;
            Ok(())
        },
    },
    PairSetting {
        name: "remote_volume",
        unset: "required",
        doc: "the pair's volume at the other site",
        read: |p, v| {
            p.remote_volume = volume_name(v)?;
            Ok(())
        },
    },
    PairSetting {
        name: "user",
        unset: "`root`",
        doc: "the session's secondary user",
        read: |p, v| {
            p.user = user_name(v)?;
            Ok(())
        },
    },
    PairSetting {
        name: "ssh_port",
        unset: "`22`",
        doc: "the other site's sshd port",
        read: |p, v| {
            p.ssh_port = number(v, 1, 65535)? as u16;
            Ok(())
        },
    },
    PairSetting {
        name: "max_lag",
        unset: "`300`",
        doc: "the freshness bound in seconds: a session further behind is `STALE`",
        read: |p, v| {
            p.max_lag = number(v, 1, u64::from(u32::MAX))?;
            Ok(())
        },
    },
    PairSetting {
        name: "mode",
        unset: "`manual`",
        doc: "`manual`: only `site failover` moves the ticket; `auto`: booth fails over by itself, to a copy whose `repl_state` is `ACTIVE`",
        read: |p, v| {
            p.mode = match v {
                "manual" => TicketMode::Manual,
                "auto" => TicketMode::Auto,
                _ => {
                    return Err(Problem::new(
                        format!("mode `{v}` is neither manual nor auto"),
                        "write mode=manual (the default) or mode=auto",
                    ))
                }
            };
            Ok(())
        },
    },
    PairSetting {
        name: "expire",
        unset: "`600`",
        doc: "booth: the ticket's lease, seconds",
        read: |p, v| {
            p.timers.expire = seconds(v)?;
            Ok(())
        },
    },
    PairSetting {
        name: "renewal_freq",
        unset: "`300`",
        doc: "booth: how often the owner renews, seconds; more than `timeout*(retries+1)`",
        read: |p, v| {
            p.timers.renewal_freq = seconds(v)?;
            Ok(())
        },
    },
    PairSetting {
        name: "acquire_after",
        unset: "`60`",
        doc: "booth: how long after the lease ends the other site may take an auto ticket, seconds",
        read: |p, v| {
            p.timers.acquire_after = seconds(v)?;
            Ok(())
        },
    },
    PairSetting {
        name: "timeout",
        unset: "`5`",
        doc: "booth: how long to wait for a reply, seconds",
        read: |p, v| {
            p.timers.timeout = seconds(v)?;
            Ok(())
        },
    },
    PairSetting {
        name: "retries",
        unset: "`5`",
        doc: "booth: how often to resend, at least 3",
        read: |p, v| {
            p.timers.retries = seconds(v)?;
            Ok(())
        },
    },
];

/// README's tables: the keys, then the settings of a pair.
pub fn markdown_tables() -> String {
    let mut out = String::from("| sites key | if not set | meaning |\n|---|---|---|\n");
    for k in SITE_KEYS {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            k.spelled(),
            k.unset,
            k.doc
        ));
    }
    out.push_str("\n| pair setting | if not set | meaning |\n|---|---|---|\n");
    for s in PAIR_SETTINGS {
        out.push_str(&format!("| `{}` | {} | {} |\n", s.name, s.unset, s.doc));
    }
    out
}

fn number(v: &str, min: u64, max: u64) -> Result<u64, Problem> {
    match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Problem::new(
            format!("`{v}` is not a whole number from {min} to {max}"),
            format!("write a number from {min} to {max}"),
        )),
    }
}

fn site_name(v: &str) -> Result<String, Problem> {
    let ok = !v.is_empty()
        && v.len() <= 32
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(Problem::new(
            format!("`{v}` is not a site name"),
            "use 1-32 letters, digits, '-' and '_'",
        ))
    }
}

fn host(v: &str) -> Result<String, Problem> {
    let ok = !v.is_empty()
        && !v.starts_with('-')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(Problem::new(
            format!("`{v}` is not a host name or address"),
            "write a host name or an IP address",
        ))
    }
}

fn volume_name(v: &str) -> Result<String, Problem> {
    georep::model::check_volume_name(v)
        .map(|()| v.to_owned())
        .map_err(|e| Problem::new(e.to_string(), "write the gluster volume's name"))
}

/// A `PAIR_<volume>` line: its settings, checked against each other.
fn pair(volume: &str, value: &str) -> Result<Pair, Problem> {
    let volume = volume_name(volume)?;
    let mut p = Pair {
        volume,
        remote_host: String::new(),
        remote_volume: String::new(),
        user: "root".into(),
        ssh_port: 22,
        max_lag: 300,
        mode: TicketMode::default(),
        timers: Timers::default(),
    };
    let mut seen = HashSet::new();
    for word in value.split_whitespace() {
        let Some((name, v)) = word.split_once('=') else {
            return Err(Problem::new(
                format!("`{word}` is not a name=value setting"),
                "write the settings as name=value words, e.g. remote_host=h remote_volume=v",
            ));
        };
        let Some(setting) = PAIR_SETTINGS.iter().find(|s| s.name == name) else {
            let names: Vec<&str> = PAIR_SETTINGS.iter().map(|s| s.name).collect();
            return Err(Problem::new(
                format!("unknown pair setting `{name}`"),
                format!("use one of {}", names.join(", ")),
            ));
        };
        if !seen.insert(name) {
            return Err(Problem::new(
                format!("`{name}` is set twice"),
                "keep one of them",
            ));
        }
        (setting.read)(&mut p, v)
            .map_err(|e| Problem::new(format!("{name}: {}", e.message), e.fix))?;
    }
    for required in ["remote_host", "remote_volume"] {
        if !seen.contains(required) {
            return Err(Problem::new(
                format!("{required} is missing"),
                format!("add {required}=... to the value"),
            ));
        }
    }
    p.timers
        .check()
        .map_err(|why| Problem::new(why, "change the timers so that booth accepts them"))?;
    Ok(p)
}

/// Reads `file` and parses it (see [`parse`]).
pub fn load(file: &Path) -> Result<SitesSpec, ConfigErrors> {
    match std::fs::read_to_string(file) {
        Ok(text) => parse(&text, file),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            file: file.to_path_buf(),
            line: None,
            message: format!("cannot read the sites configuration: {e}"),
            fix: Some(
                "create it (SITE_NAME, two SITE_ADDR_<site>, SITE_ARBITRATOR, PAIR_<volume>) or give the right path"
                    .into(),
            ),
        }])),
    }
}

/// Parses the text of a `ganesha-ha-sites.conf`; `file` is named in the errors.
pub fn parse(text: &str, file: &Path) -> Result<SitesSpec, ConfigErrors> {
    let mut report = Report::new(file);
    let lexed = lex::file(text, &mut report);
    let mut d = Draft::default();
    let mut set: HashSet<&'static str> = HashSet::new();
    for e in &lexed.entries {
        let found = SITE_KEYS.iter().find_map(|k| match k.placeholder {
            None => (e.key == k.name).then_some((k, "")),
            Some(_) => e.key.strip_prefix(k.name).map(|rest| (k, rest)),
        });
        let Some((key, suffix)) = found else {
            let names: Vec<String> = SITE_KEYS.iter().map(SiteKey::spelled).collect();
            report.err(
                Some(e.line),
                format!("unknown key {}", e.key),
                format!("the keys are {}", names.join(", ")),
            );
            continue;
        };
        if key.placeholder.is_some() && suffix.is_empty() {
            report.err(
                Some(e.line),
                format!("no name after {}", key.name),
                format!("write {}", key.spelled()),
            );
            continue;
        }
        set.insert(key.name);
        if let Err(p) = (key.read)(&mut d, suffix, &e.value, e.line) {
            report.value(e.line, &e.key, p);
        }
    }
    let missing = |report: &mut Report<'_>, key: &str, fix: &str| {
        if !lexed.broken.contains(key) {
            report.err(None, format!("{key} is missing"), fix);
        }
    };
    if d.sites.len() != 2 && !lexed.broken.iter().any(|k| k.starts_with(SITE_ADDR)) {
        let lines: Vec<String> = d.sites.iter().map(|(_, l)| l.to_string()).collect();
        report.err(
            d.sites.get(2).map(|(_, l)| *l),
            format!(
                "{} SITE_ADDR_<site> lines{}: there must be exactly two sites",
                d.sites.len(),
                if lines.is_empty() {
                    String::new()
                } else {
                    format!(" (lines {})", lines.join(", "))
                }
            ),
            "write one SITE_ADDR_<site>=<booth address> line for each of the two sites",
        );
    }
    if let [(a, _), (b, lb)] = d.sites.as_slice() {
        if a.name == b.name {
            report.err(
                Some(*lb),
                format!("site {} is declared twice", a.name),
                "give the sites different names",
            );
        } else if a.addr == b.addr {
            report.err(
                Some(*lb),
                format!("both sites have the address {}", a.addr),
                "give each site its own booth address",
            );
        }
    }
    match &d.this_site {
        None => missing(&mut report, "SITE_NAME", "add SITE_NAME=<this site's name>"),
        Some((name, line))
            if d.sites.len() == 2 && !d.sites.iter().any(|(s, _)| &s.name == name) =>
        {
            let names: Vec<&str> = d.sites.iter().map(|(s, _)| s.name.as_str()).collect();
            report.err(
                Some(*line),
                format!(
                    "SITE_NAME {name} is not one of the sites ({})",
                    names.join(", ")
                ),
                "name this site as its SITE_ADDR_<site> line does",
            );
        }
        Some(_) => {}
    }
    if d.arbitrator.is_none() {
        missing(
            &mut report,
            "SITE_ARBITRATOR",
            "add SITE_ARBITRATOR=<the arbitrator's booth address>",
        );
    }
    if let Some(arb) = d.arbitrator {
        if let Some((_, line)) = d.sites.iter().find(|(s, _)| s.addr == arb) {
            report.err(
                Some(*line),
                format!("{arb} is also the arbitrator's address"),
                "give the arbitrator its own address",
            );
        }
    }
    if !report.is_empty() {
        return Err(report.into_errors());
    }
    let (Some((this_site, _)), Some(arbitrator)) = (d.this_site, d.arbitrator) else {
        return Err(report.into_errors());
    };
    Ok(SitesSpec {
        this_site,
        sites: d.sites.into_iter().map(|(s, _)| s).collect(),
        arbitrator,
        booth_port: d.booth_port.unwrap_or(DEFAULT_BOOTH_PORT),
        booth_conf: d.booth_conf.unwrap_or_else(|| DEFAULT_BOOTH_CONF.into()),
        booth_key: d.booth_key.unwrap_or_else(|| DEFAULT_BOOTH_KEY.into()),
        local_host: d.local_host,
        other_node: d.other_node,
        other_transport: d.other_transport.unwrap_or_default(),
        booth_nic: d.booth_nic,
        ssh: SshSettings {
            user: d.ssh_user.unwrap_or_else(|| SshSettings::default().user),
            key: d.ssh_key.unwrap_or_else(|| SshSettings::default().key),
            known_hosts: None,
        },
        pairs: d.pairs,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// README's sites tables are [`markdown_tables`]; on a difference, paste what it prints.
    #[test]
    fn sites_readme_tables_are_the_key_tables() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let expected = markdown_tables();
        assert!(
            readme.contains(&expected),
            "README.md's sites key tables differ from config::sites::markdown_tables(); \
             put there:\n\n{expected}"
        );
    }

    #[test]
    fn keys_are_declared_once_and_no_key_starts_with_a_family_prefix() {
        for (i, k) in SITE_KEYS.iter().enumerate() {
            assert!(
                SITE_KEYS[..i].iter().all(|o| o.name != k.name),
                "{}",
                k.name
            );
            for fam in SITE_KEYS.iter().filter(|f| f.placeholder.is_some()) {
                assert!(
                    k.name == fam.name || !k.name.starts_with(fam.name),
                    "{}",
                    k.name
                );
            }
            assert!(!k.doc.contains('|'));
        }
        for s in PAIR_SETTINGS {
            assert!(!s.doc.contains('|'));
        }
    }
}
