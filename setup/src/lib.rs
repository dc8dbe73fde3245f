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
pub mod exports;
pub mod form;
pub mod generate;
pub mod georep_cli;
pub mod install;
pub mod membership;
pub mod spec;
pub mod status;
pub mod transport;

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
    /// Add a node to the live cluster and to the configuration: corosync membership, its
    /// VIP and constraints; the other nodes' resources keep running.
    Add {
        /// The new node's name (its Pacemaker/host name).
        node: String,
        /// Its VIP, with an optional prefix (e.g. 192.0.2.104/24).
        vip: String,
        /// Its Corosync ring address (default: the name resolves to it).
        #[arg(long)]
        addr: Option<String>,
        /// The configuration file (rewritten once the node is in).
        #[arg(long, default_value = "/etc/ganesha/ganesha-ha.conf")]
        config: PathBuf,
        /// Longest wait for the cluster and the resources, in seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Delete a node from the live cluster and the configuration; its NFSv4 recovery state
    /// on the shared volume stays unless --purge.
    Delete {
        /// The node to delete (run this on another node).
        node: String,
        /// Also remove its recovery directory from the shared state volume.
        #[arg(long)]
        purge: bool,
        /// The configuration file (rewritten once the node is out).
        #[arg(long, default_value = "/etc/ganesha/ganesha-ha.conf")]
        config: PathBuf,
        /// Longest wait for the cluster and the resources, in seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Manage NFS exports: one file per export with a unique Export_Id, included by every
    /// node's ganesha.conf and added or removed live on every online node.
    Export {
        #[command(subcommand)]
        action: ExportAction,
        /// The configuration file.
        #[arg(long, global = true, default_value = "/etc/ganesha/ganesha-ha.conf")]
        config: PathBuf,
    },
    /// Re-read an export's block on every online node (D-Bus UpdateExport), reporting each
    /// node's result; exit 1 when any node failed.
    RefreshConfig {
        /// The export's name or Export_Id.
        export: String,
        /// The configuration file.
        #[arg(long, default_value = "/etc/ganesha/ganesha-ha.conf")]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One ExportMgr D-Bus call on this node (what export and refresh-config run on each
    /// node): add FILE ID | update FILE ID | remove ID.
    #[command(hide = true)]
    NodeExport { action: String, args: Vec<String> },
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

/// `export` subcommands.
#[derive(Debug, Subcommand)]
enum ExportAction {
    /// Create an export and add it on every online node.
    Add {
        /// A name for it (letters, digits, '-', '_', '.').
        name: String,
        /// The directory (FSAL VFS) or, with --volume, the path inside the volume.
        #[arg(long)]
        path: String,
        /// The NFSv4 pseudo path (default: the same as --path).
        #[arg(long)]
        pseudo: Option<String>,
        /// Serve this GlusterFS volume (FSAL GLUSTER) instead of a local directory.
        #[arg(long)]
        volume: Option<String>,
        /// The Export_Id (default: the next free one).
        #[arg(long)]
        id: Option<u16>,
        /// Read-only access.
        #[arg(long)]
        read_only: bool,
    },
    /// Remove an export from every online node, and its file.
    Remove {
        /// The export's name or Export_Id.
        name: String,
    },
    /// The exports ganesha-ha manages.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Prints per-node results; 0 when every node succeeded.
fn node_results(what: &str, results: &[exports::NodeResult], json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(results).unwrap_or_default()
        );
    } else {
        print!("{}", exports::render_results(what, results));
    }
    if results.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn export_command(action: ExportAction, config: &std::path::Path) -> ExitCode {
    let spec = match generate::load(config) {
        Ok(spec) => spec,
        Err(e) => return report("export", Err(e)),
    };
    match action {
        ExportAction::Add {
            name,
            path,
            pseudo,
            volume,
            id,
            read_only,
        } => {
            let new = exports::NewExport {
                name,
                id,
                path,
                pseudo,
                volume,
                read_only,
            };
            match exports::add(&spec, &new) {
                Ok((e, results)) => {
                    println!(
                        "export {} (Export_Id {}) {} -> {} in {}",
                        e.name,
                        e.id,
                        e.pseudo,
                        e.path,
                        e.file.display()
                    );
                    node_results("add", &results, false)
                }
                Err(e) => report("export add", Err(e)),
            }
        }
        ExportAction::Remove { name } => match exports::remove(&spec, &name) {
            Ok((e, results)) => {
                println!("export {} (Export_Id {}) removed", e.name, e.id);
                node_results("remove", &results, false)
            }
            Err(e) => report("export remove", Err(e)),
        },
        ExportAction::List { json } => match exports::list(&spec) {
            Ok(all) if json => {
                println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
                ExitCode::SUCCESS
            }
            Ok(all) => {
                println!(
                    "{:<16}{:>9}  {:<24}{:<32}FILE",
                    "NAME", "EXPORT_ID", "PSEUDO", "PATH"
                );
                for e in all {
                    println!(
                        "{:<16}{:>9}  {:<24}{:<32}{}",
                        e.name,
                        e.id,
                        e.pseudo,
                        e.path,
                        e.file.display()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => report("export list", Err(e)),
        },
    }
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

/// Exit status 0, or the error on stderr and 1.
fn report(command: &str, done: Result<(), String>) -> ExitCode {
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ganesha-ha {command}: {}", e.trim_end());
            ExitCode::FAILURE
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
        Command::Export { action, config } => return export_command(action, &config),
        Command::RefreshConfig {
            export,
            config,
            json,
        } => {
            let spec = match generate::load(&config) {
                Ok(spec) => spec,
                Err(e) => return report("refresh-config", Err(e)),
            };
            return match exports::refresh(&spec, &export) {
                Ok((_, results)) => node_results("UpdateExport", &results, json),
                Err(e) => report("refresh-config", Err(e)),
            };
        }
        Command::NodeExport { action, args } => {
            return match exports::node_call(&action, &args) {
                Ok(message) => {
                    println!("{message}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Add {
            node,
            vip,
            addr,
            config,
            timeout,
        } => {
            let done = membership::add(
                &config,
                &node,
                &vip,
                addr.as_deref(),
                Duration::from_secs(timeout),
                &|line| println!("{line}"),
            );
            return report("add", done);
        }
        Command::Delete {
            node,
            purge,
            config,
            timeout,
        } => {
            let done = membership::delete(
                &config,
                &node,
                purge,
                Duration::from_secs(timeout),
                &|line| println!("{line}"),
            );
            return report("delete", done);
        }
        Command::Teardown { config, timeout } => {
            let done = generate::load(&config).and_then(|spec| {
                let transport = transport::for_spec(&spec);
                apply::teardown(
                    &spec,
                    transport.as_ref(),
                    Duration::from_secs(timeout),
                    &|line| println!("{line}"),
                )
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
                let transport = transport::for_spec(&spec);
                apply::setup(
                    &spec,
                    transport.as_ref(),
                    Duration::from_secs(timeout),
                    &|line| println!("{line}"),
                )
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
