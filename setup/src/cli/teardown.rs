//! `ganesha-ha teardown` ([`crate::apply::teardown`]).

use std::path::PathBuf;
use std::process::ExitCode;

use super::budget::Budget;
use super::{progress, DEFAULT_CONFIG};
use crate::error::CliError;
use crate::{apply, generate, transport};

/// Remove this configuration's resources and constraints from the cluster and wait until
/// they are stopped; other resources, ganesha's data and the state volume stay.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Longest wait for the resources to stop, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Removes what setup applied; its failures read without a prefix.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let budget = Budget::seconds(args.timeout);
    let spec = generate::load(&args.config)?;
    let transport = transport::for_spec(&spec);
    apply::teardown(&spec, transport.as_ref(), budget.deadline(), &progress)
        .map_err(|e| budget.judge(e))?;
    Ok(ExitCode::SUCCESS)
}
