//! `ganesha-ha`: the command-line tool.
fn main() -> std::process::ExitCode {
    ganesha_ha::cli::main()
}
