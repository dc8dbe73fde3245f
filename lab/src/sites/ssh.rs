//! Geo-replication's prerequisites between the sites: in every node a private `/root`
//! (the host directory `<node dir>/root`, so keys never touch the host's), a root key, an
//! `authorized_keys` with every node's key (each node of a site reaches every node of the
//! other as root, both directions: failback needs the reverse session), `/run/sshd` and an
//! `sshd` on port 22 of the node's address.
//!
//! sshd needs: `UsePAM no` with key-only root login, `/run/sshd` (in the node's own tmpfs
//! `/run`, made again after a power-on), and the sftp subsystem (the push-pem hook copies the
//! keys with scp, which speaks sftp since OpenSSH 9). gsyncd, gverify and the hook all use
//! `-oStrictHostKeyChecking=no`, so known_hosts needs nothing. glusterd is already started
//! with a clean environment (`PATH=/usr/sbin:/usr/bin:/sbin:/bin`, `HOME=/root`): gsyncd
//! spawns its worker as `python3` through PATH, which must be Debian's (it has
//! `gluster.cliutils`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::gluster::wait_bounded;
use crate::{io_err, LabError, Node};

/// sshd (command name).
pub const SSHD: &str = "sshd";
/// The sites' root key inside every node.
pub const ROOT_KEY: &str = "/root/.ssh/id_ed25519";

/// Bound on one ssh probe.
const SSH_PROBE: Duration = Duration::from_secs(10);
/// Bound on a node's sshd answering a peer.
const SSHD_WAIT: Duration = Duration::from_secs(20);

/// The programs the sites run for ssh, by absolute path.
pub(crate) struct SshTools {
    pub(crate) sshd: PathBuf,
    pub(crate) ssh: PathBuf,
    pub(crate) keygen: PathBuf,
}

/// The argv (after the program) of a non-interactive root ssh to `addr` running `command`.
pub fn ssh_args(addr: &str, command: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "-oBatchMode=yes",
        "-oStrictHostKeyChecking=no",
        "-oConnectTimeout=5",
        "-i",
        ROOT_KEY,
    ]
    .map(String::from)
    .to_vec();
    v.push(format!("root@{addr}"));
    v.extend(command.iter().map(|s| s.to_string()));
    v
}

/// The node's private `/root` with `.ssh`, and its root key; returns the public key line.
pub(crate) fn prepare_root(node: &Node, tools: &SshTools) -> Result<String, LabError> {
    let root = node.dir().join("root");
    let ssh = root.join(".ssh");
    fs::create_dir_all(&ssh).map_err(io_err(format!("create {}", ssh.display())))?;
    for d in [&root, &ssh] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o700))
            .map_err(io_err(format!("chmod {}", d.display())))?;
    }
    let from = root.to_string_lossy().into_owned();
    node.run_setup(node.tools.get("mount"), &["--bind", &from, "/root"])?;
    let comment = format!("root@{}-{}", node.name(), node.addr());
    node.run_setup(
        &tools.keygen,
        &[
            "-q", "-t", "ed25519", "-N", "", "-C", &comment, "-f", ROOT_KEY,
        ],
    )?;
    let public = ssh.join("id_ed25519.pub");
    let line = fs::read_to_string(&public).map_err(io_err(format!("read {}", public.display())))?;
    Ok(line.trim_end().to_string())
}

/// Writes the node's `authorized_keys` (mode 0600) and `sshd_config`, and starts sshd.
pub(crate) fn start_sshd(node: &Node, keys: &[String], tools: &SshTools) -> Result<u32, LabError> {
    let auth = node.dir().join("root/.ssh/authorized_keys");
    fs::write(&auth, keys.join("\n") + "\n")
        .map_err(io_err(format!("write {}", auth.display())))?;
    fs::set_permissions(&auth, fs::Permissions::from_mode(0o600))
        .map_err(io_err(format!("chmod {}", auth.display())))?;
    let config = node.dir().join("sshd_config");
    fs::write(&config, sshd_config(&node.addr().to_string()))
        .map_err(io_err(format!("write {}", config.display())))?;
    start_sshd_only(node, tools)
}

/// (Re)starts the node's sshd from its `sshd_config` (after a power-on: `/run/sshd` again).
pub(crate) fn start_sshd_only(node: &Node, tools: &SshTools) -> Result<u32, LabError> {
    let run = node.host_path("/run/sshd");
    if !run.is_dir() {
        fs::create_dir(&run).map_err(io_err(format!("create {}", run.display())))?;
        fs::set_permissions(&run, fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("chmod {}", run.display())))?;
    }
    let config = node
        .dir()
        .join("sshd_config")
        .to_string_lossy()
        .into_owned();
    let log = node
        .dir()
        .join("logs/sshd.log")
        .to_string_lossy()
        .into_owned();
    node.start_daemon(SSHD, &tools.sshd, &["-D", "-f", &config, "-E", &log], &[])
}

/// Waits until `from` reaches `to`'s sshd as root (`ssh root@<to> true`).
pub(crate) fn wait_reachable(from: &Node, to: &Node, tools: &SshTools) -> Result<(), LabError> {
    let args = ssh_args(&to.addr().to_string(), &["true"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut last = String::new();
    let res = wait_bounded(
        &format!(
            "{} ({}) to reach {} ({}) by ssh as root",
            from.name(),
            from.addr(),
            to.name(),
            to.addr()
        ),
        SSHD_WAIT,
        || match from.run_timeout(&tools.ssh, &args, SSH_PROBE) {
            Ok(_) => true,
            Err(e) => {
                last = e.to_string();
                false
            }
        },
    );
    res.map(drop)
        .map_err(|e| LabError::Setup(format!("{e}\nlast attempt: {last}")))
}

/// The node's `sshd_config`: port 22 on its address, key-only root login.
fn sshd_config(addr: &str) -> String {
    format!(
        "# Written by ganesha-lab (sites).\n\
         Port 22\nListenAddress {addr}\nHostKey /etc/ssh/ssh_host_ed25519_key\n\
         PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
         PidFile /run/sshd.pid\nAuthorizedKeysFile .ssh/authorized_keys\n\
         Subsystem sftp /usr/lib/openssh/sftp-server\n"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn sshd_listens_on_the_node_only_with_keys() {
        let c = sshd_config("192.0.2.31");
        assert!(c.contains("ListenAddress 192.0.2.31\n"), "{c}");
        assert!(c.contains("PasswordAuthentication no") && c.contains("UsePAM no"));
        assert!(c.contains("Subsystem sftp"));
        let a = ssh_args("192.0.2.11", &["gluster", "pool", "list"]);
        assert_eq!(
            a[a.len() - 4..],
            ["root@192.0.2.11", "gluster", "pool", "list"]
        );
        assert!(a.contains(&"-oBatchMode=yes".to_string()));
    }
}
