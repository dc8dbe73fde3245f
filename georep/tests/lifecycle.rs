//! The whole life of a session on real GlusterFS 10.3: two sites in namespaces
//! (tests/util), driven only through the library, asserting its view after each step.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::path::Path;
use std::time::{Duration, Instant};

use georep::{CommandRunner, ConfigError, CreateOptions, Error, Gluster, Secondary, SessionStatus};
use util::{wait_for, Fallible, TwoSites};

/// gluster 10.3 sometimes never delivers changelog events to a worker, so a
/// sync that does not show up in time gets one kick (stop and start, which catches up
/// through a history crawl) before the test gives up.
const FIRST_WAIT: Duration = Duration::from_secs(40);
const AFTER_KICK: Duration = Duration::from_secs(60);

fn step(started: Instant, what: &str) {
    eprintln!("[{:>6.1}s] {what}", started.elapsed().as_secs_f64());
}

fn status(g: &Gluster, secondary: &Secondary) -> SessionStatus {
    g.session("pvol", secondary)
        .unwrap()
        .map_or(SessionStatus::Unknown, |s| s.status)
}

fn wait_status(
    g: &Gluster,
    secondary: &Secondary,
    want: SessionStatus,
    limit: Duration,
) -> Fallible<()> {
    wait_for(&format!("session status {want}"), limit, || {
        (status(g, secondary) == want).then_some(())
    })
}

/// Stops and starts the session: the documented way to revive a worker that lost its
/// changelog notifications.
fn kick(g: &Gluster, secondary: &Secondary) {
    eprintln!("kicking the worker (stop, start)");
    g.stop("pvol", secondary, false).unwrap();
    g.start("pvol", secondary, false).unwrap();
    wait_status(g, secondary, SessionStatus::Active, Duration::from_secs(60)).unwrap();
}

fn synced(brick: &Path, name: &str, content: &str) -> bool {
    std::fs::read_to_string(brick.join(name)).is_ok_and(|c| c == content)
}

fn wait_synced(g: &Gluster, secondary: &Secondary, brick: &Path, name: &str, content: &str) {
    if wait_for(name, FIRST_WAIT, || {
        synced(brick, name, content).then_some(())
    })
    .is_ok()
    {
        return;
    }
    kick(g, secondary);
    wait_for(name, AFTER_KICK, || {
        synced(brick, name, content).then_some(())
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}; brick has {:?}",
            std::fs::read_dir(brick).map(|d| d.count())
        )
    });
}

#[test]
fn session_lifecycle_on_real_glusterfs() {
    assert!(
        util::can_run(),
        "needs root and scripts/install-deps (glusterfs-server, openssh-server)"
    );
    let started = Instant::now();
    let sites = TwoSites::build().unwrap();
    step(started, "two sites up");
    TwoSites::volume(&sites.primary, "pvol").unwrap();
    let secondary_brick = TwoSites::volume(&sites.secondary, "svol").unwrap();
    let mnt = TwoSites::mount(&sites.primary, "pvol").unwrap();
    // Files are staged in the site's directory and copied onto the mount inside the site.
    let write = |name: &str, content: &str| {
        let staged = sites.primary.dir.join(name);
        std::fs::write(&staged, content).unwrap();
        let staged = staged.to_string_lossy().into_owned();
        let to = format!("{mnt}/{name}");
        sites
            .primary
            .run(&["cp", &staged, &to], Duration::from_secs(30))
            .unwrap();
    };
    write("before.txt", "written before the session");
    step(started, "volumes up, primary mounted");

    let mut g = Gluster::new(CommandRunner::default().with_prefix(sites.primary.prefix()));
    g.timeout = Duration::from_secs(90);
    let secondary = Secondary::parse("192.0.2.102::svol").unwrap();
    assert!(!g.exists("pvol", &secondary).unwrap());
    assert_eq!(g.status_all().unwrap(), vec![]);

    // create: keys, push-pem, and the wait for the hook's read-only flag.
    let opts = CreateOptions {
        push_pem: true,
        ..CreateOptions::default()
    };
    g.create("pvol", &secondary, &opts).unwrap();
    step(started, "created");
    let session = g.session("pvol", &secondary).unwrap().unwrap();
    assert_eq!(session.status, SessionStatus::Created);
    assert_eq!(
        (
            session.secondary_host.as_str(),
            session.secondary_volume.as_str(),
            session.secondary_user.as_str()
        ),
        ("192.0.2.102", "svol", "root")
    );
    assert!(session.primary_volume_id.is_some() && session.secondary_volume_id.is_some());
    assert_eq!(session.details.len(), 1);
    assert!(!g.running("pvol", &secondary).unwrap());
    // The same session in the all-sessions and the per-volume status.
    for listed in [g.status_all().unwrap(), g.status_volume("pvol").unwrap()] {
        assert_eq!(listed, vec![session.clone()]);
    }

    // start: Debian's rsync 3.5.0 is detected on the secondary and the session moves to tarssh.
    let outcome = g.start("pvol", &secondary, false).unwrap();
    step(started, "started");
    eprintln!("start notes: {:?}", outcome.notes);
    assert!(g.running("pvol", &secondary).unwrap());
    assert_eq!(
        g.config_get("pvol", &secondary, "sync_method")
            .unwrap()
            .as_deref(),
        Some("tarssh")
    );
    assert!(
        outcome.notes.iter().any(|n| n.contains("tarssh")),
        "{:?}",
        outcome.notes
    );
    wait_status(
        &g,
        &secondary,
        SessionStatus::Active,
        Duration::from_secs(60),
    )
    .unwrap();
    step(started, "active");

    // Data written before and after start reaches the secondary's brick, with its content.
    wait_synced(
        &g,
        &secondary,
        &secondary_brick,
        "before.txt",
        "written before the session",
    );
    write("live.txt", "written while active");
    wait_synced(
        &g,
        &secondary,
        &secondary_brick,
        "live.txt",
        "written while active",
    );
    step(started, "files synced");

    g.pause("pvol", &secondary, false).unwrap();
    assert_eq!(status(&g, &secondary), SessionStatus::Paused);
    assert!(!g.running("pvol", &secondary).unwrap());
    let again = g.pause("pvol", &secondary, false).unwrap_err();
    assert!(
        again
            .gluster_message()
            .is_some_and(|m| m.contains("already Paused")),
        "{again}"
    );
    g.resume("pvol", &secondary, false).unwrap();
    assert!(g.running("pvol", &secondary).unwrap());
    step(started, "paused and resumed");

    // config: a no-restart option, set, read back and reset; bad input never reaches gluster.
    let setting = g
        .config_set("pvol", &secondary, "log_rsync_performance", "yes")
        .unwrap();
    assert_eq!(
        (
            setting.name,
            setting.value.as_str(),
            setting.restarts_session
        ),
        ("log-rsync-performance", "true", false)
    );
    assert_eq!(
        g.config_get("pvol", &secondary, "log-rsync-performance")
            .unwrap()
            .as_deref(),
        Some("true")
    );
    g.config_reset("pvol", &secondary, "log-rsync-performance")
        .unwrap();
    assert_eq!(
        g.config_get("pvol", &secondary, "log_rsync_performance")
            .unwrap()
            .as_deref(),
        Some("false")
    );
    assert!(matches!(
        g.config_set("pvol", &secondary, "sync-jobs", "500"),
        Err(Error::Config(ConfigError::InvalidValue { .. }))
    ));
    step(started, "config set/get/reset");

    // checkpoint: completes only after a later change, which the wait provides by touching.
    wait_status(
        &g,
        &secondary,
        SessionStatus::Active,
        Duration::from_secs(60),
    )
    .unwrap();
    g.checkpoint_set("pvol", &secondary).unwrap();
    let waited = g.checkpoint_wait("pvol", &secondary, FIRST_WAIT, Some(&mnt));
    let done = match waited {
        Ok(done) => done,
        Err(e) => {
            eprintln!("checkpoint not yet complete: {e}");
            kick(&g, &secondary);
            g.checkpoint_wait("pvol", &secondary, AFTER_KICK, Some(&mnt))
                .unwrap()
        }
    };
    assert!(done.checkpoint_completed());
    let d = &done.details[0];
    assert!(
        d.checkpoint_time.is_some() && d.checkpoint_completion_time.is_some(),
        "{d:?}"
    );
    step(started, "checkpoint completed");

    g.stop("pvol", &secondary, false).unwrap();
    assert_eq!(status(&g, &secondary), SessionStatus::Stopped);
    assert!(!g.running("pvol", &secondary).unwrap());
    assert!(g.exists("pvol", &secondary).unwrap());
    g.delete("pvol", &secondary, false).unwrap();
    assert!(!g.exists("pvol", &secondary).unwrap());
    step(started, "stopped and deleted");
    drop(sites);
    step(started, "torn down");
}
