//! The [`Agent`] trait and the dispatcher every agent's `main` calls.

use std::io::Write;

use crate::{logging, Action, Context, Env, ExitCode, Metadata, Notification, OcfError};

/// A resource agent: its meta-data and the behaviour of each action. Actions left at their
/// default are reported as unimplemented (exit 3), which is how `ocf-tester` and Pacemaker
/// learn that an agent does not support them.
pub trait Agent {
    /// What `meta-data` prints; its parameter list is also the schema for `OCF_RESKEY_*`.
    fn metadata(&self) -> &'static Metadata;

    /// Checks beyond the declared types (`validate-all`, and before `start`). Honour
    /// `ctx.check_level()`: at 0 only internal consistency, from 10 the local environment.
    fn validate(&self, ctx: &Context) -> Result<(), OcfError> {
        let _ = ctx;
        Ok(())
    }

    /// Starts the resource; returns only once a monitor would report it running.
    fn start(&self, ctx: &Context) -> Result<(), OcfError>;

    /// Stops the resource. Succeeds when already stopped; fails only if the resource may
    /// still be running, since a failed stop leads to fencing.
    fn stop(&self, ctx: &Context) -> Result<(), OcfError>;

    /// `Success` when running, `NotRunning` when cleanly stopped, an error when failed.
    fn monitor(&self, ctx: &Context) -> Result<ExitCode, OcfError>;

    /// Reacts to a clone notification. Must not fail the cluster: report problems in logs.
    fn notify(&self, ctx: &Context, notification: &Notification) -> Result<(), OcfError> {
        let _ = notification;
        Err(OcfError::Unimplemented(ctx.action()))
    }

    /// Promotes the instance.
    fn promote(&self, ctx: &Context) -> Result<(), OcfError> {
        Err(OcfError::Unimplemented(ctx.action()))
    }

    /// Demotes the instance.
    fn demote(&self, ctx: &Context) -> Result<(), OcfError> {
        Err(OcfError::Unimplemented(ctx.action()))
    }

    /// Reloads the service's own configuration.
    fn reload(&self, ctx: &Context) -> Result<(), OcfError> {
        Err(OcfError::Unimplemented(ctx.action()))
    }

    /// Applies changed reloadable parameters.
    fn reload_agent(&self, ctx: &Context) -> Result<(), OcfError> {
        Err(OcfError::Unimplemented(ctx.action()))
    }
}

/// Runs the agent for this process: action from `argv[1]`, parameters from the environment.
pub fn run<A: Agent>(agent: &A) -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    run_with(agent, &args, Env::from_process(), &mut stdout, &mut stderr).into()
}

/// The dispatcher, with its inputs and outputs explicit (tests).
pub fn run_with<A: Agent>(
    agent: &A,
    args: &[String],
    env: Env,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> ExitCode {
    let meta = agent.metadata();
    let Some(name) = args.get(1) else {
        let _ = writeln!(stderr, "{}", meta.usage());
        return ExitCode::ErrArgs;
    };
    let Some(action) = Action::parse(name) else {
        let _ = writeln!(
            stderr,
            "{}: unknown action '{name}'\n{}",
            meta.name,
            meta.usage()
        );
        return ExitCode::ErrUnimplemented;
    };
    // meta-data and usage need no environment, no logging and nothing but stdout.
    match action {
        Action::MetaData => {
            return match stdout.write_all(meta.to_xml().as_bytes()) {
                Ok(()) => ExitCode::Success,
                Err(_) => ExitCode::ErrGeneric,
            }
        }
        Action::Usage => {
            let _ = writeln!(stdout, "{}", meta.usage());
            return ExitCode::Success;
        }
        _ => {}
    }

    let ctx = Context::new(action, env, meta.params);
    logging::init(meta.name, ctx.instance(), ctx.env());
    let result = ctx.params().check().and_then(|()| dispatch(agent, &ctx));
    let code = match result {
        Ok(code) => code,
        Err(e) => report(&ctx, e, stderr),
    };
    tracing::debug!("{action} finished: {code}");
    code
}

fn dispatch<A: Agent>(agent: &A, ctx: &Context) -> Result<ExitCode, OcfError> {
    let ok = |()| ExitCode::Success;
    match ctx.action() {
        Action::Start => agent.validate(ctx).and_then(|()| agent.start(ctx)).map(ok),
        Action::Stop => agent.stop(ctx).map(ok),
        Action::Monitor => agent.monitor(ctx),
        Action::ValidateAll => agent.validate(ctx).map(ok),
        Action::Notify => agent.notify(ctx, &ctx.notification()).map(ok),
        Action::Promote => agent.promote(ctx).map(ok),
        Action::Demote => agent.demote(ctx).map(ok),
        Action::Reload => agent.reload(ctx).map(ok),
        Action::ReloadAgent => agent.reload_agent(ctx).map(ok),
        Action::MigrateTo | Action::MigrateFrom => Err(OcfError::Unimplemented(ctx.action())),
        // Answered before a context exists.
        Action::MetaData | Action::Usage => Ok(ExitCode::Success),
    }
}

/// Turns a failure into its exit code, writing the `ocf-exit-reason:` line Pacemaker shows
/// to the administrator. A configuration that cannot work means the resource cannot be
/// running: stop then succeeds and a probe reports "not running" (the IPaddr2 pattern), so
/// that a typo never escalates to fencing.
fn report(ctx: &Context, error: OcfError, stderr: &mut dyn Write) -> ExitCode {
    let mut code = error.exit_code();
    let config_problem = matches!(
        code,
        ExitCode::ErrConfigured | ExitCode::ErrInstalled | ExitCode::ErrArgs
    );
    if config_problem && ctx.action() == Action::Stop {
        tracing::warn!(
            "{error}; the resource cannot be running with this configuration, so stop succeeds"
        );
        return ExitCode::Success;
    }
    if config_problem && ctx.is_probe() {
        tracing::info!("{error}; probe reports not running");
        return ExitCode::NotRunning;
    }
    match code {
        ExitCode::ErrUnimplemented => {
            tracing::debug!("{error}");
            return code;
        }
        ExitCode::NotRunning if ctx.is_probe() || ctx.action() != Action::Monitor => {
            // A probe finding nothing is the normal case: say it quietly.
            tracing::info!("{error}");
            if ctx.action() != Action::Monitor {
                code = ExitCode::ErrGeneric;
            } else {
                return code;
            }
        }
        _ => {}
    }
    tracing::error!("{error}");
    let prefix = ctx
        .env()
        .get("OCF_EXIT_REASON_PREFIX")
        .filter(|p| !p.is_empty())
        .unwrap_or("ocf-exit-reason:");
    // Pacemaker keeps the last such line, up to the newline: keep it one line.
    let reason: String = error
        .to_string()
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    let _ = writeln!(stderr, "{prefix}{reason}");
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActionSpec, ParamSpec};
    use std::cell::RefCell;

    static PARAMS: [ParamSpec; 2] = [
        ParamSpec::integer("count").default("1"),
        ParamSpec::string("name").required(),
    ];
    static ACTIONS: [ActionSpec; 2] = [
        ActionSpec::new(Action::Start, 20),
        ActionSpec::new(Action::Stop, 20),
    ];
    static META: Metadata = Metadata {
        name: "t",
        version: "0",
        shortdesc: "s",
        longdesc: "l",
        params: &PARAMS,
        actions: &ACTIONS,
    };

    #[derive(Default)]
    struct T {
        ran: RefCell<Vec<Action>>,
        fail_stop: bool,
    }

    impl Agent for T {
        fn metadata(&self) -> &'static Metadata {
            &META
        }
        fn start(&self, ctx: &Context) -> Result<(), OcfError> {
            self.ran.borrow_mut().push(ctx.action());
            Ok(())
        }
        fn stop(&self, ctx: &Context) -> Result<(), OcfError> {
            self.ran.borrow_mut().push(ctx.action());
            if self.fail_stop {
                Err(OcfError::generic("could not stop"))
            } else {
                Ok(())
            }
        }
        fn monitor(&self, _: &Context) -> Result<ExitCode, OcfError> {
            Err(OcfError::NotRunning("daemon is not running".into()))
        }
    }

    fn run_agent(agent: &T, action: &str, env: &[(&str, &str)]) -> (ExitCode, String, String) {
        let args = vec!["t".to_string(), action.to_string()];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_with(
            agent,
            &args,
            Env::from_pairs(env.iter().copied()),
            &mut out,
            &mut err,
        );
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn unimplemented_and_unknown_actions_exit_3() {
        let agent = T::default();
        for action in [
            "notify",
            "promote",
            "demote",
            "reload",
            "reload-agent",
            "migrate_to",
            "migrate_from",
            "bogus",
        ] {
            let env = [("OCF_RESKEY_name", "x")];
            assert_eq!(
                run_agent(&agent, action, &env).0,
                ExitCode::ErrUnimplemented,
                "{action}"
            );
        }
    }

    #[test]
    fn meta_data_needs_no_environment_and_writes_only_xml() {
        let (code, out, err) = run_agent(&T::default(), "meta-data", &[]);
        assert_eq!(code, ExitCode::Success);
        assert!(out.starts_with("<?xml"));
        assert!(err.is_empty());
    }

    #[test]
    fn bad_parameters_exit_6_with_one_exit_reason_line() {
        let agent = T::default();
        let (code, out, err) = run_agent(
            &agent,
            "start",
            &[("OCF_RESKEY_name", "x"), ("OCF_RESKEY_count", "many")],
        );
        assert_eq!(code, ExitCode::ErrConfigured);
        assert!(out.is_empty());
        let reasons: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("ocf-exit-reason:"))
            .collect();
        assert_eq!(
            reasons,
            ["ocf-exit-reason:parameter count: must be an integer, got 'many'"]
        );
        assert!(agent.ran.borrow().is_empty(), "start must not run");
    }

    #[test]
    fn stop_and_probe_with_bad_config_report_stopped() {
        let agent = T::default();
        assert_eq!(run_agent(&agent, "stop", &[]).0, ExitCode::Success);
        let probe = run_agent(&agent, "monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")]);
        assert_eq!(probe.0, ExitCode::NotRunning);
        assert!(!probe.2.contains("ocf-exit-reason"));
    }

    #[test]
    fn monitor_not_running_is_quiet_on_probe_and_explained_otherwise() {
        let agent = T::default();
        let env = [
            ("OCF_RESKEY_name", "x"),
            ("OCF_RESKEY_CRM_meta_interval", "0"),
        ];
        let (code, _, err) = run_agent(&agent, "monitor", &env);
        assert_eq!(code, ExitCode::NotRunning);
        assert!(!err.contains("ocf-exit-reason"));
        let env = [
            ("OCF_RESKEY_name", "x"),
            ("OCF_RESKEY_CRM_meta_interval", "10000"),
        ];
        let (code, _, err) = run_agent(&agent, "monitor", &env);
        assert_eq!(code, ExitCode::NotRunning);
        assert!(err.contains("ocf-exit-reason:daemon is not running"));
    }

    #[test]
    fn failed_stop_is_reported_with_generic_error() {
        let agent = T {
            fail_stop: true,
            ..T::default()
        };
        let (code, _, err) = run_agent(&agent, "stop", &[("OCF_RESKEY_name", "x")]);
        assert_eq!(code, ExitCode::ErrGeneric);
        assert!(err.contains("ocf-exit-reason:could not stop"));
    }

    #[test]
    fn exit_reason_prefix_is_taken_from_pacemaker() {
        let agent = T::default();
        let env = [
            ("OCF_RESKEY_count", "x"),
            ("OCF_EXIT_REASON_PREFIX", "why:"),
        ];
        let (_, _, err) = run_agent(&agent, "validate-all", &env);
        assert!(err.lines().any(|l| l.starts_with("why:parameter ")));
    }
}
