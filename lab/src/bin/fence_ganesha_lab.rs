//! `fence_ganesha_lab`: the lab's fencing device for Pacemaker (fence-agents API; see
//! `ganesha_lab::fence`). Pacemaker passes `name=value` lines on stdin; people may pass
//! `-o ACTION -n NODE --state-file PATH`.
//!
//! Powering a node on works like a boot: the machine is on when the agent returns, and its
//! cluster stack starts [`BOOT_TIME`] later, from a detached copy of this program
//! (`--boot-stack NODE STATE_FILE`), after Pacemaker has recorded the fencing.

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use ganesha_lab::fence::{self, Power, Request};
use ganesha_lab::{Lab, Node};

/// Lab nodes, powered through the lab's own operations. The lab is attached from its state
/// file; the handle never tears the lab down.
struct LabPower {
    lab: Lab,
}

impl LabPower {
    fn node(&self, name: &str) -> Result<&Node, String> {
        self.lab
            .node_by_name(name)
            .ok_or_else(|| format!("no node {name:?} in lab {}", self.lab.name()))
    }
}

impl Power for LabPower {
    fn nodes(&self) -> Vec<String> {
        self.lab
            .nodes()
            .iter()
            .map(|n| n.name().to_owned())
            .collect()
    }
    fn is_on(&self, node: &str) -> Result<bool, String> {
        self.node(node).map(Node::is_powered_on)
    }
    fn power_off(&self, node: &str) -> Result<(), String> {
        self.node(node)?.power_off().map_err(|e| e.to_string())
    }
    fn power_on(&self, node: &str) -> Result<(), String> {
        let n = self.node(node)?;
        n.power_on_booting().map_err(|e| e.to_string())?;
        if n.has_cluster_config() {
            boot_stack_later(node, &self.lab.state_file())?;
        }
        Ok(())
    }
}

/// How long after power-on a node's cluster stack starts.
const BOOT_TIME: Duration = Duration::from_secs(3);

/// Starts `--boot-stack` detached: own session, no stdio (Pacemaker's fencer waits for the
/// agent's pipes to close).
fn boot_stack_later(node: &str, state_file: &Path) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    Command::new("setsid")
        .arg(me)
        .arg("--boot-stack")
        .arg(node)
        .arg(state_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start {node}'s boot: {e}"))
}

/// The detached half: waits out the boot, then starts the stack unless the node was powered
/// off again meanwhile.
fn boot_stack(node: &str, state_file: &Path) -> ExitCode {
    std::thread::sleep(BOOT_TIME);
    let started = Lab::attach(state_file).and_then(|lab| match lab.node_by_name(node) {
        Some(n) if n.is_powered_on() => n.start_stack(),
        _ => Ok(()),
    });
    match started {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

/// A device without a lab (metadata, a wrong state_file): it knows no node.
struct NoLab;

impl Power for NoLab {
    fn nodes(&self) -> Vec<String> {
        Vec::new()
    }
    fn is_on(&self, _: &str) -> Result<bool, String> {
        Err("no lab".into())
    }
    fn power_off(&self, _: &str) -> Result<(), String> {
        Err("no lab".into())
    }
    fn power_on(&self, _: &str) -> Result<(), String> {
        Err("no lab".into())
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, node, state] = args.as_slice() {
        if flag == "--boot-stack" {
            return boot_stack(node, Path::new(state));
        }
    }
    let params = if args.is_empty() {
        let mut stdin = String::new();
        let _ = std::io::stdin().read_to_string(&mut stdin);
        fence::parse_stdin(&stdin)
    } else {
        match fence::parse_args(&args) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("fence_ganesha_lab: {e}");
                return ExitCode::from(1);
            }
        }
    };
    let request = match Request::from_params(params) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fence_ganesha_lab: {e}");
            return ExitCode::from(1);
        }
    };
    let power: Box<dyn Power> = if request.action == fence::FenceAction::Metadata {
        Box::new(NoLab)
    } else {
        let Some(state) = request.params.get("state_file") else {
            eprintln!("fence_ganesha_lab: parameter state_file (the lab's state file) is required");
            return ExitCode::from(1);
        };
        match Lab::attach(Path::new(state)) {
            Ok(lab) => Box::new(LabPower { lab }),
            Err(e) => {
                eprintln!("fence_ganesha_lab: cannot attach the lab from {state}: {e}");
                return ExitCode::from(1);
            }
        }
    };
    let code = fence::execute(
        &request,
        power.as_ref(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
