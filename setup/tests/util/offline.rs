//! The model offline, under Pacemaker's own tools: cluster specs of any size and
//! `crm_verify` plus the pacemaker-3.0 schema. Shared by `generate` (what is written) and
//! `ordering` (what the scheduler does with it).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ganesha_ha::spec::{
    ClusterSpec, FenceDevice, Fencing, GaneshaPaths, Intervals, NodeSpec, SshSettings, StateVolume,
};
use ganesha_lab::graph::OfflineCib;
use ganesha_testkit::TestCommand;
use ipnetwork::IpNetwork;

/// The bound on one offline tool's run.
const BOUND: Duration = Duration::from_secs(60);

/// `n` nodes `node<i>` at `192.0.2.(10 + i)` with VIP `192.0.2.(100 + i)/32`; a
/// `stonith:fence_xvm` device or fencing disabled; portblock or not; defaults otherwise.
pub fn spec(n: usize, fencing: bool, portblock: bool) -> ClusterSpec {
    let nodes: Vec<NodeSpec> = (1..=n)
        .map(|i| NodeSpec {
            name: format!("node{i}"),
            addr: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, (10 + i) as u8))),
            vip: IpNetwork::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, (100 + i) as u8)), 32).unwrap(),
        })
        .collect();
    let fencing = if fencing {
        let hosts: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
        Fencing::Devices(vec![FenceDevice {
            id: "fence-xvm".into(),
            agent: "fence_xvm".into(),
            params: vec![
                ("pcmk_host_list".into(), hosts.join(" ")),
                ("key_file".into(), "/etc/cluster/fence_xvm.key".into()),
            ],
        }])
    } else {
        Fencing::Disabled
    };
    ClusterSpec {
        name: "ganesha-test".into(),
        nodes,
        fencing,
        intervals: Intervals::default(),
        state: StateVolume::default(),
        ganesha: GaneshaPaths::default(),
        ssh: SshSettings::default(),
        transport: Default::default(),
        exports_dir: None,
        portblock,
        vip_nic: None,
        gluster_shared_storage: false,
    }
}

/// Runs an offline tool (from [`OfflineCib::command`]) within its bound; its stdout. Fails
/// the test, with the full report, unless it exits 0.
pub fn stdout_of(cmd: Command) -> String {
    TestCommand::new(cmd)
        .timeout(BOUND)
        .run()
        .expect_success()
        .stdout()
        .to_owned()
}

/// Writes `xml` as the CIB file `name` and asserts that `crm_verify` and, where installed,
/// the pacemaker-3.0 RelaxNG schema accept it.
pub fn verify(sim: &OfflineCib, name: &str, xml: &str) {
    sim.write(name, xml).unwrap();
    let mut cmd = sim.command("crm_verify", None);
    cmd.arg("-V").arg("--xml-file").arg(sim.path(name));
    stdout_of(cmd);
    let rng = Path::new("/usr/share/pacemaker/pacemaker-3.0.rng");
    if rng.exists() {
        let ran = TestCommand::program("xmllint")
            .args(["--noout", "--relaxng"])
            .arg(rng)
            .arg(sim.path(name))
            .timeout(BOUND)
            .try_run()
            .unwrap_or_else(|e| panic!("xmllint (libxml2-utils) runs:\n{e}"));
        ran.expect_success();
    }
}
