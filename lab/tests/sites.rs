//! Two sites (`ganesha_lab::Sites`): two gluster labs joined through a wan bridge with
//! booth's arbitrator. One test walks the whole life of one set of sites (they take half a
//! minute to come up): separate clusters and pools, root ssh both ways, geo-replication's
//! `create push-pem`, booth's arbitrator, a manual grant, an automatic failover when site a
//! is cut off (never granted at both), the heal, and a teardown that leaves nothing and the
//! host's network unchanged. Needs root, booth, openssh-server and glusterfs-server
//! (`scripts/install-deps`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use ganesha_lab::{
    ssh_args, Node, Progress, Site, Sites, SitesOptions, BOOTHD, BOOTH_AUTHKEY, BOOTH_CONF,
    DATA_TICKET, DATA_VOLUME, SSHD,
};
use ganesha_testkit::{Ran, TestCommand};

fn can_run() -> bool {
    nix::unistd::Uid::effective().is_root()
        && ["/usr/sbin/glusterd", "/usr/sbin/sshd", "/usr/sbin/boothd"]
            .iter()
            .all(|p| Path::new(p).exists())
}

/// Runs `program args...` inside `node`, bounded.
fn run_in(node: &Node, program: &str, args: &[&str], bound: Duration) -> Ran {
    let mut cmd = TestCommand::new(node.command(program));
    cmd.args(args).timeout(bound);
    cmd.run()
}

fn assert_same(before: &str, now: &str, when: &str) {
    assert_eq!(before, now, "the host's network changed {when}");
}

/// Every process of the sites (node processes, holders, the arbitrator's) with start times.
fn footprint(sites: &Sites) -> Vec<(i32, Option<String>)> {
    let mut nodes: Vec<&Node> = Site::ALL.iter().flat_map(|&s| sites.nodes(s)).collect();
    nodes.push(sites.arbitrator().unwrap());
    let mut v = Vec::new();
    for n in nodes {
        let holder = i32::try_from(n.holder_pid()).unwrap();
        for p in n.pids().into_iter().map(|p| p.as_raw()).chain([holder]) {
            v.push((p, stat(p)));
        }
    }
    v
}

fn stat(pid: i32) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = s.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f.first() != Some(&"Z")).then(|| f.get(19).map(|t| t.to_string()))?
}

#[test]
fn two_sites_with_booth_fail_over_and_leave_nothing() {
    if !can_run() {
        eprintln!("skipped: needs root, glusterd, sshd and boothd");
        return;
    }
    let t0 = Instant::now();
    let before = util::host_network();
    let sites = Sites::up(SitesOptions {
        auto_ticket: true,
        progress: Some(Progress::new(|line| eprintln!("{line}"))),
        ..SitesOptions::default()
    })
    .unwrap_or_else(|e| panic!("Sites::up failed:\n{e}"));
    eprintln!("sites up in {:.1?}; phases:", t0.elapsed());
    for (what, took) in sites.up_phases() {
        eprintln!("  {:6.1} s  {what}", took.as_secs_f64());
    }
    assert_same(&before, &util::host_network(), "while the sites are up");

    let arb = sites.arbitrator().unwrap();
    // IPv6 is off in every namespace of the sites.
    let mut nodes: Vec<&Node> = Site::ALL.iter().flat_map(|&s| sites.nodes(s)).collect();
    nodes.push(arb);
    for n in &nodes {
        let v6 = run_in(
            n,
            "ip",
            &["-6", "-o", "addr", "show"],
            Duration::from_secs(10),
        );
        v6.expect_success();
        assert!(
            v6.stdout().trim().is_empty(),
            "{}: {}",
            n.name(),
            v6.stdout()
        );
    }

    // Each site: its own cluster (members only its own nodes), quorum and a DC; its own pool
    // with the volume data started; booth's files private and identical.
    let t = Instant::now();
    let key = fs::read(arb.host_path(BOOTH_AUTHKEY)).unwrap();
    let conf = fs::read_to_string(arb.host_path(BOOTH_CONF)).unwrap();
    for site in Site::ALL {
        let n = sites.node(site, 0);
        let st = n.cluster_status().unwrap();
        assert!(st.quorum && st.dc.is_some(), "site {site}: {}", st.xml);
        let members = run_in(
            n,
            "corosync-cmapctl",
            &["runtime.members"],
            Duration::from_secs(10),
        );
        members.expect_success();
        let mine = sites.booth_addr(site).to_string();
        let theirs = sites.booth_addr(site.other()).to_string();
        assert!(
            members.stdout().contains(&format!("ip({mine})"))
                && !members.stdout().contains(&format!("ip({theirs})")),
            "site {site} members: {}",
            members.stdout()
        );
        let name = run_in(
            n,
            "corosync-cmapctl",
            &["-g", "totem.cluster_name"],
            Duration::from_secs(10),
        );
        assert!(
            name.stdout()
                .trim_end()
                .ends_with(&format!("{}-{site}", sites.name())),
            "{}",
            name.stdout()
        );
        let pool = n.gluster(&["pool", "list"]).unwrap();
        let pool = String::from_utf8_lossy(&pool.stdout).into_owned();
        assert!(!pool.contains(&theirs), "site {site} pool: {pool}");
        assert_eq!(n.volume_info(DATA_VOLUME).unwrap().status, "Started");
        assert!(
            n.volume_info(DATA_VOLUME).unwrap().bricks[0].starts_with(&mine),
            "site {site}'s data volume is its own"
        );
        assert_eq!(fs::read(n.host_path(BOOTH_AUTHKEY)).unwrap(), key);
        let mode = fs::metadata(n.host_path(BOOTH_AUTHKEY)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_to_string(n.host_path(BOOTH_CONF)).unwrap(), conf);
        assert!(!n.pids_named(SSHD).is_empty());
    }
    assert!(
        !Path::new(BOOTH_AUTHKEY).exists(),
        "the host's /etc/booth stays untouched"
    );
    eprintln!(
        "clusters, pools and booth files checked in {:.1?}",
        t.elapsed()
    );

    // Root ssh both ways.
    for site in Site::ALL {
        let to = sites.booth_addr(site.other()).to_string();
        let args = ssh_args(&to, &["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = run_in(sites.node(site, 0), "ssh", &args, Duration::from_secs(20));
        ran.expect_success()
            .expect_stdout_contains(&format!("inet {to}/24"));
    }

    // The arbitrator's boothd answers.
    let status = sites.booth_status(arb).unwrap();
    assert!(
        status.contains("booth_state=started") && status.contains("booth_type=arbitrator"),
        "{status}"
    );

    // Geo-replication's create push-pem from site a to site b, then deleted.
    let t = Instant::now();
    let a = sites.node(Site::A, 0);
    let b = sites.node(Site::B, 0);
    let secondary = format!("{}::{DATA_VOLUME}", b.addr());
    a.gluster(&["system::", "execute", "gsec_create"]).unwrap();
    a.gluster(&[
        "volume",
        "geo-replication",
        DATA_VOLUME,
        &secondary,
        "create",
        "push-pem",
    ])
    .unwrap_or_else(|e| panic!("geo-replication create push-pem: {e}"));
    // The push-pem hook finishes after create returns: its last step is read-only on the
    // secondary volume.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ro = b
            .gluster(&["volume", "get", DATA_VOLUME, "features.read-only"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if ro
            .lines()
            .any(|l| l.contains("features.read-only") && l.contains(" on"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "push-pem hook never finished: {ro}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let st = a
        .gluster(&[
            "volume",
            "geo-replication",
            DATA_VOLUME,
            &secondary,
            "status",
        ])
        .unwrap();
    let st = String::from_utf8_lossy(&st.stdout).into_owned();
    assert!(st.contains("Created"), "{st}");
    a.gluster(&[
        "volume",
        "geo-replication",
        DATA_VOLUME,
        &secondary,
        "delete",
    ])
    .unwrap();
    b.gluster(&["volume", "set", DATA_VOLUME, "features.read-only", "off"])
        .unwrap();
    eprintln!(
        "geo-replication create push-pem a -> b and delete in {:.1?}",
        t.elapsed()
    );

    // booth: both sites' boothd started directly, a manual grant to a.
    for site in Site::ALL {
        let pid = sites.start_site_boothd(site).unwrap();
        assert!(sites
            .node(site, 0)
            .pids_named(BOOTHD)
            .iter()
            .any(|p| u32::try_from(p.as_raw()) == Ok(pid)));
        let s = sites.booth_status(sites.node(site, 0)).unwrap();
        assert!(s.contains("booth_type=site"), "{s}");
    }
    let t = Instant::now();
    let granted = |site| sites.ticket_granted(site, DATA_TICKET).unwrap_or(false);
    sites.grant(Site::A, DATA_TICKET).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !granted(Site::A) {
        assert!(
            Instant::now() < deadline,
            "{}",
            sites.ticket_info(Site::A).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!granted(Site::B));
    eprintln!("booth grant -> granted at a in {:.1?}", t.elapsed());

    // Cut a off: its lease ends (revoked at a), then b acquires it; never both.
    sites.cut(Site::A).unwrap();
    assert!(sites.is_cut(Site::A).unwrap() && !sites.is_cut(Site::B).unwrap());
    let cut = Instant::now();
    let (mut a_revoked, mut b_granted) = (None, None);
    while b_granted.is_none() || a_revoked.is_none() {
        let (ga, gb) = (granted(Site::A), granted(Site::B));
        assert!(
            !(ga && gb),
            "granted at both sites {:.1?} after the cut",
            cut.elapsed()
        );
        if !ga && a_revoked.is_none() {
            a_revoked = Some(cut.elapsed());
        }
        if gb && b_granted.is_none() {
            b_granted = Some(cut.elapsed());
        }
        assert!(
            cut.elapsed() < Duration::from_secs(60),
            "no failover within 60 s"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!("cut a: revoked at a after {a_revoked:.1?}, granted at b after {b_granted:.1?}");

    // Heal: a follows b and stays revoked.
    sites.heal(Site::A).unwrap();
    let healed = Instant::now();
    while healed.elapsed() < Duration::from_secs(10) {
        assert!(!granted(Site::A) && granted(Site::B), "after the heal");
        std::thread::sleep(Duration::from_millis(500));
    }

    // Down leaves nothing.
    let procs = footprint(&sites);
    let netns = sites.netns_names();
    let root = sites.root_dir().to_path_buf();
    let t = Instant::now();
    sites.down().unwrap_or_else(|e| panic!("{e}"));
    eprintln!("sites down in {:.1?}", t.elapsed());
    let alive: Vec<_> = procs
        .iter()
        .filter(|(p, st)| st.is_some() && stat(*p) == *st)
        .collect();
    assert!(alive.is_empty(), "processes survived: {alive:?}");
    let left: HashSet<String> = fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| netns.contains(n))
        .collect();
    assert!(left.is_empty(), "namespaces left: {left:?}");
    assert!(!root.exists(), "{} left", root.display());
    assert_same(&before, &util::host_network(), "after down");
    eprintln!("whole test {:.1?}", t0.elapsed());
}
