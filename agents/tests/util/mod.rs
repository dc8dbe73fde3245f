//! Helpers shared by the agents' integration tests: an agent binary as a
//! [`TestCommand`] with an exact environment, as Pacemaker runs it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use ganesha_testkit::{Ran, TestCommand};

pub mod cluster;
pub mod dbus;

/// Path of one of this crate's agent binaries.
pub fn agent_bin(name: &str) -> PathBuf {
    match name {
        "ganesha_nfsd" => PathBuf::from(env!("CARGO_BIN_EXE_ganesha_nfsd")),
        "ganesha_mon" => PathBuf::from(env!("CARGO_BIN_EXE_ganesha_mon")),
        "ganesha_grace" => PathBuf::from(env!("CARGO_BIN_EXE_ganesha_grace")),
        other => panic!("no agent {other}"),
    }
}

/// `agent action` with no environment but PATH; the test adds the `OCF_*` variables.
pub fn agent(name: &str, action: &str) -> TestCommand {
    let mut cmd = TestCommand::program(agent_bin(name));
    cmd.arg(action).env_clear_keep_path();
    cmd
}

/// Runs a prepared command within `bound`.
pub fn run_command(cmd: Command, bound: Duration) -> Ran {
    TestCommand::new(cmd).timeout(bound).run()
}
