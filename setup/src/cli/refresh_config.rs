//! `ganesha-ha refresh-config` ([`crate::exports::refresh`]).

use std::path::PathBuf;
use std::process::ExitCode;

use super::export::node_results;
use super::DEFAULT_CONFIG;
use crate::error::CliError;
use crate::{exports, generate};

/// Re-read an export's block on every online node (D-Bus UpdateExport), reporting each
/// node's result; exit 1 when any node failed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export's name or Export_Id.
    export: String,
    /// The configuration file.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// UpdateExport on every online node; 1 when a node failed it.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let context = "ganesha-ha refresh-config";
    let spec = generate::load(&args.config).map_err(|e| CliError::from(e).context(context))?;
    let (_, results) = exports::refresh(&spec, &args.export).map_err(|e| e.context(context))?;
    Ok(node_results("UpdateExport", &results, args.json))
}
