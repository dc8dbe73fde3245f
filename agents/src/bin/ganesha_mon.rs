//! OCF resource agent `ocf:ganesha:ganesha_mon`.
fn main() -> std::process::ExitCode {
    ocf::run(&ganesha_agents::mon::GaneshaMon)
}
