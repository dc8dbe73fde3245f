//! The lab's fencing device, speaking the fence-agents API
//! (<https://github.com/ClusterLabs/fence-agents/blob/main/doc/FenceAgentAPI.md>) so that
//! Pacemaker's `pacemaker-fenced` can use it like any `fence_*` agent:
//!
//! - parameters arrive as `name=value` lines on stdin (Pacemaker's way), or as getopt-style
//!   arguments (`-o ACTION -n PLUG --state-file PATH`, for people);
//! - `action` (or the legacy `option`) is one of on, off, reboot, status, monitor, list,
//!   list-status, metadata, validate-all; the target is `plug` (or `port`, or Pacemaker's
//!   `nodename`);
//! - exit 0 on success, 1 on failure; `status` exits 0 for on and 2 for off.
//!
//! What "power" means for a lab node lives behind [`Power`]: the binary implements it with
//! the lab's own power-off (end every process of the node, cut its link) and power-on (boot
//! its daemons again).

use std::collections::BTreeMap;
use std::io::Write;

/// A fencing action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceAction {
    On,
    Off,
    Reboot,
    Status,
    Monitor,
    List,
    ListStatus,
    Metadata,
    ValidateAll,
}

impl FenceAction {
    fn parse(s: &str) -> Option<FenceAction> {
        Some(match s {
            "on" | "enable" => FenceAction::On,
            "off" | "disable" => FenceAction::Off,
            "reboot" => FenceAction::Reboot,
            "status" => FenceAction::Status,
            "monitor" => FenceAction::Monitor,
            "list" => FenceAction::List,
            "list-status" => FenceAction::ListStatus,
            "metadata" | "meta-data" => FenceAction::Metadata,
            "validate-all" => FenceAction::ValidateAll,
            _ => return None,
        })
    }

    fn needs_plug(self) -> bool {
        matches!(
            self,
            FenceAction::On | FenceAction::Off | FenceAction::Reboot | FenceAction::Status
        )
    }
}

/// Exit status for success.
pub const EXIT_OK: i32 = 0;
/// Exit status for failure.
pub const EXIT_FAILED: i32 = 1;
/// `status`: the target is off.
pub const EXIT_OFF: i32 = 2;

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub action: FenceAction,
    pub plug: Option<String>,
    /// Every parameter as given (e.g. `state_file`).
    pub params: BTreeMap<String, String>,
}

/// Reads `name=value` lines (blank lines and `#` comments skipped; later values win).
pub fn parse_stdin(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Reads getopt-style arguments: `-o/--action`, `-n/--plug/--port`, `--state-file`,
/// `--name=value` for anything else.
pub fn parse_args(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let name = match key.as_str() {
            "-o" | "--action" => "action".to_owned(),
            "-n" | "--plug" | "--port" => "plug".to_owned(),
            k if k.starts_with("--") && k.len() > 2 => k[2..].replace('-', "_"),
            _ => return Err(format!("unexpected argument {arg:?}")),
        };
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{arg} needs a value"))?
            }
        };
        params.insert(name, value);
        i += 1;
    }
    Ok(params)
}

impl Request {
    /// Builds a request from parameters; the default action is reboot, as in fence-agents.
    pub fn from_params(params: BTreeMap<String, String>) -> Result<Request, String> {
        let action_name = params
            .get("action")
            .or_else(|| params.get("option"))
            .map(String::as_str)
            .unwrap_or("reboot");
        let action = FenceAction::parse(action_name)
            .ok_or_else(|| format!("unknown action {action_name:?}"))?;
        let plug = ["plug", "port", "nodename"]
            .iter()
            .find_map(|k| params.get(*k))
            .filter(|p| !p.is_empty())
            .cloned();
        if action.needs_plug() && plug.is_none() {
            return Err(format!(
                "action {action_name} needs a plug (the node to fence)"
            ));
        }
        Ok(Request {
            action,
            plug,
            params,
        })
    }
}

/// What powering a lab node means.
pub trait Power {
    /// Every node the device can fence.
    fn nodes(&self) -> Vec<String>;
    /// Whether `node` is powered on.
    fn is_on(&self, node: &str) -> Result<bool, String>;
    /// Powers `node` off (idempotent).
    fn power_off(&self, node: &str) -> Result<(), String>;
    /// Powers `node` on (idempotent).
    fn power_on(&self, node: &str) -> Result<(), String>;
}

/// Carries out `request`; messages go to `out`/`err`; returns the exit status.
pub fn execute(
    request: &Request,
    power: &dyn Power,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let nodes = power.nodes();
    let target = request.plug.as_deref();
    if let Some(node) = target {
        if !nodes.iter().any(|n| n == node) {
            let _ = writeln!(err, "unknown node {node:?}; this lab has {nodes:?}");
            return EXIT_FAILED;
        }
    }
    let result = match (request.action, target) {
        (FenceAction::Metadata, _) => {
            let _ = out.write_all(METADATA.as_bytes());
            Ok(EXIT_OK)
        }
        (FenceAction::List, _) => {
            for n in &nodes {
                let _ = writeln!(out, "{n},");
            }
            Ok(EXIT_OK)
        }
        (FenceAction::ListStatus, _) => {
            for n in &nodes {
                let state = match power.is_on(n) {
                    Ok(true) => "on",
                    Ok(false) => "off",
                    Err(_) => "unknown",
                };
                let _ = writeln!(out, "{n},,{state}");
            }
            Ok(EXIT_OK)
        }
        (FenceAction::Monitor | FenceAction::ValidateAll, _) => {
            if nodes.is_empty() {
                Err("the lab has no nodes".to_owned())
            } else {
                Ok(EXIT_OK)
            }
        }
        (FenceAction::Status, Some(node)) => power.is_on(node).map(|on| {
            let _ = writeln!(out, "Status: {}", if on { "ON" } else { "OFF" });
            if on {
                EXIT_OK
            } else {
                EXIT_OFF
            }
        }),
        (FenceAction::Off, Some(node)) => power.power_off(node).map(|()| EXIT_OK),
        (FenceAction::On, Some(node)) => power.power_on(node).map(|()| EXIT_OK),
        (FenceAction::Reboot, Some(node)) => power
            .power_off(node)
            .and_then(|()| power.power_on(node))
            .map(|()| EXIT_OK),
        (_, None) => Err("no plug given".to_owned()),
    };
    match result {
        Ok(code) => {
            if request.action.needs_plug() && request.action != FenceAction::Status {
                let _ = writeln!(
                    out,
                    "Success: {:?} {}",
                    request.action,
                    target.unwrap_or("")
                );
            }
            code
        }
        Err(e) => {
            let _ = writeln!(err, "Failed: {e}");
            EXIT_FAILED
        }
    }
}

/// fence-agents meta-data, as `pacemaker-fenced` and `stonith_admin --metadata` read it.
pub const METADATA: &str = r#"<?xml version="1.0" ?>
<resource-agent name="fence_ganesha_lab" shortdesc="Fences a node of a ganesha-lab cluster in a box">
<longdesc>Powers a ganesha-lab node off by ending every process in its namespaces and cutting its link, and on by booting its daemons again (fresh /run, dbus-daemon, corosync, pacemakerd, ganesha.nfsd). For the lab only: it acts on network namespaces of this host.</longdesc>
<vendor-url>https://github.com/ganesha-ha</vendor-url>
<parameters>
	<parameter name="action" unique="0" required="1">
		<getopt mixed="-o, --action=[action]" />
		<content type="string" default="reboot"  />
		<shortdesc lang="en">Fencing action</shortdesc>
	</parameter>
	<parameter name="plug" unique="0" required="1" obsoletes="port">
		<getopt mixed="-n, --plug=[node]" />
		<content type="string"  />
		<shortdesc lang="en">Lab node name (node1, node2, ...)</shortdesc>
	</parameter>
	<parameter name="port" unique="0" required="0" deprecated="1">
		<getopt mixed="-n, --plug=[node]" />
		<content type="string"  />
		<shortdesc lang="en">Lab node name (node1, node2, ...)</shortdesc>
	</parameter>
	<parameter name="state_file" unique="0" required="1">
		<getopt mixed="--state-file=[path]" />
		<content type="string"  />
		<shortdesc lang="en">The lab's state file (ganesha-lab writes it; e.g. /var/lib/ganesha-lab/lab/state.json)</shortdesc>
	</parameter>
</parameters>
<actions>
	<action name="on" automatic="0"/>
	<action name="off" />
	<action name="reboot" />
	<action name="status" />
	<action name="list" />
	<action name="list-status" />
	<action name="monitor" />
	<action name="metadata" />
	<action name="validate-all" />
</actions>
</resource-agent>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct FakePower {
        on: RefCell<BTreeMap<String, bool>>,
        log: RefCell<Vec<String>>,
    }

    impl FakePower {
        fn with(nodes: &[&str]) -> FakePower {
            let p = FakePower::default();
            for n in nodes {
                p.on.borrow_mut().insert((*n).to_owned(), true);
            }
            p
        }
    }

    impl Power for FakePower {
        fn nodes(&self) -> Vec<String> {
            self.on.borrow().keys().cloned().collect()
        }
        fn is_on(&self, node: &str) -> Result<bool, String> {
            Ok(self.on.borrow().get(node).copied().unwrap_or(false))
        }
        fn power_off(&self, node: &str) -> Result<(), String> {
            self.log.borrow_mut().push(format!("off {node}"));
            self.on.borrow_mut().insert(node.to_owned(), false);
            Ok(())
        }
        fn power_on(&self, node: &str) -> Result<(), String> {
            self.log.borrow_mut().push(format!("on {node}"));
            self.on.borrow_mut().insert(node.to_owned(), true);
            Ok(())
        }
    }

    fn run(stdin: &str, power: &FakePower) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = match Request::from_params(parse_stdin(stdin)) {
            Ok(req) => execute(&req, power, &mut out, &mut err),
            Err(e) => {
                err.extend_from_slice(e.as_bytes());
                EXIT_FAILED
            }
        };
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn pacemaker_style_reboot_powers_off_then_on() {
        let p = FakePower::with(&["node1", "node2"]);
        let (code, _, _) = run(
            "action=reboot\nport=node1\nnodename=node1\nstate_file=/x\n",
            &p,
        );
        assert_eq!(code, EXIT_OK);
        assert_eq!(*p.log.borrow(), ["off node1", "on node1"]);
    }

    #[test]
    fn status_is_0_for_on_and_2_for_off() {
        let p = FakePower::with(&["node1"]);
        assert_eq!(run("action=status\nplug=node1\n", &p).0, EXIT_OK);
        assert_eq!(run("action=off\nplug=node1\n", &p).0, EXIT_OK);
        assert_eq!(run("action=status\nplug=node1\n", &p).0, EXIT_OFF);
        assert_eq!(run("option=on\nplug=node1\n", &p).0, EXIT_OK);
        assert_eq!(run("action=status\nnodename=node1\n", &p).0, EXIT_OK);
    }

    #[test]
    fn list_and_metadata() {
        let p = FakePower::with(&["node1", "node2"]);
        assert_eq!(
            run("action=list\n", &p),
            (EXIT_OK, "node1,\nnode2,\n".into(), String::new())
        );
        let (code, md, _) = run("action=metadata\n", &p);
        assert_eq!(code, EXIT_OK);
        assert!(md.contains("<action name=\"reboot\" />"));
    }

    #[test]
    fn unknown_nodes_actions_and_missing_plugs_fail() {
        let p = FakePower::with(&["node1"]);
        assert_eq!(run("action=off\nplug=node10\n", &p).0, EXIT_FAILED);
        assert_eq!(run("action=explode\nplug=node1\n", &p).0, EXIT_FAILED);
        assert_eq!(run("action=off\n", &p).0, EXIT_FAILED);
        assert!(p.log.borrow().is_empty());
    }

    #[test]
    fn getopt_arguments() {
        let args: Vec<String> = ["-o", "off", "-n", "node2", "--state-file=/tmp/s.json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let params = parse_args(&args).unwrap_or_default();
        assert_eq!(params.get("action").map(String::as_str), Some("off"));
        assert_eq!(params.get("plug").map(String::as_str), Some("node2"));
        assert_eq!(
            params.get("state_file").map(String::as_str),
            Some("/tmp/s.json")
        );
        assert!(parse_args(&["-x".to_string()]).is_err());
    }
}
