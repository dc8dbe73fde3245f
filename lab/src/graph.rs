//! Pacemaker transition graphs (`crm_simulate -G graph.xml`), for tests that prove an
//! ordering the scheduler itself computes, offline: which actions wait for which; and the
//! scratch directory ([`OfflineCib`]) in which Pacemaker's offline tools compute them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::util::{run_checked, DEFAULT_TIMEOUT};
use crate::LabError;

/// For each action (`operation_key@node`, pseudo actions with an empty node), the actions
/// it waits for and its attributes (e.g. `CRM_meta_notify_stop_uname`).
#[derive(Debug, Default)]
pub struct TransitionGraph {
    pub inputs: BTreeMap<String, BTreeSet<String>>,
    pub attributes: BTreeMap<String, BTreeMap<String, String>>,
}

impl TransitionGraph {
    /// Parses a graph file's XML.
    pub fn parse(xml: &str) -> Result<TransitionGraph, String> {
        let mut graph = TransitionGraph::default();
        let mut reader = Reader::from_str(xml);
        let (mut in_action_set, mut in_inputs) = (false, false);
        let mut current = String::new();
        loop {
            match reader.read_event().map_err(|e| e.to_string())? {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) => {
                    let attrs: BTreeMap<String, String> = e
                        .attributes()
                        .filter_map(Result::ok)
                        .map(|a| {
                            (
                                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                                a.unescape_value()
                                    .map(|v| v.into_owned())
                                    .unwrap_or_default(),
                            )
                        })
                        .collect();
                    match e.name().as_ref() {
                        b"action_set" => in_action_set = true,
                        b"inputs" => in_inputs = true,
                        b"rsc_op" | b"pseudo_event" | b"crm_event" => {
                            let key = format!(
                                "{}@{}",
                                attrs.get("operation_key").cloned().unwrap_or_default(),
                                attrs.get("on_node").cloned().unwrap_or_default()
                            );
                            if in_action_set {
                                current = key;
                                graph.inputs.entry(current.clone()).or_default();
                            } else if in_inputs {
                                graph.inputs.entry(current.clone()).or_default().insert(key);
                            }
                        }
                        b"attributes" if in_action_set => {
                            graph.attributes.insert(current.clone(), attrs);
                        }
                        _ => {}
                    }
                }
                Event::End(e) => match e.name().as_ref() {
                    b"action_set" => in_action_set = false,
                    b"inputs" => in_inputs = false,
                    _ => {}
                },
                _ => {}
            }
        }
        Ok(graph)
    }

    /// Whether the graph contains `action`.
    pub fn has(&self, action: &str) -> bool {
        self.inputs.contains_key(action)
    }

    /// Whether `later` waits, directly or transitively, for `earlier`.
    pub fn after(&self, later: &str, earlier: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo = vec![later.to_owned()];
        while let Some(a) = todo.pop() {
            for input in self.inputs.get(&a).into_iter().flatten() {
                if input == earlier {
                    return true;
                }
                if seen.insert(input.clone()) {
                    todo.push(input.clone());
                }
            }
        }
        false
    }
}

/// A scratch directory for Pacemaker's offline tools (`crm_simulate`, `crm_verify`,
/// `crm_attribute`/`crm_mon` with `CIB_file`): with its own shadow-CIB directory, so that
/// `crm_simulate` never writes under `/var/lib/pacemaker`. CIB files are named relative to
/// it.
#[derive(Debug)]
pub struct OfflineCib {
    dir: tempfile::TempDir,
}

impl OfflineCib {
    /// A new, empty scratch directory.
    pub fn new() -> std::io::Result<OfflineCib> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("shadow"))?;
        Ok(OfflineCib { dir })
    }

    /// A file in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `program` set up for offline use, acting on `cib` (a `CIB_file`) when given.
    pub fn command(&self, program: &str, cib: Option<&Path>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("CIB_shadow_dir", self.path("shadow"));
        if let Some(cib) = cib {
            cmd.env("CIB_file", cib);
        }
        cmd
    }

    /// Runs `cmd` (from [`OfflineCib::command`]), bounded; its stdout. Fails unless it exits
    /// 0, with the command line and both output streams.
    pub fn run(&self, mut cmd: Command) -> Result<String, LabError> {
        let out = run_checked(&mut cmd, DEFAULT_TIMEOUT)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Writes the file `name`.
    pub fn write(&self, name: &str, text: &str) -> Result<(), LabError> {
        std::fs::write(self.path(name), text).map_err(|source| LabError::Io {
            what: format!("writing {name}"),
            source,
        })
    }

    /// Runs the scheduler on the CIB file `input` after the events `extra` (`-u <node>`,
    /// `--node-fail <node>`, ...), with quorum; writes the resulting CIB to `output` and
    /// returns the transition it ran (its graph is kept as `<output>.graph.xml`).
    pub fn transition(
        &self,
        input: &str,
        extra: &[&str],
        output: &str,
    ) -> Result<TransitionGraph, LabError> {
        let graph = self.path(&format!("{output}.graph.xml"));
        let mut cmd = self.command("crm_simulate", None);
        cmd.arg("-x").arg(self.path(input)).args(extra);
        cmd.args(["--quorum", "1", "-S", "-O"])
            .arg(self.path(output));
        cmd.arg("-G").arg(&graph);
        self.run(cmd)?;
        let xml = std::fs::read_to_string(&graph).map_err(|source| LabError::Io {
            what: format!("reading {}", graph.display()),
            source,
        })?;
        TransitionGraph::parse(&xml)
            .map_err(|e| LabError::Setup(format!("{}: {e}", graph.display())))
    }

    /// Sets (`Some`) or deletes (`None`) the transient attribute `name` of `node` in the CIB
    /// file `cib`, as `ganesha_mon` does through `attrd_updater` in a live cluster.
    pub fn attribute(
        &self,
        cib: &str,
        node: &str,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), LabError> {
        let mut cmd = self.command("crm_attribute", Some(&self.path(cib)));
        cmd.args(["--node", node, "--name", name, "--lifetime", "reboot"]);
        match value {
            Some(v) => cmd.args(["--update", v]),
            None => cmd.arg("--delete"),
        };
        self.run(cmd).map(drop)
    }
}
