//! `ganesha-demo`: the built-in default of `scripts/setup`. Brings up a one-node
//! Pacemaker/Corosync lab in network namespaces, installs this project's agents there with
//! `ganesha-ha install-agents`, lets Pacemaker run ganesha_nfsd, ganesha_mon and
//! ganesha_grace (plus a VIP) with the configuration `ganesha-ha setup` writes
//! (`ganesha_ha::model::model`), reads a file over NFSv4 through the VIP, kills ganesha.nfsd
//! and times how the cluster recovers, then tears everything down. Run as root:
//! `ganesha-demo [--agents DIR]`.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ganesha_agents::names::GRACE_ACTIVE;
use ganesha_ha::apply;
use ganesha_ha::model::{model, vip_id};
use ganesha_lab::{
    ha_model, write_ganesha_conf, GaneshaConf, Lab, LabError, LabOptions, Node, GANESHA_PID_FILE,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let agents = match args.iter().position(|a| a == "--agents") {
        Some(i) => args.get(i + 1).map(PathBuf::from),
        None => std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf)),
    };
    let Some(agents) = agents else {
        eprintln!("usage: ganesha-demo [--agents DIR]");
        return ExitCode::from(2);
    };
    // Commands run inside the node with `/` as working directory.
    let agents = std::fs::canonicalize(&agents).unwrap_or(agents);
    match demo(&agents) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ganesha-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn step(text: &str) {
    println!("\n==> {text}");
}

fn text(out: std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn demo(agents: &Path) -> Result<(), LabError> {
    let cli = agents.join("ganesha-ha");
    if !cli.is_file() {
        return Err(LabError::Setup(format!(
            "{} not found; build first: cargo build --release --workspace",
            cli.display()
        )));
    }
    ganesha_lab::preflight()?;
    step("bringing up a one-node Pacemaker/Corosync cluster in network namespaces");
    let lab = Lab::up(LabOptions::default())?;
    let node = lab.node(0);
    println!(
        "    {} at {} (namespace {}), up in {:.1?}",
        node.name(),
        node.addr(),
        node.netns(),
        lab.startup_time()
    );

    step("installing the agents inside the node: ganesha-ha install-agents");
    let out = node.run(
        &cli,
        &["install-agents", "--from", &agents.display().to_string()],
    )?;
    print!("{}", text(out));

    let export = lab.shared_dir().join("export");
    std::fs::create_dir_all(&export).map_err(|e| io("creating the export", e))?;
    std::fs::write(export.join("hello.txt"), "served by ganesha-ha\n")
        .map_err(|e| io("writing hello.txt", e))?;
    let conf = node.dir().join("ganesha.conf");
    let recovery_root = node.dir().join("recovery");
    write_ganesha_conf(&conf, &GaneshaConf::new(&recovery_root, &export))
        .map_err(|e| io("writing ganesha.conf", e))?;

    step("configuring the resources (clones of the three agents, a VIP, the constraints)");
    let mut spec = ha_model::cluster_spec(&lab)?;
    // The demo's own ganesha.conf, and the recovery root it names.
    spec.ganesha.config = conf.display().to_string();
    spec.ganesha.recovery_root = recovery_root.display().to_string();
    let model = model(&spec);
    ha_model::load(node, &model)?;
    let resources = apply::primitive_ids(&model);
    let vip_resource = vip_id(node.name());
    let vip = spec
        .nodes
        .first()
        .map(|n| n.vip.ip())
        .ok_or_else(|| LabError::Setup("the lab has no node".into()))?;
    let grace_active = format!("name=\"{GRACE_ACTIVE}\" value=\"1\"");
    let started = Instant::now();
    wait(
        node,
        "every resource started",
        Duration::from_secs(90),
        |xml| resources.iter().all(|r| started_resource(xml, r)),
    )?;
    println!("    all started in {:.1?}", started.elapsed());
    print!(
        "{}",
        text(node.run(
            "crm_mon",
            &["--one-shot", "--show-node-attributes", "--inactive"]
        )?)
    );

    step(&format!("reading a file over NFSv4 through the VIP {vip}"));
    let url = format!("nfs://{vip}/export/hello.txt?version=4");
    print!("    {}", text(node.run("nfs-cat", &[&url])?));

    step("killing ganesha.nfsd (kill -9) and timing the recovery");
    let pid_file = node.host_path(GANESHA_PID_FILE);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .map_err(|e| io("reading the pid file", e))?
        .trim()
        .parse()
        .map_err(|_| LabError::Setup("bad pid file".into()))?;
    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .map_err(|e| LabError::Setup(format!("kill: {e}")))?;
    wait(
        node,
        &format!("{GRACE_ACTIVE} withdrawn or VIP stopped"),
        Duration::from_secs(30),
        |xml| !started_resource(xml, &vip_resource) || !xml.contains(&grace_active),
    )?;
    println!(
        "    {:>5.1?}  ganesha_mon withdrew {GRACE_ACTIVE}; the VIP left this node",
        killed.elapsed()
    );
    wait(
        node,
        "ganesha restarted and the VIP back",
        Duration::from_secs(90),
        |xml| resources.iter().all(|r| started_resource(xml, r)) && xml.contains(&grace_active),
    )?;
    println!(
        "    {:>5.1?}  Pacemaker restarted ganesha_nfsd, {GRACE_ACTIVE} is back, VIP started",
        killed.elapsed()
    );
    // The restarted server is in its grace period: opens get NFS4ERR_GRACE until it ends.
    let read = loop {
        match node.run_timeout("nfs-cat", &[&url], Duration::from_secs(10)) {
            Ok(out) => break text(out),
            Err(e) if killed.elapsed() < Duration::from_secs(90) => {
                if !e.to_string().contains("NFS4ERR_GRACE") {
                    println!(
                        "    (read failed, retrying: {})",
                        e.to_string().lines().last().unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(e),
        }
    };
    println!(
        "    {:>5.1?}  NFS read through the VIP works again (after the restarted server's grace period): {}",
        killed.elapsed(),
        read.trim()
    );

    step("tearing down (stops everything the lab started, removes its namespaces)");
    node.run(
        "crm_attribute",
        &[
            "--type",
            "crm_config",
            "--name",
            "stop-all-resources",
            "--update",
            "true",
        ],
    )?;
    let _ = wait(node, "resources stopped", Duration::from_secs(60), |xml| {
        !resources.iter().any(|r| started_resource(xml, r))
    });
    lab.down()?;
    println!("    done");
    Ok(())
}

fn io(what: &str, source: std::io::Error) -> LabError {
    LabError::Io {
        what: what.to_owned(),
        source,
    }
}

/// Polls `crm_mon --output-as=xml --show-node-attributes`-style status until `ok` holds.
fn wait(
    node: &Node,
    what: &str,
    bound: Duration,
    ok: impl Fn(&str) -> bool,
) -> Result<(), LabError> {
    let started = Instant::now();
    loop {
        let xml = node
            .run_timeout(
                "crm_mon",
                &["--one-shot", "--output-as=xml", "--show-node-attributes"],
                Duration::from_secs(10),
            )
            .map(text)
            .unwrap_or_default();
        if ok(&xml) {
            return Ok(());
        }
        if started.elapsed() > bound {
            return Err(LabError::Setup(format!(
                "{what}: not within {bound:?}\n{xml}"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether crm_mon's XML shows resource `id` started (clone instances share the id).
fn started_resource(xml: &str, id: &str) -> bool {
    let needle = format!("<resource id=\"{id}\"");
    xml.lines()
        .filter(|l| l.trim_start().starts_with(&needle))
        .any(|l| l.contains("role=\"Started\"") && !l.contains("failed=\"true\""))
}
