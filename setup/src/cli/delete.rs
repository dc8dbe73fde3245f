//! `ganesha-ha delete` ([`crate::membership::delete`]).

use std::path::PathBuf;
use std::process::ExitCode;

use super::budget::Budget;
use super::{progress, DEFAULT_CONFIG};
use crate::error::CliError;
use crate::membership;

/// Delete a node from the live cluster and the configuration; its NFSv4 recovery state on
/// the shared volume stays unless --purge.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node to delete (run this on another node).
    node: String,
    /// Also remove its recovery directory from the shared state volume.
    #[arg(long)]
    purge: bool,
    /// The configuration file (rewritten once the node is out).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Longest wait for the cluster and the resources, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Deletes the node; failures are prefixed with the command.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let budget = Budget::seconds(args.timeout);
    membership::delete(
        &args.config,
        &args.node,
        args.purge,
        budget.deadline(),
        &progress,
    )
    .map_err(|e| budget.judge(e).context("ganesha-ha delete"))?;
    Ok(ExitCode::SUCCESS)
}
