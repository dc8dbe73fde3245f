//! The `ganesha-ha` command line.
//!
//! `install-agents` puts the resource agents where Pacemaker finds them; `validate` checks a
//! `ganesha-ha.conf`; `setup --dry-run` writes the corosync.conf, authkey and CIB it would
//! apply; `status` reports the cluster's HA health from Pacemaker's XML. Exit status:
//! 0 success (HEALTHY), 1 error, 2 usage, 3 FAILOVER, 4 BAD.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

pub mod apply;
pub mod cib;
pub mod config;
pub mod corosync;
pub mod generate;
pub mod georep_cli;
pub mod install;
pub mod spec;
pub mod status;

/// Highly available NFS-Ganesha with Pacemaker/Corosync.
#[derive(Debug, Parser)]
#[command(name = "ganesha-ha", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install the OCF resource agents as ocf:ganesha:<agent>.
    InstallAgents {
        /// The OCF root Pacemaker uses.
        #[arg(long, default_value = "/usr/lib/ocf")]
        ocf_root: PathBuf,
        /// Where the built agent binaries are (default: next to this program).
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Check a ganesha-ha.conf: every problem with its line and a fix.
    Validate {
        /// The configuration file.
        #[arg(long, default_value = "/etc/ganesha/ganesha-ha.conf")]
        config: PathBuf,
    },
    /// Configure the cluster from the configuration: on a formed cluster (run on one of its
    /// nodes), merge the resources and constraints into the live CIB and wait until every
    /// resource runs. --dry-run writes corosync.conf, authkey and cib.xml into --output and
    /// changes nothing else.
    Setup {
        /// The configuration file.
        #[arg(long, default_value = "/etc/ganesha/ganesha-ha.conf")]
        config: PathBuf,
        /// Write the files instead of applying them.
        #[arg(long)]
        dry_run: bool,
        /// Where --dry-run writes.
        #[arg(long, value_name = "DIR", default_value = "ganesha-ha-setup")]
        output: PathBuf,
        /// Longest wait for every resource to start, in seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Remove this configuration's resources and constraints from the cluster and wait until
    /// they are stopped; other resources, ganesha's data and the state volume stay.
    Teardown {
        /// The configuration file.
        #[arg(long, default_value = "/etc/ganesha/ganesha-ha.conf")]
        config: PathBuf,
        /// Longest wait for the resources to stop, in seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// GlusterFS geo-replication sessions: create, start, stop, pause, resume, delete,
    /// config, status, checkpoint, exists, running.
    Georep(georep_cli::GeorepArgs),
    /// HEALTHY / FAILOVER / BAD, from crm_mon's XML, with each VIP's home and current node.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Read this crm_mon XML instead of running crm_mon (for support and tests).
        #[arg(long, value_name = "FILE")]
        crm_mon_xml: Option<PathBuf>,
    },
}

/// Exit status of `status` for each verdict.
fn verdict_code(verdict: status::Verdict) -> ExitCode {
    match verdict {
        status::Verdict::Healthy => ExitCode::SUCCESS,
        status::Verdict::Failover => ExitCode::from(3),
        status::Verdict::Bad => ExitCode::from(4),
    }
}

fn crm_mon_xml(file: Option<PathBuf>) -> Result<String, String> {
    match file {
        Some(f) => std::fs::read_to_string(&f).map_err(|e| format!("reading {}: {e}", f.display())),
        None => {
            let mut cmd = std::process::Command::new("crm_mon");
            cmd.args([
                "--one-shot",
                "--output-as=xml",
                "--show-node-attributes",
                "--inactive",
            ]);
            ocf::command::output(&mut cmd, Duration::from_secs(30))
                .map_err(|e| e.to_string())
                .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        }
    }
}

/// Runs the command line; errors are printed and become exit status 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Georep(args) = cli.command {
        return georep_cli::run(args);
    }
    if let Command::Status {
        json,
        crm_mon_xml: file,
    } = cli.command
    {
        let report = crm_mon_xml(file)
            .and_then(|xml| status::parse(&xml).map_err(|e| e.to_string()))
            .map(|state| status::assess(&state));
        return match report {
            Ok(report) => {
                if json {
                    println!("{}", report.to_json());
                } else {
                    print!("{}", report.render());
                }
                verdict_code(report.verdict)
            }
            Err(e) => {
                eprintln!("ganesha-ha status: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let result = match cli.command {
        Command::InstallAgents { ocf_root, from } => {
            let from = from.or_else(install::own_dir);
            match from {
                Some(from) => install::install_agents(&from, &ocf_root).map(|installed| {
                    for path in installed {
                        println!("installed {}", path.display());
                    }
                }),
                None => Err(install::InstallError::NoSource),
            }
        }
        Command::Status { .. } | Command::Georep(_) => Ok(()),
        Command::Teardown { config, timeout } => {
            let done = generate::load(&config).and_then(|spec| {
                apply::teardown(&spec, Duration::from_secs(timeout), &|line| {
                    println!("{line}")
                })
            });
            return match done {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprint!("{e}");
                    if !e.ends_with('\n') {
                        eprintln!();
                    }
                    ExitCode::FAILURE
                }
            };
        }
        Command::Validate { config } => {
            return match generate::load(&config) {
                Ok(spec) => {
                    println!(
                        "{}: valid; cluster {} with {} node(s)",
                        config.display(),
                        spec.name,
                        spec.nodes.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(errors) => {
                    eprint!("{errors}");
                    if !errors.ends_with('\n') {
                        eprintln!();
                    }
                    ExitCode::FAILURE
                }
            };
        }
        Command::Setup {
            config,
            dry_run,
            output,
            timeout,
        } => {
            let spec = match generate::load(&config) {
                Ok(spec) => spec,
                Err(e) => {
                    eprint!("{e}");
                    if !e.ends_with('\n') {
                        eprintln!();
                    }
                    return ExitCode::FAILURE;
                }
            };
            let done = if dry_run {
                generate::write_files(&spec, &output).map(|files| {
                    for f in files {
                        println!("wrote {}", f.display());
                    }
                })
            } else {
                apply::setup(&spec, Duration::from_secs(timeout), &|line| {
                    println!("{line}")
                })
                .map(drop)
            };
            return match done {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ganesha-ha setup: {e}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ganesha-ha: {e}");
            ExitCode::FAILURE
        }
    }
}
