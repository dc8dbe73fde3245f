//! This build's binaries. `ganesha-ha`, the agents and the lab's tools belong to other
//! packages of the workspace: `cargo build --workspace` (or `cargo test --workspace`) puts
//! them next to each other, `cargo test -p ganesha-e2e` alone does not build them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ganesha_lab::{FENCE_AGENT, OCF_AGENTS};

/// The directory of this build's binaries (`ganesha-ha`, the agents, the lab's tools), found
/// once: a test or bench runs as `target/<profile>/deps/<name>-<hash>`, and cargo puts the
/// workspace's binaries in `target/<profile>`.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe()
            .unwrap_or_else(|e| panic!("cannot find this test's executable: {e}"));
        let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
        if dir.ends_with("deps") {
            dir.pop();
        }
        let release = if dir.ends_with("release") {
            " --release"
        } else {
            ""
        };
        let needed = ["ganesha-ha", "ganesha-lab", FENCE_AGENT]
            .into_iter()
            .chain(OCF_AGENTS.iter().copied());
        for bin in needed {
            assert!(
                dir.join(bin).is_file(),
                "{bin} is not in {}: build the workspace first: cargo build --workspace{release}",
                dir.display()
            );
        }
        dir
    })
}

/// This build's `ganesha-ha`.
pub fn ganesha_ha_bin() -> PathBuf {
    bin_dir().join("ganesha-ha")
}
