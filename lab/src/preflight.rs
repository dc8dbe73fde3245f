//! What the host must offer before a lab is built: root, network namespaces, the programs,
//! the Pacemaker accounts, and node addresses that no host interface has.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use crate::node::SETUP_TIMEOUT;
use crate::util::run_checked;
use crate::{LabError, LabOptions, Tools};

/// Checks what [`Lab::up`](crate::Lab::up) needs: root, network namespace support, the
/// programs, the `hacluster` user and `haclient` group. The error says what is missing and
/// which `apt-get install` provides it.
pub fn preflight() -> Result<(), LabError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(LabError::NotRoot);
    }
    if !Path::new("/proc/self/ns/net").exists() {
        return Err(LabError::NoNetns(
            "/proc/self/ns/net is missing (kernel without CONFIG_NET_NS?)".into(),
        ));
    }
    Tools::find(false, false)?;
    pacemaker_ids().map(|_| ())
}

/// uid of `hacluster`, gid of `haclient`.
pub(crate) fn pacemaker_ids() -> Result<(u32, u32), LabError> {
    let user = nix::unistd::User::from_name("hacluster").ok().flatten();
    let group = nix::unistd::Group::from_name("haclient").ok().flatten();
    match (user, group) {
        (Some(u), Some(g)) => Ok((u.uid.as_raw(), g.gid.as_raw())),
        _ => Err(LabError::Missing {
            missing: "user hacluster / group haclient".into(),
            packages: "pacemaker".into(),
        }),
    }
}

/// The host's IPv4 addresses (`ip -o -4 addr show`): (interface, address, prefix length).
fn host_addresses(tools: &Tools) -> Result<Vec<(String, Ipv4Addr, u32)>, LabError> {
    let out = run_checked(
        Command::new(tools.get("ip")).args(["-o", "-4", "addr", "show"]),
        SETUP_TIMEOUT,
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let dev = words.nth(1)?.to_string();
            let cidr = words.skip_while(|w| *w != "inet").nth(1)?;
            let (addr, len) = cidr.split_once('/')?;
            Some((dev, addr.parse().ok()?, len.parse().ok()?))
        })
        .collect())
}

/// Refuses node addresses that are configured on the host; returns a note when the host's
/// own networks overlap the lab's subnet (harmless: nothing is routed between them).
pub(crate) fn check_addresses_free(
    tools: &Tools,
    opts: &LabOptions,
) -> Result<Option<String>, LabError> {
    let [a, b, c] = opts.subnet_base;
    let ours = u32::from(Ipv4Addr::new(a, b, c, 0));
    let first = usize::from(opts.first_host);
    let nodes: Vec<Ipv4Addr> = (first..first + opts.nodes)
        .filter_map(|h| u8::try_from(h).ok())
        .map(|h| Ipv4Addr::new(a, b, c, h))
        .collect();
    let mut note = None;
    for (dev, addr, len) in host_addresses(tools)? {
        if nodes.contains(&addr) {
            return Err(LabError::AddressInUse {
                subnet: opts.subnet(),
                detail: format!("{dev} has {addr}/{len}, a node address of the lab"),
            });
        }
        let shorter = len.min(24);
        let mask = if shorter == 0 {
            0
        } else {
            u32::MAX << (32 - shorter)
        };
        if u32::from(addr) & mask == ours & mask {
            note = Some(format!(
                "note: the host's {dev} ({addr}/{len}) overlaps the lab's {}; the lab's \
                 network is separate (its own bridge, nothing routed to the host)",
                opts.subnet()
            ));
        }
    }
    Ok(note)
}
