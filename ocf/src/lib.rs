//! A typed framework for OCF resource agents.
//!
//! It encodes the [OCF Resource Agent API 1.1] once, so that an agent author only writes the
//! behaviour of each action:
//!
//! - [`ExitCode`]: the status codes of the spec (§ "Return codes"), and [`OcfError`], whose one
//!   exhaustive `match` decides which code each failure becomes;
//! - [`Action`]: the actions Pacemaker may ask for; any action an agent does not implement
//!   exits 3 (`OCF_ERR_UNIMPLEMENTED`), which is what `ocf-tester` probes for;
//! - [`ParamSpec`]: parameters declared once and used both for reading `OCF_RESKEY_*` and for
//!   generating the meta-data XML ([`Metadata`]), which validates against `ra-api-1.dtd`;
//! - [`Context`]: probe detection, `OCF_CHECK_LEVEL`, clone and notification variables, and a
//!   [`Deadline`] derived from `OCF_RESKEY_CRM_meta_timeout` that every external call respects
//!   ([`command`], [`process`]);
//! - [`attrs`]: node attributes through `attrd_updater`/`crm_attribute`, behind a trait with a
//!   recording implementation for unit tests;
//! - [`logging`]: `tracing` to stderr, never stdout (stdout belongs to meta-data).
//!
//! An agent implements [`Agent`] and its `main` calls [`run`].
//!
//! [OCF Resource Agent API 1.1]: https://github.com/ClusterLabs/OCF-spec/blob/main/ra/1.1/resource-agent-api.md

mod action;
mod agent;
pub mod attrs;
pub mod command;
mod context;
mod deadline;
mod error;
mod exit;
pub mod logging;
mod metadata;
pub mod notify;
mod params;
pub mod process;

pub use action::Action;
pub use agent::{run, run_with, Agent};
pub use context::{CheckLevel, Context, Env};
pub use deadline::Deadline;
pub use error::OcfError;
pub use exit::ExitCode;
pub use metadata::{ActionSpec, Metadata};
pub use notify::{Notification, NotifyOperation, NotifyType};
pub use params::{ParamSpec, ParamType, Params};
