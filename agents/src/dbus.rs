//! NFS-Ganesha's D-Bus admin interface (`org.ganesha.nfsd.admin` on
//! `/org/ganesha/nfsd/admin`), on the system bus.
//!
//! zbus has no client-side timeout by default and the bus imposes none, so a daemon that owns
//! its name but never answers would hold an agent until Pacemaker SIGKILLs it. Every call here
//! is bounded twice: the connection's `method_timeout`, and the whole exchange (including the
//! connection handshake, which `method_timeout` does not cover) runs on a helper thread that
//! is abandoned when its bound passes. `DBUS_SYSTEM_BUS_ADDRESS` redirects the system bus.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use zbus::blocking::Connection;

const SERVICE: &str = "org.ganesha.nfsd";
const ADMIN_PATH: &str = "/org/ganesha/nfsd/admin";
const ADMIN_INTERFACE: &str = "org.ganesha.nfsd.admin";
const EXPORT_PATH: &str = "/org/ganesha/nfsd/ExportMgr";
const EXPORT_INTERFACE: &str = "org.ganesha.nfsd.exportmgr";

/// Why a D-Bus exchange with ganesha failed.
#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    /// No process owns `org.ganesha.nfsd`: ganesha is not running (or not on this bus).
    #[error("ganesha.nfsd is not on the system bus ({0})")]
    NotRunning(String),
    /// The system bus itself could not be reached.
    #[error("cannot reach the system bus: {0}")]
    NoBus(String),
    /// No answer within the bound.
    #[error("no answer from ganesha.nfsd within {0:.1?}")]
    TimedOut(Duration),
    /// Any other D-Bus failure.
    #[error("D-Bus call failed: {0}")]
    Failed(String),
}

fn classify(e: zbus::Error, bound: Duration) -> DbusError {
    match e {
        zbus::Error::MethodError(name, detail, _) => {
            let name = name.as_str().to_owned();
            let detail = detail.unwrap_or_default();
            if name.ends_with(".ServiceUnknown") || name.ends_with(".NameHasNoOwner") {
                DbusError::NotRunning(detail)
            } else if name.ends_with(".NoReply") || name.ends_with(".Timeout") {
                DbusError::TimedOut(bound)
            } else {
                DbusError::Failed(format!("{name}: {detail}"))
            }
        }
        zbus::Error::InputOutput(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            DbusError::TimedOut(bound)
        }
        other => DbusError::Failed(other.to_string()),
    }
}

/// Runs `f` on a helper thread and gives up after `bound`. A thread stuck in a D-Bus
/// handshake is left behind; the agent exits shortly after anyway.
fn bounded<T: Send + 'static>(
    bound: Duration,
    f: impl FnOnce() -> Result<T, DbusError> + Send + 'static,
) -> Result<T, DbusError> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("dbus".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| DbusError::Failed(format!("cannot start a D-Bus thread: {e}")))?;
    rx.recv_timeout(bound)
        .unwrap_or(Err(DbusError::TimedOut(bound)))
}

/// A connection to the system bus for talking to ganesha.
pub struct GaneshaAdmin {
    conn: Connection,
    call_limit: Duration,
}

impl GaneshaAdmin {
    /// Connects to the system bus within `bound`; later calls are each limited to `bound`.
    pub fn connect(bound: Duration) -> Result<GaneshaAdmin, DbusError> {
        let conn = bounded(bound, move || {
            zbus::blocking::connection::Builder::system()
                .and_then(|b| b.method_timeout(bound).build())
                .map_err(|e| match e {
                    zbus::Error::InputOutput(io) => DbusError::NoBus(io.to_string()),
                    zbus::Error::Address(a) => DbusError::NoBus(a),
                    other => DbusError::NoBus(other.to_string()),
                })
        })?;
        Ok(GaneshaAdmin {
            conn,
            call_limit: bound,
        })
    }

    fn call<B, R>(&self, method: &'static str, body: B, bound: Duration) -> Result<R, DbusError>
    where
        B: serde_body::Body + Send + 'static,
        R: for<'d> zbus::zvariant::DynamicDeserialize<'d> + Send + 'static,
    {
        let bound = bound.min(self.call_limit);
        let conn = self.conn.clone();
        bounded(bound, move || {
            let reply = body.call(&conn, method).map_err(|e| classify(e, bound))?;
            reply
                .body()
                .deserialize::<R>()
                .map_err(|e| DbusError::Failed(format!("unexpected reply to {method}: {e}")))
        })
    }

    /// `grace("<event>:<key>")` → `(status, error)`. A `false` status is returned as-is: the
    /// call itself worked, the daemon refused, and the caller decides what that means.
    pub fn grace(&self, arg: &str, bound: Duration) -> Result<(bool, String), DbusError> {
        self.call("grace", (arg.to_owned(),), bound)
    }

    /// `get_grace()` → whether the daemon is in its grace period.
    pub fn get_grace(&self, bound: Duration) -> Result<bool, DbusError> {
        let (in_grace, status, error): (bool, bool, String) = self.call("get_grace", (), bound)?;
        if status {
            Ok(in_grace)
        } else {
            Err(DbusError::Failed(format!("get_grace refused: {error}")))
        }
    }

    /// The pid of the process that owns `org.ganesha.nfsd` on the bus, so that callers can
    /// check that the daemon answering is the one they mean.
    pub fn owner_pid(&self, bound: Duration) -> Result<u32, DbusError> {
        let bound = bound.min(self.call_limit);
        let conn = self.conn.clone();
        bounded(bound, move || {
            let reply = conn
                .call_method(
                    Some("org.freedesktop.DBus"),
                    "/org/freedesktop/DBus",
                    Some("org.freedesktop.DBus"),
                    "GetConnectionUnixProcessID",
                    &(SERVICE,),
                )
                .map_err(|e| classify(e, bound))?;
            reply.body().deserialize::<u32>().map_err(|e| {
                DbusError::Failed(format!(
                    "unexpected reply to GetConnectionUnixProcessID: {e}"
                ))
            })
        })
    }

    /// `shutdown()` → asks the daemon to exit cleanly.
    pub fn shutdown(&self, bound: Duration) -> Result<(bool, String), DbusError> {
        self.call("shutdown", (), bound)
    }

    /// ExportMgr `AddExport(path, expr)`: loads the export block `expr` (e.g.
    /// `EXPORT(Export_Id=2)`) from the config file `path`; ganesha's message.
    pub fn add_export(&self, path: &str, expr: &str, bound: Duration) -> Result<String, DbusError> {
        self.export_call("AddExport", (path.to_owned(), expr.to_owned()), bound)
    }

    /// ExportMgr `UpdateExport(path, expr)`: re-reads that export block and applies what
    /// can change live; ganesha's message.
    pub fn update_export(
        &self,
        path: &str,
        expr: &str,
        bound: Duration,
    ) -> Result<String, DbusError> {
        self.export_call("UpdateExport", (path.to_owned(), expr.to_owned()), bound)
    }

    /// ExportMgr `RemoveExport(id)`.
    pub fn remove_export(&self, id: u16, bound: Duration) -> Result<(), DbusError> {
        let bound = bound.min(self.call_limit);
        let conn = self.conn.clone();
        bounded(bound, move || {
            conn.call_method(
                Some(SERVICE),
                EXPORT_PATH,
                Some(EXPORT_INTERFACE),
                "RemoveExport",
                &(id,),
            )
            .map(drop)
            .map_err(|e| classify(e, bound))
        })
    }

    fn export_call(
        &self,
        method: &'static str,
        body: (String, String),
        bound: Duration,
    ) -> Result<String, DbusError> {
        let bound = bound.min(self.call_limit);
        let conn = self.conn.clone();
        bounded(bound, move || {
            let reply = conn
                .call_method(
                    Some(SERVICE),
                    EXPORT_PATH,
                    Some(EXPORT_INTERFACE),
                    method,
                    &body,
                )
                .map_err(|e| classify(e, bound))?;
            reply
                .body()
                .deserialize::<String>()
                .map_err(|e| DbusError::Failed(format!("unexpected reply to {method}: {e}")))
        })
    }
}

/// Message bodies the admin interface takes: none, or one string.
mod serde_body {
    use super::{ADMIN_INTERFACE, ADMIN_PATH, SERVICE};
    use zbus::blocking::Connection;
    use zbus::Message;

    pub trait Body {
        fn call(&self, conn: &Connection, method: &'static str) -> zbus::Result<Message>;
    }

    impl Body for () {
        fn call(&self, conn: &Connection, method: &'static str) -> zbus::Result<Message> {
            conn.call_method(
                Some(SERVICE),
                ADMIN_PATH,
                Some(ADMIN_INTERFACE),
                method,
                &(),
            )
        }
    }

    impl Body for (String,) {
        fn call(&self, conn: &Connection, method: &'static str) -> zbus::Result<Message> {
            conn.call_method(
                Some(SERVICE),
                ADMIN_PATH,
                Some(ADMIN_INTERFACE),
                method,
                self,
            )
        }
    }
}
