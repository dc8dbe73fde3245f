//! The parsers and the roll-up on XML recorded from real GlusterFS 10.3 runs
//! (fixtures/, see fixtures/README.md for where each file comes from).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use georep::rollup::Layout;
use georep::xml::{
    parse_cli_output, parse_config, parse_status, parse_volume_info, split_session_secondary,
    volume_option,
};
use georep::{CrawlStatus, Error, SessionStatus, WorkerStatus};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn replica_layout() -> BTreeMap<String, Layout> {
    let (layout, started) = parse_volume_info(&fixture("volinfo-replica2.xml"), "pvol").unwrap();
    assert!(started);
    BTreeMap::from([("pvol".to_owned(), layout)])
}

fn statuses(file: &str, layouts: &BTreeMap<String, Layout>) -> (SessionStatus, Vec<WorkerStatus>) {
    let sessions = parse_status(&fixture(file), layouts).unwrap();
    assert_eq!(sessions.len(), 1, "{file}");
    let s = &sessions[0];
    (
        s.status,
        s.details.iter().map(|d| d.status.clone()).collect(),
    )
}

#[test]
fn volume_info_gives_brick_order_and_replica_groups() {
    let layouts = replica_layout();
    let layout = &layouts["pvol"];
    assert_eq!(layout.group_size, 2);
    assert_eq!(
        layout.volume_id.as_deref(),
        Some("e018b672-f055-4f0d-90e0-ffb2263fc3ed")
    );
    assert_eq!(
        layout.bricks,
        vec![
            ("192.0.2.101".to_owned(), "/tmp/grx/p/bricks/b1".to_owned()),
            ("192.0.2.101".to_owned(), "/tmp/grx/p/bricks/b2".to_owned()),
        ]
    );
}

#[test]
fn active_single_brick_session() {
    let sessions = parse_status(
        &fixture("status-single-active-checkpoint.xml"),
        &BTreeMap::new(),
    )
    .unwrap();
    let s = &sessions[0];
    assert_eq!(s.status, SessionStatus::Active);
    assert_eq!(s.primary_volume, "master");
    assert_eq!(s.secondary_host, "127.0.0.2");
    assert_eq!(s.secondary_volume, "slave");
    assert_eq!(s.secondary_user, "root");
    assert_eq!(s.id, "master_127.0.0.2_slave");
    assert_eq!(
        s.session_key,
        "d4ac98ce-5063-4565-a2f4-f6079f33fb8f:ssh://127.0.0.2::slave"
    );
    assert_eq!(
        s.secondary_volume_id.as_deref(),
        Some("1ba90ef8-8ae3-48f6-b184-b29350e04d20")
    );
    let d = &s.details[0];
    assert_eq!(d.crawl_status, CrawlStatus::ChangelogCrawl);
    assert_eq!(d.secondary_node, None);
    assert_eq!(
        (d.entry_pending, d.data_pending, d.meta_pending, d.failures),
        (Some(0), Some(0), Some(0), Some(0))
    );
    assert_eq!(d.last_synced.as_deref(), Some("2026-11-21 04:19:53"));
    assert_eq!(
        (d.checkpoint_completed, d.checkpoint_time.as_deref()),
        (None, None)
    );
    assert!(!s.checkpoint_completed());
}

#[test]
fn old_tag_names_give_the_same_session() {
    let new = parse_status(
        &fixture("status-single-active-checkpoint.xml"),
        &BTreeMap::new(),
    )
    .unwrap();
    let old = parse_status(&fixture("status-old-tags.xml"), &BTreeMap::new()).unwrap();
    assert_eq!(new, old);
    assert_eq!(old[0].details[0].primary_node, "127.0.0.2");
}

#[test]
fn replica_sessions_through_their_lifecycle() {
    let layouts = replica_layout();
    let w = |s: WorkerStatus| vec![s.clone(), s];
    // Both bricks of the replica pair are on one node, so gluster makes both Active.
    assert_eq!(
        statuses("status-replica-active.xml", &layouts),
        (SessionStatus::Active, w(WorkerStatus::Active))
    );
    assert_eq!(
        statuses("status-replica-created.xml", &layouts),
        (SessionStatus::Created, w(WorkerStatus::Created))
    );
    assert_eq!(
        statuses("status-replica-initializing.xml", &layouts),
        (SessionStatus::Initializing, w(WorkerStatus::Initializing))
    );
    assert_eq!(
        statuses("status-replica-paused.xml", &layouts),
        (SessionStatus::Paused, w(WorkerStatus::Paused))
    );
    assert_eq!(
        statuses("status-replica-faulty.xml", &layouts),
        (SessionStatus::Faulty, w(WorkerStatus::Faulty))
    );
    assert_eq!(
        statuses("status-replica-stopped.xml", &layouts),
        (SessionStatus::Stopped, w(WorkerStatus::Stopped))
    );
    assert_eq!(
        statuses("status-single-stopped.xml", &BTreeMap::new()).0,
        SessionStatus::Stopped
    );
    assert_eq!(
        statuses("status-single-created.xml", &BTreeMap::new()).0,
        SessionStatus::Created
    );
}

#[test]
fn faulty_and_paused_counters_are_not_applicable() {
    for file in ["status-replica-faulty.xml", "status-replica-paused.xml"] {
        let s = &parse_status(&fixture(file), &replica_layout()).unwrap()[0];
        for d in &s.details {
            assert_eq!(
                (d.entry_pending, d.data_pending, d.crawl_status.clone()),
                (None, None, CrawlStatus::NotApplicable),
                "{file}"
            );
        }
    }
}

#[test]
fn a_brick_no_node_reported_is_offline() {
    // The replica volume's layout against a reply that carries only its first brick, as
    // when the second brick's node is down.
    let layouts = replica_layout();
    let xml = fixture("status-replica-active.xml");
    let second = xml
        .find("<pair>")
        .and_then(|first| xml[first + 1..].find("<pair>").map(|i| i + first + 1))
        .unwrap();
    let end = xml[second..].find("</pair>").unwrap() + second + "</pair>".len();
    let one_brick = format!("{}{}", &xml[..second], &xml[end..]);
    let (status, workers) = statuses_from(&one_brick, &layouts);
    assert_eq!(workers, vec![WorkerStatus::Active, WorkerStatus::Offline]);
    assert_eq!(status, SessionStatus::PartialFaulty);
    let faulty = fixture("status-replica-faulty.xml");
    let second = faulty.rfind("<pair>").unwrap();
    let end = faulty.rfind("</pair>").unwrap() + "</pair>".len();
    let (status, _) = statuses_from(
        &format!("{}{}", &faulty[..second], &faulty[end..]),
        &layouts,
    );
    assert_eq!(status, SessionStatus::Faulty);
}

fn statuses_from(
    xml: &str,
    layouts: &BTreeMap<String, Layout>,
) -> (SessionStatus, Vec<WorkerStatus>) {
    let s = &parse_status(xml, layouts).unwrap()[0];
    (
        s.status,
        s.details.iter().map(|d| d.status.clone()).collect(),
    )
}

#[test]
fn all_sessions_status_with_its_quirks() {
    // opRet 0 with opErrstr "primary not found", and ssh:// before <secondary>.
    let sessions = parse_status(&fixture("status-all-active.xml"), &BTreeMap::new()).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].secondary_host, "127.0.0.2");
    assert_eq!(sessions[0].status, SessionStatus::Active);
    let d = &sessions[0].details[0];
    assert_eq!(d.checkpoint_completed, Some(true));
    assert_eq!(d.checkpoint_time.as_deref(), Some("2026-11-21 04:25:03"));
    assert_eq!(
        d.checkpoint_completion_time.as_deref(),
        Some("2026-11-21 04:28:03")
    );
    assert!(sessions[0].checkpoint_completed());
    let sessions = parse_status(&fixture("status-all-created.xml"), &replica_layout()).unwrap();
    assert_eq!(sessions[0].status, SessionStatus::Created);
}

#[test]
fn gluster_failures_carry_its_message() {
    let cases = [
        (
            "create-exists.xml",
            -1,
            "Session between pvol and 192.0.2.102::svol is already created.",
        ),
        (
            "resume-not-paused.xml",
            2,
            "Geo-replication session between pvol and 192.0.2.102::svol is not Paused.",
        ),
        ("config-invalid-key.xml", -1, "Invalid option"),
        (
            "config-bad-value.xml",
            -3,
            "geo-replication config-set failed for pvol 192.0.2.102::svol",
        ),
        ("config-reserved.xml", -1, "Reserved option"),
        (
            "start-no-such-volume.xml",
            -1,
            "Volume nosuch does not exist",
        ),
    ];
    for (file, ret, message) in cases {
        let out = parse_cli_output(&fixture(file)).unwrap();
        assert_eq!(
            (out.op_ret, out.op_errno, out.op_errstr.as_str()),
            (ret, 30800, message),
            "{file}"
        );
    }
    // A failed status passed to the status parser is an error carrying gluster's message.
    let err = parse_status(&fixture("resume-not-paused.xml"), &BTreeMap::new()).unwrap_err();
    assert_eq!(
        err.gluster_message(),
        Some("Geo-replication session between pvol and 192.0.2.102::svol is not Paused.")
    );
    // Success can carry a note: pausing a session that never started.
    let out = parse_cli_output(&fixture("pause-created.xml")).unwrap();
    assert_eq!(
        (out.op_ret, out.op_errstr.as_str()),
        (0, "geo-replication is not set up")
    );
}

#[test]
fn config_list_and_set() {
    let config = parse_config(&fixture("config-list.xml")).unwrap();
    assert_eq!(config.get("sync_jobs").map(String::as_str), Some("3"));
    assert_eq!(
        config.get("change_detector").map(String::as_str),
        Some("changelog")
    );
    assert_eq!(config.get("allow_network").map(String::as_str), Some(""));
    // Every listed key is in the option table (by its `_` spelling).
    for key in config.keys() {
        assert!(
            georep::options::lookup(key).is_ok()
                || georep::options::RESERVED.contains(&key.replace('_', "-").as_str()),
            "{key}"
        );
    }
    assert!(parse_config(&fixture("config-set.xml")).unwrap().is_empty());
}

#[test]
fn read_only_option_from_volume_info() {
    assert_eq!(
        volume_option(&fixture("volinfo-replica2.xml"), "nfs.disable")
            .unwrap()
            .as_deref(),
        Some("on")
    );
    assert_eq!(
        volume_option(&fixture("volinfo-replica2.xml"), "features.read-only").unwrap(),
        None
    );
}

#[test]
fn session_secondary_forms() {
    let (key, secondary, id) =
        split_session_secondary("u1:ssh://geo@h.example::v:5ac9c03e-d128-46d7-85fe-f53cb449d7c3")
            .unwrap();
    assert_eq!(
        (key.as_str(), secondary.user.as_str(), id.as_deref()),
        (
            "u1:ssh://geo@h.example::v",
            "geo",
            Some("5ac9c03e-d128-46d7-85fe-f53cb449d7c3")
        )
    );
    let (_, secondary, id) = split_session_secondary("u1:ssh://h::v").unwrap();
    assert_eq!((secondary.volume.as_str(), id), ("v", None));
    assert!(split_session_secondary("garbage").is_err());
}

#[test]
fn malformed_and_truncated_xml_is_a_clear_error() {
    let full = fixture("status-replica-active.xml");
    // Every truncation point: an error (never a panic), and never a silently short answer.
    for cut in 0..full.trim_end().len() {
        if !full.is_char_boundary(cut) {
            continue;
        }
        match parse_status(&full[..cut], &BTreeMap::new()) {
            Err(Error::Parse(message)) => assert!(!message.is_empty()),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    let cases = [
        ("", "no XML element"),
        ("geo-replication command failed", "no XML element"),
        ("<cliOutput><opRet>x</opRet></cliOutput>", "not a number"),
        ("<cliOutput><opRet>0</opRet></cliOutput>", "no <geoRep>"),
        ("<other/>", "expected <cliOutput>"),
        ("<cliOutput><opRet>0</opRet><geoRep></cliOutput>", "at byte"),
    ];
    for (xml, want) in cases {
        let err = parse_status(xml, &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains(want), "{xml:?}: {err}");
    }
    let bad_key = full.replace("ssh://192.0.2.102::svol", "nonsense");
    assert!(parse_status(&bad_key, &BTreeMap::new())
        .unwrap_err()
        .to_string()
        .contains("session_secondary"));
}
