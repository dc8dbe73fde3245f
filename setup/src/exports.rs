//! `ganesha-ha export add|remove|list` and `ganesha-ha refresh-config`.
//!
//! Each export is one file, `<exports dir>/export.<name>.conf`, holding one EXPORT block
//! with a cluster-unique `Export_Id` (glusterfs's tool derived files from volume names and
//! could not have two exports of a volume). The exports directory is on the shared state
//! volume by default, so every node reads the same file; each node's ganesha.conf gets a
//! `%include` of it so a restarted daemon has it too. Live changes go to every online node
//! over D-Bus (ExportMgr AddExport / RemoveExport / UpdateExport), each node reporting its
//! own success or failure: the call runs on the node, through the transport, as
//! `ganesha-ha node-export ...` (zbus, bounded).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::CliError;
use crate::spec::{ClusterSpec, NodeSpec};
use crate::transport::{self, Transport};

/// Bound on one node's D-Bus call or file edit.
const NODE_LIMIT: Duration = Duration::from_secs(20);

/// One managed export.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Export {
    pub name: String,
    pub id: u16,
    pub path: String,
    pub pseudo: String,
    pub file: PathBuf,
}

/// What a new export serves.
#[derive(Clone, Debug)]
pub struct NewExport {
    pub name: String,
    /// `None`: the next free id.
    pub id: Option<u16>,
    /// FSAL VFS: the directory (required). FSAL GLUSTER: the directory inside the volume
    /// (`volpath`); `None` or `/`: the whole volume.
    pub path: Option<String>,
    /// `None`: the same as the export's `Path` (see [`NewExport::export_path`]).
    pub pseudo: Option<String>,
    /// FSAL GLUSTER volume; `None`: FSAL VFS on `path`.
    pub volume: Option<String>,
    pub read_only: bool,
}

impl NewExport {
    /// The directory inside the volume, when it is not the volume's root.
    fn volpath(&self) -> Option<&str> {
        self.volume.as_ref()?;
        self.path
            .as_deref()
            .filter(|p| !p.trim_end_matches('/').is_empty())
    }

    /// The EXPORT's `Path`: the directory for VFS; `/<volume>` or `/<volume><volpath>` for
    /// GLUSTER, as glusterfs's script names a volume's export.
    pub fn export_path(&self) -> String {
        match &self.volume {
            Some(volume) => format!(
                "/{volume}{}",
                self.volpath().unwrap_or_default().trim_end_matches('/')
            ),
            None => self.path.clone().unwrap_or_default(),
        }
    }
}

/// The outcome on one node.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NodeResult {
    pub node: String,
    pub ok: bool,
    pub message: String,
}

fn file_for(dir: &str, name: &str) -> PathBuf {
    Path::new(dir).join(format!("export.{name}.conf"))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

/// The value of `key = value;` in a ganesha config text (first occurrence, keys compared
/// case-insensitively as ganesha does), quotes removed.
fn setting(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default().trim();
        let (k, v) = line.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| {
            v.trim()
                .trim_end_matches(';')
                .trim()
                .trim_matches('"')
                .to_owned()
        })
    })
}

/// Every `Export_Id` in a ganesha config text.
fn export_ids(text: &str) -> Vec<u16> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or_default();
            let (k, v) = line.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("Export_Id")
                .then(|| v.trim().trim_end_matches(';').trim().parse().ok())
                .flatten()
        })
        .collect()
}

/// The exports ganesha-ha manages, by name.
pub fn list(spec: &ClusterSpec) -> Result<Vec<Export>, CliError> {
    let dir = spec.exports_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CliError::io(format!("reading {dir}"), e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file_name
            .strip_prefix("export.")
            .and_then(|n| n.strip_suffix(".conf"))
        else {
            continue;
        };
        let file = entry.path();
        let text = std::fs::read_to_string(&file)
            .map_err(|e| CliError::io(file.display().to_string(), e))?;
        let id = setting(&text, "Export_Id")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| CliError::Cluster(format!("{}: no valid Export_Id", file.display())))?;
        out.push(Export {
            name: name.to_owned(),
            id,
            path: setting(&text, "Path").unwrap_or_default(),
            pseudo: setting(&text, "Pseudo").unwrap_or_default(),
            file,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The EXPORT block of `new` with `id`.
///
/// Both FSALs serve NFSv4 over TCP only (`Protocols = 4`, `Transports = TCP`): the VIPs
/// fail over NFSv4 clients with grace and reclaim, which NFSv3 (its lock manager and
/// status monitor) and UDP do not get here. A GLUSTER block is otherwise what glusterfs's
/// `create-export-ganesha.sh` writes for a volume: `Path` and `Pseudo` `/<volume>`,
/// `Access_Type = RW`, `Disable_ACL = true`, `Squash = "No_root_squash"`,
/// `SecType = "sys"`, `Security_Label = False`, and `FSAL { Name = GLUSTER; Hostname =
/// "localhost"; Volume }`, each node's ganesha reading the volume through its own
/// glusterd. The differences: no `"3"` in `Protocols` nor `"UDP"` in `Transports` (as
/// above); `Export_Id` is unique across the cluster's exports instead of counted in a file;
/// `Access_Type = RO` with `--read-only`; `volpath` (the script has none) when the export
/// is a directory inside the volume, which then also ends `Path`.
pub fn render(new: &NewExport, id: u16) -> String {
    let path = new.export_path();
    let pseudo = new.pseudo.as_deref().unwrap_or(&path);
    let access = if new.read_only { "RO" } else { "RW" };
    let mut s = String::new();
    let _ = writeln!(s, "# Managed by ganesha-ha (export {}).", new.name);
    let _ = writeln!(s, "EXPORT {{");
    let _ = writeln!(s, "\tExport_Id = {id};");
    let _ = writeln!(s, "\tPath = \"{path}\";");
    let _ = writeln!(s, "\tPseudo = \"{pseudo}\";");
    let _ = writeln!(s, "\tAccess_Type = {access};");
    match &new.volume {
        Some(volume) => {
            let _ = writeln!(s, "\tDisable_ACL = true;");
            let _ = writeln!(s, "\tSquash = \"No_root_squash\";");
            let _ = writeln!(s, "\tSecType = \"sys\";");
            let _ = writeln!(s, "\tSecurity_Label = False;");
            let _ = writeln!(s, "\tProtocols = 4;");
            let _ = writeln!(s, "\tTransports = TCP;");
            let _ = writeln!(s, "\tFSAL {{");
            let _ = writeln!(s, "\t\tName = GLUSTER;");
            let _ = writeln!(s, "\t\tHostname = \"localhost\";");
            let _ = writeln!(s, "\t\tVolume = \"{volume}\";");
            if let Some(volpath) = new.volpath() {
                let _ = writeln!(s, "\t\tvolpath = \"{volpath}\";");
            }
            let _ = writeln!(s, "\t}}");
        }
        None => {
            let _ = writeln!(s, "\tSquash = No_Root_Squash;");
            let _ = writeln!(s, "\tSecType = sys;");
            let _ = writeln!(s, "\tProtocols = 4;");
            let _ = writeln!(s, "\tTransports = TCP;");
            let _ = writeln!(s, "\tFSAL {{\n\t\tName = VFS;\n\t}}");
        }
    }
    let _ = writeln!(s, "}}");
    s
}

/// The most characters gluster's CLI accepts in a volume name.
const VOLUME_NAME_MAX: usize = 256;
/// Words gluster's CLI refuses as volume names (they are volfile keywords or CLI words).
const RESERVED_VOLUME_NAMES: &[&str] = &[
    "volume",
    "type",
    "subvolumes",
    "option",
    "end-volume",
    "all",
    "volume_not_in_ring",
    "description",
    "force",
    "snap-max-hard-limit",
    "snap-max-soft-limit",
    "auto-delete",
    "activate-on-create",
];

/// Refuses a volume name gluster would refuse: it takes ASCII letters, digits, `-` and `_`
/// only, at most [`VOLUME_NAME_MAX`] of them, not starting with `-`, and none of its
/// reserved words.
fn check_volume(volume: &str) -> Result<(), CliError> {
    let refuse = |why: &str| {
        Err(CliError::Refused(format!(
            "volume `{volume}` {why} (gluster volume names are 1-{VOLUME_NAME_MAX} letters, \
             digits, '-' and '_', not starting with '-')"
        )))
    };
    if volume.is_empty() {
        return refuse("is empty");
    }
    if volume.len() > VOLUME_NAME_MAX {
        return refuse("is too long");
    }
    if let Some(c) = volume
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    {
        return refuse(&format!("contains {c:?}"));
    }
    if volume.starts_with('-') {
        return refuse("starts with '-'");
    }
    if RESERVED_VOLUME_NAMES.contains(&volume) {
        return refuse("is a word gluster reserves");
    }
    Ok(())
}

/// Checks a value that goes into a quoted ganesha setting.
fn check_value(what: &str, v: &str) -> Result<(), CliError> {
    if v.is_empty() || v.contains(['"', '\n', ';', '{', '}', '#']) {
        return Err(CliError::Refused(format!(
            "{what} `{v}` cannot go into ganesha's configuration (no quotes, ;, braces or #)"
        )));
    }
    Ok(())
}

/// The nodes of `spec` Pacemaker sees online (all of them when the cluster cannot tell).
fn online_nodes(spec: &ClusterSpec) -> Vec<&NodeSpec> {
    match crate::form::local_view(crate::form::FILE_LIMIT) {
        Some(view) => spec
            .nodes
            .iter()
            .filter(|n| view.nodes.iter().any(|v| v.name == n.name && v.online))
            .collect(),
        None => spec.nodes.iter().collect(),
    }
}

/// Runs `ganesha-ha node-export ARGS` on every online node, all at once: ganesha's
/// RemoveExport of a GLUSTER export returns only when its volume's client is finished
/// (about 10 s), which one node after another would multiply. Results in node order.
fn on_every_node(spec: &ClusterSpec, transport: &dyn Transport, args: &[&str]) -> Vec<NodeResult> {
    let program = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "ganesha-ha".to_owned());
    let mut argv = vec![program.as_str(), "node-export"];
    argv.extend_from_slice(args);
    let argv = &argv;
    std::thread::scope(|scope| {
        let calls: Vec<_> = online_nodes(spec)
            .into_iter()
            .map(|node| {
                (
                    node,
                    scope.spawn(move || node_export(transport, node, argv)),
                )
            })
            .collect();
        calls
            .into_iter()
            .map(|(node, call)| {
                call.join().unwrap_or_else(|_| NodeResult {
                    node: node.name.clone(),
                    ok: false,
                    message: "the call on this node panicked".into(),
                })
            })
            .collect()
    })
}

/// One node's `ganesha-ha node-export` call, bounded.
fn node_export(transport: &dyn Transport, node: &NodeSpec, argv: &[&str]) -> NodeResult {
    let out = transport.output(node, argv, None, NODE_LIMIT + Duration::from_secs(5));
    let (ok, message) = match out {
        Ok(o) => {
            let text = if o.status.success() {
                &o.stdout
            } else {
                &o.stderr
            };
            (
                o.status.success(),
                String::from_utf8_lossy(text).trim().to_owned(),
            )
        }
        Err(e) => (false, e.to_string()),
    };
    NodeResult {
        node: node.name.clone(),
        ok,
        message,
    }
}

/// The `%include` line for `file`.
fn include_line(file: &Path) -> String {
    format!("%include \"{}\"", file.display())
}

/// Adds (`present`) or removes the `%include` of `file` in every node's ganesha.conf.
fn set_include(
    spec: &ClusterSpec,
    transport: &dyn Transport,
    file: &Path,
    present: bool,
) -> Result<(), CliError> {
    let line = include_line(file);
    for node in &spec.nodes {
        let conf = &spec.ganesha.config;
        let text = transport
            .read_file(node, conf, NODE_LIMIT)?
            .ok_or_else(|| CliError::Cluster(format!("{}: {conf} does not exist", node.name)))?;
        let text = String::from_utf8_lossy(&text).into_owned();
        let has = text.lines().any(|l| l.trim() == line);
        let new = match (present, has) {
            (true, false) => {
                let sep = if text.ends_with('\n') || text.is_empty() {
                    ""
                } else {
                    "\n"
                };
                format!("{text}{sep}{line}\n")
            }
            (false, true) => {
                let kept: Vec<&str> = text.lines().filter(|l| l.trim() != line).collect();
                kept.join("\n") + "\n"
            }
            _ => continue,
        };
        transport.put_file(node, conf, new.as_bytes(), "0644", NODE_LIMIT)?;
    }
    Ok(())
}

/// Writes the export file, includes it on every node, and adds it live on every online node.
pub fn add(spec: &ClusterSpec, new: &NewExport) -> Result<(Export, Vec<NodeResult>), CliError> {
    let refuse = |why: String| Err(CliError::Refused(why));
    if !valid_name(&new.name) {
        return refuse(format!(
            "export name `{}`: use letters, digits, '-', '_' and '.'",
            new.name
        ));
    }
    if let Some(v) = &new.volume {
        check_volume(v)?;
    }
    match &new.path {
        Some(path) => {
            check_value("path", path)?;
            if !path.starts_with('/') {
                return refuse(format!("path `{path}` is not absolute"));
            }
            if path.split('/').any(|c| c == "..") {
                return refuse(format!("path `{path}` has a `..` component"));
            }
        }
        None if new.volume.is_none() => {
            return refuse("give --path (a directory) or --volume (a gluster volume)".into())
        }
        None => {}
    }
    let path = new.export_path();
    let pseudo = new.pseudo.clone().unwrap_or_else(|| path.clone());
    check_value("pseudo path", &pseudo)?;
    if !pseudo.starts_with('/') {
        return refuse(format!("pseudo path `{pseudo}` is not absolute"));
    }
    let existing = list(spec)?;
    if existing.iter().any(|e| e.name == new.name) {
        return refuse(format!("export {} exists already", new.name));
    }
    if let Some(e) = existing.iter().find(|e| e.pseudo == pseudo) {
        return refuse(format!(
            "pseudo path {pseudo} is export {}'s already",
            e.name
        ));
    }
    // Ids in use: ours, and those of the local ganesha.conf's own blocks.
    let mut used: Vec<u16> = existing.iter().map(|e| e.id).collect();
    if let Ok(text) = std::fs::read_to_string(&spec.ganesha.config) {
        used.extend(export_ids(&text));
    }
    let id = match new.id {
        Some(0) => return refuse("Export_Id 0 is the pseudo root's".into()),
        Some(id) if used.contains(&id) => return refuse(format!("Export_Id {id} is in use")),
        Some(id) => id,
        None => match used.iter().max().map_or(Some(1), |m| m.checked_add(1)) {
            Some(id) => id,
            None => return refuse("no free Export_Id".into()),
        },
    };
    let dir = spec.exports_dir();
    std::fs::create_dir_all(&dir).map_err(|e| CliError::io(format!("creating {dir}"), e))?;
    let file = file_for(&dir, &new.name);
    crate::membership::write_config(&file, &render(new, id))?;
    let transport = transport::for_spec(spec);
    set_include(spec, transport.as_ref(), &file, true)?;
    let file_arg = file.to_string_lossy().into_owned();
    let results = on_every_node(
        spec,
        transport.as_ref(),
        &["add", &file_arg, &id.to_string()],
    );
    let export = Export {
        name: new.name.clone(),
        id,
        path,
        pseudo,
        file,
    };
    Ok((export, results))
}

/// The managed export called `name`, or with that Export_Id.
pub fn find(spec: &ClusterSpec, name: &str) -> Result<Export, CliError> {
    let all = list(spec)?;
    all.iter()
        .find(|e| e.name == name || e.id.to_string() == name)
        .cloned()
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
            CliError::Refused(format!(
                "no export {name} in {} (exports: {names:?})",
                spec.exports_dir()
            ))
        })
}

/// Removes the export live on every online node, its includes and its file.
pub fn remove(spec: &ClusterSpec, name: &str) -> Result<(Export, Vec<NodeResult>), CliError> {
    let export = find(spec, name)?;
    let transport = transport::for_spec(spec);
    let results = on_every_node(
        spec,
        transport.as_ref(),
        &["remove", &export.id.to_string()],
    );
    set_include(spec, transport.as_ref(), &export.file, false)?;
    std::fs::remove_file(&export.file)
        .map_err(|e| CliError::io(format!("removing {}", export.file.display()), e))?;
    Ok((export, results))
}

/// `UpdateExport` of the export's block on every online node.
pub fn refresh(spec: &ClusterSpec, name: &str) -> Result<(Export, Vec<NodeResult>), CliError> {
    let export = find(spec, name)?;
    let transport = transport::for_spec(spec);
    let file_arg = export.file.to_string_lossy().into_owned();
    let results = on_every_node(
        spec,
        transport.as_ref(),
        &["update", &file_arg, &export.id.to_string()],
    );
    Ok((export, results))
}

/// The local half (`ganesha-ha node-export`): one ExportMgr call on this node's bus.
pub fn node_call(action: &str, args: &[String]) -> Result<String, CliError> {
    use ganesha_agents::dbus::GaneshaAdmin;
    let admin = GaneshaAdmin::connect(NODE_LIMIT)?;
    let expr = |id: &str| format!("EXPORT(Export_Id={id})");
    match (action, args) {
        ("add", [file, id]) => Ok(admin.add_export(file, &expr(id), NODE_LIMIT)?),
        ("update", [file, id]) => Ok(admin.update_export(file, &expr(id), NODE_LIMIT)?),
        ("remove", [id]) => {
            let id: u16 = id
                .parse()
                .map_err(|_| CliError::Refused(format!("bad Export_Id {id}")))?;
            admin.remove_export(id, NODE_LIMIT)?;
            Ok(format!("export {id} removed"))
        }
        _ => Err(CliError::Refused(format!(
            "node-export {action}: wrong arguments {args:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn render_and_read_back() {
        let new = NewExport {
            name: "data".into(),
            id: None,
            path: Some("/srv/data".into()),
            pseudo: Some("/data".into()),
            volume: None,
            read_only: false,
        };
        let text = render(&new, 7);
        assert_eq!(setting(&text, "export_id").as_deref(), Some("7"));
        assert_eq!(setting(&text, "Pseudo").as_deref(), Some("/data"));
        assert_eq!(setting(&text, "Path").as_deref(), Some("/srv/data"));
        assert_eq!(
            export_ids(&format!("{text}\n# Export_Id = 9;\nexport_id=3;")),
            [7, 3]
        );
    }

    fn gluster(path: Option<&str>, read_only: bool) -> NewExport {
        NewExport {
            name: "vol".into(),
            id: None,
            path: path.map(Into::into),
            pseudo: None,
            volume: Some("data".into()),
            read_only,
        }
    }

    #[test]
    fn a_volume_renders_as_glusterfs_script_does_over_nfsv4_tcp() {
        assert_eq!(
            render(&gluster(None, false), 2),
            "# Managed by ganesha-ha (export vol).\n\
             EXPORT {\n\
             \tExport_Id = 2;\n\
             \tPath = \"/data\";\n\
             \tPseudo = \"/data\";\n\
             \tAccess_Type = RW;\n\
             \tDisable_ACL = true;\n\
             \tSquash = \"No_root_squash\";\n\
             \tSecType = \"sys\";\n\
             \tSecurity_Label = False;\n\
             \tProtocols = 4;\n\
             \tTransports = TCP;\n\
             \tFSAL {\n\
             \t\tName = GLUSTER;\n\
             \t\tHostname = \"localhost\";\n\
             \t\tVolume = \"data\";\n\
             \t}\n\
             }\n"
        );
        // The volume's root, written either way, has no volpath.
        assert_eq!(
            render(&gluster(Some("/"), false), 2),
            render(&gluster(None, false), 2)
        );
    }

    #[test]
    fn a_directory_inside_a_volume_is_its_volpath() {
        let text = render(&gluster(Some("/projects/a/"), true), 3);
        assert!(text.contains("\t\tvolpath = \"/projects/a/\";\n"), "{text}");
        assert_eq!(setting(&text, "Path").as_deref(), Some("/data/projects/a"));
        assert_eq!(
            setting(&text, "Pseudo").as_deref(),
            Some("/data/projects/a")
        );
        assert_eq!(setting(&text, "Access_Type").as_deref(), Some("RO"));
        let mut named = gluster(Some("/projects"), false);
        named.pseudo = Some("/p".into());
        let text = render(&named, 4);
        assert_eq!(setting(&text, "Pseudo").as_deref(), Some("/p"));
        assert_eq!(setting(&text, "Path").as_deref(), Some("/data/projects"));
    }

    #[test]
    fn a_vfs_export_keeps_its_block() {
        let text = render(
            &NewExport {
                name: "d".into(),
                id: None,
                path: Some("/srv/d".into()),
                pseudo: None,
                volume: None,
                read_only: false,
            },
            5,
        );
        assert!(text.contains("\tFSAL {\n\t\tName = VFS;\n\t}\n"), "{text}");
        assert!(
            text.contains("\tProtocols = 4;\n\tTransports = TCP;\n"),
            "{text}"
        );
        assert!(
            !text.contains("Disable_ACL") && !text.contains("volpath"),
            "{text}"
        );
        assert_eq!(setting(&text, "Pseudo").as_deref(), Some("/srv/d"));
    }

    #[test]
    fn volume_names_follow_gluster() {
        for good in [
            "data",
            "gluster_shared_storage",
            "Vol-1",
            "9",
            &"v".repeat(256),
        ] {
            assert!(check_volume(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "is empty"),
            ("a.b", "contains '.'"),
            ("a/b", "contains '/'"),
            ("a b", "contains ' '"),
            ("dätä", "contains 'ä'"),
            ("-x", "starts with '-'"),
            ("all", "reserves"),
            (&"v".repeat(257), "too long"),
        ] {
            let e = check_volume(bad).unwrap_err().to_string();
            assert!(
                e.contains(why) && e.contains("letters, digits"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn unsafe_values_are_refused() {
        assert!(check_value("path", "/a\"; }").is_err());
        assert!(check_value("path", "/a/b").is_ok());
        assert!(!valid_name("../x") && !valid_name("") && valid_name("vol-1.a"));
    }
}
