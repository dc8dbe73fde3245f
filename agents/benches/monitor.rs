//! Steady-state monitor cost of ganesha_mon and ganesha_grace, beside the glusterfs shell
//! agents measured on this machine kind (README.md, "Benchmark", has both sets of figures).
//!
//! `cargo bench -p ganesha-agents --bench monitor` (root): brings up a one-node lab cluster,
//! starts a real ganesha.nfsd through ganesha_nfsd, starts ganesha_mon and ganesha_grace,
//! then re-runs this program *inside* the node to time each monitor call there: wall time
//! per call, and CPU time (user + system, of the agent process) from
//! `getrusage(RUSAGE_CHILDREN)`. Figures are printed, not asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ganesha_agents::names::{GANESHA_PID_FILE, GRACE_AGENT, MON_AGENT, NFSD_AGENT};
use ganesha_lab::{write_ganesha_conf, GaneshaConf, Lab, LabOptions};
use ganesha_testkit::TestCommand;
use nix::sys::resource::{getrusage, UsageWho};

const CALLS: usize = 500;
const WARMUP: usize = 20;

/// One measured case: agent, description, reference wall ms, reference CPU ms, extra env.
type Case = (
    &'static str,
    &'static str,
    f64,
    f64,
    &'static [(&'static str, &'static str)],
);

const CASES: [Case; 3] = [
    (MON_AGENT, "monitor, ganesha alive", 48.0, 31.0, &[]),
    (GRACE_AGENT, "monitor", 43.0, 44.0, &[]),
    (
        MON_AGENT,
        "monitor, OCF_CHECK_LEVEL=10 (D-Bus)",
        f64::NAN,
        f64::NAN,
        &[("OCF_CHECK_LEVEL", "10")],
    ),
];

fn cpu_children() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap();
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(usage.user_time()) + tv(usage.system_time())
}

/// Inside the node: time `CALLS` runs of `agent monitor` with the inherited environment,
/// started and waited for directly so that only the agent's own cost is measured.
fn inner(agent: &str) {
    let run = || {
        let status = Command::new(agent)
            .arg("monitor")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0), "{agent} monitor failed");
    };
    for _ in 0..WARMUP {
        run();
    }
    let cpu_before = cpu_children();
    let mut walls = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        run();
        walls.push(t.elapsed());
    }
    let cpu = (cpu_children() - cpu_before) / CALLS as u32;
    walls.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean: Duration = walls.iter().sum::<Duration>() / CALLS as u32;
    println!(
        "{:.3} {:.3} {:.3} {:.3}",
        ms(walls[CALLS / 2]),
        ms(walls[CALLS * 95 / 100]),
        ms(mean),
        ms(cpu)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--inner") {
        inner(&args[i + 1]);
        return;
    }
    if nix::unistd::geteuid().as_raw() != 0 {
        eprintln!("monitor bench: needs root (it builds a cluster in namespaces); skipped");
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap_or_else(|e| panic!("lab up: {e}"));
    let node = lab.node(0);
    let export = lab.shared_dir().join("export");
    std::fs::create_dir_all(&export).unwrap();
    let recovery_root = node.dir().join("recovery");
    let conf = node.dir().join("ganesha.conf");
    write_ganesha_conf(&conf, &GaneshaConf::new(&recovery_root, &export)).unwrap();
    let agents = Path::new(env!("CARGO_BIN_EXE_ganesha_nfsd"))
        .parent()
        .unwrap()
        .to_path_buf();
    let base_env = |cmd: &mut Command| {
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RESKEY_CRM_meta_timeout", "20000")
            .env("OCF_RESKEY_CRM_meta_interval", "10000")
            .env("OCF_RESKEY_config", &conf)
            .env("OCF_RESKEY_pid_file", GANESHA_PID_FILE)
            .env("OCF_RESKEY_log_file", node.dir().join("ganesha.log"))
            .env("OCF_RESKEY_state_mount", lab.shared_dir())
            .env("OCF_RESKEY_recovery_root", &recovery_root);
    };
    for (agent, action) in [
        (NFSD_AGENT, "start"),
        (MON_AGENT, "start"),
        (GRACE_AGENT, "start"),
    ] {
        let mut cmd = node.command(agents.join(agent));
        cmd.arg(action);
        base_env(&mut cmd);
        TestCommand::new(cmd).run().expect_success();
    }

    println!("\nSteady-state monitor, one call, {CALLS} calls inside a one-node lab (real attrd, D-Bus, ganesha.nfsd 4.3), release build:\n");
    println!("| agent | action | wall median | wall p95 | wall mean | CPU mean | glusterfs shell agent (wall / CPU) | target |");
    println!("|---|---|---|---|---|---|---|---|");
    for (agent, what, ref_wall, ref_cpu, extra) in CASES {
        let mut cmd = node.command(std::env::current_exe().unwrap());
        cmd.args(["--inner", agents.join(agent).to_str().unwrap()]);
        base_env(&mut cmd);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let inner = TestCommand::new(cmd).run();
        inner.expect_success();
        let figures: Vec<f64> = inner
            .stdout()
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        let reference = if ref_wall.is_nan() {
            "n/a".to_string()
        } else {
            format!("{ref_wall:.0} ms / {ref_cpu:.0} ms")
        };
        let target = if ref_wall.is_nan() {
            "-"
        } else {
            "<= 5 ms / <= 3 ms"
        };
        println!(
            "| {agent} | {what} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {reference} | {target} |",
            figures[0], figures[1], figures[2], figures[3]
        );
    }
    let mut stop = node.command(agents.join(NFSD_AGENT));
    stop.arg("stop");
    base_env(&mut stop);
    let _ = TestCommand::new(stop).try_run();
    let _ = lab.down();
}
