//! `ganesha-lab`: a real N-node Pacemaker/Corosync + D-Bus + NFS-Ganesha cluster in network
//! namespaces on this host (`up`, `status`, `exec`, `logs`, `fail`, `heal`, `power`, `down`,
//! `sites ...`).
//! See `ganesha-lab --help` and tests/README.md.

fn main() -> std::process::ExitCode {
    ganesha_lab::cli::main()
}
