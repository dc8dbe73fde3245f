//! Shared by the setup crate's live tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ha;
pub mod offline;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ganesha_lab::{Lab, LabOptions, Node};

/// The directory of this build's binaries (`ganesha-ha`, the agents, the lab's tools).
fn bin_dir() -> PathBuf {
    let dir: PathBuf = Path::new(env!("CARGO_BIN_EXE_ganesha-ha"))
        .parent()
        .unwrap()
        .into();
    assert!(
        dir.join("ganesha_nfsd").is_file(),
        "build the agents first: cargo build --workspace"
    );
    dir
}

/// A lab of `nodes` nodes running ganesha as a service, with this build's agents and fence
/// agent installed (they sit next to `ganesha-ha`; `cargo test --workspace` builds them).
pub fn lab_with_agents(nodes: usize) -> Lab {
    Lab::up(LabOptions {
        nodes,
        agents_dir: Some(bin_dir()),
        ganesha_service: true,
        ..LabOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`lab_with_agents`], but bare: no corosync.conf and no cluster stack.
pub fn bare_lab_with_agents(nodes: usize) -> Lab {
    Lab::up(LabOptions {
        nodes,
        agents_dir: Some(bin_dir()),
        ganesha_service: true,
        form_cluster: false,
        ..LabOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs this build's `ganesha-ha` inside `node`: (exit code, stdout, stderr).
pub fn ganesha_ha(node: &Node, args: &[&str]) -> (i32, String, String) {
    let out = node
        .command(env!("CARGO_BIN_EXE_ganesha-ha"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits (at most 40 s, for a grace period) until `nfs-cat` reads the lab's hello file
/// through `vip` from node 2.
pub fn wait_serving(lab: &Lab, vip: &str) {
    let url = format!("nfs://{vip}/export/hello.txt?version=4");
    let t = Instant::now();
    loop {
        let read = lab
            .node(1)
            .run_timeout("nfs-cat", &[&url], Duration::from_secs(5));
        if read
            .as_ref()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("hello"))
        {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "{vip} does not serve: {read:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
