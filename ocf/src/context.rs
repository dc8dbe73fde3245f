//! What Pacemaker tells an agent through its environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::deadline::DEFAULT_OPERATION_TIMEOUT;
use crate::{Action, Deadline, Notification, ParamSpec, Params};

/// A snapshot of the environment, so that agents and their tests read the same source.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment (variables that are not UTF-8 are skipped).
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of the given pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// One variable.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// Sets a variable (tests).
    pub fn set(&mut self, key: &str, value: &str) {
        self.vars.insert(key.to_owned(), value.to_owned());
    }

    fn meta(&self, name: &str) -> Option<&str> {
        self.get(&format!("OCF_RESKEY_CRM_meta_{name}"))
            .filter(|v| !v.is_empty())
    }
}

/// `OCF_CHECK_LEVEL`: how thorough monitor and validate-all should be. An agent that does not
/// implement a requested level runs the next lower one (OCF 1.1, "validate-all").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CheckLevel(pub u32);

impl CheckLevel {
    /// Internal consistency / cheap liveness.
    pub const BASIC: CheckLevel = CheckLevel(0);
    /// May inspect the local environment / the service's responsiveness.
    pub const THOROUGH: CheckLevel = CheckLevel(10);
    /// Heavyweight checks.
    pub const DEEP: CheckLevel = CheckLevel(20);
}

/// Everything an action handler needs to know about its invocation.
#[derive(Debug)]
pub struct Context {
    action: Action,
    env: Env,
    params: Params,
    deadline: Deadline,
    timeout: Duration,
}

impl Context {
    /// Builds the context of `action`; the deadline starts now.
    pub fn new(action: Action, env: Env, specs: &'static [ParamSpec]) -> Context {
        let timeout = env
            .meta("timeout")
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_OPERATION_TIMEOUT);
        let params = Params::from_env(specs, &env);
        Context {
            action,
            deadline: Deadline::for_operation(timeout),
            timeout,
            params,
            env,
        }
    }

    /// The action being run.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The instance parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The raw environment.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// `OCF_RESKEY_CRM_meta_timeout`, or Pacemaker's 20 s default.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// When this action must be done (the timeout less a reporting margin).
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// `OCF_RESKEY_CRM_meta_interval`; `None` when absent (e.g. `crm_resource --force-check`).
    pub fn interval(&self) -> Option<Duration> {
        self.env
            .meta("interval")
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
    }

    /// A probe: a monitor that is not recurring (interval 0 or not given, as in `ocf.py`).
    pub fn is_probe(&self) -> bool {
        self.action == Action::Monitor && self.interval().is_none_or(|i| i.is_zero())
    }

    /// `OCF_CHECK_LEVEL` (0 when unset or malformed).
    pub fn check_level(&self) -> CheckLevel {
        CheckLevel(
            self.env
                .get("OCF_CHECK_LEVEL")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
        )
    }

    /// Whether the resource is a clone instance.
    pub fn is_clone(&self) -> bool {
        self.env.meta("clone_max").is_some()
    }

    /// The clone notification this action carries.
    pub fn notification(&self) -> Notification {
        Notification::from_env(&self.env)
    }

    /// `OCF_RESOURCE_INSTANCE`, e.g. `nfs-grace:1`; `default` when run by hand.
    pub fn instance(&self) -> &str {
        self.env
            .get("OCF_RESOURCE_INSTANCE")
            .filter(|v| !v.is_empty())
            .unwrap_or("default")
    }

    /// The node name Pacemaker gave the operation (`OCF_RESKEY_CRM_meta_on_node`), if any.
    /// [`crate::attrs::local_node_name`] falls back to `crm_node -n`.
    pub fn on_node(&self) -> Option<&str> {
        self.env.meta("on_node")
    }

    /// Directory for per-boot state files (`HA_RSCTMP`, Debian default `/run/resource-agents`).
    pub fn state_dir(&self) -> PathBuf {
        self.env
            .get("HA_RSCTMP")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/run/resource-agents"))
    }

    /// A state file for this resource instance under [`Context::state_dir`]; `:` and `/` in the
    /// instance name are replaced so that the name is one path component. The instance number
    /// of an anonymous clone (`nfs-mon:2`) means nothing and may differ between start and
    /// monitor, so it is left out unless the clone is globally unique.
    pub fn state_file(&self, agent: &str) -> PathBuf {
        let mut instance = self.instance();
        if self.env.meta("globally_unique") != Some("true") {
            if let Some((base, number)) = instance.rsplit_once(':') {
                if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
                    instance = base;
                }
            }
        }
        let instance: String = instance
            .chars()
            .map(|c| if c == '/' || c == ':' { '_' } else { c })
            .collect();
        self.state_dir().join(format!("{agent}-{instance}.state"))
    }

    /// `OCF_TESTER_FAIL_HAVE_BINARY=1`: ocf-tester asks the agent to pretend binaries are
    /// missing during probes, as `have_binary` in ocf-shellfuncs does.
    pub fn pretend_binaries_missing(&self) -> bool {
        self.env.get("OCF_TESTER_FAIL_HAVE_BINARY") == Some("1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SPECS: [ParamSpec; 0] = [];

    fn ctx(action: Action, pairs: &[(&str, &str)]) -> Context {
        Context::new(action, Env::from_pairs(pairs.iter().copied()), &SPECS)
    }

    #[test]
    fn probe_is_a_monitor_with_zero_or_missing_interval() {
        assert!(ctx(Action::Monitor, &[("OCF_RESKEY_CRM_meta_interval", "0")]).is_probe());
        assert!(ctx(Action::Monitor, &[]).is_probe());
        assert!(!ctx(
            Action::Monitor,
            &[("OCF_RESKEY_CRM_meta_interval", "10000")]
        )
        .is_probe());
        assert!(!ctx(Action::Start, &[("OCF_RESKEY_CRM_meta_interval", "0")]).is_probe());
    }

    #[test]
    fn timeout_comes_from_meta_with_pacemaker_default() {
        assert_eq!(
            ctx(Action::Stop, &[("OCF_RESKEY_CRM_meta_timeout", "60000")]).timeout(),
            Duration::from_secs(60)
        );
        assert_eq!(ctx(Action::Stop, &[]).timeout(), Duration::from_secs(20));
        assert_eq!(
            ctx(Action::Stop, &[("OCF_RESKEY_CRM_meta_timeout", "x")]).timeout(),
            Duration::from_secs(20)
        );
        let c = ctx(Action::Stop, &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
        assert!(c.deadline().remaining() <= Duration::from_millis(4500));
    }

    #[test]
    fn check_level_and_clone_detection() {
        let c = ctx(
            Action::Monitor,
            &[
                ("OCF_CHECK_LEVEL", "10"),
                ("OCF_RESKEY_CRM_meta_clone_max", "3"),
            ],
        );
        assert_eq!(c.check_level(), CheckLevel::THOROUGH);
        assert!(c.is_clone());
        assert_eq!(ctx(Action::Monitor, &[]).check_level(), CheckLevel::BASIC);
    }

    #[test]
    fn state_file_is_one_path_component_per_instance() {
        let c = ctx(
            Action::Start,
            &[
                ("OCF_RESOURCE_INSTANCE", "nfs-grace:1"),
                ("HA_RSCTMP", "/tmp/x"),
            ],
        );
        assert_eq!(
            c.state_file("ganesha_grace"),
            PathBuf::from("/tmp/x/ganesha_grace-nfs-grace.state")
        );
        let unique = ctx(
            Action::Start,
            &[
                ("OCF_RESOURCE_INSTANCE", "nfs-grace:1"),
                ("HA_RSCTMP", "/tmp/x"),
                ("OCF_RESKEY_CRM_meta_globally_unique", "true"),
            ],
        );
        assert_eq!(
            unique.state_file("ganesha_grace"),
            PathBuf::from("/tmp/x/ganesha_grace-nfs-grace_1.state")
        );
    }
}
