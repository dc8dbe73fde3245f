//! The generated configuration, checked offline by Pacemaker's and Corosync's own tools:
//! `crm_verify` (and the pacemaker-3.0 RelaxNG schema) for every cluster size from 1 to 32,
//! the model's shape, `corosync -t`, and editing a live CIB through `cibadmin`. What the
//! scheduler does with the model (placement, node loss, failover and failback) is proved in
//! `ordering`.
//!
//! Findings behind the set-up here:
//! - `crm_verify` does not require a stonith agent to exist: a `stonith:fence_xvm` device
//!   with `pcmk_host_list` verifies on a machine without fence-agents (rc 0, no warning).
//! - `corosync -t` needs the authkey (`totem.keyfile`, default `/etc/corosync/authkey`, at
//!   least 128 bytes), one nodelist entry that is a local address ("No valid name found for
//!   local host" otherwise), and resolvable names where no address is given. The tests point
//!   `keyfile` at a temporary key and give node1 the address 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ganesha_ha::cib::{Cib, Constraint, LocationTarget, Resource};
use ganesha_ha::corosync;
use ganesha_ha::model::{self, MON_CLONE, MON_MONITOR_WHY, NFSD_CLONE, NFSD_MONITOR_WHY};
use ganesha_ha::spec::Intervals;
use ganesha_lab::graph::OfflineCib;
use ganesha_testkit::TestCommand;
use util::offline::{spec, stdout_of, verify};

#[test]
fn crm_verify_and_the_schema_accept_every_size_from_1_to_32() {
    let sim = OfflineCib::new().unwrap();
    for n in 1..=32 {
        // Fencing devices for most sizes, disabled for every third; portblock for odd sizes.
        let mut spec = spec(n, n % 3 != 0, n % 2 == 1);
        if n % 4 == 0 {
            spec.vip_nic = Some("eth0".into());
            spec.state.device = Some("localhost:/gluster_shared_storage".into());
            spec.state.fstype = Some("glusterfs".into());
            spec.state.options = Some("_netdev,defaults".into());
        }
        let model = model::model(&spec);
        let xml = model.to_xml();
        verify(&sim, &format!("cib-{n}.xml"), &xml);
        assert_eq!(Cib::from_xml(&xml).unwrap(), model, "round trip, {n} nodes");

        let expected_policy = if n <= 2 { "ignore" } else { "stop" };
        assert_eq!(model.property("no-quorum-policy"), Some(expected_policy));
        let stonith = if n % 3 != 0 { "true" } else { "false" };
        assert_eq!(model.property("stonith-enabled"), Some(stonith));
        // Every VIP target: the ban rule, n preferences, two orders.
        let per_target = 1 + n + 2;
        assert_eq!(model.constraints.len(), 1 + n * per_target);
        let mut ids = BTreeSet::new();
        for c in &model.constraints {
            assert!(ids.insert(c.id().to_owned()), "duplicate id {}", c.id());
        }
    }
}

#[test]
fn the_model_matches_the_readme() {
    let mut s = spec(3, true, false);
    s.state.device = Some("localhost:/gluster_shared_storage".into());
    s.vip_nic = Some("eth1".into());
    let model = model::model(&s);
    let ids: Vec<&str> = model.resources.iter().map(Resource::id).collect();
    assert_eq!(
        ids,
        [
            "fence-xvm",
            "nfs-ganesha-clone",
            "nfs-mon-clone",
            "nfs-grace-clone",
            "node1-vip",
            "node2-vip",
            "node3-vip"
        ]
    );
    let Some(Resource::Clone(nfsd)) = model.resource("nfs-ganesha-clone") else {
        panic!("no nfsd clone")
    };
    assert_eq!(
        nfsd.child.param_value("state_device"),
        Some("localhost:/gluster_shared_storage")
    );
    assert_eq!(nfsd.child.param_value("state_fstype"), None);
    assert_eq!(
        nfsd.child.param_value("config"),
        Some("/etc/ganesha/ganesha.conf")
    );
    assert!(nfsd
        .meta
        .iter()
        .any(|p| p.name == "interleave" && p.value == "true"));
    let Some(Resource::Clone(grace)) = model.resource("nfs-grace-clone") else {
        panic!("no grace clone")
    };
    assert!(grace
        .meta
        .iter()
        .any(|p| p.name == "notify" && p.value == "true"));
    let Some(Resource::Primitive(vip)) = model.resource("node2-vip") else {
        panic!("no VIP")
    };
    assert_eq!(vip.param_value("ip"), Some("192.0.2.102"));
    assert_eq!(vip.param_value("cidr_netmask"), Some("32"));
    assert_eq!(vip.param_value("nic"), Some("eth1"));
    let prefs: Vec<(String, String)> = model
        .constraints
        .iter()
        .filter_map(|c| match c {
            Constraint::Location(l) if l.rsc == "node1-vip" => match &l.target {
                LocationTarget::Node { node, score } => Some((node.clone(), score.clone())),
                LocationTarget::Rule(_) => None,
            },
            _ => None,
        })
        .collect();
    let expect = [("node1", "3000"), ("node3", "2000"), ("node2", "1000")]
        .map(|(n, s)| (n.to_owned(), s.to_owned()));
    assert_eq!(prefs, expect);

    let portblock = model::model(&spec(3, false, true));
    let Some(Resource::Group(group)) = portblock.resource("node1-group") else {
        panic!("no group")
    };
    let members: Vec<&str> = group.members.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        members,
        ["node1-nfs_block", "node1-vip", "node1-nfs_unblock"]
    );
    assert_eq!(
        group.members[2].param_value("tickle_dir"),
        Some("/run/gluster/shared_storage/nfs-ganesha/tickle_dir")
    );
    assert_eq!(group.members[0].param_value("action"), Some("block"));
    assert_eq!(group.members[0].param_value("ip"), Some("192.0.2.101"));
    assert!(portblock.constraints.iter().all(|c| match c {
        Constraint::Location(l) => l.rsc == "nfs-grace-clone" || l.rsc.ends_with("-group"),
        Constraint::Order(o) => o.then.ends_with("-group"),
        _ => false,
    }));
}

fn corosync_check(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(n, false, false);
    // corosync -t wants one nodelist entry to be a local address.
    s.nodes[0].addr = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let conf = corosync::corosync_conf(&s);
    assert_eq!(conf, corosync::corosync_conf(&s), "not deterministic");
    assert_eq!(conf.contains("two_node: 1"), n == 2, "{conf}");
    assert_eq!(conf.matches("nodeid:").count(), n);
    assert!(conf.contains(&format!("nodeid: {n}\n")));
    let key = dir.path().join("authkey");
    std::fs::write(&key, corosync::authkey().unwrap()).unwrap();
    // The generated file relies on the default keyfile; point it at the test key.
    let conf = conf.replacen(
        "crypto_hash: sha256\n",
        &format!("crypto_hash: sha256\n    keyfile: {}\n", key.display()),
        1,
    );
    let path = dir.path().join("corosync.conf");
    std::fs::write(&path, &conf).unwrap();
    let ran = TestCommand::program("corosync")
        .arg("-t")
        .arg("-c")
        .arg(&path)
        .run();
    assert!(ran.success(), "corosync -t, {n} nodes:\n{ran}\n{conf}");
}

#[test]
fn corosync_accepts_the_conf_for_1_2_3_and_32_nodes() {
    for n in [1, 2, 3, 32] {
        corosync_check(n);
    }
}

#[test]
fn corosync_conf_names_nodes_without_an_address() {
    let mut s = spec(2, false, false);
    s.nodes[1].addr = None;
    let conf = corosync::corosync_conf(&s);
    assert!(conf.contains("ring0_addr: node2\n"), "{conf}");
    assert!(conf.contains("cluster_name: ganesha-test\n"));
    assert!(conf.contains("crypto_cipher: aes256\n"));
}

#[test]
fn a_live_cib_is_edited_through_cibadmin_keeping_foreign_resources() {
    let sim = OfflineCib::new().unwrap();
    let spec = spec(3, true, false);
    sim.write("live.xml", &model::model(&spec).to_xml())
        .unwrap();
    let live = sim.path("live.xml");
    let foreign = r#"<primitive id="web" class="ocf" provider="heartbeat" type="Dummy" description="not ours"/>"#;
    let mut create = sim.command("cibadmin", Some(&live));
    create.args(["--create", "--scope", "resources", "--xml-text", foreign]);
    stdout_of(create);
    let query = |sim: &OfflineCib| {
        let mut cmd = sim.command("cibadmin", Some(&live));
        cmd.arg("--query");
        Cib::from_xml(&stdout_of(cmd)).unwrap()
    };
    let mut cib = query(&sim);
    let web = cib.resource("web").unwrap();
    assert!(
        matches!(web, Resource::Foreign(f) if f.xml.contains("not ours")),
        "{web:?}"
    );

    // Remove node3 the way a later `delete-node` would: its VIP and every constraint on it.
    cib.resources.retain(|r| r.id() != "node3-vip");
    cib.constraints.retain(|c| match c {
        Constraint::Location(l) => {
            l.rsc != "node3-vip"
                && !matches!(&l.target, LocationTarget::Node { node, .. } if node == "node3")
        }
        Constraint::Order(o) => o.then != "node3-vip",
        _ => true,
    });
    for (scope, xml) in [
        ("constraints", cib.constraints_xml()),
        ("resources", cib.resources_xml()),
    ] {
        let mut replace = sim.command("cibadmin", Some(&live));
        replace.args(["--replace", "--scope", scope, "--xml-text", &xml]);
        stdout_of(replace);
    }
    assert_eq!(query(&sim), cib);
    verify(
        &sim,
        "edited.xml",
        &std::fs::read_to_string(sim.path("live.xml")).unwrap(),
    );
}

/// A hung ganesha.nfsd (alive, not answering) is only seen by a depth-10 monitor: both
/// ganesha_mon (moves the VIP) and ganesha_nfsd (restarts the daemon) run one, and say why
/// in the op's description (`ha_faults::daemon_killed_or_hung_…` proves it live).
#[test]
fn health_monitors_run_at_depth_10_and_say_why() {
    let model = model::model(&spec(3, true, false));
    for (clone, why) in [(MON_CLONE, MON_MONITOR_WHY), (NFSD_CLONE, NFSD_MONITOR_WHY)] {
        let child = model
            .resources
            .iter()
            .find_map(|r| match r {
                Resource::Clone(c) if c.id == clone => Some(&c.child),
                _ => None,
            })
            .unwrap();
        let monitor = child.ops.iter().find(|o| o.name == "monitor").unwrap();
        let level: Vec<(&str, &str)> = monitor
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(level, [("OCF_CHECK_LEVEL", "10")], "{clone}");
        assert!(
            monitor
                .extra
                .iter()
                .any(|(k, v)| k == "description" && v == why),
            "{clone}: {monitor:?}"
        );
    }
    let xml = model.to_xml();
    assert_eq!(
        xml.matches(r#"name="OCF_CHECK_LEVEL" value="10""#).count(),
        2
    );
    assert_eq!(Intervals::default().mon, "1s");
}
