//! Every external call of the site operations goes through a [`SiteRunner`]: here (this
//! node, optionally behind a command prefix such as the lab's `nsenter -t PID -n -m -u --`)
//! or there (a node of the other site, over the project's transport: ssh or the lab).
//! [`RealRunner`] runs them; [`Script`] answers from a script and records the argv, so the
//! operations are tested offline.

use std::cell::RefCell;
use std::process::Command;
use std::time::Duration;

use ipnetwork::IpNetwork;

use crate::error::CliError;
use crate::spec::NodeSpec;
use crate::transport::Transport;

/// Where a command runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum At {
    /// This node.
    Here,
    /// The named node of the other site.
    There(String),
}

/// What a program printed and how it ended (`code` -1: killed by a signal).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit 0 with `stdout`.
    pub fn ok(stdout: &str) -> Output {
        Output {
            code: 0,
            stdout: stdout.to_owned(),
            stderr: String::new(),
        }
    }

    /// Exit `code` with `stderr`.
    pub fn fail(code: i32, stderr: &str) -> Output {
        Output {
            code,
            stdout: String::new(),
            stderr: stderr.to_owned(),
        }
    }
}

/// Runs one argv at a place, for at most `timeout`: its output whatever the exit status, an
/// error only when it could not run or was killed at its bound.
pub trait SiteRunner {
    fn run(&self, at: &At, argv: &[String], timeout: Duration) -> Result<Output, CliError>;
}

/// Runs commands for real: here directly (behind `prefix`, if any), there through
/// `transport`.
pub struct RealRunner {
    pub prefix: Vec<String>,
    pub transport: Box<dyn Transport>,
}

impl SiteRunner for RealRunner {
    fn run(&self, at: &At, argv: &[String], timeout: Duration) -> Result<Output, CliError> {
        let out = match at {
            At::Here => {
                let words: Vec<&String> = self.prefix.iter().chain(argv).collect();
                let Some((program, args)) = words.split_first() else {
                    return Err(CliError::Refused("an empty command".into()));
                };
                let mut cmd = Command::new(program);
                cmd.args(args);
                ocf::command::output(&mut cmd, timeout)?
            }
            At::There(node) => {
                let spec = NodeSpec {
                    name: node.clone(),
                    addr: node.parse().ok(),
                    // Not used to run commands.
                    vip: IpNetwork::V4(ipnetwork::Ipv4Network::from(
                        std::net::Ipv4Addr::UNSPECIFIED,
                    )),
                };
                let words: Vec<&str> = argv.iter().map(String::as_str).collect();
                self.transport.output(&spec, &words, None, timeout)?
            }
        };
        Ok(Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

struct Rule {
    at: Option<At>,
    contains: String,
    out: Result<Output, String>,
    once: bool,
}

/// A scripted runner: each call is answered by the newest rule whose text is in the
/// command line (`argv` joined by spaces) and whose place matches; a `once` rule answers
/// one call and is gone (so a script can change state: not promoted, then promoted). An
/// unmatched call exits 0 with no output. Every call is recorded as `here: ARGV` or
/// `NODE: ARGV`.
#[derive(Default)]
pub struct Script {
    rules: RefCell<Vec<Rule>>,
    calls: RefCell<Vec<String>>,
}

impl Script {
    pub fn new() -> Script {
        Script::default()
    }

    fn add(&self, at: Option<At>, contains: &str, out: Result<Output, String>, once: bool) {
        self.rules.borrow_mut().push(Rule {
            at,
            contains: contains.to_owned(),
            out,
            once,
        });
    }

    /// Answers every later call containing `contains` (anywhere) with `out`.
    pub fn on(&self, contains: &str, out: Output) -> &Script {
        self.add(None, contains, Ok(out), false);
        self
    }

    /// Answers calls at `at` containing `contains` with `out`.
    pub fn on_at(&self, at: At, contains: &str, out: Output) -> &Script {
        self.add(Some(at), contains, Ok(out), false);
        self
    }

    /// Answers the next call containing `contains` with `out`, then forgets the rule.
    pub fn once(&self, contains: &str, out: Output) -> &Script {
        self.add(None, contains, Ok(out), true);
        self
    }

    /// Answers the next call at `at` containing `contains` with `out`, then forgets the rule.
    pub fn once_at(&self, at: At, contains: &str, out: Output) -> &Script {
        self.add(Some(at), contains, Ok(out), true);
        self
    }

    /// Answers calls at `at` (any place: `None`) containing `contains` with `outs` in turn,
    /// the last one for every call after.
    pub fn sequence(&self, at: Option<At>, contains: &str, outs: &[Output]) -> &Script {
        if let Some((last, first)) = outs.split_last() {
            self.add(at.clone(), contains, Ok(last.clone()), false);
            for out in first.iter().rev() {
                self.add(at.clone(), contains, Ok(out.clone()), true);
            }
        }
        self
    }

    /// Calls containing `contains` fail to run (a node that does not answer).
    pub fn unreachable(&self, contains: &str) -> &Script {
        self.add(
            None,
            contains,
            Err(format!("{contains}: unreachable")),
            false,
        );
        self
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    /// The calls so far that contain `text`.
    pub fn calls_with(&self, text: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.contains(text))
            .collect()
    }
}

impl SiteRunner for Script {
    fn run(&self, at: &At, argv: &[String], _timeout: Duration) -> Result<Output, CliError> {
        let line = argv.join(" ");
        let place = match at {
            At::Here => "here".to_owned(),
            At::There(node) => node.clone(),
        };
        self.calls.borrow_mut().push(format!("{place}: {line}"));
        let mut rules = self.rules.borrow_mut();
        let found = rules
            .iter()
            .rposition(|r| line.contains(&r.contains) && r.at.as_ref().is_none_or(|a| a == at));
        let Some(i) = found else {
            return Ok(Output::default());
        };
        let out = rules[i].out.clone();
        if rules[i].once {
            rules.remove(i);
        }
        out.map_err(|e| CliError::Cluster(format!("{place}: {e}")))
    }
}
