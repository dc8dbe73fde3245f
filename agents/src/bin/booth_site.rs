//! OCF resource agent `ocf:ganesha:booth_site`.
fn main() -> std::process::ExitCode {
    ocf::run(&ganesha_agents::booth::BoothSite)
}
