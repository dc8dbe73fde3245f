//! The resources and constraints of one site: `booth-site` (boothd under Pacemaker), and
//! for each volume pair a promotable `georep_monitor` clone promoted only where its ticket
//! is ([`site_cib`]). Merged into the live CIB by id, like `setup`'s model
//! ([`crate::apply::merge`]).

use ganesha_agents::names::{BOOTH_AGENT, GEOREP_AGENT, PROVIDER};

use super::spec::{Pair, SitesSpec};
use crate::cib::{
    meta_set_id, Cib, Clone, Constraint, Group, NvPair, Op, Primitive, Resource, Ticket,
};

/// The oldest CIB schema that knows the role names `Promoted` and `Unpromoted` (Pacemaker
/// 2.1 and later create live CIBs with a newer one; `site setup` refuses an older one).
pub const ROLE_SCHEMA: (u32, u32) = (3, 7);

/// The schema version of a CIB document's `validate-with="pacemaker-X.Y"`.
pub fn schema_version(xml: &str) -> Option<(u32, u32)> {
    let rest = xml.split("validate-with=\"pacemaker-").nth(1)?;
    let version = rest.split('"').next()?;
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The primitive of `ocf:ganesha:booth_site`.
pub const BOOTH_SITE: &str = "booth-site";
/// The IPaddr2 primitive of the site's booth address (with `SITE_BOOTH_NIC`).
pub const BOOTH_IP: &str = "booth-ip";
/// The group of [`BOOTH_IP`] and [`BOOTH_SITE`] (with `SITE_BOOTH_NIC`).
pub const BOOTH_GROUP: &str = "booth";

/// The promotable clone of `pair`'s `georep_monitor`, with its parameters (docs/sites.md).
pub fn georep_clone(spec: &SitesSpec, pair: &Pair) -> Resource {
    let id = pair.resource();
    let mut p = Primitive::new(&id, "ocf", Some(PROVIDER), GEOREP_AGENT)
        .param("volume", &pair.volume)
        .param("remote_host", &pair.remote_host)
        .param("remote_volume", &pair.remote_volume)
        .param("remote_user", &pair.user)
        .param("ssh_port", &pair.ssh_port.to_string())
        .param("max_lag", &pair.max_lag.to_string())
        .param("ticket", &pair.ticket())
        .param("booth_conf", &spec.booth_conf)
        .param("other_site", &spec.other().addr.to_string())
        // gluster volume set takes seconds per option; promote sets three.
        .op("start", "0s", Some("120s"))
        .op("stop", "0s", Some("60s"))
        .op("promote", "0s", Some("120s"))
        .op("demote", "0s", Some("120s"));
    for (role, interval) in [("Promoted", "10s"), ("Unpromoted", "11s")] {
        let mut op = Op::new(&id, "monitor", interval, Some("60s"));
        op.extra.push(("role".into(), role.into()));
        p.ops.push(op);
    }
    let clone = pair.clone_id();
    Resource::Clone(Clone {
        meta: [
            ("promotable", "true"),
            ("promoted-max", "1"),
            ("promoted-node-max", "1"),
        ]
        .iter()
        .map(|(k, v)| NvPair::new(&meta_set_id(&clone), k, v))
        .collect(),
        id: clone,
        child: p,
    })
}

/// `georep-<volume>-needs-<ticket>`: promoted only where the ticket is, demoted when it goes.
pub fn ticket_constraint(pair: &Pair) -> Constraint {
    Constraint::Ticket(Ticket {
        id: format!("{}-needs-{}", pair.resource(), pair.ticket()),
        rsc: pair.clone_id(),
        rsc_role: Some("Promoted".into()),
        ticket: pair.ticket(),
        loss_policy: Some("demote".into()),
    })
}

/// How often Pacemaker monitors `booth-site`, seconds. A boothd killed at the owning site
/// is restarted within about this plus a stop and a start; its site keeps the ticket only
/// if that comes before the lease ends and the other site may acquire it (`expire` after
/// the last renewal, at least `expire - renewal-freq` after the kill, plus `acquire-after`).
pub const BOOTH_MONITOR_INTERVAL: u32 = 10;
/// The bound on one monitor of `booth-site`, seconds.
pub const BOOTH_MONITOR_TIMEOUT: u32 = 20;

/// This site's part of the CIB.
pub fn site_cib(spec: &SitesSpec) -> Cib {
    let mut cib = Cib::default();
    let booth = Primitive::new(BOOTH_SITE, "ocf", Some(PROVIDER), BOOTH_AGENT)
        .param("config", &spec.booth_conf)
        .op("start", "0s", Some("30s"))
        .op("stop", "0s", Some("30s"))
        .op(
            "monitor",
            &format!("{BOOTH_MONITOR_INTERVAL}s"),
            Some(&format!("{BOOTH_MONITOR_TIMEOUT}s")),
        );
    match &spec.booth_nic {
        // The site's booth address follows boothd: started before it, on the same node.
        Some(nic) => {
            let ip = Primitive::new(BOOTH_IP, "ocf", Some("heartbeat"), "IPaddr2")
                .param("ip", &spec.here().addr.to_string())
                .param("nic", nic)
                .op("monitor", "10s", Some("20s"));
            cib.resources.push(Resource::Group(Group {
                id: BOOTH_GROUP.into(),
                members: vec![ip, booth],
            }));
        }
        None => cib.resources.push(Resource::Primitive(booth)),
    }
    for pair in &spec.pairs {
        cib.resources.push(georep_clone(spec, pair));
        cib.constraints.push(ticket_constraint(pair));
    }
    cib
}
