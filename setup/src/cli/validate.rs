//! `ganesha-ha validate`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::DEFAULT_CONFIG;
use crate::error::CliError;
use crate::generate;

/// Check a ganesha-ha.conf: every problem with its line and a fix.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

/// Loads the configuration; its problems are the error, each starting with the file.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let spec = generate::load(&args.config)?;
    println!(
        "{}: valid; cluster {} with {} node(s)",
        args.config.display(),
        spec.name,
        spec.nodes.len()
    );
    Ok(ExitCode::SUCCESS)
}
