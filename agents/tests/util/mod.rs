//! Helpers shared by the agents' integration tests: running an agent binary with an exact
//! environment, and failures that show the command, its status, stdout and stderr.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod cluster;
pub mod dbus;

/// Path of one of this crate's agent binaries.
pub fn agent(name: &str) -> PathBuf {
    match name {
        "ganesha_nfsd" => PathBuf::from(env!("CARGO_BIN_EXE_ganesha_nfsd")),
        "ganesha_mon" => PathBuf::from(env!("CARGO_BIN_EXE_ganesha_mon")),
        "ganesha_grace" => PathBuf::from(env!("CARGO_BIN_EXE_ganesha_grace")),
        other => panic!("no agent {other}"),
    }
}

/// The result of one agent call.
#[derive(Debug)]
pub struct Run {
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "\n--- command: {}\n--- exit: {} after {:?}\n--- stdout:\n{}\n--- stderr:\n{}\n---",
            self.command, self.code, self.elapsed, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code, printing everything on mismatch.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit code{}", self.describe());
        self
    }

    /// The `ocf-exit-reason:` lines.
    pub fn exit_reasons(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("ocf-exit-reason:"))
            .map(str::to_owned)
            .collect()
    }

    /// Asserts that stderr contains `text`.
    pub fn expect_stderr(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}{}",
            self.describe()
        );
        self
    }
}

/// Runs `output` of a prepared command, bounded, and describes it.
pub fn run_command(mut cmd: Command, bound: Duration) -> Run {
    let command = format!("{cmd:?}");
    cmd.stdin(Stdio::null());
    let started = Instant::now();
    let out: Output =
        ocf::command::output(&mut cmd, bound).unwrap_or_else(|e| panic!("running {command}: {e}"));
    Run {
        command,
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Runs `agent action` with exactly `env` (plus PATH), as Pacemaker would.
pub fn run_agent(agent_path: &Path, action: &str, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(agent_path);
    cmd.arg(action).env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_command(cmd, Duration::from_secs(120))
}
