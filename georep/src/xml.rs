//! gluster's `--xml` output: the `cliOutput` envelope, `status`, `config` and `volume info`.
//!
//! Tags are looked up under both generations: `primary_*`/`secondary*` (GlusterFS 10 and
//! later) and `master_*`/`slave*` (before 10).

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::error::Error;
use crate::model::{CrawlStatus, Secondary, Session, SessionDetail, WorkerStatus};
use crate::rollup::{apply_layout, Layout};

/// A parsed XML element: its name, text and children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child with one of `names` (the new spelling first, then the old one).
    pub fn child(&self, names: &[&str]) -> Option<&Element> {
        names
            .iter()
            .find_map(|n| self.children.iter().find(|c| c.name == *n))
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of a child, `""` when it is absent or empty.
    pub fn text_of(&self, names: &[&str]) -> &str {
        self.child(names).map(|c| c.text.trim()).unwrap_or("")
    }
}

fn parse_error(what: impl std::fmt::Display) -> Error {
    Error::Parse(what.to_string())
}

/// Reads a whole document into a tree. Truncated or malformed input is an error.
pub fn parse_tree(xml: &str) -> Result<Element, Error> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| parse_error(format_args!("at byte {}: {e}", reader.error_position())))?;
        match event {
            Event::Start(e) => stack.push(Element {
                name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                ..Element::default()
            }),
            Event::Empty(e) => {
                let element = Element {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = root.or(Some(element)),
                }
            }
            Event::Text(t) => {
                if let Some(current) = stack.last_mut() {
                    let text = t.unescape().map_err(parse_error)?;
                    current.text.push_str(&text);
                }
            }
            Event::CData(t) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| parse_error("closing tag without an opening one"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = root.or(Some(done)),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(parse_error(format_args!(
            "truncated: <{}> is never closed",
            open.name
        )));
    }
    root.ok_or_else(|| parse_error("no XML element in the output"))
}

/// gluster's `<cliOutput>` envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliOutput {
    pub op_ret: i32,
    pub op_errno: i32,
    pub op_errstr: String,
    pub root: Element,
}

impl CliOutput {
    /// The body (`<geoRep>`, `<volInfo>`, ...).
    pub fn body(&self, name: &str) -> Option<&Element> {
        self.root.child(&[name])
    }
}

/// Parses the envelope; a missing `opRet` is an error (the output is not gluster's XML).
pub fn parse_cli_output(xml: &str) -> Result<CliOutput, Error> {
    let root = parse_tree(xml)?;
    if root.name != "cliOutput" {
        return Err(parse_error(format_args!(
            "expected <cliOutput>, found <{}>",
            root.name
        )));
    }
    let number = |name: &str| -> Result<i32, Error> {
        let text = root.text_of(&[name]);
        text.parse()
            .map_err(|_| parse_error(format_args!("<{name}> is {text:?}, not a number")))
    };
    Ok(CliOutput {
        op_ret: number("opRet")?,
        op_errno: root
            .child(&["opErrno"])
            .map_or(Ok(0), |_| number("opErrno"))?,
        op_errstr: root.text_of(&["opErrstr"]).to_owned(),
        root,
    })
}

fn optional(text: &str) -> Option<String> {
    match text.trim() {
        "" | "N/A" => None,
        t => Some(t.to_owned()),
    }
}

fn count(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

fn yes_no(text: &str) -> Option<bool> {
    match text.trim() {
        "Yes" => Some(true),
        "No" => Some(false),
        _ => None,
    }
}

fn detail(pair: &Element) -> SessionDetail {
    SessionDetail {
        primary_node: pair.text_of(&["primary_node", "master_node"]).to_owned(),
        primary_node_uuid: optional(pair.text_of(&["primary_node_uuid", "master_node_uuid"])),
        primary_brick: pair.text_of(&["primary_brick", "master_brick"]).to_owned(),
        secondary_node: optional(pair.text_of(&["secondary_node", "slave_node"])),
        status: WorkerStatus::parse(pair.text_of(&["status"])),
        crawl_status: CrawlStatus::parse(pair.text_of(&["crawl_status"])),
        last_synced: optional(pair.text_of(&["last_synced"])),
        checkpoint_time: optional(pair.text_of(&["checkpoint_time"])),
        checkpoint_completed: yes_no(pair.text_of(&["checkpoint_completed"])),
        checkpoint_completion_time: optional(pair.text_of(&["checkpoint_completion_time"])),
        entry_pending: count(pair.text_of(&["entry"])),
        data_pending: count(pair.text_of(&["data"])),
        meta_pending: count(pair.text_of(&["meta"])),
        failures: count(pair.text_of(&["failures"])),
    }
}

/// `<primary node uuid>:ssh://[user@]host::vol:<secondary vol uuid>` split into the session
/// key (without the volume uuid), the secondary and the secondary volume's uuid.
pub fn split_session_secondary(text: &str) -> Result<(String, Secondary, Option<String>), Error> {
    let bad = || parse_error(format_args!("unexpected session_secondary {text:?}"));
    let at = text.find("ssh://").ok_or_else(bad)?;
    let url = &text[at..];
    let (url, volume_id) = match url.rsplit_once(':') {
        Some((head, tail)) if looks_like_uuid(tail) => (head, Some(tail.to_owned())),
        _ => (url, None),
    };
    let secondary = Secondary::parse(url).map_err(|_| bad())?;
    Ok((format!("{}{url}", &text[..at]), secondary, volume_id))
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The sessions in a `status [detail] --xml` reply. `layouts` gives, per primary volume,
/// its brick order and replica group size for the roll-up.
pub fn parse_status(xml: &str, layouts: &BTreeMap<String, Layout>) -> Result<Vec<Session>, Error> {
    sessions_from(&parse_cli_output(xml)?, layouts)
}

/// [`parse_status`] on a parsed envelope.
pub fn sessions_from(
    out: &CliOutput,
    layouts: &BTreeMap<String, Layout>,
) -> Result<Vec<Session>, Error> {
    // All-sessions status says "primary not found" with opRet 0; only opRet counts.
    if out.op_ret != 0 {
        return Err(Error::Gluster {
            command: "status".into(),
            exit_code: 0,
            op_ret: Some(out.op_ret),
            op_errno: Some(out.op_errno),
            message: out.op_errstr.clone(),
        });
    }
    let geo = out
        .body("geoRep")
        .ok_or_else(|| parse_error("no <geoRep> in the status output"))?;
    let mut sessions = Vec::new();
    for volume in geo.children_named("volume") {
        let primary_volume = volume.text_of(&["name"]).to_owned();
        let layout = layouts.get(&primary_volume);
        for session in volume
            .child(&["sessions"])
            .into_iter()
            .flat_map(|s| s.children_named("session"))
        {
            let key = session.text_of(&["session_secondary", "session_slave"]);
            let (session_key, mut secondary, secondary_volume_id) = split_session_secondary(key)?;
            let pairs: Vec<&Element> = session.children_named("pair").collect();
            if let Some(user) = pairs
                .first()
                .and_then(|p| optional(p.text_of(&["secondary_user", "slave_user"])))
            {
                secondary.user = user;
            }
            let details = pairs.into_iter().map(detail).collect();
            let (status, details) = apply_layout(details, layout);
            sessions.push(Session {
                id: format!("{primary_volume}_{}_{}", secondary.host, secondary.volume),
                primary_volume: primary_volume.clone(),
                primary_volume_id: layout.and_then(|l| l.volume_id.clone()),
                session_key,
                secondary_host: secondary.host,
                secondary_user: secondary.user,
                secondary_volume: secondary.volume,
                secondary_volume_id,
                status,
                details,
            });
        }
    }
    Ok(sessions)
}

/// The `config --xml` list: option name (underscore form, as gluster prints it) to value.
pub fn parse_config(xml: &str) -> Result<BTreeMap<String, String>, Error> {
    config_from(&parse_cli_output(xml)?)
}

/// [`parse_config`] on a parsed envelope.
pub fn config_from(out: &CliOutput) -> Result<BTreeMap<String, String>, Error> {
    let config = out
        .body("geoRep")
        .and_then(|g| g.child(&["config"]))
        .ok_or_else(|| parse_error("no <geoRep><config> in the config output"))?;
    Ok(config
        .children
        .iter()
        .filter(|c| c.name != "message")
        .map(|c| (c.name.clone(), c.text.trim().to_owned()))
        .collect())
}

/// The layout of volume `name` from `volume info NAME --xml`, and its started state.
pub fn parse_volume_info(xml: &str, name: &str) -> Result<(Layout, bool), Error> {
    volume_info_from(&parse_cli_output(xml)?, name)
}

/// [`parse_volume_info`] on a parsed envelope.
pub fn volume_info_from(out: &CliOutput, name: &str) -> Result<(Layout, bool), Error> {
    let volume = out
        .body("volInfo")
        .and_then(|v| v.child(&["volumes"]))
        .and_then(|v| {
            v.children_named("volume")
                .find(|v| v.text_of(&["name"]) == name)
        })
        .ok_or_else(|| parse_error(format_args!("volume {name} is not in volume info")))?;
    let number = |tag: &str| volume.text_of(&[tag]).parse::<usize>().unwrap_or(0);
    let group_size = match number("disperseCount") {
        0 => number("replicaCount").max(1),
        n => n,
    };
    let bricks = volume
        .child(&["bricks"])
        .into_iter()
        .flat_map(|b| b.children_named("brick"))
        .filter_map(|b| {
            let full = b.text_of(&["name"]);
            let full = if full.is_empty() { b.text.trim() } else { full };
            full.split_once(':')
                .map(|(n, p)| (n.to_owned(), p.to_owned()))
        })
        .collect();
    let started = volume.text_of(&["statusStr"]) == "Started";
    Ok((
        Layout {
            volume_id: optional(volume.text_of(&["id"])),
            bricks,
            group_size,
        },
        started,
    ))
}

/// The value of a volume option in `volume info --xml` (options that were set).
pub fn volume_option(xml: &str, option: &str) -> Result<Option<String>, Error> {
    Ok(volume_option_from(&parse_cli_output(xml)?, option))
}

/// [`volume_option`] on a parsed envelope.
pub fn volume_option_from(out: &CliOutput, option: &str) -> Option<String> {
    let value = out
        .body("volInfo")
        .and_then(|v| v.child(&["volumes"]))
        .into_iter()
        .flat_map(|v| v.children_named("volume"))
        .flat_map(|v| v.child(&["options"]))
        .flat_map(|o| o.children_named("option"))
        .find(|o| o.text_of(&["name"]) == option)
        .map(|o| o.text_of(&["value"]).to_owned());
    value
}

/// The value `volume get VOLUME OPTION --xml` reports (`<volGetopts><Opt>`), without the
/// ` (DEFAULT)` gluster appends to a value nobody set: `off (DEFAULT)` is `off`.
pub fn volume_get_from(out: &CliOutput, option: &str) -> Result<String, Error> {
    out.body("volGetopts")
        .into_iter()
        .flat_map(|g| g.children_named("Opt"))
        .find(|o| o.text_of(&["Option"]) == option)
        .map(|o| {
            let value = o.text_of(&["Value"]);
            value
                .strip_suffix("(DEFAULT)")
                .map(str::trim_end)
                .unwrap_or(value)
                .to_owned()
        })
        .ok_or_else(|| parse_error(format_args!("{option} is not in volume get's reply")))
}
