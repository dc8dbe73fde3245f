//! OCF resource agent `ocf:ganesha:ganesha_nfsd`.
fn main() -> std::process::ExitCode {
    ocf::run(&ganesha_agents::nfsd::GaneshaNfsd)
}
