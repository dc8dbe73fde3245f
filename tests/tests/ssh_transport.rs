//! The ssh transport against a real sshd in a lab node: a key file, host keys checked
//! against a known-hosts file, every command an argv quoted per argument. `export add`
//! reaches node2 over ssh (its ganesha.conf edited, its ganesha answering AddExport) while
//! node1, where the command runs, is reached directly; a wrong host key fails that node
//! alone, with ssh's reason. Root; CI runs as root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use ganesha_e2e::lab::{ganesha_ha, lab_with_agents};
use ganesha_testkit::TestCommand;

fn keygen(file: &Path) {
    TestCommand::program("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(file)
        .run()
        .expect_success();
}

#[test]
fn ssh_reaches_a_node_with_its_host_key_checked() {
    let lab = lab_with_agents(2);
    let root = lab.root_dir().join("ssh");
    std::fs::create_dir(&root).unwrap();
    let (host_key, client_key) = (root.join("host_key"), root.join("client_key"));
    keygen(&host_key);
    keygen(&client_key);
    let authorized = root.join("authorized_keys");
    std::fs::copy(root.join("client_key.pub"), &authorized).unwrap();
    let node2 = lab.node(1);
    let sshd_conf = root.join("sshd_config");
    std::fs::write(
        &sshd_conf,
        format!(
            "Port 22\nListenAddress {addr}\nHostKey {hk}\nAuthorizedKeysFile {ak}\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n",
            addr = node2.addr(),
            hk = host_key.display(),
            ak = authorized.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(node2.host_path("/run/sshd")).unwrap();
    let log = root.join("sshd.log");
    let mut sshd = node2
        .spawn(
            "/usr/sbin/sshd",
            &["-D", "-e", "-f", sshd_conf.to_str().unwrap()],
            &log,
        )
        .unwrap();
    let known = root.join("known_hosts");
    let host_pub = std::fs::read_to_string(root.join("host_key.pub")).unwrap();
    std::fs::write(&known, format!("{} {host_pub}", node2.addr())).unwrap();
    let wrong = root.join("wrong_known_hosts");
    let client_pub = std::fs::read_to_string(root.join("client_key.pub")).unwrap();
    std::fs::write(&wrong, format!("{} {client_pub}", node2.addr())).unwrap();

    let data = lab.shared_dir().join("data3");
    std::fs::create_dir_all(&data).unwrap();
    let conf_for = |known_hosts: &Path| {
        let file = lab.root_dir().join(format!(
            "{}.conf",
            known_hosts.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(
            &file,
            format!(
                "HA_NAME=lab\nHA_CLUSTER_NODES=node1,node2\nVIP_node1=192.0.2.101\n\
                 VIP_node2=192.0.2.102\nHA_NODE_ADDR_node1={}\nHA_NODE_ADDR_node2={}\n\
                 HA_STONITH=off\nHA_STATE_MOUNT={}\nHA_SSH_KEY={}\nHA_SSH_KNOWN_HOSTS={}\n",
                lab.node(0).addr(),
                node2.addr(),
                lab.shared_dir().display(),
                client_key.display(),
                known_hosts.display()
            ),
        )
        .unwrap();
        file.display().to_string()
    };
    let (good, bad) = (conf_for(&known), conf_for(&wrong));

    // sshd listens once its log says so.
    let t = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("Server listening")
    {
        assert!(t.elapsed() < Duration::from_secs(10), "sshd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let node1 = lab.node(0);
    let data = data.display().to_string();
    let added = ganesha_ha(
        node1,
        &["export", "add", "data3", "--path", &data, "--config", &good],
    );
    assert!(
        added.success(),
        "{added}\nsshd: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert_eq!(added.stdout().matches(": ok").count(), 2, "{added}");
    let text = node2.read_file("/etc/ganesha/ganesha.conf").unwrap();
    assert!(
        text.contains("export.data3.conf"),
        "written over ssh: {text}"
    );
    let sshd_log = std::fs::read_to_string(&log).unwrap();
    assert!(
        sshd_log.contains("Accepted publickey for root"),
        "{sshd_log}"
    );

    // A host key that does not match: node2 fails with ssh's reason, node1 still succeeds.
    let refreshed = ganesha_ha(
        node1,
        &["refresh-config", "data3", "--json", "--config", &bad],
    );
    refreshed.expect_code(1);
    let results: serde_json::Value = serde_json::from_str(refreshed.stdout()).unwrap();
    assert_eq!(results[0]["ok"], true, "{refreshed}");
    assert_eq!(results[1]["ok"], false, "{refreshed}");
    let reason = results[1]["message"].as_str().unwrap();
    assert!(
        reason.contains("Host key verification failed")
            || reason.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{reason}"
    );
    // Ours, by pid (setsid and nsenter exec, so the child is sshd itself).
    let _ = sshd.kill();
    let _ = sshd.wait();
    lab.down().unwrap_or_else(|e| panic!("{e}"));
}
