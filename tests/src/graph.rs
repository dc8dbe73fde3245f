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
