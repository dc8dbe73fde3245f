//! The `ganesha-ha` command line.
//!
//! Today it installs the resource agents where Pacemaker finds them; cluster setup,
//! teardown, node management and exports follow in later issues.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod install;

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
}

/// Runs the command line; errors are printed and become exit status 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ganesha-ha: {e}");
            ExitCode::FAILURE
        }
    }
}
