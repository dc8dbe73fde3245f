//! Pacemaker transition graphs (`crm_simulate -G graph.xml`), for tests that prove an
//! ordering the scheduler itself computes, offline: which actions wait for which.

use std::collections::{BTreeMap, BTreeSet};

use quick_xml::events::Event;
use quick_xml::Reader;

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
/// `crm_simulate` never writes under `/var/lib/pacemaker`.
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
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// `program` set up for offline use, acting on `cib` (a `CIB_file`) when given.
    pub fn command(&self, program: &str, cib: Option<&std::path::Path>) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        cmd.env("CIB_shadow_dir", self.path("shadow"));
        if let Some(cib) = cib {
            cmd.env("CIB_file", cib);
        }
        cmd
    }
}
