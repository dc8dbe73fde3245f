//! `ganesha-ha georep`: GlusterFS geo-replication sessions over the gluster CLI (the
//! `georep` crate).
//!
//! Exit status: 0 success (for `exists`/`running`: yes), 1 no (`exists`/`running`), 2
//! usage, 3 refused before calling gluster (unknown config key, bad value, bad secondary),
//! 4 gluster or another error, 5 a wait timed out (the errors' statuses are decided in
//! [`CliError::exit_code`]).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use ::georep::{CommandRunner, CreateOptions, Error, Gluster, Outcome, Secondary, Session};
use clap::Subcommand;
use serde_json::json;

use crate::error::CliError;

/// Exit status for "no" from `exists` and `running`.
const NO: u8 = 1;

/// GlusterFS geo-replication sessions: create, start, stop, pause, resume, delete, config,
/// status, checkpoint, exists, running.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gluster program to run.
    #[arg(long, global = true, value_name = "PATH", default_value = "gluster")]
    gluster: String,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Longest time for each gluster call, in seconds.
    #[arg(long, global = true, default_value_t = 120)]
    call_timeout: u64,
    #[command(subcommand)]
    command: GeorepCommand,
}

/// A session: `PRIMARY_VOL [USER@]HOST::SECONDARY_VOL`.
#[derive(Debug, clap::Args)]
struct SessionArgs {
    /// The primary volume.
    primary: String,
    /// The secondary: [USER@]HOST::VOLUME.
    secondary: String,
}

#[derive(Debug, Subcommand)]
enum GeorepCommand {
    /// Create a session (with --push-pem: generate and distribute the keys, wait for them).
    Create {
        #[command(flatten)]
        session: SessionArgs,
        /// Generate the keys (gsec_create) and install them on the secondary.
        #[arg(long)]
        push_pem: bool,
        /// Skip gluster's pre-create checks.
        #[arg(long, conflicts_with = "push_pem")]
        no_verify: bool,
        /// The secondary's ssh port (also stored in the session config).
        #[arg(long)]
        ssh_port: Option<u16>,
        #[arg(long)]
        force: bool,
    },
    /// Start the session and check that its monitor came up.
    Start {
        #[command(flatten)]
        session: SessionArgs,
        #[arg(long)]
        force: bool,
        /// Refuse to start when the secondary's rsync syncs empty files, instead of
        /// switching the session to tarssh.
        #[arg(long)]
        refuse_broken_rsync: bool,
    },
    /// Stop the session (--force: also when peers are down or it is not running).
    Stop {
        #[command(flatten)]
        session: SessionArgs,
        #[arg(long)]
        force: bool,
    },
    /// Pause the session's workers.
    Pause {
        #[command(flatten)]
        session: SessionArgs,
        #[arg(long)]
        force: bool,
    },
    /// Resume a paused session.
    Resume {
        #[command(flatten)]
        session: SessionArgs,
        #[arg(long)]
        force: bool,
    },
    /// Delete a stopped session.
    Delete {
        #[command(flatten)]
        session: SessionArgs,
        /// Forget the sync time, so that a new session resyncs everything.
        #[arg(long)]
        reset_sync_time: bool,
    },
    /// List the config, get one KEY, set KEY VALUE, or --reset KEY to its default.
    Config {
        #[command(flatten)]
        session: SessionArgs,
        /// An option name (`-` or `_` spelling).
        key: Option<String>,
        /// The new value.
        value: Option<String>,
        /// Reset KEY to gluster's default.
        #[arg(long, requires = "key", conflicts_with = "value")]
        reset: bool,
    },
    /// The status of all sessions, one primary volume's, or one session: the roll-up and
    /// each brick.
    Status {
        primary: Option<String>,
        secondary: Option<String>,
    },
    /// Set a checkpoint now; with --wait, wait until every Active worker has completed it.
    Checkpoint {
        #[command(flatten)]
        session: SessionArgs,
        #[arg(long)]
        wait: bool,
        /// Longest wait, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// A path on a primary volume mount to touch while waiting: a checkpoint completes
        /// only after a later change is synced.
        #[arg(long, value_name = "PATH")]
        touch: Option<String>,
    },
    /// Exit 0 when the session exists, 1 when it does not.
    Exists {
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Exit 0 when the session's workers run, 1 when not (Created, Stopped, Paused, absent).
    Running {
        #[command(flatten)]
        session: SessionArgs,
    },
}

/// Runs `ganesha-ha georep ...`; with `--json` an error is also printed as JSON on stdout.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let mut gluster = Gluster::new(CommandRunner::default().with_gluster(args.gluster.clone()));
    gluster.timeout = Duration::from_secs(args.call_timeout);
    match execute(&mut gluster, args.command, args.json) {
        Ok(code) => Ok(ExitCode::from(code)),
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    json!({ "error": e.to_string(), "gluster_message": e.gluster_message() })
                );
            }
            Err(CliError::from(e).context("ganesha-ha georep"))
        }
    }
}

fn parse(session: &SessionArgs) -> Result<(String, Secondary), Error> {
    ::georep::model::check_volume_name(&session.primary)?;
    Ok((
        session.primary.clone(),
        Secondary::parse(&session.secondary)?,
    ))
}

fn print_outcome(what: &str, outcome: &Outcome, json: bool) {
    if json {
        println!(
            "{}",
            json!({ "ok": true, "action": what, "notes": outcome.notes })
        );
    } else {
        for note in &outcome.notes {
            eprintln!("warning: {note}");
        }
        println!("{what}: done");
    }
}

fn execute(g: &mut Gluster, command: GeorepCommand, json: bool) -> Result<u8, Error> {
    match command {
        GeorepCommand::Create {
            session,
            push_pem,
            no_verify,
            ssh_port,
            force,
        } => {
            let (p, s) = parse(&session)?;
            let opts = CreateOptions {
                push_pem,
                no_verify,
                ssh_port,
                force,
            };
            print_outcome("create", &g.create(&p, &s, &opts)?, json);
        }
        GeorepCommand::Start {
            session,
            force,
            refuse_broken_rsync,
        } => {
            let (p, s) = parse(&session)?;
            if refuse_broken_rsync {
                g.rsync_policy = ::georep::RsyncPolicy::Refuse;
            }
            print_outcome("start", &g.start(&p, &s, force)?, json);
        }
        GeorepCommand::Stop { session, force } => {
            let (p, s) = parse(&session)?;
            print_outcome("stop", &g.stop(&p, &s, force)?, json);
        }
        GeorepCommand::Pause { session, force } => {
            let (p, s) = parse(&session)?;
            print_outcome("pause", &g.pause(&p, &s, force)?, json);
        }
        GeorepCommand::Resume { session, force } => {
            let (p, s) = parse(&session)?;
            print_outcome("resume", &g.resume(&p, &s, force)?, json);
        }
        GeorepCommand::Delete {
            session,
            reset_sync_time,
        } => {
            let (p, s) = parse(&session)?;
            print_outcome("delete", &g.delete(&p, &s, reset_sync_time)?, json);
        }
        GeorepCommand::Config {
            session,
            key,
            value,
            reset,
        } => {
            let (p, s) = parse(&session)?;
            config(g, &p, &s, key, value, reset, json)?;
        }
        GeorepCommand::Status { primary, secondary } => {
            let sessions = match (primary, secondary) {
                (None, _) => g.status_all()?,
                (Some(p), None) => g.status_volume(&p)?,
                (Some(p), Some(s)) => {
                    let s = Secondary::parse(&s)?;
                    ::georep::model::check_volume_name(&p)?;
                    g.session(&p, &s)?.into_iter().collect()
                }
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&sessions).unwrap_or_default()
                );
            } else if sessions.is_empty() {
                println!("No geo-replication sessions.");
            } else {
                print!("{}", render(&sessions));
            }
        }
        GeorepCommand::Checkpoint {
            session,
            wait,
            timeout,
            touch,
        } => {
            let (p, s) = parse(&session)?;
            g.checkpoint_set(&p, &s)?;
            if wait {
                let done =
                    g.checkpoint_wait(&p, &s, Duration::from_secs(timeout), touch.as_deref())?;
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&done).unwrap_or_default()
                    );
                } else {
                    println!("checkpoint completed");
                }
            } else if json {
                println!("{}", json!({ "ok": true, "action": "checkpoint" }));
            } else {
                println!("checkpoint set");
            }
        }
        GeorepCommand::Exists { session } => {
            let (p, s) = parse(&session)?;
            let yes = g.exists(&p, &s)?;
            return Ok(answer("exists", yes, json));
        }
        GeorepCommand::Running { session } => {
            let (p, s) = parse(&session)?;
            let yes = g.running(&p, &s)?;
            return Ok(answer("running", yes, json));
        }
    }
    Ok(0)
}

fn answer(what: &str, yes: bool, json: bool) -> u8 {
    if json {
        println!("{}", json!({ what: yes }));
    } else {
        println!("{}", if yes { "yes" } else { "no" });
    }
    if yes {
        0
    } else {
        NO
    }
}

fn config(
    g: &Gluster,
    p: &str,
    s: &Secondary,
    key: Option<String>,
    value: Option<String>,
    reset: bool,
    json: bool,
) -> Result<(), Error> {
    match (key, value) {
        (Some(key), _) if reset => {
            let spec = g.config_reset(p, s, &key)?;
            if json {
                println!(
                    "{}",
                    json!({ "reset": spec.name, "default": spec.default, "restarts_session": spec.restarts_session() })
                );
            } else {
                println!("{} reset to its default ({:?})", spec.name, spec.default);
            }
        }
        (Some(key), Some(value)) => {
            let setting = g.config_set(p, s, &key, &value)?;
            if json {
                println!("{}", serde_json::to_string(&setting).unwrap_or_default());
            } else {
                println!("{} = {}", setting.name, setting.value);
                if setting.restarts_session {
                    eprintln!(
                        "note: gluster restarts a running session to apply {}",
                        setting.name
                    );
                }
            }
        }
        (Some(key), None) => {
            let value = g.config_get(p, s, &key)?.unwrap_or_default();
            if json {
                println!("{}", json!({ key: value }));
            } else {
                println!("{value}");
            }
        }
        (None, _) => {
            let list: BTreeMap<String, String> = g.config_list(p, s)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
            } else {
                for (k, v) in list {
                    println!("{k}: {v}");
                }
            }
        }
    }
    Ok(())
}

/// The status table: one heading line per session with its roll-up, then its bricks.
fn render(sessions: &[Session]) -> String {
    let mut out = String::new();
    for s in sessions {
        out.push_str(&format!(
            "{} -> {}  user {}  status {}\n",
            s.primary_volume,
            s.secondary(),
            s.secondary_user,
            s.status
        ));
        let na = |v: &Option<String>| v.clone().unwrap_or_else(|| "N/A".into());
        let num = |v: Option<u64>| v.map_or("N/A".into(), |n| n.to_string());
        let mut rows = vec![[
            "PRIMARY NODE",
            "BRICK",
            "SECONDARY NODE",
            "STATUS",
            "CRAWL",
            "LAST SYNCED (UTC)",
            "ENTRY",
            "DATA",
            "META",
            "FAILURES",
            "CHECKPOINT",
        ]
        .map(String::from)];
        for d in &s.details {
            let checkpoint = match d.checkpoint_completed {
                Some(true) => format!("done {}", na(&d.checkpoint_completion_time)),
                Some(false) => format!("pending since {}", na(&d.checkpoint_time)),
                None => "N/A".into(),
            };
            rows.push([
                d.primary_node.clone(),
                d.primary_brick.clone(),
                na(&d.secondary_node),
                d.status.label().to_owned(),
                d.crawl_status.label().to_owned(),
                na(&d.last_synced),
                num(d.entry_pending),
                num(d.data_pending),
                num(d.meta_pending),
                num(d.failures),
                checkpoint,
            ]);
        }
        let widths: Vec<usize> = (0..11)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            out.push_str("  ");
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
    }
    out
}
