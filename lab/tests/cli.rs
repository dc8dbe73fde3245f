//! The `ganesha-lab` command line, end to end: `up` leaves a lab running after it exits and
//! the later commands act on it through its state file. Needs root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use ganesha_testkit::{Ran, TestCommand};

const BIN: &str = env!("CARGO_BIN_EXE_ganesha-lab");

struct Cli<'a> {
    state_dir: &'a Path,
    name: String,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Ran {
        let ran = TestCommand::program(BIN)
            .arg("--name")
            .arg(&self.name)
            .arg("--state-dir")
            .arg(self.state_dir)
            .args(args)
            .timeout(Duration::from_secs(180))
            .run();
        eprintln!("{ran}");
        ran
    }

    fn ok(&self, args: &[&str]) -> String {
        self.run(args).expect_success().stdout().to_owned()
    }
}

/// Tears the lab down when the test ends, even on failure.
struct Down<'a>(&'a Cli<'a>);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = ganesha_lab::down_state(&self.0.state_dir.join(&self.0.name).join("state.json"));
    }
}

#[test]
fn up_status_exec_logs_fail_heal_power_down() {
    let _ = ganesha_lab::cleanup_stale_labs();
    let dir = tempfile::tempdir().unwrap();
    let agents = tempfile::tempdir().unwrap();
    let cli = Cli {
        state_dir: dir.path(),
        name: format!("c{:x}", std::process::id()),
    };
    let _down = Down(&cli);
    let agents_arg = agents.path().to_string_lossy().into_owned();

    let t = Instant::now();
    let up = cli.ok(&["up", "--nodes", "2", "--agents", &agents_arg]);
    eprintln!("CLI up (2 nodes) returned after {:.1?}", t.elapsed());
    for want in [
        "is up: 2 node(s) in",
        "quorum, DC",
        "node1   192.0.2.11",
        "node2   192.0.2.12",
        "nsenter -t ",
        "exec node1 -- crm_mon -1",
        "stonith-enabled=false",
    ] {
        assert!(up.contains(want), "{want:?} not in:\n{up}");
    }
    let state = dir.path().join(&cli.name).join("state.json");
    assert!(state.is_file());

    // A second up is refused while it runs.
    cli.run(&["up", "--nodes", "1", "--agents", &agents_arg])
        .expect_failure()
        .expect_stderr_contains("already running");

    let status = cli.ok(&["status"]);
    for want in [
        "node1  netns",
        "node2  netns",
        "power on",
        "ganesha.nfsd ",
        "Online: [ node1 node2 ]",
    ] {
        assert!(status.contains(want), "{want:?} not in:\n{status}");
    }

    // exec: the command's output and exit status.
    let url = "nfs://192.0.2.11/export/hello.txt?version=4";
    let start = Instant::now();
    loop {
        let out = cli.run(&["exec", "node2", "--", "nfs-cat", url]);
        if out.success() {
            assert_eq!(out.stdout(), "hello from ganesha-lab\n", "{out}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nfs-cat never worked"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(cli.ok(&["exec", "node1", "--", "hostname"]).trim(), "node1");
    cli.run(&["exec", "node1", "--", "sh", "-c", "exit 7"])
        .expect_code(7);
    cli.run(&["exec", "node9", "--", "true"])
        .expect_failure()
        .expect_stderr_contains("no node \"node9\"");

    let logs = cli.ok(&["logs", "node1", "-n", "5"]);
    for want in [
        "corosync.log",
        "pacemaker.log",
        "ganesha.log",
        "var-log-corosync",
    ] {
        assert!(logs.contains(want), "{want:?} not in:\n{logs}");
    }

    // fail / heal.
    cli.ok(&["fail", "node1", "--how", "hang-ganesha"]);
    let status = cli.ok(&["status"]);
    assert!(
        status.contains("(STOPPED)") && status.contains("failed: hang-ganesha"),
        "{status}"
    );
    cli.ok(&["heal", "node1"]);
    let status = cli.ok(&["status"]);
    assert!(
        !status.contains("(STOPPED)") && !status.contains("failed:"),
        "{status}"
    );

    // power, as the fence agent uses it.
    cli.ok(&["power", "node2", "off"]);
    cli.run(&["power", "node2", "status"]).expect_code(2);
    cli.ok(&["power", "node2", "on"]);
    cli.run(&["power", "node2", "status"]).expect_code(0);

    // down, twice.
    let t = Instant::now();
    let down = cli.ok(&["down"]);
    eprintln!("CLI down took {:.1?}", t.elapsed());
    assert!(down.contains("is down"), "{down}");
    assert!(!dir.path().join(&cli.name).exists());
    let list = TestCommand::program("ip")
        .args(["netns", "list"])
        .timeout(Duration::from_secs(10))
        .run();
    let list = list.expect_success().stdout();
    assert!(
        !list
            .lines()
            .any(|l| l.starts_with(&format!("{}-", cli.name))),
        "{list}"
    );
    let again = cli.ok(&["down"]);
    assert!(again.contains("nothing to do"), "{again}");
    cli.run(&["status"]).expect_failure();
}

#[test]
fn refusals_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        state_dir: dir.path(),
        name: format!("r{:x}", std::process::id()),
    };
    cli.run(&["up", "--subnet", "10.9.0.0/16"])
        .expect_failure()
        .expect_stderr_contains("only /24");
    assert!(!dir.path().join(&cli.name).exists());

    // Not root: a copy of the program run as nobody.
    let bin_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = bin_dir.path().join("ganesha-lab");
    std::fs::copy(BIN, &copy).unwrap();
    TestCommand::program("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy)
        .args(["up", "--nodes", "1"])
        .timeout(Duration::from_secs(30))
        .run()
        .expect_code(1)
        .expect_stderr_contains("needs root");
}
