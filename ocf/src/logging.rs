//! Logging for agents, set up in one place.
//!
//! Records go to stderr only: stdout carries meta-data XML and nothing else. Pacemaker's
//! executor logs an agent's stderr with the operation, so each record is one line tagged the
//! way `ocf_log` tags it: `agent(instance)[pid]: LEVEL: message`. `HA_debug=1` enables debug
//! records and `OCF_TRACE_RA` (set by `crm_resource -V`, `ocf-tester -X`) trace records.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::Env;

/// The most verbose level the environment asks for.
pub fn level(env: &Env) -> Level {
    let set = |key: &str| {
        env.get(key)
            .is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
    };
    if set("OCF_TRACE_RA") {
        Level::TRACE
    } else if set("HA_debug") {
        Level::DEBUG
    } else {
        Level::INFO
    }
}

/// Installs the stderr logger for `agent`; a second call is a no-op.
pub fn init(agent: &str, instance: &str, env: &Env) {
    let format = OcfFormat {
        tag: format!("{agent}({instance})[{}]", std::process::id()),
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level(env))
        .event_format(format)
        .try_init();
}

struct OcfFormat {
    tag: String,
}

impl<S, N> FormatEvent<S, N> for OcfFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARNING",
            Level::INFO => "INFO",
            Level::DEBUG | Level::TRACE => "DEBUG",
        };
        write!(writer, "{}: {level}: ", self.tag)?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_follows_ha_debug_and_trace() {
        assert_eq!(level(&Env::default()), Level::INFO);
        assert_eq!(level(&Env::from_pairs([("HA_debug", "0")])), Level::INFO);
        assert_eq!(level(&Env::from_pairs([("HA_debug", "1")])), Level::DEBUG);
        assert_eq!(
            level(&Env::from_pairs([("OCF_TRACE_RA", "1")])),
            Level::TRACE
        );
    }
}
