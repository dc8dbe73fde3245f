//! The workspace's end-to-end suite: `ganesha-ha`, the OCF agents and the lab's fence device
//! run together on real lab clusters (`ganesha-lab`). The tests are in `tests/tests/`, the
//! benches in `tests/benches/`; this library is what they share:
//! - [`bins`]: this build's binaries, found next to the running test;
//! - [`lab`]: labs with this build's agents installed, and `ganesha-ha` run in a node;
//! - [`ha`]: the failover harness, a cluster set up by `ganesha-ha setup`, and the
//!   end-of-scenario assertions;
//! - [`faults`]: the fault scenarios (a daemon failure, a node failure) both stacks run;
//! - [`watch`]: pollers that record where every VIP is and whether each daemon is in grace;
//! - [`log`]: reading the nodes' pacemaker.log in time order.
//!
//! They need root (the lab builds namespaces) and the workspace built first
//! (`cargo build --workspace`; `cargo test --workspace` does it).
// A test harness: a failed expectation is the test's failure, so it panics with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod bins;
pub mod faults;
pub mod ha;
pub mod lab;
pub mod log;
pub mod sites;
pub mod watch;
