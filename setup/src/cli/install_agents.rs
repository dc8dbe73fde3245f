//! `ganesha-ha install-agents`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::error::CliError;
use crate::install::{self, InstallError};

/// Install the OCF resource agents as ocf:ganesha:<agent>.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The OCF root Pacemaker uses.
    #[arg(long, default_value = "/usr/lib/ocf")]
    ocf_root: PathBuf,
    /// Where the built agent binaries are (default: next to this program).
    #[arg(long)]
    from: Option<PathBuf>,
}

/// Copies the agents and names each installed file.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let installed = args
        .from
        .or_else(install::own_dir)
        .ok_or(InstallError::NoSource)
        .and_then(|from| install::install_agents(&from, &args.ocf_root))
        .map_err(|e| CliError::from(e).context("ganesha-ha"))?;
    for path in installed {
        println!("installed {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
