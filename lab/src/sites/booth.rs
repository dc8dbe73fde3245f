//! booth for the sites: the layout (sites, arbitrator, tickets and their timers), the
//! `booth.conf` written from it by a pure function, and its validation.
//!
//! What booth 1.0 (Debian 12) needs, all seen in namespaces on this kind of machine:
//!
//! - `timeout * (retries + 1) < renewal-freq` and `retries >= 3`, else boothd exits 1 ("total
//!   amount of time to retry sending packets cannot exceed renewal frequency") and every
//!   client refuses to run: [`BoothLayout::validate`] refuses it first.
//! - no `site-user`, `site-group`, `arbitrator-user`, `arbitrator-group`: booth then copies
//!   the last command-line option value instead of the config value and most client
//!   commands segfault. Never written.
//! - the authfile: mode 0600, at least 8 bytes (`booth-keygen` writes 64), the same on every
//!   site and the arbitrator; a client without it gets "authentication error".
//! - booth finds its own role by matching local interface addresses against the `site =` /
//!   `arbitrator =` lines, so one identical file serves every daemon and client.
//! - boothd hangs when any IPv6 address exists (kernels from 6.9, fixed in booth 1.2): the
//!   sites disable IPv6 in every namespace.
//! - `attr-prereq = auto repl_state eq ACTIVE` keeps booth from failing over automatically
//!   to a site whose `repl_state` attribute (geostore) is not `ACTIVE`; it does not apply to
//!   manual grants.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::LabError;

/// booth's UDP (and client TCP) port.
pub const BOOTH_PORT: u16 = 9929;
/// booth's configuration inside every site node and the arbitrator.
pub const BOOTH_CONF: &str = "/etc/booth/booth.conf";
/// The shared key inside every site node and the arbitrator (mode 0600).
pub const BOOTH_AUTHKEY: &str = "/etc/booth/authkey";
/// The ticket of the lab's volume pair (the `data` volume at both sites).
pub const DATA_TICKET: &str = "ticket-data";
/// The attribute prerequisite the sites can put on a ticket.
pub const REPL_STATE_PREREQ: &str = "auto repl_state eq ACTIVE";

/// One ticket of a [`BoothLayout`]. Times are in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoothTicket {
    /// `ticket-<volume>`.
    pub name: String,
    /// The lease: a holder cut off for this long revokes the ticket locally.
    pub expire: u32,
    /// Wait for an answer before a retry.
    pub timeout: u32,
    /// Retries of a packet (at least 3).
    pub retries: u32,
    /// How often the holder renews the lease.
    pub renewal_freq: u32,
    /// How long a site waits after the lease ended before it acquires the ticket itself
    /// (automatic tickets only).
    pub acquire_after: u32,
    /// `attr-prereq = auto repl_state eq ACTIVE`.
    pub attr_prereq: bool,
    /// `mode = manual`: booth never moves the ticket on its own.
    pub manual: bool,
}

impl BoothTicket {
    /// A ticket with the lab's timers: expire 20, timeout 1, retries 3, renewal-freq 5,
    /// acquire-after 5 (an automatic failover takes about 23-24 s with these).
    pub fn new(name: &str) -> BoothTicket {
        BoothTicket {
            name: name.to_string(),
            expire: 20,
            timeout: 1,
            retries: 3,
            renewal_freq: 5,
            acquire_after: 5,
            attr_prereq: false,
            manual: true,
        }
    }
}

/// Everything `booth.conf` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoothLayout {
    /// The sites' booth addresses (one per site).
    pub sites: Vec<Ipv4Addr>,
    /// The arbitrator's address.
    pub arbitrator: Option<Ipv4Addr>,
    /// [`BOOTH_PORT`] by default.
    pub port: u16,
    /// [`BOOTH_AUTHKEY`] by default.
    pub authfile: String,
    /// One per volume pair.
    pub tickets: Vec<BoothTicket>,
}

impl BoothLayout {
    /// Refuses what booth would refuse, or what makes no ticket manager: fewer than two
    /// sites, an address listed twice, no ticket, a ticket name that is not one word, and
    /// timers booth does not accept.
    pub fn validate(&self) -> Result<(), LabError> {
        let bad = |m: String| Err(LabError::Options(format!("booth layout: {m}")));
        if self.sites.len() < 2 {
            return bad(format!("needs two sites, has {}", self.sites.len()));
        }
        let mut all: Vec<Ipv4Addr> = self.sites.clone();
        all.extend(self.arbitrator);
        let mut seen = all.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != all.len() {
            return bad(format!("an address is listed twice: {all:?}"));
        }
        if self.tickets.is_empty() {
            return bad("no ticket".into());
        }
        if self.authfile.is_empty() || !self.authfile.starts_with('/') {
            return bad(format!(
                "authfile {:?} must be an absolute path",
                self.authfile
            ));
        }
        for t in &self.tickets {
            let word = !t.name.is_empty()
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !word {
                return bad(format!(
                    "ticket name {:?}: letters, digits, '-', '_', '.'",
                    t.name
                ));
            }
            if t.retries < 3 {
                return bad(format!(
                    "ticket {}: retries {} (booth wants at least 3)",
                    t.name, t.retries
                ));
            }
            if t.timeout == 0 {
                return bad(format!("ticket {}: timeout 0", t.name));
            }
            // booth: "total amount of time to retry sending packets cannot exceed renewal
            // frequency".
            let total = u64::from(t.timeout) * (u64::from(t.retries) + 1);
            if total >= u64::from(t.renewal_freq) {
                return bad(format!(
                    "ticket {}: timeout*(retries+1) = {}*({}+1) = {total} s must be below \
                     renewal-freq {} s (booth refuses it)",
                    t.name, t.timeout, t.retries, t.renewal_freq
                ));
            }
            if t.renewal_freq >= t.expire {
                return bad(format!(
                    "ticket {}: renewal-freq {} s must be below expire {} s",
                    t.name, t.renewal_freq, t.expire
                ));
            }
        }
        Ok(())
    }
}

/// The `booth.conf` of `layout`: the same text on every site and the arbitrator. Validate
/// the layout first ([`BoothLayout::validate`]).
pub fn booth_conf(layout: &BoothLayout) -> String {
    let mut s =
        String::from("# Written by ganesha-lab: the same on every site and the arbitrator.\n");
    // Writing to a String cannot fail.
    let _ = writeln!(s, "transport = UDP");
    let _ = writeln!(s, "port = {}", layout.port);
    let _ = writeln!(s, "authfile = {}", layout.authfile);
    for site in &layout.sites {
        let _ = writeln!(s, "site = {site}");
    }
    if let Some(arb) = layout.arbitrator {
        let _ = writeln!(s, "arbitrator = {arb}");
    }
    for t in &layout.tickets {
        let _ = writeln!(s, "ticket = \"{}\"", t.name);
        let _ = writeln!(s, "    expire = {}", t.expire);
        let _ = writeln!(s, "    timeout = {}", t.timeout);
        let _ = writeln!(s, "    retries = {}", t.retries);
        let _ = writeln!(s, "    renewal-freq = {}", t.renewal_freq);
        let _ = writeln!(s, "    acquire-after = {}", t.acquire_after);
        if t.attr_prereq {
            let _ = writeln!(s, "    attr-prereq = {REPL_STATE_PREREQ}");
        }
        if t.manual {
            let _ = writeln!(s, "    mode = manual");
        }
    }
    s
}

/// Whether `crm_ticket --info` output says `ticket` is granted (`ticket-data granted
/// last-granted=...`; a revoked one says `revoked`).
pub fn ticket_granted_in(info: &str, ticket: &str) -> bool {
    info.lines().any(|l| {
        let mut w = l.split_whitespace();
        w.next() == Some(ticket) && w.next() == Some("granted")
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn layout() -> BoothLayout {
        BoothLayout {
            sites: vec![Ipv4Addr::new(192, 0, 2, 11), Ipv4Addr::new(192, 0, 2, 31)],
            arbitrator: Some(Ipv4Addr::new(192, 0, 2, 250)),
            port: BOOTH_PORT,
            authfile: BOOTH_AUTHKEY.into(),
            tickets: vec![BoothTicket::new(DATA_TICKET)],
        }
    }

    #[test]
    fn writes_every_line_booth_needs() {
        let mut l = layout();
        l.tickets[0].attr_prereq = true;
        l.validate().unwrap();
        let text = booth_conf(&l);
        assert_eq!(
            text,
            "# Written by ganesha-lab: the same on every site and the arbitrator.\n\
             transport = UDP\nport = 9929\nauthfile = /etc/booth/authkey\n\
             site = 192.0.2.11\nsite = 192.0.2.31\narbitrator = 192.0.2.250\n\
             ticket = \"ticket-data\"\n    expire = 20\n    timeout = 1\n    retries = 3\n    \
             renewal-freq = 5\n    acquire-after = 5\n    attr-prereq = auto repl_state eq ACTIVE\n    \
             mode = manual\n"
        );
        for never in [
            "site-user",
            "site-group",
            "arbitrator-user",
            "arbitrator-group",
        ] {
            assert!(!text.contains(never), "{text}");
        }
        l.tickets[0].manual = false;
        l.tickets[0].attr_prereq = false;
        let auto = booth_conf(&l);
        assert!(
            !auto.contains("mode") && !auto.contains("attr-prereq"),
            "{auto}"
        );
    }

    #[test]
    fn refuses_what_booth_refuses() {
        let with = |f: &dyn Fn(&mut BoothLayout)| {
            let mut l = layout();
            f(&mut l);
            l.validate()
        };
        // timeout 3, retries 3, renewal-freq 5: 3*(3+1) >= 5.
        let e = with(&|l| l.tickets[0].timeout = 3).unwrap_err();
        assert!(e.to_string().contains("renewal-freq"), "{e}");
        // The bound is strict: 1*(4+1) = 5 is refused too.
        assert!(with(&|l| l.tickets[0].retries = 4).is_err());
        assert!(with(&|l| l.tickets[0].retries = 2).is_err());
        assert!(with(&|l| l.tickets[0].renewal_freq = 20).is_err());
        assert!(with(&|l| l.sites.truncate(1)).is_err());
        assert!(with(&|l| l.arbitrator = Some(l.sites[0])).is_err());
        assert!(with(&|l| l.tickets.clear()).is_err());
        assert!(with(&|l| l.tickets[0].name = "a b".into()).is_err());
        assert!(with(&|l| l.authfile = "authkey".into()).is_err());
        assert!(with(&|l| l.arbitrator = None).is_ok());
    }

    #[test]
    fn reads_crm_ticket_info() {
        let info =
            "ticket-data\tgranted\tlast-granted=Wed Dec  2 16:00:00 2026\nticket-x revoked\n";
        assert!(ticket_granted_in(info, "ticket-data"));
        assert!(!ticket_granted_in(info, "ticket-x"));
        assert!(!ticket_granted_in("", "ticket-data"));
        assert!(!ticket_granted_in(
            "ticket-data revoked last-granted=x",
            "ticket-data"
        ));
    }
}
