//! `ganesha-ha site`: disaster recovery between two sites (docs/sites.md), on the library
//! in `setup/src/site/`: `setup`, `status`, `failover`, `failback start|status|commit`.
//!
//! Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage; `status` exits
//! 3 when desired and actual state drift. `--timeout` bounds the whole command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde_json::json;

use super::budget::Budget;
use super::progress;
use crate::config::sites;
use crate::error::CliError;
use crate::site::ops::{Done, Site};
use crate::site::runner::RealRunner;
use crate::site::setup;
use crate::site::spec::{SitesSpec, DEFAULT_SITES_CONFIG};
use crate::transport;
use georep::time;

/// Exit status of `status` when desired and actual state differ.
const DRIFT: u8 = 3;

/// Two sites, one owner per volume pair: booth tickets, promotable georep_monitor clones,
/// failover and failback.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sites configuration.
    #[arg(long, global = true, default_value = DEFAULT_SITES_CONFIG)]
    config: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Longest time for the whole command, in seconds.
    #[arg(long, global = true, default_value_t = 600)]
    timeout: u64,
    #[command(subcommand)]
    command: SiteCommand,
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Write booth.conf and the booth key, and merge booth-site, the georep clones and
    /// their tickets into the live CIB (run at each site).
    Setup {
        /// Write booth.conf and site-cib.xml into --output and change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_name = "DIR", default_value = "ganesha-ha-site")]
        output: PathBuf,
        /// Install this booth key (the other site's) instead of generating one.
        #[arg(long, value_name = "FILE")]
        booth_key: Option<PathBuf>,
        /// The sites configuration (instead of --config).
        file: Option<PathBuf>,
    },
    /// The ticket, each node's role, the session and its lag, repl_state, and drift.
    Status { volume: String },
    /// Take the pair over here: refuses a stale copy unless --force.
    Failover {
        volume: String,
        /// Take over even when repl_state is not ACTIVE (writes may be lost).
        #[arg(long)]
        force: bool,
    },
    /// Move the pair back to its original owner.
    Failback {
        #[command(subcommand)]
        phase: Phase,
    },
}

#[derive(Debug, Subcommand)]
enum Phase {
    /// Make the returned old owner a target: reverse session, recover mode, checkpoint.
    Start { volume: String },
    /// Sync in progress / Sync completed, lag and pending counts.
    Status { volume: String },
    /// Read-only here, marker, checkpoint, ticket back, reverse session removed.
    Commit { volume: String },
}

fn runner(spec: &SitesSpec) -> RealRunner {
    RealRunner {
        prefix: Vec::new(),
        transport: transport::for_kind(&spec.other_transport, &spec.ssh),
    }
}

/// Runs `ganesha-ha site ...`.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let budget = Budget::seconds(args.timeout);
    let json = args.json;
    let done = execute(args, &budget).map_err(|e| budget.judge(e));
    match done {
        Ok(code) => Ok(ExitCode::from(code)),
        Err(e) => {
            if json {
                println!("{}", json!({ "error": e.to_string() }));
            }
            Err(e.context("ganesha-ha site"))
        }
    }
}

fn print_done(done: &Done, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(done).unwrap_or_default());
    } else {
        for w in &done.warnings {
            eprintln!("warning: {w}");
        }
    }
}

fn execute(args: Args, budget: &Budget) -> Result<u8, CliError> {
    let json = args.json;
    let quiet = |_: &str| {};
    // Each step with the time since the command began: a phase's slow step (the checkpoint
    // wait, the ticket's move) shows itself.
    let started = Instant::now();
    let timed = |line: &str| {
        progress(&format!(
            "[{:>5.1}s] {line}",
            started.elapsed().as_secs_f64()
        ))
    };
    let report: &dyn Fn(&str) = if json { &quiet } else { &timed };
    if let SiteCommand::Setup {
        dry_run,
        output,
        booth_key,
        file,
    } = &args.command
    {
        let path = file.clone().unwrap_or_else(|| args.config.clone());
        let spec = sites::load(&path)?;
        if *dry_run {
            for f in setup::dry_run(&spec, output)? {
                println!("wrote {}", f.display());
            }
            return Ok(0);
        }
        let runner = runner(&spec);
        let done = setup::setup(&spec, booth_key.as_deref(), &runner, budget.deadline())?;
        if json {
            println!(
                "{}",
                json!({ "lines": done.lines, "cib_changed": done.cib_changed })
            );
        } else {
            for l in &done.lines {
                println!("{l}");
            }
        }
        return Ok(0);
    }
    let spec = sites::load(&args.config)?;
    let runner = runner(&spec);
    let site = Site {
        spec: &spec,
        runner: &runner,
        deadline: budget.deadline(),
        poll: Duration::from_secs(1),
        now: time::now,
        progress: report,
    };
    match args.command {
        SiteCommand::Setup { .. } => Ok(0),
        SiteCommand::Status { volume } => {
            let s = site.status(&volume)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            } else {
                print!("{}", render_status(&s));
            }
            Ok(if s.drift.is_empty() { 0 } else { DRIFT })
        }
        SiteCommand::Failover { volume, force } => {
            let done = site.failover(&volume, force)?;
            print_done(&done, json);
            Ok(0)
        }
        SiteCommand::Failback { phase } => {
            let done = match phase {
                Phase::Start { volume } => site.failback_start(&volume)?,
                Phase::Commit { volume } => site.failback_commit(&volume)?,
                Phase::Status { volume } => {
                    let s = site.failback_status(&volume)?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
                    } else {
                        println!(
                            "{}: {} (session {}, lag {}, pending entry {} data {} meta {})",
                            s.volume,
                            s.state,
                            s.session,
                            s.lag.map_or("unknown".into(), |l| format!("{l}s")),
                            s.entry_pending,
                            s.data_pending,
                            s.meta_pending
                        );
                    }
                    return Ok(0);
                }
            };
            print_done(&done, json);
            Ok(0)
        }
    }
}

/// `site status` as text.
pub fn render_status(s: &crate::site::ops::PairStatus) -> String {
    let mut out = format!(
        "{} at {}: {} {}\n",
        s.volume,
        s.site,
        s.ticket,
        if s.granted_here {
            "granted here".to_owned()
        } else {
            format!(
                "not granted here (booth leader: {})",
                s.leader.as_deref().unwrap_or("none")
            )
        }
    );
    for r in &s.roles {
        out.push_str(&format!("  {}: {}\n", r.node, r.role));
    }
    out.push_str(&format!(
        "  volume: {}\n",
        match s.read_only {
            Some(true) => "read-only",
            Some(false) => "writable",
            None => "unknown",
        }
    ));
    out.push_str(&format!(
        "  session: {}{}\n",
        s.session.as_deref().unwrap_or("none"),
        s.lag.map(|l| format!(", lag {l}s")).unwrap_or_default()
    ));
    out.push_str(&format!(
        "  repl_state: {}{}\n",
        s.repl_state.as_deref().unwrap_or("not set"),
        s.last_synced
            .map(|t| format!(", last synced {}", time::format_utc(t)))
            .unwrap_or_default()
    ));
    for d in &s.drift {
        out.push_str(&format!("  DRIFT: {d}\n"));
    }
    out
}
