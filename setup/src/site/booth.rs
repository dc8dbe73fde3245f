//! booth's configuration: a pure function of the sites configuration, the same text at
//! both sites and the arbitrator.
//!
//! What booth 1.0 (Debian 12) needs and refuses, and so what is written:
//! - `site-user`, `site-group`, `arbitrator-user`, `arbitrator-group` make booth's clients
//!   segfault (the parser keeps the last command-line option instead of the value): never
//!   written; every daemon runs as `hacluster:haclient` anyway.
//! - `timeout * (retries + 1)` must be below `renewal-freq`, `retries` at least 3
//!   ([`Timers::check`](super::spec::Timers::check), checked when the file is read).
//! - the authfile must be mode 0600 and at least 8 bytes (`site setup` installs it so).
//! - a `manual` ticket moves only by `booth grant`/`revoke`; an `auto` one fails over when
//!   its lease ends, and `attr-prereq = auto repl_state eq ACTIVE` keeps booth from taking it
//!   to a copy whose owner did not report a healthy, fresh session (the attribute lives in
//!   the taking site's booth, written there by the owner's `georep_monitor`). The `auto`
//!   prerequisite does not apply to manual grants: `site failover` checks it itself.

use super::spec::{SitesSpec, TicketMode};

/// The text of booth.conf for `spec`.
pub fn booth_conf(spec: &SitesSpec) -> String {
    let mut out = String::from(
        "# Written by `ganesha-ha site setup`: the same file at both sites and the arbitrator.\n",
    );
    out.push_str("transport = UDP\n");
    out.push_str(&format!("port = {}\n", spec.booth_port));
    out.push_str(&format!("authfile = {}\n", spec.booth_key));
    for s in &spec.sites {
        out.push_str(&format!("# site {}\n", s.name));
        out.push_str(&format!("site = {}\n", s.addr));
    }
    out.push_str(&format!("arbitrator = {}\n", spec.arbitrator));
    for p in &spec.pairs {
        let t = &p.timers;
        out.push_str(&format!(
            "\n# volume {} <-> {}\n",
            p.volume, p.remote_volume
        ));
        out.push_str(&format!("ticket = \"{}\"\n", p.ticket()));
        out.push_str(&format!("    expire = {}\n", t.expire));
        out.push_str(&format!("    timeout = {}\n", t.timeout));
        out.push_str(&format!("    retries = {}\n", t.retries));
        out.push_str(&format!("    renewal-freq = {}\n", t.renewal_freq));
        out.push_str(&format!("    acquire-after = {}\n", t.acquire_after));
        match p.mode {
            TicketMode::Manual => out.push_str("    mode = manual\n"),
            TicketMode::Auto => out.push_str("    attr-prereq = auto repl_state eq ACTIVE\n"),
        }
    }
    out
}
