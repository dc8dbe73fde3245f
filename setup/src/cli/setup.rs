//! `ganesha-ha setup`: form the cluster if needed and apply the configuration
//! ([`crate::apply`]), or with `--dry-run` write the files it would apply
//! ([`crate::generate`]).

use std::path::PathBuf;
use std::process::ExitCode;

use super::budget::Budget;
use super::{progress, DEFAULT_CONFIG};
use crate::error::CliError;
use crate::{apply, generate, transport};

/// Configure the cluster from the configuration: on a formed cluster (run on one of its
/// nodes), merge the resources and constraints into the live CIB and wait until every
/// resource runs. --dry-run writes corosync.conf, authkey and cib.xml into --output and
/// changes nothing else.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long, default_value = DEFAULT_CONFIG)]
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
}

/// Configuration problems read as `validate` prints them; other failures are prefixed with
/// the command.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let spec = generate::load(&args.config)?;
    let done = if args.dry_run {
        generate::write_files(&spec, &args.output).map(|files| {
            for f in files {
                println!("wrote {}", f.display());
            }
        })
    } else {
        let budget = Budget::seconds(args.timeout);
        let transport = transport::for_spec(&spec);
        apply::setup(&spec, transport.as_ref(), budget.deadline(), &progress)
            .map(drop)
            .map_err(|e| budget.judge(e))
    };
    done.map_err(|e| e.context("ganesha-ha setup"))?;
    Ok(ExitCode::SUCCESS)
}
