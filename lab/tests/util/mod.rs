//! Helpers shared by the lab's integration tests.

use std::time::Duration;

use ganesha_testkit::TestCommand;

/// What the host's network looks like, as `ip` and `/proc` tell it.
pub fn host_network() -> String {
    let views: [&[&str]; 5] = [
        &["-o", "link", "show"],
        &["-o", "addr", "show"],
        &["route", "show", "table", "all"],
        &["-6", "route", "show", "table", "all"],
        &["rule", "show"],
    ];
    let mut all = String::new();
    for args in views {
        let ran = TestCommand::program("ip")
            .args(args)
            .timeout(Duration::from_secs(10))
            .run();
        ran.expect_success();
        all.push_str(&format!("$ ip {}\n", args.join(" ")));
        all.push_str(ran.stdout());
    }
    for knob in ["ipv4/ip_forward", "ipv4/conf/all/forwarding"] {
        let value = std::fs::read_to_string(format!("/proc/sys/net/{knob}")).unwrap_or_default();
        all.push_str(&format!("{knob} = {value}"));
    }
    all
}
