//! Helpers shared by the agents' integration tests: an agent binary as a
//! [`TestCommand`] with an exact environment, as Pacemaker runs it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ganesha_agents::names::{BOOTH_AGENT, GEOREP_AGENT, GRACE_AGENT, MON_AGENT, NFSD_AGENT};
use ganesha_testkit::TestCommand;

pub mod cluster;
pub mod dbus;

/// Path of one of this crate's agent binaries.
pub fn agent_bin(name: &str) -> PathBuf {
    match name {
        NFSD_AGENT => PathBuf::from(env!("CARGO_BIN_EXE_ganesha_nfsd")),
        MON_AGENT => PathBuf::from(env!("CARGO_BIN_EXE_ganesha_mon")),
        GRACE_AGENT => PathBuf::from(env!("CARGO_BIN_EXE_ganesha_grace")),
        GEOREP_AGENT => PathBuf::from(env!("CARGO_BIN_EXE_georep_monitor")),
        BOOTH_AGENT => PathBuf::from(env!("CARGO_BIN_EXE_booth_site")),
        other => panic!("no agent {other}"),
    }
}

/// `agent action` with no environment but PATH; the test adds the `OCF_*` variables.
pub fn agent(name: &str, action: &str) -> TestCommand {
    let mut cmd = TestCommand::program(agent_bin(name));
    cmd.arg(action).env_clear_keep_path();
    cmd
}

/// Polls `check` every 100 ms until it holds; fails the test naming `what` after `bound`.
pub fn wait_until(what: &str, bound: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
