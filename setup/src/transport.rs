//! Running commands on the cluster's nodes (`HA_TRANSPORT`).
//!
//! Every command is an argv, bounded in time. Two transports:
//! - ssh (the default): `ssh -i KEY -l USER -o BatchMode=yes -o StrictHostKeyChecking=yes`.
//!   ssh hands the remote side one string for its login shell, so each argument is quoted on
//!   its own (single quotes); nothing is interpolated. The node this program runs on is
//!   reached directly, without ssh.
//! - lab: `ganesha-lab --state FILE exec NODE -- ARGV...` for the test lab's nodes, and
//!   `ganesha-lab stack NODE start|stop` for their cluster stack.
//!
//! Files are written with `install` reading stdin into a temporary name, then renamed over
//! the target, so a node never sees half a file.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use crate::spec::{ClusterSpec, NodeSpec, TransportKind};

/// A command run on a node that did not succeed.
#[derive(Debug, thiserror::Error)]
#[error("{node}: {message}")]
pub struct TransportError {
    pub node: String,
    pub message: String,
}

/// Runs commands on cluster nodes (from several threads at once).
pub trait Transport: Sync {
    /// Runs `argv` on `node` with `input` on its stdin, for at most `bound`; the output
    /// whatever the exit status (an error only when it could not run or timed out).
    fn output(
        &self,
        node: &NodeSpec,
        argv: &[&str],
        input: Option<&[u8]>,
        bound: Duration,
    ) -> Result<Output, TransportError>;

    /// Starts corosync and pacemaker on `node` (returns when corosync runs).
    fn start_stack(&self, node: &NodeSpec, bound: Duration) -> Result<(), TransportError>;

    /// Stops pacemaker (its resources first) and corosync on `node`.
    fn stop_stack(&self, node: &NodeSpec, bound: Duration) -> Result<(), TransportError>;

    /// Runs `argv` on `node`; a non-zero exit is an error carrying its stderr.
    fn run(
        &self,
        node: &NodeSpec,
        argv: &[&str],
        input: Option<&[u8]>,
        bound: Duration,
    ) -> Result<String, TransportError> {
        let out = self.output(node, argv, input, bound)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(TransportError {
                node: node.name.clone(),
                message: format!(
                    "{} failed ({}): {}",
                    argv.join(" "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            })
        }
    }

    /// Writes `data` to `path` on `node` with `mode` (octal, e.g. "0400"), atomically.
    fn put_file(
        &self,
        node: &NodeSpec,
        path: &str,
        data: &[u8],
        mode: &str,
        bound: Duration,
    ) -> Result<(), TransportError> {
        let tmp = format!("{path}.ganesha-ha-new");
        self.run(
            node,
            &["install", "-D", "-m", mode, "/dev/stdin", &tmp],
            Some(data),
            bound,
        )?;
        self.run(node, &["mv", "-f", &tmp, path], None, bound)
            .map(drop)
    }

    /// The contents of `path` on `node`; `None` when it does not exist.
    fn read_file(
        &self,
        node: &NodeSpec,
        path: &str,
        bound: Duration,
    ) -> Result<Option<Vec<u8>>, TransportError> {
        // `cat` tells a missing file (status 1, "cat: PATH: No such file or directory") from
        // other failures (ssh's own are status 255).
        let out = self.output(node, &["cat", "--", path], None, bound)?;
        if out.status.success() {
            return Ok(Some(out.stdout));
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(1)
            && err.contains(&format!("cat: {path}: No such file or directory"))
        {
            Ok(None)
        } else {
            Err(TransportError {
                node: node.name.clone(),
                message: format!("reading {path}: {}", err.trim()),
            })
        }
    }

    /// Removes `paths` on `node` (missing ones are fine).
    fn remove_files(
        &self,
        node: &NodeSpec,
        paths: &[&str],
        bound: Duration,
    ) -> Result<(), TransportError> {
        let mut argv = vec!["rm", "-f", "--"];
        argv.extend_from_slice(paths);
        self.run(node, &argv, None, bound).map(drop)
    }
}

/// The transport `spec` asks for.
pub fn for_spec(spec: &ClusterSpec) -> Box<dyn Transport> {
    for_kind(&spec.transport, &spec.ssh)
}

/// The transport of `kind`, with `ssh`'s settings for ssh.
pub fn for_kind(kind: &TransportKind, ssh: &crate::spec::SshSettings) -> Box<dyn Transport> {
    match kind {
        TransportKind::Ssh => Box::new(Ssh {
            user: ssh.user.clone(),
            key: ssh.key.clone(),
            known_hosts: ssh.known_hosts.clone(),
            local: local_node_name(),
        }),
        TransportKind::Lab { state_file } => Box::new(Lab {
            program: lab_program(),
            state_file: state_file.clone(),
        }),
    }
}

/// This host's node name (`uname -n`), as Pacemaker names the local node.
pub fn local_node_name() -> Option<String> {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| u.nodename().to_str().map(str::to_owned))
}

fn bounded(
    node: &NodeSpec,
    mut cmd: Command,
    input: Option<&[u8]>,
    bound: Duration,
) -> Result<Output, TransportError> {
    ocf::command::output_with_input(&mut cmd, input, bound).map_err(|e| TransportError {
        node: node.name.clone(),
        message: e.to_string(),
    })
}

/// The ssh transport.
#[derive(Debug, Clone)]
pub struct Ssh {
    pub user: String,
    pub key: String,
    /// A known-hosts file instead of ssh's default.
    pub known_hosts: Option<String>,
    /// The node this program runs on: its commands run directly.
    pub local: Option<String>,
}

impl Ssh {
    fn command(&self, node: &NodeSpec, argv: &[&str], bound: Duration) -> Command {
        if self.local.as_deref() == Some(node.name.as_str()) {
            let mut cmd = Command::new(argv.first().copied().unwrap_or("true"));
            cmd.args(argv.iter().skip(1));
            return cmd;
        }
        let host = node
            .addr
            .map(|a| a.to_string())
            .unwrap_or_else(|| node.name.clone());
        let connect = bound.as_secs().clamp(1, 30).to_string();
        let mut cmd = Command::new("ssh");
        cmd.args(["-i", &self.key, "-l", &self.user])
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .args(["-o", &format!("ConnectTimeout={connect}")]);
        if let Some(file) = &self.known_hosts {
            cmd.args(["-o", &format!("UserKnownHostsFile={file}")]);
        }
        cmd.args(["--", &host])
            .args(argv.iter().map(|a| shell_quote(a)));
        cmd
    }
}

/// One argument for a POSIX shell: single-quoted, `'` written as `'\''`.
pub fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

impl Transport for Ssh {
    fn output(
        &self,
        node: &NodeSpec,
        argv: &[&str],
        input: Option<&[u8]>,
        bound: Duration,
    ) -> Result<Output, TransportError> {
        bounded(node, self.command(node, argv, bound), input, bound)
    }

    fn start_stack(&self, node: &NodeSpec, bound: Duration) -> Result<(), TransportError> {
        self.run(
            node,
            &["systemctl", "start", "corosync", "pacemaker"],
            None,
            bound,
        )
        .map(drop)
    }

    fn stop_stack(&self, node: &NodeSpec, bound: Duration) -> Result<(), TransportError> {
        self.run(
            node,
            &["systemctl", "stop", "pacemaker", "corosync"],
            None,
            bound,
        )
        .map(drop)
    }
}

/// The test lab's transport.
#[derive(Debug, Clone)]
pub struct Lab {
    pub program: PathBuf,
    pub state_file: String,
}

/// `ganesha-lab` next to this program, else from `PATH`.
fn lab_program() -> PathBuf {
    crate::install::own_dir()
        .map(|d| d.join("ganesha-lab"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("ganesha-lab"))
}

impl Lab {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(["--state", &self.state_file]);
        cmd
    }

    fn stack(&self, node: &NodeSpec, action: &str, bound: Duration) -> Result<(), TransportError> {
        let mut cmd = self.command();
        cmd.args(["stack", &node.name, action]);
        if action == "stop" {
            cmd.args(["--timeout", &bound.as_secs().max(1).to_string()]);
        }
        let out = bounded(node, cmd, None, bound + Duration::from_secs(5))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(TransportError {
                node: node.name.clone(),
                message: format!(
                    "ganesha-lab stack {action} failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            })
        }
    }
}

impl Transport for Lab {
    fn output(
        &self,
        node: &NodeSpec,
        argv: &[&str],
        input: Option<&[u8]>,
        bound: Duration,
    ) -> Result<Output, TransportError> {
        let mut cmd = self.command();
        cmd.args(["exec", &node.name, "--"]).args(argv);
        bounded(node, cmd, input, bound)
    }

    fn start_stack(&self, node: &NodeSpec, bound: Duration) -> Result<(), TransportError> {
        self.stack(node, "start", bound)
    }

    fn stop_stack(&self, node: &NodeSpec, bound: Duration) -> Result<(), TransportError> {
        self.stack(node, "stop", bound)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn node(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            addr: Some("192.0.2.12".parse().unwrap()),
            vip: "192.0.2.102/32".parse().unwrap(),
        }
    }

    #[test]
    fn ssh_quotes_every_argument_and_checks_host_keys() {
        let ssh = Ssh {
            user: "root".into(),
            key: "/k".into(),
            known_hosts: None,
            local: Some("node1".into()),
        };
        let cmd = ssh.command(
            &node("node2"),
            &["echo", "a b", "it's", "$(x)"],
            Duration::from_secs(5),
        );
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(cmd.get_program(), "ssh");
        assert!(args.contains(&"StrictHostKeyChecking=yes".to_string()));
        assert!(args.contains(&"BatchMode=yes".to_string()));
        let tail = &args[args.len() - 5..];
        assert_eq!(
            tail,
            ["192.0.2.12", "'echo'", "'a b'", r"'it'\''s'", "'$(x)'"]
        );
    }

    #[test]
    fn the_local_node_runs_directly() {
        let ssh = Ssh {
            user: "root".into(),
            key: "/k".into(),
            known_hosts: None,
            local: Some("node2".into()),
        };
        let out = ssh
            .output(
                &node("node2"),
                &["cat"],
                Some(b"through stdin"),
                Duration::from_secs(5),
            )
            .unwrap();
        assert_eq!(out.stdout, b"through stdin");
    }

    #[test]
    fn files_are_written_atomically_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = Ssh {
            user: "root".into(),
            key: "/k".into(),
            known_hosts: None,
            local: Some("node2".into()),
        };
        let n = node("node2");
        let path = dir.path().join("sub/key");
        let p = path.to_str().unwrap();
        let b = Duration::from_secs(5);
        assert_eq!(ssh.read_file(&n, p, b).unwrap(), None);
        ssh.put_file(&n, p, b"secret", "0400", b).unwrap();
        assert_eq!(ssh.read_file(&n, p, b).unwrap().unwrap(), b"secret");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o400);
        ssh.remove_files(&n, &[p], b).unwrap();
        assert!(!path.exists());
    }
}
