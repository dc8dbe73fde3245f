//! Transient node attributes.
//!
//! Agents publish node health through the attribute manager (`attrd_updater`), or through
//! `crm_attribute --lifetime reboot` where attrd is not the right tool. Both sit behind
//! [`NodeAttributes`] so that agent logic can be unit-tested with [`RecordingAttributes`].
//! Every call is bounded by the caller's [`Deadline`]. Transient attributes only: mixing
//! transient and permanent values of one name conflicts (glusterfs #2276, Ken Gaillot).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::command::{self, CommandError, CommandErrorKind};
use crate::Deadline;

/// `CRM_EX_NOSUCH`: the attribute (or node) does not exist.
const EXIT_NO_SUCH: i32 = 105;

/// A failure to read or write an attribute.
#[derive(Debug, thiserror::Error)]
pub enum AttrError {
    /// The cluster's attribute manager could not be reached (cluster not running here).
    #[error("the cluster attribute manager is not reachable: {0}")]
    Unavailable(CommandError),
    /// The tool failed otherwise (including timeouts).
    #[error("node attribute {name}: {source}")]
    Failed {
        name: String,
        #[source]
        source: CommandError,
    },
    /// The tool answered something we could not read.
    #[error("node attribute {name}: unexpected answer {answer:?}")]
    Unparsable { name: String, answer: String },
}

/// Reads and writes transient attributes of the local node.
pub trait NodeAttributes {
    /// Sets `name` to `value`.
    fn update(&self, name: &str, value: &str, deadline: Deadline) -> Result<(), AttrError>;
    /// Removes `name`.
    fn delete(&self, name: &str, deadline: Deadline) -> Result<(), AttrError>;
    /// The current value of `name`, `None` if unset.
    fn query(&self, name: &str, deadline: Deadline) -> Result<Option<String>, AttrError>;
}

/// Longest a single attribute command may take even when the action has more time: attrd
/// answers in ~10 ms, so anything near this means the cluster is in trouble.
const ATTR_CALL_LIMIT: Duration = Duration::from_secs(10);

/// Classifies a tool failure: connection problems mean the cluster is not running here.
fn classify(name: &str, e: CommandError) -> AttrError {
    let unreachable = matches!(e.kind(), CommandErrorKind::NotFound)
        || matches!(e.exit_code(), Some(102) | Some(69))
        || e.stderr().contains("Connection refused")
        || e.stderr().contains("Could not connect");
    if unreachable {
        AttrError::Unavailable(e)
    } else {
        AttrError::Failed {
            name: name.to_owned(),
            source: e,
        }
    }
}

/// `attrd_updater`: the attribute manager, which also lets other nodes' rules react at once.
#[derive(Clone, Debug)]
pub struct AttrdUpdater {
    program: PathBuf,
}

impl Default for AttrdUpdater {
    fn default() -> Self {
        AttrdUpdater::new("attrd_updater")
    }
}

impl AttrdUpdater {
    /// Uses the given `attrd_updater` program.
    pub fn new(program: impl Into<PathBuf>) -> AttrdUpdater {
        AttrdUpdater {
            program: program.into(),
        }
    }

    fn call(&self, name: &str, args: &[&str], deadline: Deadline) -> Result<String, AttrError> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("--name").arg(name).args(args);
        command::run(&mut cmd, deadline.bound(ATTR_CALL_LIMIT))
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .map_err(|e| classify(name, e))
    }
}

impl NodeAttributes for AttrdUpdater {
    fn update(&self, name: &str, value: &str, deadline: Deadline) -> Result<(), AttrError> {
        self.call(name, &["--update", value], deadline).map(drop)
    }

    fn delete(&self, name: &str, deadline: Deadline) -> Result<(), AttrError> {
        self.call(name, &["--delete"], deadline).map(drop)
    }

    fn query(&self, name: &str, deadline: Deadline) -> Result<Option<String>, AttrError> {
        match self.call(name, &["--query"], deadline) {
            Ok(answer) => parse_attrd_query(name, &answer),
            Err(AttrError::Failed { source, .. }) if source.exit_code() == Some(EXIT_NO_SUCH) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Parses `name="grace-active" host="node1" value="1"`; an empty value means unset.
pub fn parse_attrd_query(name: &str, answer: &str) -> Result<Option<String>, AttrError> {
    let line = answer
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    if line.is_empty() {
        return Ok(None);
    }
    let value = line
        .split_once("value=\"")
        .and_then(|(_, rest)| rest.rsplit_once('"'))
        .map(|(v, _)| v.to_owned())
        .ok_or_else(|| AttrError::Unparsable {
            name: name.to_owned(),
            answer: line.to_owned(),
        })?;
    Ok(Some(value).filter(|v| !v.is_empty()))
}

/// `crm_attribute --lifetime reboot`: transient attributes written through the CIB.
#[derive(Clone, Debug)]
pub struct CrmAttribute {
    program: PathBuf,
    node: Option<String>,
}

impl CrmAttribute {
    /// Uses `crm_attribute` for `node` (the local node when `None`).
    pub fn new(program: impl Into<PathBuf>, node: Option<String>) -> CrmAttribute {
        CrmAttribute {
            program: program.into(),
            node,
        }
    }

    fn call(&self, name: &str, args: &[&str], deadline: Deadline) -> Result<String, AttrError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(["--lifetime", "reboot", "--name", name]);
        if let Some(node) = &self.node {
            cmd.arg("--node").arg(node);
        }
        cmd.args(args);
        command::run(&mut cmd, deadline.bound(ATTR_CALL_LIMIT))
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .map_err(|e| classify(name, e))
    }
}

impl NodeAttributes for CrmAttribute {
    fn update(&self, name: &str, value: &str, deadline: Deadline) -> Result<(), AttrError> {
        self.call(name, &["--update", value], deadline).map(drop)
    }

    fn delete(&self, name: &str, deadline: Deadline) -> Result<(), AttrError> {
        self.call(name, &["--delete"], deadline).map(drop)
    }

    fn query(&self, name: &str, deadline: Deadline) -> Result<Option<String>, AttrError> {
        match self.call(name, &["--query", "--quiet"], deadline) {
            Ok(answer) => Ok(Some(answer.trim().to_owned()).filter(|v| !v.is_empty())),
            Err(AttrError::Failed { source, .. }) if source.exit_code() == Some(EXIT_NO_SUCH) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// One call made on a [`RecordingAttributes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrCall {
    Update(String, String),
    Delete(String),
    Query(String),
}

/// An in-memory attribute store that records every call, for unit tests.
#[derive(Debug, Default)]
pub struct RecordingAttributes {
    values: RefCell<BTreeMap<String, String>>,
    calls: RefCell<Vec<AttrCall>>,
    unavailable: RefCell<bool>,
}

impl RecordingAttributes {
    /// The calls made so far.
    pub fn calls(&self) -> Vec<AttrCall> {
        self.calls.borrow().clone()
    }

    /// Forgets the recorded calls (not the values).
    pub fn clear_calls(&self) {
        self.calls.borrow_mut().clear();
    }

    /// The stored value of `name`.
    pub fn value(&self, name: &str) -> Option<String> {
        self.values.borrow().get(name).cloned()
    }

    /// Makes every later call fail as if the cluster were down.
    pub fn set_unavailable(&self, unavailable: bool) {
        *self.unavailable.borrow_mut() = unavailable;
    }

    fn check(&self) -> Result<(), AttrError> {
        if *self.unavailable.borrow() {
            Err(AttrError::Unavailable(CommandError::fake_unreachable()))
        } else {
            Ok(())
        }
    }
}

impl NodeAttributes for RecordingAttributes {
    fn update(&self, name: &str, value: &str, _: Deadline) -> Result<(), AttrError> {
        self.calls
            .borrow_mut()
            .push(AttrCall::Update(name.into(), value.into()));
        self.check()?;
        self.values.borrow_mut().insert(name.into(), value.into());
        Ok(())
    }

    fn delete(&self, name: &str, _: Deadline) -> Result<(), AttrError> {
        self.calls.borrow_mut().push(AttrCall::Delete(name.into()));
        self.check()?;
        self.values.borrow_mut().remove(name);
        Ok(())
    }

    fn query(&self, name: &str, _: Deadline) -> Result<Option<String>, AttrError> {
        self.calls.borrow_mut().push(AttrCall::Query(name.into()));
        self.check()?;
        Ok(self.value(name))
    }
}

/// The local node's cluster name: Pacemaker's `OCF_RESKEY_CRM_meta_on_node` if given, else
/// `crm_node -n`, else the kernel host name (as `ocf_local_nodename` does).
pub fn local_node_name(on_node: Option<&str>, deadline: Deadline) -> String {
    if let Some(name) = on_node.filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    let from_crm_node = command::run(
        Command::new("crm_node").arg("-n"),
        deadline.bound(Duration::from_secs(5)),
    )
    .ok()
    .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    .filter(|n| !n.is_empty());
    from_crm_node.unwrap_or_else(|| {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_attrd_updater_query_output() {
        let ok = parse_attrd_query(
            "grace-active",
            "name=\"grace-active\" host=\"node1\" value=\"1\"\n",
        );
        assert_eq!(ok.ok().flatten(), Some("1".to_string()));
        let empty = parse_attrd_query("a", "name=\"a\" host=\"node1\" value=\"\"\n");
        assert_eq!(empty.ok().flatten(), None);
        assert!(parse_attrd_query("a", "garbage").is_err());
        assert_eq!(parse_attrd_query("a", "").ok().flatten(), None);
    }

    #[test]
    fn recording_store_records_and_can_fail() {
        let attrs = RecordingAttributes::default();
        let d = Deadline::after(Duration::from_secs(1));
        assert!(attrs.update("a", "1", d).is_ok());
        assert!(attrs.delete("b", d).is_ok());
        assert_eq!(attrs.value("a"), Some("1".into()));
        attrs.set_unavailable(true);
        assert!(matches!(
            attrs.query("a", d),
            Err(AttrError::Unavailable(_))
        ));
        assert_eq!(
            attrs.calls(),
            [
                AttrCall::Update("a".into(), "1".into()),
                AttrCall::Delete("b".into()),
                AttrCall::Query("a".into())
            ]
        );
    }

    #[test]
    fn missing_tool_means_unavailable() {
        let attrd = AttrdUpdater::new("/nonexistent/attrd_updater");
        let r = attrd.update("x", "1", Deadline::after(Duration::from_secs(1)));
        assert!(matches!(r, Err(AttrError::Unavailable(_))));
    }
}
