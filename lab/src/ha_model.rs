//! What `ganesha-ha setup` writes ([`ganesha_ha::model::model`]) on a lab, for the users that
//! want the agents under Pacemaker without running `setup` itself (the demo, the agents'
//! failover bench, live status tests): the cluster spec of the lab's nodes, and loading a
//! CIB into the running cluster.

use std::net::{IpAddr, Ipv4Addr};

use ganesha_ha::cib::Cib;
use ganesha_ha::spec::{
    ClusterSpec, FenceDevice, Fencing, GaneshaPaths, Intervals, NodeSpec, SshSettings, StateVolume,
    TransportKind,
};
use ipnetwork::IpNetwork;

use crate::{Lab, LabError, Node, FENCE_AGENT, FENCE_RESOURCE};

/// The lab's cluster as a spec: its nodes in order; node `i`'s VIP `A.B.C.(101 + i)/24` in the
/// lab's subnet, on `eth0`; fencing as the lab has it (its `lab-fencing` device, or none);
/// the lab's shared directory as the state volume; everything else `ganesha-ha`'s defaults,
/// except the monitor intervals these labs have always run with.
pub fn cluster_spec(lab: &Lab) -> Result<ClusterSpec, LabError> {
    let mut nodes = Vec::new();
    for (i, node) in lab.nodes().iter().enumerate() {
        let [a, b, c, _] = node.addr().octets();
        let host = u8::try_from(101 + i)
            .map_err(|_| LabError::Options(format!("no VIP for node {}: too many nodes", i + 1)))?;
        let vip = IpNetwork::new(IpAddr::V4(Ipv4Addr::new(a, b, c, host)), 24)
            .map_err(|e| LabError::Options(format!("VIP of {}: {e}", node.name())))?;
        nodes.push(NodeSpec {
            name: node.name().to_owned(),
            addr: Some(IpAddr::V4(node.addr())),
            vip,
        });
    }
    let fencing = if lab.fencing_enabled() {
        let hosts: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        Fencing::Devices(vec![FenceDevice {
            id: FENCE_RESOURCE.to_owned(),
            agent: FENCE_AGENT.to_owned(),
            params: vec![
                ("state_file".into(), lab.state_file().display().to_string()),
                ("pcmk_host_list".into(), hosts.join(" ")),
            ],
        }])
    } else {
        Fencing::Disabled
    };
    Ok(ClusterSpec {
        name: "lab".into(),
        nodes,
        fencing,
        // ganesha_mon every 2 s and ganesha_nfsd every 5 s (setup's defaults: 1 s, 10 s): the
        // timings the demo shows and the failover bench measured (docs/failover.md).
        intervals: Intervals {
            mon: "2s".into(),
            nfsd: "5s".into(),
            ..Intervals::default()
        },
        state: StateVolume {
            mount: lab.shared_dir().display().to_string(),
            ..StateVolume::default()
        },
        ganesha: GaneshaPaths::default(),
        ssh: SshSettings::default(),
        transport: TransportKind::Lab {
            state_file: lab.state_file().display().to_string(),
        },
        exports_dir: None,
        portblock: false,
        vip_nic: Some("eth0".into()),
        gluster_shared_storage: false,
    })
}

/// Loads `cib`'s resources and constraints into the running cluster through `node`, merged
/// into the live CIB as `ganesha-ha setup` does: what the lab configured itself stays, and
/// so do the cluster properties (the lab sets `stonith-enabled` and `no-quorum-policy` for
/// its own fencing).
pub fn load(node: &Node, cib: &Cib) -> Result<(), LabError> {
    let out = node.run("cibadmin", &["--query"])?;
    let live = Cib::from_xml(&String::from_utf8_lossy(&out.stdout))
        .map_err(|e| LabError::Setup(format!("reading the live CIB: {e}")))?;
    let merged = ganesha_ha::apply::merge(&live, cib);
    for (scope, xml) in [
        ("resources", merged.resources_xml()),
        ("constraints", merged.constraints_xml()),
    ] {
        node.run(
            "cibadmin",
            &["--replace", "--scope", scope, "--xml-text", &xml],
        )?;
    }
    Ok(())
}
