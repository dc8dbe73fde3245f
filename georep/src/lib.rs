//! GlusterFS geo-replication sessions over the real `gluster` CLI.
//!
//! [`Gluster`] runs `gluster --mode=script volume geo-replication ... --xml` (argv only,
//! bounded in time) and turns its XML into [`Session`]s with per-brick [`SessionDetail`]s
//! and a rolled-up [`SessionStatus`] ([`rollup`]). Config changes are checked against
//! gsyncd's option table ([`options`]) before anything is sent. The pitfalls of GlusterFS
//! 10.3 are handled in the driver: push-pem finishing after `create` returns, `ssh-port`
//! not stored by `create`, a monitor that dies at start leaving "Created", rsync 3.5.0
//! syncing empty files, and checkpoints that complete only after a later change.

pub mod driver;
pub mod error;
pub mod model;
pub mod options;
pub mod rollup;
pub mod time;
pub mod xml;

pub use driver::{CommandRunner, CreateOptions, Gluster, Outcome, Output, RsyncPolicy, Runner};
pub use error::{is_busy_message, Error};
pub use model::{CrawlStatus, Secondary, Session, SessionDetail, SessionStatus, WorkerStatus};
pub use options::{ConfigError, Setting};
