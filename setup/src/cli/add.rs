//! `ganesha-ha add` ([`crate::membership::add`]).

use std::path::PathBuf;
use std::process::ExitCode;

use super::budget::Budget;
use super::{progress, DEFAULT_CONFIG};
use crate::error::CliError;
use crate::membership;

/// Add a node to the live cluster and to the configuration: corosync membership, its VIP
/// and constraints; the other nodes' resources keep running.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The new node's name (its Pacemaker/host name).
    node: String,
    /// Its VIP, with an optional prefix (e.g. 192.0.2.104/24).
    vip: String,
    /// Its Corosync ring address (default: the name resolves to it).
    #[arg(long)]
    addr: Option<String>,
    /// The configuration file (rewritten once the node is in).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Longest wait for the cluster and the resources, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Adds the node; failures are prefixed with the command.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let budget = Budget::seconds(args.timeout);
    membership::add(
        &args.config,
        &args.node,
        &args.vip,
        args.addr.as_deref(),
        budget.deadline(),
        &progress,
    )
    .map_err(|e| budget.judge(e).context("ganesha-ha add"))?;
    Ok(ExitCode::SUCCESS)
}
