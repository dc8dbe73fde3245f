//! OCF resource agent `ocf:ganesha:georep_monitor`.
fn main() -> std::process::ExitCode {
    ocf::run(&ganesha_agents::georep_monitor::GeorepMonitor)
}
