//! `site setup`: booth's configuration and key, and this site's resources and tickets
//! merged into the live CIB (by id, everything else kept: [`crate::apply::merge`]).
//!
//! booth.conf and the key are written on this node, in this process's file system; a
//! site whose `booth-site` may run on several nodes needs both on each of them (run
//! `site setup --booth-key` there with the key copied from here).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::Deadline;

use super::booth::booth_conf;
use super::model::{schema_version, site_cib, ROLE_SCHEMA};
use super::runner::{At, SiteRunner};
use super::spec::SitesSpec;
use crate::apply::merge;
use crate::cib::Cib;
use crate::error::CliError;

const CALL: Duration = Duration::from_secs(30);
/// booth refuses shorter keys.
const KEY_MIN: usize = 8;

/// What setup did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SetupReport {
    pub lines: Vec<String>,
    /// The CIB changed.
    pub cib_changed: bool,
}

/// Writes `data` to `path` atomically (a temporary name renamed over it) with `mode`.
fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), CliError> {
    let io = |what: &str, e| CliError::io(format!("{what} {}", path.display()), e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("creating the directory of", e))?;
    }
    let tmp = PathBuf::from(format!("{}.ganesha-ha-new", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| io("writing", e))?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| io("setting the mode of", e))?;
    f.write_all(data).map_err(|e| io("writing", e))?;
    f.sync_all().map_err(|e| io("writing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("renaming over", e))
}

fn run_here(
    runner: &dyn SiteRunner,
    argv: &[&str],
    deadline: &Deadline,
) -> Result<String, CliError> {
    let argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
    let out = runner.run(&At::Here, &argv, deadline.bound(CALL))?;
    if out.code == 0 {
        Ok(out.stdout)
    } else {
        Err(CliError::Cluster(format!(
            "`{}` failed (exit {}): {}",
            argv.join(" "),
            out.code,
            out.stderr.trim()
        )))
    }
}

/// Installs booth's key: `given` (the other site's copy) with mode 0600, or a new one
/// from `booth-keygen` when there is none; an existing different key is never replaced.
pub fn install_key(
    spec: &SitesSpec,
    given: Option<&Path>,
    runner: &dyn SiteRunner,
    deadline: &Deadline,
    report: &mut SetupReport,
) -> Result<(), CliError> {
    let path = Path::new(&spec.booth_key);
    let existing = match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CliError::io(format!("reading {}", path.display()), e)),
    };
    let copy_hint = format!(
        "the same key must be at {} on every site and the arbitrator ({}): copy it with its mode, \
         e.g. `scp -p {key} root@<host>:{key}`, or run `ganesha-ha site setup --booth-key <copy>` there",
        spec.booth_key,
        spec.sites
            .iter()
            .map(|s| format!("{} {}", s.name, s.addr))
            .chain([format!("arbitrator {}", spec.arbitrator)])
            .collect::<Vec<_>>()
            .join(", "),
        key = spec.booth_key
    );
    match (given, existing) {
        (Some(file), existing) => {
            let key = std::fs::read(file).map_err(|e| {
                CliError::io(format!("reading the booth key {}", file.display()), e)
            })?;
            if key.len() < KEY_MIN {
                return Err(CliError::Refused(format!(
                    "{} has {} bytes; booth needs a key of at least {KEY_MIN} (make one with booth-keygen)",
                    file.display(),
                    key.len()
                )));
            }
            match existing {
                Some(old) if old == key => {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| CliError::io(format!("setting the mode of {}", path.display()), e))?;
                    report.lines.push(format!("{} already holds this key", spec.booth_key));
                }
                Some(_) => {
                    return Err(CliError::Refused(format!(
                        "{} holds another key: refusing to overwrite it (sites with different keys cannot talk); \
                         remove it first if the given key is the right one",
                        spec.booth_key
                    )))
                }
                None => {
                    write_file(path, &key, 0o600)?;
                    report.lines.push(format!("installed the booth key {} (mode 0600)", spec.booth_key));
                }
            }
        }
        (None, Some(old)) => {
            if old.len() < KEY_MIN {
                return Err(CliError::Refused(format!(
                    "{} has {} bytes; booth needs at least {KEY_MIN}: install the sites' key with --booth-key",
                    spec.booth_key,
                    old.len()
                )));
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| CliError::io(format!("setting the mode of {}", path.display()), e))?;
            report.lines.push(format!(
                "kept the booth key {}; {copy_hint}",
                spec.booth_key
            ));
        }
        (None, None) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| CliError::io(format!("creating {}", dir.display()), e))?;
            }
            run_here(runner, &["booth-keygen", &spec.booth_key], deadline)?;
            report.lines.push(format!(
                "generated the booth key {}; {copy_hint}",
                spec.booth_key
            ));
        }
    }
    Ok(())
}

/// Merges [`site_cib`] into the live CIB (`cibadmin --query`, then `--replace` of the
/// sections that changed); nothing is written when it is there already.
pub fn merge_cib(
    spec: &SitesSpec,
    runner: &dyn SiteRunner,
    deadline: &Deadline,
    report: &mut SetupReport,
) -> Result<(), CliError> {
    let mut xml = run_here(runner, &["cibadmin", "--query"], deadline)
        .map_err(|e| e.context("reading the live CIB"))?;
    match schema_version(&xml) {
        Some(v) if v >= ROLE_SCHEMA => {}
        Some((major, minor)) => {
            // The Promoted/Unpromoted roles need a newer schema; like pcs, upgrade the CIB
            // to the newest schema this Pacemaker knows (it keeps every element).
            run_here(runner, &["cibadmin", "--upgrade", "--force"], deadline)
                .map_err(|e| e.context("upgrading the CIB's schema"))?;
            xml = run_here(runner, &["cibadmin", "--query"], deadline)
                .map_err(|e| e.context("reading the live CIB"))?;
            let now = schema_version(&xml)
                .filter(|v| *v >= ROLE_SCHEMA)
                .ok_or_else(|| {
                    CliError::Refused(format!(
                        "the CIB still validates with an older schema than pacemaker-{}.{} after                          `cibadmin --upgrade --force`: this Pacemaker is too old for promotable roles",
                        ROLE_SCHEMA.0, ROLE_SCHEMA.1
                    ))
                })?;
            report.lines.push(format!(
                "upgraded the CIB's schema from pacemaker-{major}.{minor} to pacemaker-{}.{}                  (the Promoted/Unpromoted roles need pacemaker-{}.{})",
                now.0, now.1, ROLE_SCHEMA.0, ROLE_SCHEMA.1
            ));
        }
        None => {
            return Err(CliError::Refused(
                "the live CIB names no pacemaker-X.Y schema (validate-with): cannot tell whether                  it takes Promoted/Unpromoted roles"
                    .into(),
            ))
        }
    }
    let live =
        Cib::from_xml(&xml).map_err(|e| CliError::from(e).context("reading the live CIB"))?;
    let desired = site_cib(spec);
    let merged = merge(&live, &desired);
    if merged.resources != live.resources {
        run_here(
            runner,
            &[
                "cibadmin",
                "--replace",
                "--scope",
                "resources",
                "--xml-text",
                &merged.resources_xml(),
            ],
            deadline,
        )
        .map_err(|e| e.context("replacing the resources section"))?;
        report.cib_changed = true;
    }
    if merged.constraints != live.constraints {
        run_here(
            runner,
            &[
                "cibadmin",
                "--replace",
                "--scope",
                "constraints",
                "--xml-text",
                &merged.constraints_xml(),
            ],
            deadline,
        )
        .map_err(|e| e.context("replacing the constraints section"))?;
        report.cib_changed = true;
    }
    report.lines.push(if report.cib_changed {
        format!(
            "CIB: booth-site and {} pair(s) with their tickets written",
            spec.pairs.len()
        )
    } else {
        "CIB: already configured; nothing to change".into()
    });
    Ok(())
}

/// `site setup`: booth.conf, the key, the CIB.
pub fn setup(
    spec: &SitesSpec,
    booth_key: Option<&Path>,
    runner: &dyn SiteRunner,
    deadline: &Deadline,
) -> Result<SetupReport, CliError> {
    let mut report = SetupReport::default();
    let text = booth_conf(spec);
    let path = Path::new(&spec.booth_conf);
    if std::fs::read_to_string(path).ok().as_deref() == Some(text.as_str()) {
        report
            .lines
            .push(format!("{} is up to date", spec.booth_conf));
    } else {
        write_file(path, text.as_bytes(), 0o644)?;
        report.lines.push(format!("wrote {}", spec.booth_conf));
    }
    install_key(spec, booth_key, runner, deadline, &mut report)?;
    merge_cib(spec, runner, deadline, &mut report)?;
    Ok(report)
}

/// `site setup --dry-run`: booth.conf and the site's CIB (a complete document, for
/// `crm_verify`) into `dir`; nothing else changes.
pub fn dry_run(spec: &SitesSpec, dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let booth = dir.join("booth.conf");
    let cib = dir.join("site-cib.xml");
    write_file(&booth, booth_conf(spec).as_bytes(), 0o644)?;
    write_file(&cib, site_cib(spec).to_xml().as_bytes(), 0o644)?;
    Ok(vec![booth, cib])
}
