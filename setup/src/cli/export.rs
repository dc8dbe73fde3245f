//! `ganesha-ha export add|remove|list` ([`crate::exports`]), and the per-node results that
//! it and `refresh-config` print.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::DEFAULT_CONFIG;
use crate::error::CliError;
use crate::exports::{self, NodeResult};
use crate::generate;

/// Manage NFS exports: one file per export with a unique Export_Id, included by every
/// node's ganesha.conf and added or removed live on every online node.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// The configuration file.
    #[arg(long, global = true, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

/// `export` subcommands.
#[derive(Debug, Subcommand)]
enum Action {
    /// Create an export and add it on every online node.
    Add {
        /// A name for it (letters, digits, '-', '_', '.').
        name: String,
        /// The directory (FSAL VFS; required without --volume) or, with --volume, a
        /// directory inside the volume (default: the whole volume).
        #[arg(long, required_unless_present = "volume")]
        path: Option<String>,
        /// The NFSv4 pseudo path (default: the export's Path: --path, or /VOLUME[/PATH]).
        #[arg(long)]
        pseudo: Option<String>,
        /// Serve this GlusterFS volume (FSAL GLUSTER, through each node's glusterd) instead
        /// of a local directory.
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

/// Runs one export action; 1 when a node failed it.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let spec =
        generate::load(&args.config).map_err(|e| CliError::from(e).context("ganesha-ha export"))?;
    match args.action {
        Action::Add {
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
            let (e, results) =
                exports::add(&spec, &new).map_err(|e| e.context("ganesha-ha export add"))?;
            println!(
                "export {} (Export_Id {}) {} -> {} in {}",
                e.name,
                e.id,
                e.pseudo,
                e.path,
                e.file.display()
            );
            Ok(node_results("add", &results, false))
        }
        Action::Remove { name } => {
            let (e, results) =
                exports::remove(&spec, &name).map_err(|e| e.context("ganesha-ha export remove"))?;
            println!("export {} (Export_Id {}) removed", e.name, e.id);
            Ok(node_results("remove", &results, false))
        }
        Action::List { json } => {
            let all = exports::list(&spec).map_err(|e| e.context("ganesha-ha export list"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
                return Ok(ExitCode::SUCCESS);
            }
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
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints each node's result of `what`; 0 when every node succeeded.
pub fn node_results(what: &str, results: &[NodeResult], json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(results).unwrap_or_default()
        );
    } else {
        print!("{}", render_results(what, results));
    }
    if results.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A table of per-node results.
fn render_results(what: &str, results: &[NodeResult]) -> String {
    let mut s = String::new();
    for r in results {
        let verdict = if r.ok { "ok" } else { "FAILED" };
        let _ = writeln!(s, "{:<16}{what}: {verdict}  {}", r.node, r.message);
    }
    s
}
