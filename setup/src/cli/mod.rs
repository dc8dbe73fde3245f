//! The `ganesha-ha` command line: one module per subcommand, each with its arguments, its
//! `run` and its output; failures are [`CliError`]s, printed here once.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;

mod add;
mod budget;
mod delete;
mod export;
mod georep;
mod install_agents;
mod node_export;
mod refresh_config;
mod setup;
mod site;
mod status;
mod teardown;
mod validate;

/// Where every subcommand reads the configuration unless `--config` says otherwise.
const DEFAULT_CONFIG: &str = "/etc/ganesha/ganesha-ha.conf";

/// Highly available NFS-Ganesha with Pacemaker/Corosync.
#[derive(Debug, Parser)]
#[command(name = "ganesha-ha", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    InstallAgents(install_agents::Args),
    Validate(validate::Args),
    Setup(setup::Args),
    Teardown(teardown::Args),
    Add(add::Args),
    Delete(delete::Args),
    Export(export::Args),
    RefreshConfig(refresh_config::Args),
    #[command(hide = true)]
    NodeExport(node_export::Args),
    Georep(georep::Args),
    Site(site::Args),
    Status(status::Args),
}

/// Runs the command line: the command's exit status, or its error on stderr and the
/// status [`CliError::exit_code`] gives it.
pub fn main() -> ExitCode {
    let done = match Cli::parse().command {
        Command::InstallAgents(args) => install_agents::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Setup(args) => setup::run(args),
        Command::Teardown(args) => teardown::run(args),
        Command::Add(args) => add::run(args),
        Command::Delete(args) => delete::run(args),
        Command::Export(args) => export::run(args),
        Command::RefreshConfig(args) => refresh_config::run(args),
        Command::NodeExport(args) => node_export::run(args),
        Command::Georep(args) => georep::run(args),
        Command::Site(args) => site::run(args),
        Command::Status(args) => status::run(args),
    };
    done.unwrap_or_else(|e: CliError| {
        eprintln!("{}", e.to_string().trim_end());
        ExitCode::from(e.exit_code())
    })
}

/// Prints a progress line of a long command.
fn progress(line: &str) {
    println!("{line}");
}
