//! `ganesha-ha site` offline: the sites configuration (errors name their line), booth.conf,
//! the site's CIB under `crm_verify` and `crm_simulate`, and every operation against a
//! scripted runner (`site::runner::Script`): the argv of each phase, its refusals, and its
//! resumption from each intermediate state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod util;

use std::path::Path;
use std::time::Duration;

use ganesha_ha::cib::Cib;
use ganesha_ha::config::sites;
use ganesha_ha::site::booth::booth_conf;
use ganesha_ha::site::model::site_cib;
use ganesha_ha::site::ops::Site;
use ganesha_ha::site::runner::{At, Output, Script};
use ganesha_ha::site::spec::SitesSpec;
use ganesha_lab::graph::OfflineCib;
use ganesha_testkit::TestCommand;
use ocf::Deadline;

const FILE: &str = "/etc/ganesha/ganesha-ha-sites.conf";

/// This site is west; the pair's original owner is east.
const CONF: &str = "\
# two sites
SITE_NAME=west
SITE_ADDR_east=192.0.2.221
SITE_ADDR_west=192.0.2.222
SITE_ARBITRATOR=192.0.2.223
SITE_LOCAL_HOST=west-n1
PAIR_data=\"remote_host=east-n1 remote_volume=data\"
PAIR_logs=\"remote_host=east-n1 remote_volume=logs2 mode=auto max_lag=60 expire=30 renewal_freq=10 timeout=2 retries=3 acquire_after=5\"
";

fn spec() -> SitesSpec {
    sites::parse(CONF, Path::new(FILE)).unwrap()
}

/// A fixed "now": 2026-12-02 16:00:00 UTC.
fn now() -> u64 {
    1_796_227_200
}

fn site<'a>(spec: &'a SitesSpec, script: &'a Script, deadline: &'a Deadline) -> Site<'a> {
    Site {
        spec,
        runner: script,
        deadline,
        poll: Duration::from_millis(1),
        now,
        progress: &|_| {},
    }
}

fn there() -> At {
    At::There("east-n1".into())
}

fn crm_mon(granted: bool, role: &str) -> Output {
    Output::ok(&format!(
        r#"<pacemaker-result api-version="2.30" request="crm_mon --output-as=xml">
  <summary><current_dc present="true" name="n1" with_quorum="true"/></summary>
  <nodes><node name="n1" id="1" online="true" standby="false" unclean="false"/></nodes>
  <resources>
    <clone id="georep-data-clone" multi_state="true" unique="false">
      <resource id="georep-data" resource_agent="ocf:ganesha:georep_monitor" role="{role}" active="true" failed="false" nodes_running_on="1"><node name="n1" id="1" cached="true"/></resource>
    </clone>
  </resources>
  <tickets><ticket id="ticket-data" status="{}" standby="false"/></tickets>
</pacemaker-result>"#,
        if granted { "granted" } else { "revoked" }
    ))
}

fn volume_get(option: &str, value: &str) -> Output {
    Output::ok(&format!(
        "Option                                  Value\n------                                  -----\n{option}  {value}\n"
    ))
}

/// gluster's reply for a status detail: no session (`status` None), or one Active/Created/
/// Stopped worker with its checkpoint.
fn session(primary: &str, secondary: &str, status: Option<&str>, checkpoint: &str) -> Output {
    let (cp_time, cp_done) = match checkpoint {
        "none" => ("N/A", "N/A"),
        "pending" => ("2026-12-02 15:50:00", "No"),
        _ => ("2026-12-02 15:50:00", "Yes"),
    };
    let body = match status {
        None => String::new(),
        Some(status) => format!(
            r#"<sessions><session>
          <session_secondary>d4ac98ce-5063-4565-a2f4-f6079f33fb8f:ssh://{secondary}:1ba90ef8-8ae3-48f6-b184-b29350e04d20</session_secondary>
          <pair><primary_node>n1</primary_node><primary_brick>/b/{primary}</primary_brick>
            <secondary_user>root</secondary_user><secondary>{secondary}</secondary><secondary_node/>
            <status>{status}</status><crawl_status>Changelog Crawl</crawl_status>
            <entry>1</entry><data>2</data><meta>3</meta><failures>0</failures>
            <checkpoint_completed>{cp_done}</checkpoint_completed><primary_node_uuid>d4ac98ce-5063-4565-a2f4-f6079f33fb8f</primary_node_uuid>
            <last_synced>2026-12-02 15:59:00</last_synced><checkpoint_time>{cp_time}</checkpoint_time>
            <checkpoint_completion_time>N/A</checkpoint_completion_time></pair>
        </session></sessions>"#
        ),
    };
    Output::ok(&format!(
        "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/>\
         <geoRep><volume><name>{primary}</name>{body}</volume></geoRep></cliOutput>"
    ))
}

fn gluster_ok() -> Output {
    Output::ok(
        "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/></cliOutput>",
    )
}

fn config(special: &str, gfid: &str) -> Output {
    Output::ok(&format!(
        "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><geoRep><config>\
         <use_meta_volume>false</use_meta_volume><special_sync_mode>{special}</special_sync_mode>\
         <gfid_conflict_resolution>{gfid}</gfid_conflict_resolution><sync_method>tarssh</sync_method>\
         </config></geoRep></cliOutput>"
    ))
}

fn read_only_volinfo() -> Output {
    Output::ok(
        "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><volInfo><volumes>\
         <volume><name>data</name><options><option><name>features.read-only</name><value>on</value></option>\
         </options></volume></volumes></volInfo></cliOutput>",
    )
}

/// The reverse session: here, data to east-n1::data.
const REVERSE: &str = "data east-n1::data";
/// The original session: at east, data to west-n1::data.
const ORIGINAL: &str = "data west-n1::data";

// ----- configuration -----

#[test]
fn config_errors_name_their_line() {
    let text = "SITE_NAME=west\n\
                SITE_ADDR_east=192.0.2.221\n\
                SITE_ADDR_west=192.0.2.222\n\
                SITE_ARBITRATOR=192.0.2.223\n\
                PAIR_data=\"remote_host=east-n1\"\n\
                PAIR_logs=\"remote_host=h remote_volume=v timeout=5 retries=3 renewal_freq=20\"\n\
                BOOTH_PROT=9929\n\
                this is not a line\n\
                PAIR_x=\"remote_host=h remote_volume=v mode=sometimes\"\n";
    let e = sites::parse(text, Path::new(FILE)).unwrap_err();
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 5, "{shown}");
    assert!(
        lines[0].starts_with(&format!("{FILE}:5: PAIR_data: remote_volume is missing")),
        "{shown}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "{FILE}:6: PAIR_logs: timeout*(retries+1) = 5*(3+1) = 20 is not below renewal_freq=20"
        )),
        "{shown}"
    );
    assert!(
        lines[2].starts_with(&format!("{FILE}:7: unknown key BOOTH_PROT")),
        "{shown}"
    );
    assert!(
        lines[3].starts_with(&format!("{FILE}:8: not a KEY=value line")),
        "{shown}"
    );
    assert!(
        lines[4].contains(":9: PAIR_x: mode: mode `sometimes` is neither manual nor auto"),
        "{shown}"
    );

    let e = sites::parse("SITE_NAME=north\nSITE_ADDR_east=192.0.2.1\nSITE_ADDR_west=192.0.2.2\nSITE_ARBITRATOR=192.0.2.1\n", Path::new(FILE)).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.contains(":1: SITE_NAME north is not one of the sites (east, west)"),
        "{shown}"
    );
    assert!(
        shown.contains(":2: 192.0.2.1 is also the arbitrator's address"),
        "{shown}"
    );
    let e = sites::parse(
        "SITE_NAME=east\nSITE_ADDR_east=192.0.2.1\n",
        Path::new(FILE),
    )
    .unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.contains("1 SITE_ADDR_<site> lines (lines 2): there must be exactly two sites"),
        "{shown}"
    );
    assert!(shown.contains("SITE_ARBITRATOR is missing"), "{shown}");
}

#[test]
fn the_command_line_names_the_broken_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sites.conf");
    std::fs::write(
        &conf,
        CONF.replace("remote_volume=data", "remote_volume=da$ta"),
    )
    .unwrap();
    let ran = TestCommand::program(env!("CARGO_BIN_EXE_ganesha-ha"))
        .args(["site", "status", "data", "--timeout", "5", "--config"])
        .arg(&conf)
        .timeout(Duration::from_secs(30))
        .run();
    ran.expect_code(1);
    assert!(
        ran.stderr()
            .contains(&format!("{}:7: PAIR_data: remote_volume:", conf.display())),
        "{}",
        ran.stderr()
    );
}

// ----- booth.conf and the CIB -----

#[test]
fn booth_conf_is_the_documented_text() {
    assert_eq!(
        booth_conf(&spec()),
        "# Written by `ganesha-ha site setup`: the same file at both sites and the arbitrator.
transport = UDP
port = 9929
authfile = /etc/booth/authkey
# site east
site = 192.0.2.221
# site west
site = 192.0.2.222
arbitrator = 192.0.2.223

# volume data <-> data
ticket = \"ticket-data\"
    expire = 600
    timeout = 5
    retries = 5
    renewal-freq = 300
    acquire-after = 60
    mode = manual

# volume logs <-> logs2
ticket = \"ticket-logs\"
    expire = 30
    timeout = 2
    retries = 3
    renewal-freq = 10
    acquire-after = 5
    attr-prereq = auto repl_state eq ACTIVE
"
    );
    assert!(!booth_conf(&spec()).contains("site-user"));
}

#[test]
fn the_site_cib_verifies_and_promotes_only_with_the_ticket() {
    let model = site_cib(&spec());
    let xml = model.to_xml();
    assert_eq!(Cib::from_xml(&xml).unwrap(), model, "round trip");
    for want in [
        r#"<primitive id="booth-site" class="ocf" provider="ganesha" type="booth_site">"#,
        r#"<nvpair id="georep-data-clone-meta_attributes-promotable" name="promotable" value="true"/>"#,
        r#"<nvpair id="georep-data-instance_attributes-other_site" name="other_site" value="192.0.2.221"/>"#,
        r#"<op id="georep-data-monitor-interval-10s" name="monitor" interval="10s" timeout="60s" role="Promoted"/>"#,
        r#"<op id="georep-data-monitor-interval-11s" name="monitor" interval="11s" timeout="60s" role="Unpromoted"/>"#,
        r#"<rsc_ticket id="georep-data-needs-ticket-data" rsc="georep-data-clone" rsc-role="Promoted" ticket="ticket-data" loss-policy="demote"/>"#,
    ] {
        assert!(xml.contains(want), "{want}\nnot in\n{xml}");
    }
    let sim = OfflineCib::new().unwrap();
    // A node to run on, and no fencing (this CIB holds only the site's part).
    let mut alone = model.clone();
    alone.set_property("stonith-enabled", "false");
    let with_node = alone
        .to_xml()
        .replace("<nodes/>", r#"<nodes><node id="1" uname="n1"/></nodes>"#);
    // Promoted/Unpromoted need schema 3.7 or later (a live CIB of Pacemaker 2.1 has one).
    let with_node = with_node.replace(
        "validate-with=\"pacemaker-3.0\"",
        "validate-with=\"pacemaker-3.9\"",
    );
    sim.write("site.xml", &with_node).unwrap();
    let mut cmd = sim.command("crm_verify", None);
    cmd.arg("-V").arg("--xml-file").arg(sim.path("site.xml"));
    util::offline::stdout_of(cmd);
    // The instance runs Unpromoted with a promotion score (its agent sets one): promoted
    // only once the ticket is granted.
    sim.transition("site.xml", &["-u", "n1"], "started.xml")
        .unwrap();
    sim.attribute("started.xml", "n1", "master-georep-data", Some("5"))
        .unwrap();
    let revoked = sim
        .transition(
            "started.xml",
            &["--ticket-revoke", "ticket-data"],
            "revoked.xml",
        )
        .unwrap();
    assert!(
        !revoked.has("georep-data_promote_0@n1"),
        "promoted without the ticket"
    );
    let granted = sim
        .transition(
            "started.xml",
            &["--ticket-grant", "ticket-data"],
            "granted.xml",
        )
        .unwrap();
    assert!(
        granted.has("georep-data_promote_0@n1"),
        "no promote with the ticket granted"
    );
}

// ----- failover -----

fn stale_script() -> Script {
    let s = Script::new();
    s.on("crm_mon", crm_mon(false, "Unpromoted"));
    s.on("repl_state", Output::ok("FAULTY\n"));
    s.on("last_synced", Output::ok("1796223600\n"));
    s
}

#[test]
fn failover_refuses_a_stale_copy_and_says_what_force_loses() {
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = stale_script();
    let e = site(&spec, &script, &deadline)
        .failover("data", false)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "refusing to fail data over to west: repl_state of ticket-data here is FAULTY, last synced \
         2026-12-02 15:00:00 UTC; the copy here may be stale. `ganesha-ha site failover data --force` \
         takes over anyway: writes made at east after 2026-12-02 15:00:00 UTC may be lost"
    );
    assert!(
        script.calls_with("here: booth ").is_empty(),
        "{:?}",
        script.calls()
    );

    // --force: east does not answer, so the grant is forced; then the wait sees the promotion.
    let script = stale_script();
    script.on(
        "booth list",
        Output::ok("ticket: ticket-data, leader: 192.0.2.221, expires: 2026/12/02 16:10:00\n"),
    );
    script.unreachable("booth revoke");
    script.sequence(
        Some(At::Here),
        "crm_mon",
        &[
            crm_mon(false, "Unpromoted"),
            crm_mon(true, "Unpromoted"),
            crm_mon(true, "Promoted"),
        ],
    );
    script.sequence(
        None,
        "features.read-only",
        &[
            volume_get("features.read-only", "on"),
            volume_get("features.read-only", "off"),
        ],
    );
    let done = site(&spec, &script, &deadline)
        .failover("data", true)
        .unwrap();
    assert_eq!(
        done.warnings[0],
        "writes made at east after 2026-12-02 15:00:00 UTC may be lost"
    );
    assert_eq!(
        script.calls_with("here: booth "),
        [
            "here: booth list -c /etc/booth/booth.conf",
            "here: booth revoke -c /etc/booth/booth.conf -s 192.0.2.221 ticket-data",
            "here: booth grant -c /etc/booth/booth.conf -s 192.0.2.222 -F ticket-data",
        ]
    );
    assert_eq!(
        done.steps.last().unwrap(),
        "georep-data-clone is Promoted here and data writable"
    );
}

#[test]
fn failover_of_a_fresh_copy_revokes_there_then_grants_here_and_reruns_finish() {
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = Script::new();
    script.on("repl_state", Output::ok("ACTIVE\n"));
    script.on(
        "booth list",
        Output::ok("ticket: ticket-data, leader: 192.0.2.221 [manual mode]\n"),
    );
    script.sequence(
        Some(At::Here),
        "crm_mon",
        &[crm_mon(false, "Unpromoted"), crm_mon(true, "Promoted")],
    );
    script.on(
        "features.read-only",
        volume_get("features.read-only", "off"),
    );
    // east is demoted by loss-policy after the revoke: Promoted and writable, then not.
    script.sequence(
        Some(there()),
        "crm_mon",
        &[crm_mon(false, "Promoted"), crm_mon(false, "Unpromoted")],
    );
    script.sequence(
        Some(there()),
        "features.read-only",
        &[
            volume_get("features.read-only", "off"),
            volume_get("features.read-only", "on"),
        ],
    );
    let done = site(&spec, &script, &deadline)
        .failover("data", false)
        .unwrap();
    let calls = script.calls();
    let demoted = calls
        .iter()
        .rposition(|c| c.starts_with("east-n1: ") && c.contains("features.read-only"))
        .unwrap();
    let grant = calls
        .iter()
        .position(|c| c.contains("booth grant"))
        .unwrap();
    assert!(demoted < grant, "{calls:?}");
    assert!(done.warnings.is_empty(), "{:?}", done.warnings);
    assert_eq!(
        script.calls_with("here: booth "),
        [
            "here: booth list -c /etc/booth/booth.conf",
            "here: booth revoke -c /etc/booth/booth.conf -s 192.0.2.221 ticket-data",
            "here: booth grant -c /etc/booth/booth.conf -s 192.0.2.222 ticket-data",
        ]
    );
    // The grant comes only after east showed itself demoted and read-only.
    let calls = script.calls();
    let pos = |text: &str| calls.iter().rposition(|c| c.contains(text)).unwrap();
    assert!(
        pos("east-n1: gluster --mode=script volume get data features.read-only")
            < pos("booth grant")
    );
    // Promoted; Unpromoted but writable; Unpromoted and read-only.
    assert_eq!(script.calls_with("east-n1: crm_mon").len(), 3, "{calls:?}");
    assert!(done
        .steps
        .contains(&"georep-data-clone is demoted at east, data read-only there".to_owned()));

    // east cannot be asked (its node is down, booth answered the revoke): a warning, and
    // the grant.
    let script = Script::new();
    script.on("repl_state", Output::ok("ACTIVE\n"));
    script.on(
        "booth list",
        Output::ok("ticket: ticket-data, leader: NONE [manual mode]\n"),
    );
    script.sequence(
        Some(At::Here),
        "crm_mon",
        &[crm_mon(false, "Unpromoted"), crm_mon(true, "Promoted")],
    );
    script.on(
        "features.read-only",
        volume_get("features.read-only", "off"),
    );
    script.unreachable("east-n1");
    let done = site(&spec, &script, &deadline)
        .failover("data", false)
        .unwrap();
    assert_eq!(script.calls_with("here: booth grant").len(), 1);
    assert!(
        done.warnings[0].starts_with("cannot ask east-n1 at east whether it still owns data"),
        "{:?}",
        done.warnings
    );
    // Rerun: the ticket is here already, nothing moves.
    let again = Script::new();
    again.on("crm_mon", crm_mon(true, "Promoted"));
    again.on(
        "features.read-only",
        volume_get("features.read-only", "off"),
    );
    site(&spec, &again, &deadline)
        .failover("data", false)
        .unwrap();
    assert!(
        again.calls_with("here: booth ").is_empty(),
        "{:?}",
        again.calls()
    );
    // A wait that never ends is cut at the deadline, with its reason.
    let stuck = Script::new();
    stuck.on("crm_mon", crm_mon(true, "Unpromoted"));
    let short = Deadline::after(Duration::from_millis(50));
    let e = site(&spec, &stuck, &short)
        .failover("data", false)
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert!(
        e.to_string().contains("georep-data-clone is not Promoted"),
        "{e}"
    );
}

// ----- failback -----

fn owner_script() -> Script {
    let s = Script::new();
    s.on_at(At::Here, "crm_mon", crm_mon(true, "Promoted"));
    s.on_at(there(), "crm_mon", crm_mon(false, "Unpromoted"));
    s.on(
        &format!("{ORIGINAL} status detail"),
        session("data", "west-n1::data", Some("Stopped"), "none"),
    );
    s.on("mktemp", Output::ok("/run/ganesha-ha-marker.abc\n"));
    s
}

#[test]
fn failback_start_builds_the_reverse_session_and_resumes() {
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = owner_script();
    script.on(
        &format!("{ORIGINAL} status detail"),
        session("data", "west-n1::data", Some("Active"), "none"),
    );
    script.sequence(
        None,
        &format!("{REVERSE} status detail"),
        &[
            session("data", "east-n1::data", None, "none"),
            session("data", "east-n1::data", Some("Created"), "none"),
            session("data", "east-n1::data", Some("Active"), "none"),
        ],
    );
    script
        .on(&format!("{REVERSE} config"), gluster_ok())
        .on(" create ", gluster_ok())
        .on(" start", gluster_ok());
    script.on(&format!("{REVERSE} config --xml"), config("", "true"));
    script.on(
        "--remote-host=east-n1 volume info data",
        read_only_volinfo(),
    );
    script.on(&format!("{ORIGINAL} stop"), gluster_ok());
    site(&spec, &script, &deadline)
        .failback_start("data")
        .unwrap();
    let changes: Vec<String> = script
        .calls()
        .into_iter()
        .filter(|c| {
            !c.contains("status detail")
                && !c.contains("crm_mon")
                && !c.contains("config --xml")
                && !c.contains("volume info")
        })
        .collect();
    assert_eq!(
        changes,
        [
            "east-n1: gluster --mode=script volume geo-replication data west-n1::data stop force --xml",
            "here: gluster --mode=script system:: execute gsec_create",
            "here: gluster --mode=script volume geo-replication data east-n1::data create ssh-port 22 push-pem force --xml",
            "here: gluster --mode=script volume geo-replication data east-n1::data config ssh-port 22 --xml",
            "here: gluster --mode=script volume geo-replication data east-n1::data config special-sync-mode recover --xml",
            "here: gluster --mode=script volume geo-replication data east-n1::data config gfid-conflict-resolution false --xml",
            "here: gluster --mode=script volume geo-replication data east-n1::data start --xml",
            "here: gluster --mode=script volume geo-replication data east-n1::data config checkpoint now --xml",
            "here: mktemp -d /run/ganesha-ha-marker.XXXXXX",
            "here: glusterfs --client-pid=-1 --volfile-server=west-n1 --volfile-id=data /run/ganesha-ha-marker.abc",
            "here: mountpoint -q /run/ganesha-ha-marker.abc",
            "here: touch /run/ganesha-ha-marker.abc/.ganesha-ha-failback-1796227200",
            "here: umount /run/ganesha-ha-marker.abc",
            "here: rmdir /run/ganesha-ha-marker.abc",
        ]
    );

    // Interrupted after create: the rest is done, nothing twice.
    let script = owner_script();
    script.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", Some("Created"), "none"),
    );
    script
        .on(&format!("{REVERSE} config"), gluster_ok())
        .on(" start", gluster_ok());
    script.on(
        &format!("{REVERSE} config --xml"),
        config("recover", "true"),
    );
    script.sequence(
        None,
        &format!("{REVERSE} status detail"),
        &[
            session("data", "east-n1::data", Some("Created"), "none"),
            session("data", "east-n1::data", Some("Active"), "none"),
        ],
    );
    site(&spec, &script, &deadline)
        .failback_start("data")
        .unwrap();
    assert!(script.calls_with(" create ").is_empty());
    assert!(script.calls_with("special-sync-mode").is_empty());
    assert_eq!(script.calls_with("gfid-conflict-resolution false").len(), 1);
    assert_eq!(script.calls_with(&format!("{REVERSE} start")).len(), 1);

    // Everything done: a rerun changes nothing.
    let script = owner_script();
    script.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", Some("Active"), "pending"),
    );
    script.on(
        &format!("{REVERSE} config --xml"),
        config("recover", "false"),
    );
    site(&spec, &script, &deadline)
        .failback_start("data")
        .unwrap();
    let changes: Vec<String> = script
        .calls()
        .into_iter()
        .filter(|c| {
            c.contains(" create ")
                || c.contains(" start")
                || c.contains(" stop")
                || c.contains("config checkpoint")
                || c.contains("config special")
        })
        .collect();
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn failback_start_refuses_where_it_cannot_work() {
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = Script::new();
    script.on("crm_mon", crm_mon(false, "Unpromoted"));
    let e = site(&spec, &script, &deadline)
        .failback_start("data")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("failback start runs at the current owner: west does not hold ticket-data"),
        "{e}"
    );
    let e = site(&spec, &script, &deadline)
        .failback_start("nope")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("nope is not a volume of the sites configuration (its pairs: data, logs)"),
        "{e}"
    );
    // The old owner does not answer.
    let script = owner_script();
    script.unreachable(&format!("{ORIGINAL} status detail"));
    let e = site(&spec, &script, &deadline)
        .failback_start("data")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot ask east-n1 at east about its session data west-n1::data"),
        "{e}"
    );
    // use-meta-volume without the shared storage.
    let script = owner_script();
    script.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", Some("Created"), "none"),
    );
    script.on(
        &format!("{REVERSE} config --xml"),
        Output::ok(
            &config("", "true")
                .stdout
                .replace("<use_meta_volume>false", "<use_meta_volume>true"),
        ),
    );
    script.on(
        "mountpoint -q /run/gluster/shared_storage",
        Output::fail(1, ""),
    );
    let e = site(&spec, &script, &deadline)
        .failback_start("data")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("the shared storage is not mounted at /run/gluster/shared_storage"),
        "{e}"
    );
}

#[test]
fn failback_status_reads_the_reverse_checkpoint() {
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = owner_script();
    script.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", Some("Active"), "pending"),
    );
    let s = site(&spec, &script, &deadline)
        .failback_status("data")
        .unwrap();
    assert_eq!(
        (
            s.state.as_str(),
            s.lag,
            s.entry_pending,
            s.data_pending,
            s.meta_pending
        ),
        ("Sync in progress", Some(60), 1, 2, 3)
    );
    script.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", Some("Active"), "done"),
    );
    let s = site(&spec, &script, &deadline)
        .failback_status("data")
        .unwrap();
    assert_eq!(s.state, "Sync completed");
    let none = owner_script();
    none.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", None, "none"),
    );
    let e = site(&spec, &none, &deadline)
        .failback_status("data")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("run `ganesha-ha site failback start data` first"),
        "{e}"
    );
}

#[test]
fn a_busy_gluster_is_asked_again_within_the_deadline() {
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = owner_script();
    let busy = Output::fail(
        2,
        "Another transaction is in progress for data. Please try again after some time.",
    );
    // The --xml form: exit 0, opRet -1.
    let busy_xml = Output::ok(
        "<cliOutput><opRet>-1</opRet><opErrno>30802</opErrno><opErrstr>Another transaction is in \
         progress for data. Please try again after some time.</opErrstr></cliOutput>",
    );
    script.sequence(
        None,
        &format!("{REVERSE} status detail"),
        &[
            busy,
            busy_xml,
            session("data", "east-n1::data", Some("Active"), "done"),
        ],
    );
    let s = site(&spec, &script, &deadline)
        .failback_status("data")
        .unwrap();
    assert_eq!(s.state, "Sync completed");
    assert_eq!(
        script.calls_with(&format!("{REVERSE} status detail")).len(),
        3
    );
}

#[test]
fn a_session_gluster_fails_to_report_in_xml_is_asked_again() {
    // gluster 10.3 failed `status detail --xml` (exit 2) while its plain form listed the
    // session, right after a killed `failback start` left its create running: no answer,
    // asked again.
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = owner_script();
    let table = Output::ok(
        "PRIMARY NODE    PRIMARY VOL    PRIMARY BRICK    SECONDARY USER    SECONDARY    STATUS\n\
         west-n1    data    /b/data    root    east-n1::data    Created\n",
    );
    script.sequence(
        None,
        &format!("{REVERSE} status detail"),
        &[
            Output::fail(2, "geo-replication command failed"),
            table,
            session("data", "east-n1::data", Some("Active"), "done"),
        ],
    );
    let s = site(&spec, &script, &deadline)
        .failback_status("data")
        .unwrap();
    assert_eq!(s.state, "Sync completed");
    // The XML call, its plain form (for the reason), the XML call again.
    assert_eq!(
        script.calls_with(&format!("{REVERSE} status detail")).len(),
        3
    );
}

/// The commit's script from the start: owner here, reverse sync complete.
fn commit_script() -> Script {
    let s = Script::new();
    s.sequence(
        Some(At::Here),
        "crm_mon",
        &[crm_mon(true, "Promoted"), crm_mon(false, "Unpromoted")],
    );
    s.on_at(there(), "crm_mon", crm_mon(true, "Promoted"));
    s.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", Some("Active"), "done"),
    );
    s.on(
        &format!("{ORIGINAL} status detail"),
        session("data", "west-n1::data", Some("Stopped"), "none"),
    );
    s.sequence(
        None,
        "volume get data features.read-only",
        &[
            volume_get("features.read-only", "off"),
            volume_get("features.read-only", "on"),
        ],
    );
    s.on(
        "volume get data geo-replication.indexing",
        volume_get("geo-replication.indexing", "on"),
    );
    s.on(
        "volume get data changelog.changelog",
        volume_get("changelog.changelog", "on"),
    );
    s.on("mktemp", Output::ok("/run/ganesha-ha-marker.abc\n"));
    s.on(
        "booth list",
        Output::ok("ticket: ticket-data, leader: NONE [manual mode]\n"),
    );
    s.on(" stop", gluster_ok())
        .on(" delete", gluster_ok())
        .on(" start", gluster_ok())
        .on("config checkpoint", gluster_ok());
    s.on(&format!("{ORIGINAL} config --xml"), config("", "true"));
    s
}

#[test]
fn failback_commit_moves_the_ticket_back_after_the_marker_syncs() {
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = commit_script();
    // After the original session's start, gluster shows it running.
    script.sequence(
        None,
        &format!("{ORIGINAL} status detail"),
        &[
            session("data", "west-n1::data", Some("Stopped"), "none"),
            session("data", "west-n1::data", Some("Active"), "none"),
        ],
    );
    script.sequence(
        None,
        &format!("{REVERSE} status detail"),
        &[
            session("data", "east-n1::data", Some("Active"), "done"),
            session("data", "east-n1::data", Some("Active"), "done"),
            session("data", "east-n1::data", Some("Stopped"), "none"),
        ],
    );
    site(&spec, &script, &deadline)
        .failback_commit("data")
        .unwrap();
    let changes: Vec<String> = script
        .calls()
        .into_iter()
        .filter(|c| {
            !c.contains("status detail")
                && !c.contains("crm_mon")
                && !c.contains("volume get")
                && !c.contains("config --xml")
                && !c.contains("volume info")
                && !c.contains("booth list")
        })
        .collect();
    assert_eq!(
        changes,
        [
            "here: attrd_updater -n georep-data-handover -U 1796227200 -N n1",
            "here: gluster --mode=script volume set data features.read-only on",
            "here: gluster --mode=script volume geo-replication data east-n1::data config checkpoint now --xml",
            "here: mktemp -d /run/ganesha-ha-marker.XXXXXX",
            "here: glusterfs --client-pid=-1 --volfile-server=west-n1 --volfile-id=data /run/ganesha-ha-marker.abc",
            "here: mountpoint -q /run/ganesha-ha-marker.abc",
            "here: touch /run/ganesha-ha-marker.abc/.ganesha-ha-failback-1796227200",
            "here: umount /run/ganesha-ha-marker.abc",
            "here: rmdir /run/ganesha-ha-marker.abc",
            "here: mkdir -p /var/lib/ganesha-ha/failback",
            "here: touch /var/lib/ganesha-ha/failback/data",
            "here: booth revoke -c /etc/booth/booth.conf -s 192.0.2.222 ticket-data",
            "here: test -e /var/lib/ganesha-ha/failback/data",
            "here: booth grant -c /etc/booth/booth.conf -s 192.0.2.221 ticket-data",
            "here: gluster --mode=script volume geo-replication data east-n1::data delete --xml",
            "here: gluster --mode=script volume reset data geo-replication.indexing force",
            "here: gluster --mode=script volume reset data changelog",
            "east-n1: gluster --mode=script volume geo-replication data west-n1::data start --xml",
            "here: rm -f -- /var/lib/ganesha-ha/failback/data",
        ]
    );
}

#[test]
fn failback_commit_refuses_an_incomplete_sync_and_resumes_from_each_state() {
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    // The reverse checkpoint is still pending: nothing changes.
    let script = commit_script();
    script.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", Some("Active"), "pending"),
    );
    let e = site(&spec, &script, &deadline)
        .failback_commit("data")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("the reverse sync of data is not complete (Sync in progress"),
        "{e}"
    );
    assert!(
        script.calls_with("volume set").is_empty() && script.calls_with("booth revoke").is_empty()
    );

    // Revoked here, granted nowhere, the sync recorded: grant there and finish.
    let script = commit_script();
    script.on_at(At::Here, "crm_mon", crm_mon(false, "Unpromoted"));
    script.on(
        "volume get data features.read-only",
        volume_get("features.read-only", "on"),
    );
    site(&spec, &script, &deadline)
        .failback_commit("data")
        .unwrap();
    assert!(
        script.calls_with("booth revoke").is_empty() && script.calls_with("glusterfs").is_empty()
    );
    assert_eq!(script.calls_with("booth grant").len(), 1);

    // Granted nowhere and nothing says the sync completed: refused.
    let script = commit_script();
    script.on_at(At::Here, "crm_mon", crm_mon(false, "Unpromoted"));
    script.on(
        "volume get data features.read-only",
        volume_get("features.read-only", "on"),
    );
    script.on("test -e", Output::fail(1, ""));
    let e = site(&spec, &script, &deadline)
        .failback_commit("data")
        .unwrap_err();
    assert!(e.to_string().contains("ticket-data is granted nowhere and nothing here says the reverse sync of data completed"), "{e}");
    assert!(script.calls_with("booth grant").is_empty());

    // Granted back already, reverse session gone, indexing reset, original running: only
    // the record is removed.
    let script = commit_script();
    script.on_at(At::Here, "crm_mon", crm_mon(false, "Unpromoted"));
    script.on(
        "volume get data features.read-only",
        volume_get("features.read-only", "on"),
    );
    script.on(
        "booth list",
        Output::ok("ticket: ticket-data, leader: 192.0.2.221 [manual mode]\n"),
    );
    script.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", None, "none"),
    );
    script.on(
        "volume get data geo-replication.indexing",
        volume_get("geo-replication.indexing", "off"),
    );
    script.on(
        "volume get data changelog.changelog",
        volume_get("changelog.changelog", "off"),
    );
    script.on(
        &format!("{ORIGINAL} status detail"),
        session("data", "west-n1::data", Some("Active"), "none"),
    );
    site(&spec, &script, &deadline)
        .failback_commit("data")
        .unwrap();
    let changes: Vec<String> = script
        .calls()
        .into_iter()
        .filter(|c| {
            c.contains("booth grant")
                || c.contains("booth revoke")
                || c.contains(" delete")
                || c.contains("volume reset")
                || c.contains(" start")
                || c.contains("rm -f")
        })
        .collect();
    assert_eq!(
        changes,
        ["here: rm -f -- /var/lib/ganesha-ha/failback/data"]
    );
}

#[test]
fn a_commit_cut_off_after_its_checkpoint_resumes_instead_of_refusing() {
    // A commit killed after it made the volume read-only and set its checkpoint: that
    // checkpoint completes only after the marker, so the rerun must not take "pending" for
    // an unfinished reverse sync. It sets a checkpoint and a marker again, waits for them,
    // and moves the ticket.
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = commit_script();
    script.on(
        "volume get data features.read-only",
        volume_get("features.read-only", "on"),
    );
    script.sequence(
        None,
        &format!("{REVERSE} status detail"),
        &[
            session("data", "east-n1::data", Some("Active"), "pending"),
            session("data", "east-n1::data", Some("Active"), "pending"),
            session("data", "east-n1::data", Some("Active"), "done"),
            session("data", "east-n1::data", Some("Stopped"), "none"),
        ],
    );
    let done = site(&spec, &script, &deadline)
        .failback_commit("data")
        .unwrap();
    assert!(
        done.steps
            .iter()
            .any(|s| s.contains("read-only here already: resuming the commit")),
        "{done:?}"
    );
    assert!(script.calls_with("volume set").is_empty());
    assert_eq!(script.calls_with("config checkpoint now").len(), 1);
    assert_eq!(script.calls_with("touch /run/ganesha-ha-marker").len(), 1);
    assert_eq!(script.calls_with("booth revoke").len(), 1);
    assert_eq!(script.calls_with("booth grant").len(), 1);
}

#[test]
fn a_checkpoint_that_does_not_complete_restarts_the_reverse_session_once() {
    // gluster 10.3 lost the marker's changelog event after a killed commit: the session
    // stayed Active and the checkpoint pending. Half-way through the time left the commit
    // restarts the reverse session (a history crawl catches up), then waits again.
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(6));
    let script = commit_script();
    script.on(
        &format!("{REVERSE} config --xml"),
        config("recover", "false"),
    );
    let pending = session("data", "east-n1::data", Some("Active"), "pending");
    script.sequence(
        None,
        &format!("{REVERSE} status detail"),
        &[
            session("data", "east-n1::data", Some("Active"), "done"),
            pending.clone(),
            pending.clone(),
            pending.clone(),
            pending.clone(),
            pending,
            session("data", "east-n1::data", Some("Active"), "done"),
        ],
    );
    let done = site(&spec, &script, &deadline)
        .failback_commit("data")
        .unwrap();
    assert!(
        done.steps
            .iter()
            .any(|s| s.starts_with("the checkpoint did not complete in")),
        "{done:?}"
    );
    // Once to restart it, once before it is deleted.
    assert_eq!(script.calls_with(&format!("{REVERSE} stop force")).len(), 2);
    assert_eq!(script.calls_with(&format!("{REVERSE} start")).len(), 1);
    assert_eq!(script.calls_with("booth grant").len(), 1);
}

// ----- setup -----

#[test]
fn setup_merges_the_cib_once_and_guards_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let conf = CONF.to_owned()
        + &format!(
            "BOOTH_CONF={0}/booth/booth.conf\nBOOTH_KEY={0}/booth/authkey\n",
            dir.path().display()
        );
    let spec = sites::parse(&conf, Path::new(FILE)).unwrap();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = Script::new();
    let empty = Cib::default()
        .to_xml()
        .replace("pacemaker-3.0", "pacemaker-3.9");
    script.on("cibadmin --query", Output::ok(&empty));
    let given = dir.path().join("key-from-east");
    std::fs::write(&given, b"0123456789abcdef").unwrap();
    let report = ganesha_ha::site::setup::setup(&spec, Some(&given), &script, &deadline).unwrap();
    assert!(report.cib_changed);
    assert_eq!(script.calls_with("cibadmin --replace").len(), 2);
    let key = dir.path().join("booth/authkey");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("booth/booth.conf")).unwrap(),
        booth_conf(&spec)
    );
    // The live CIB now holds the site's part: nothing is written again.
    let live = ganesha_ha::apply::merge(&Cib::default(), &site_cib(&spec))
        .to_xml()
        .replace("pacemaker-3.0", "pacemaker-3.9");
    let again = Script::new();
    again.on("cibadmin --query", Output::ok(&live));
    let report = ganesha_ha::site::setup::setup(&spec, Some(&given), &again, &deadline).unwrap();
    assert!(!report.cib_changed, "{:?}", again.calls());
    assert!(again.calls_with("--replace").is_empty());
    // Another key is never written over this one.
    let other = dir.path().join("other-key");
    std::fs::write(&other, b"fedcba9876543210").unwrap();
    let e = ganesha_ha::site::setup::setup(&spec, Some(&other), &again, &deadline).unwrap_err();
    assert!(
        e.to_string()
            .contains("holds another key: refusing to overwrite it"),
        "{e}"
    );
    // No key given and none there: booth-keygen makes one.
    std::fs::remove_file(&key).unwrap();
    let keygen = Script::new();
    keygen.on("cibadmin --query", Output::ok(&live));
    let report = ganesha_ha::site::setup::setup(&spec, None, &keygen, &deadline).unwrap();
    assert_eq!(
        keygen.calls_with("booth-keygen"),
        [format!("here: booth-keygen {}", key.display())]
    );
    assert!(
        report
            .lines
            .iter()
            .any(|l| l.contains("the same key must be at")),
        "{:?}",
        report.lines
    );
}

#[test]
fn status_reports_drift_between_the_ticket_and_what_runs() {
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = Script::new();
    script.on("crm_mon", crm_mon(true, "Unpromoted"));
    script.on("features.read-only", volume_get("features.read-only", "on"));
    script.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", Some("Stopped"), "none"),
    );
    script.on(
        "booth list",
        Output::ok("ticket: ticket-data, leader: 192.0.2.222 [manual mode]\n"),
    );
    let s = site(&spec, &script, &deadline).status("data").unwrap();
    assert!(s.granted_here);
    assert_eq!(s.leader.as_deref(), Some("192.0.2.222"));
    assert_eq!(s.session.as_deref(), Some("STOPPED"));
    assert_eq!(s.lag, Some(60));
    assert_eq!(
        s.drift,
        [
            "the ticket is granted here but georep-data-clone is not Promoted on any node",
            "the ticket is granted here but data is read-only",
            "the ticket is granted here but the session to east-n1::data does not run",
        ]
    );
    let script = Script::new();
    script.on("crm_mon", crm_mon(false, "Unpromoted"));
    script.on("features.read-only", volume_get("features.read-only", "on"));
    script.on(
        &format!("{REVERSE} status detail"),
        session("data", "east-n1::data", Some("Stopped"), "none"),
    );
    script.on("repl_state", Output::ok("ACTIVE\n"));
    let s = site(&spec, &script, &deadline).status("data").unwrap();
    assert!(s.drift.is_empty(), "{:?}", s.drift);
    assert_eq!(s.repl_state.as_deref(), Some("ACTIVE"));
}

#[test]
fn setup_upgrades_an_old_schema_like_pcs() {
    let dir = tempfile::tempdir().unwrap();
    let conf = CONF.to_owned()
        + &format!(
            "BOOTH_CONF={0}/booth/booth.conf\nBOOTH_KEY={0}/booth/authkey\n",
            dir.path().display()
        );
    let spec = sites::parse(&conf, Path::new(FILE)).unwrap();
    let deadline = Deadline::after(Duration::from_secs(10));
    let given = dir.path().join("key");
    std::fs::write(&given, b"0123456789abcdef").unwrap();
    let old = Cib::default().to_xml();
    assert!(old.contains("pacemaker-3.0"), "{old}");
    let new = old.replace("pacemaker-3.0", "pacemaker-3.9");
    let script = Script::new();
    script.sequence(
        None,
        "cibadmin --query",
        &[Output::ok(&old), Output::ok(&new)],
    );
    let report = ganesha_ha::site::setup::setup(&spec, Some(&given), &script, &deadline).unwrap();
    assert_eq!(script.calls_with("cibadmin --upgrade --force").len(), 1);
    assert!(
        report
            .lines
            .iter()
            .any(|l| l.contains("from pacemaker-3.0 to pacemaker-3.9")),
        "{:?}",
        report.lines
    );
    // A Pacemaker whose newest schema is still too old: refused, nothing replaced.
    let stuck = Script::new();
    stuck.on("cibadmin --query", Output::ok(&old));
    let e = ganesha_ha::site::setup::setup(&spec, Some(&given), &stuck, &deadline).unwrap_err();
    assert!(
        e.to_string().contains("too old for promotable roles"),
        "{e}"
    );
    assert!(stuck.calls_with("--replace").is_empty());
}

#[test]
fn the_marker_is_never_written_outside_its_own_mount() {
    let spec = spec();
    let deadline = Deadline::after(Duration::from_secs(10));
    let script = commit_script();
    script.on("mktemp", Output::ok("\n"));
    let e = site(&spec, &script, &deadline)
        .failback_commit("data")
        .unwrap_err();
    assert!(e.to_string().contains("not a directory under /run"), "{e}");
    assert!(
        script.calls_with("touch").is_empty(),
        "{:?}",
        script.calls()
    );
    assert!(script.calls_with("glusterfs --client-pid").is_empty());
}

#[test]
fn with_a_booth_nic_the_site_address_follows_boothd() {
    let conf = CONF.to_owned() + "SITE_BOOTH_NIC=eth1\n";
    let spec = sites::parse(&conf, Path::new(FILE)).unwrap();
    let model = site_cib(&spec);
    let xml = model.to_xml();
    assert_eq!(Cib::from_xml(&xml).unwrap(), model, "round trip");
    let group = xml.find(r#"<group id="booth">"#).expect("a booth group");
    let ip =
        xml.find(r#"<primitive id="booth-ip" class="ocf" provider="heartbeat" type="IPaddr2">"#);
    let boothd = xml.find(r#"<primitive id="booth-site""#);
    assert!(
        matches!((ip, boothd), (Some(i), Some(b)) if group < i && i < b),
        "{xml}"
    );
    let here = spec.here().addr.to_string();
    assert!(
        xml.contains(&format!(r#"name="ip" value="{here}""#)),
        "{xml}"
    );
    assert!(xml.contains(r#"name="nic" value="eth1""#), "{xml}");
    let sim = OfflineCib::new().unwrap();
    let mut alone = model.clone();
    alone.set_property("stonith-enabled", "false");
    let with_node = alone
        .to_xml()
        .replace("<nodes/>", r#"<nodes><node id="1" uname="n1"/></nodes>"#)
        .replace(
            "validate-with=\"pacemaker-3.0\"",
            "validate-with=\"pacemaker-3.9\"",
        );
    sim.write("site.xml", &with_node).unwrap();
    let mut cmd = sim.command("crm_verify", None);
    cmd.arg("-V").arg("--xml-file").arg(sim.path("site.xml"));
    util::offline::stdout_of(cmd);
    // A bad interface name is refused with its line.
    let bad = CONF.to_owned() + "SITE_BOOTH_NIC=eth 1\n";
    assert!(sites::parse(&bad, Path::new(FILE)).is_err());
}
