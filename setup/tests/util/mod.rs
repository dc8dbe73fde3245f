//! Shared by the setup crate's live tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ha;

use std::path::{Path, PathBuf};

use ganesha_lab::{Lab, LabOptions};

/// A lab of `nodes` nodes running ganesha as a service, with this build's agents and fence
/// agent installed (they sit next to `ganesha-ha`; `cargo test --workspace` builds them).
pub fn lab_with_agents(nodes: usize) -> Lab {
    let bin_dir: PathBuf = Path::new(env!("CARGO_BIN_EXE_ganesha-ha"))
        .parent()
        .unwrap()
        .into();
    assert!(
        bin_dir.join("ganesha_nfsd").is_file(),
        "build the agents first: cargo build --workspace"
    );
    Lab::up(LabOptions {
        nodes,
        agents_dir: Some(bin_dir),
        ganesha_service: true,
        ..LabOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}
