//! OCF resource agent `ocf:ganesha:ganesha_grace`.
fn main() -> std::process::ExitCode {
    ocf::run(&ganesha_agents::grace::GaneshaGrace)
}
