//! `ganesha-ha status`: the verdict of [`crate::status`] as a table or JSON, and as the
//! exit status.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use crate::error::CliError;
use crate::status::{self, Verdict};

/// Bound on crm_mon.
const CRM_MON_LIMIT: Duration = Duration::from_secs(30);

/// HEALTHY / FAILOVER / BAD, from crm_mon's XML, with each VIP's home and current node.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Read this crm_mon XML instead of running crm_mon (for support and tests).
    #[arg(long, value_name = "FILE")]
    crm_mon_xml: Option<PathBuf>,
}

/// Prints the report; 0, 3 or 4 for HEALTHY, FAILOVER or BAD.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let report = crm_mon_xml(args.crm_mon_xml)
        .and_then(|xml| Ok(status::assess(&status::parse(&xml)?)))
        .map_err(|e| e.context("ganesha-ha status"))?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render());
    }
    Ok(verdict_code(report.verdict))
}

/// Exit status of `status` for each verdict.
fn verdict_code(verdict: Verdict) -> ExitCode {
    match verdict {
        Verdict::Healthy => ExitCode::SUCCESS,
        Verdict::Failover => ExitCode::from(3),
        Verdict::Bad => ExitCode::from(4),
    }
}

/// `file`'s text, or crm_mon's XML when there is no file.
fn crm_mon_xml(file: Option<PathBuf>) -> Result<String, CliError> {
    match file {
        Some(f) => std::fs::read_to_string(&f)
            .map_err(|e| CliError::io(format!("reading {}", f.display()), e)),
        None => {
            let mut cmd = Command::new("crm_mon");
            cmd.args([
                "--one-shot",
                "--output-as=xml",
                "--show-node-attributes",
                "--inactive",
            ]);
            let out = ocf::command::output(&mut cmd, CRM_MON_LIMIT)?;
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        }
    }
}
