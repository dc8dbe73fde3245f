//! `ganesha-ha node-export` (hidden): the half of `export` and `refresh-config` that runs on
//! each node ([`crate::exports::node_call`]). Its stdout or its bare error is that node's
//! message in their results.

use std::process::ExitCode;

use crate::error::CliError;
use crate::exports;

/// One ExportMgr D-Bus call on this node (what export and refresh-config run on each node):
/// add FILE ID | update FILE ID | remove ID.
#[derive(Debug, clap::Args)]
pub struct Args {
    action: String,
    args: Vec<String>,
}

/// Makes the call and prints ganesha's answer.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let message = exports::node_call(&args.action, &args.args)?;
    println!("{message}");
    Ok(ExitCode::SUCCESS)
}
