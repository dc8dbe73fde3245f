//! Running the agents inside a one-node lab cluster (real corosync, pacemaker, attrd,
//! dbus-daemon; ganesha.nfsd started by the agents themselves).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ganesha_agents::names::{GANESHA_PID_FILE, NFSD_AGENT};
use ganesha_lab::{write_ganesha_conf, GaneshaConf, Lab, LabOptions, Node};
use ganesha_testkit::TestCommand;

use super::agent_bin;

/// A lab with the agents installed where Pacemaker looks, and a ganesha config.
pub struct AgentLab {
    pub lab: Lab,
    /// ganesha.conf for node 1 (a host path, the same inside the node).
    pub conf: PathBuf,
    /// The RecoveryRoot in that config; ganesha_nfsd turns it into a link.
    pub recovery_root: PathBuf,
    pub log: PathBuf,
}

impl AgentLab {
    pub fn up() -> AgentLab {
        AgentLab::up_with(LabOptions::default())
    }

    /// The same with GlusterFS (`LabOptions::gluster`): the node is a glusterd with the
    /// volume `data` and the shared storage volume mounted at `SHARED_STORAGE_MOUNT` (one
    /// node: a single-brick volume).
    pub fn up_gluster() -> AgentLab {
        AgentLab::up_with(LabOptions {
            gluster: true,
            ..LabOptions::default()
        })
    }

    fn up_with(options: LabOptions) -> AgentLab {
        let lab = Lab::up(options).unwrap_or_else(|e| panic!("lab up: {e}"));
        let node = lab.node(0);
        let export = lab.shared_dir().join("export");
        std::fs::create_dir_all(&export).unwrap();
        let recovery_root = node.dir().join("var-lib-nfs/ganesha");
        let conf = node.dir().join("ganesha.conf");
        write_ganesha_conf(&conf, &GaneshaConf::new(&recovery_root, &export)).unwrap();
        // The documented install step, into the node's own /usr/lib/ocf.
        let bin_dir = agent_bin(NFSD_AGENT).parent().unwrap().to_path_buf();
        ganesha_ha::install::install_agents(&bin_dir, &node.host_path("/usr/lib/ocf"))
            .unwrap_or_else(|e| panic!("installing the agents: {e}"));
        let log = node.dir().join("ganesha.log");
        AgentLab {
            lab,
            conf,
            recovery_root,
            log,
        }
    }

    pub fn node(&self) -> &Node {
        self.lab.node(0)
    }

    /// ganesha_nfsd's parameters for this lab, as `OCF_RESKEY_*` pairs.
    pub fn nfsd_params(&self) -> Vec<(String, String)> {
        vec![
            ("config".into(), self.conf.display().to_string()),
            ("pid_file".into(), GANESHA_PID_FILE.into()),
            ("log_file".into(), self.log.display().to_string()),
            (
                "state_mount".into(),
                self.lab.shared_dir().display().to_string(),
            ),
            (
                "recovery_root".into(),
                self.recovery_root.display().to_string(),
            ),
            ("options".into(), "-N NIV_EVENT".into()),
        ]
    }

    /// An installed agent inside the node with Pacemaker-like variables and `params` as
    /// `OCF_RESKEY_*`; variables the test sets afterwards override them.
    pub fn agent(&self, name: &str, action: &str, params: &[(String, String)]) -> TestCommand {
        let installed = Path::new("/usr/lib/ocf/resource.d/ganesha").join(name);
        let mut cmd = TestCommand::new(self.node().command(&installed));
        cmd.arg(action)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RESOURCE_INSTANCE", format!("{name}-test"))
            .env("OCF_RESKEY_CRM_meta_timeout", "20000")
            .env("OCF_RESKEY_CRM_meta_interval", "10000")
            .envs(params.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), v)))
            .timeout(Duration::from_secs(90));
        cmd
    }

    /// A command inside the node.
    pub fn command(&self, program: &str) -> TestCommand {
        TestCommand::new(self.node().command(program))
    }

    /// Runs a command inside the node; panics with its output unless it exits 0.
    pub fn sh(&self, program: &str, args: &[&str]) -> String {
        self.command(program)
            .args(args)
            .timeout(Duration::from_secs(60))
            .run()
            .expect_success()
            .stdout()
            .to_owned()
    }

    /// `get_grace` of the node's ganesha over the node's system bus.
    pub fn in_grace(&self) -> bool {
        let out = self.sh(
            "dbus-send",
            &[
                "--system",
                "--print-reply",
                "--reply-timeout=5000",
                "--dest=org.ganesha.nfsd",
                "/org/ganesha/nfsd/admin",
                "org.ganesha.nfsd.admin.get_grace",
            ],
        );
        // First boolean: isgrace.
        out.lines()
            .find_map(|l| l.trim().strip_prefix("boolean "))
            .map(|b| b == "true")
            .unwrap_or_else(|| panic!("unexpected get_grace reply: {out}"))
    }

    /// A transient node attribute as attrd reports it, `None` when unset.
    pub fn attribute(&self, name: &str) -> Option<String> {
        let ran = self
            .command("attrd_updater")
            .args(["--query", "--name", name])
            .run();
        ocf::attrs::parse_attrd_query(name, ran.stdout()).unwrap_or(None)
    }

    pub fn ganesha_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
