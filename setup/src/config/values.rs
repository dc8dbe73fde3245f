//! The values of `ganesha-ha.conf`: each parser checks one kind of value and returns it as
//! the spec holds it, or a [`Problem`] with a fix. The key table (`keys.rs`) says which key
//! takes which.

use std::net::IpAddr;

use ipnetwork::IpNetwork;

use super::errors::Problem;
use crate::spec::{FenceDevice, TransportKind};

/// Longest cluster name: Corosync refuses longer ones, as glusterfs found.
const MAX_NAME_LEN: usize = 15;

/// HA_NAME: a Corosync cluster name.
pub(super) fn cluster_name(v: &str) -> Result<String, Problem> {
    if v.chars().count() > MAX_NAME_LEN {
        return Err(Problem::new(
            format!("cluster name `{v}` is longer than {MAX_NAME_LEN} characters"),
            format!(
                "use at most {MAX_NAME_LEN} characters (Corosync's limit as glusterfs found it)"
            ),
        ));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    {
        return Err(Problem::new(
            format!("cluster name `{v}` contains `{c}`"),
            "use only letters, digits, '-' and '_'",
        ));
    }
    Ok(v.to_string())
}

/// Splits HA_CLUSTER_NODES into its distinct names, with a problem for each bad one (the
/// names are kept, so that the node keys can still be matched).
pub(super) fn node_list(v: &str) -> (Vec<String>, Vec<Problem>) {
    let mut names: Vec<String> = Vec::new();
    let mut problems: Vec<Problem> = Vec::new();
    for (i, part) in v.split(',').map(str::trim).enumerate() {
        if part.is_empty() {
            problems.push(Problem::new(
                format!("empty name at position {}", i + 1),
                "separate node names with single commas, with no trailing comma",
            ));
            continue;
        }
        if let Err(problem) = host_name(part) {
            problems.push(problem);
        }
        if names.iter().any(|n| n == part) {
            problems.push(Problem::new(
                format!("node {part} is listed twice"),
                format!("list {part} once"),
            ));
            continue;
        }
        names.push(part.to_string());
    }
    (names, problems)
}

/// A node name: a host name, not an IP address.
fn host_name(n: &str) -> Result<(), Problem> {
    let ip_fix = "use the node's host name (as Pacemaker knows it); to give its Corosync \
                  address, add HA_NODE_ADDR_<node>=<address>";
    if n.parse::<IpAddr>().is_ok() {
        return Err(Problem::new(
            format!("{n} is an IP address, not a host name"),
            ip_fix,
        ));
    }
    if n.contains(char::is_whitespace) {
        return Err(Problem::new(
            format!("`{n}` contains a space"),
            "separate node names with commas",
        ));
    }
    let labels_ok = n.len() <= 253
        && n.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !labels_ok {
        return Err(Problem::new(
            format!("`{n}` is not a valid host name"),
            "use letters, digits, '-' and '.' (labels of 1-63 characters, not starting \
             or ending with '-')",
        ));
    }
    if n.rsplit('.')
        .next()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(Problem::new(
            format!("{n} looks like an IP address, not a host name"),
            ip_fix,
        ));
    }
    Ok(())
}

/// A node's Corosync address: an IP address without a prefix length.
pub(super) fn node_addr(v: &str) -> Result<IpAddr, Problem> {
    if v.contains('/') {
        return Err(Problem::new(
            format!("`{v}`: a node address takes no prefix length"),
            "write the address alone, e.g. 192.168.1.11",
        ));
    }
    let addr: IpAddr = v.parse().map_err(|_| {
        Problem::new(
            format!("`{v}` is not an IP address"),
            "write the node's Corosync address as an IPv4 or IPv6 address",
        )
    })?;
    usable_addr(addr)?;
    Ok(addr)
}

/// An address a node or a VIP can have.
fn usable_addr(addr: IpAddr) -> Result<(), Problem> {
    let bad = addr.is_unspecified()
        || addr.is_loopback()
        || addr.is_multicast()
        || matches!(addr, IpAddr::V4(a) if a.is_broadcast());
    if bad {
        return Err(Problem::new(
            format!("{addr} is not a usable unicast address"),
            "use an address on the cluster network",
        ));
    }
    Ok(())
}

/// A VIP, `address` or `address/prefix` (default /32 or /128).
pub(super) fn vip_network(v: &str) -> Result<IpNetwork, Problem> {
    let example = "write an IPv4 or IPv6 address, optionally with a prefix length, \
                   e.g. 10.0.2.1 or 10.0.2.1/24";
    let (addr_str, prefix_str) = match v.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (v, None),
    };
    let addr: IpAddr = addr_str
        .parse()
        .map_err(|_| Problem::new(format!("`{addr_str}` is not an IP address"), example))?;
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_str {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && p.chars().all(|c| c.is_ascii_digit()) => n,
            _ => {
                return Err(Problem::new(
                    format!("invalid prefix length `/{p}`"),
                    format!("use a prefix length from 0 to {max}"),
                ))
            }
        },
    };
    usable_addr(addr)?;
    let net =
        IpNetwork::new(addr, prefix).map_err(|e| Problem::new(format!("`{v}`: {e}"), example))?;
    match net {
        IpNetwork::V4(n) if prefix < 31 => {
            if n.ip() == n.network() {
                return Err(Problem::new(
                    format!("{v} is the network address of {}/{prefix}", n.network()),
                    "use a host address inside the network",
                ));
            }
            if n.ip() == n.broadcast() {
                return Err(Problem::new(
                    format!("{v} is the broadcast address of {}/{prefix}", n.network()),
                    "use a host address inside the network",
                ));
            }
        }
        IpNetwork::V6(n) if prefix < 127 && n.ip() == n.network() => {
            return Err(Problem::new(
                format!("{v} is the network (subnet-router anycast) address"),
                "use a host address inside the network",
            ));
        }
        _ => {}
    }
    Ok(net)
}

/// `on` or `off`.
pub(super) fn on_off(v: &str) -> Result<bool, Problem> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(Problem::new(
            format!("`{v}` is not on or off"),
            "write on or off",
        )),
    }
}

/// A flag, written as [`on_off`] reads it.
pub(super) fn on_off_word(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// `HA_FENCE_<id>="<agent> key=value ..."`.
pub(super) fn fence_device(id: &str, v: &str) -> Result<FenceDevice, Problem> {
    let id_ok = id.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !id_ok {
        return Err(Problem::new(
            format!("fence device id `{id}` is not valid"),
            "write HA_FENCE_<id> with an id of letters, digits, '-' and '_', starting with a letter",
        ));
    }
    let mut words = v.split_whitespace();
    let agent = words.next().unwrap_or_default();
    let agent_ok = !agent.contains('=')
        && match agent.strip_prefix("external/") {
            Some(rest) => !rest.is_empty() && !rest.contains('/'),
            None => !agent.contains('/'),
        }
        && agent
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if !agent_ok {
        return Err(Problem::new(
            format!("`{agent}` is not a fence agent"),
            "start the value with the agent, e.g. \"fence_ipmilan ip=10.0.0.101 username=admin\"",
        ));
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for word in words {
        let Some((k, val)) = word.split_once('=') else {
            return Err(Problem::new(
                format!("`{word}` is not key=value"),
                "write each parameter as key=value, separated by spaces (values cannot \
                 contain spaces)",
            ));
        };
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        {
            return Err(Problem::new(
                format!("`{k}` is not a valid parameter name"),
                "use letters, digits, '_' and '-', e.g. pcmk_host_list",
            ));
        }
        if params.iter().any(|(p, _)| p == k) {
            return Err(Problem::new(
                format!("parameter {k} is given twice"),
                format!("give {k} once"),
            ));
        }
        params.push((k.to_string(), val.to_string()));
    }
    Ok(FenceDevice {
        id: id.to_string(),
        agent: agent.to_string(),
        params,
    })
}

/// A Pacemaker interval: a positive number, optionally with a unit (ms, msec, s, sec, m,
/// min, h, hr); a bare number means seconds and is written with `s`.
pub(super) fn duration(v: &str) -> Result<String, Problem> {
    let fix = "write a positive number with an optional unit ms, s, m or h, e.g. 10s or 500ms";
    let digits_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(digits_end);
    let n: u64 = num
        .parse()
        .map_err(|_| Problem::new(format!("`{v}` is not a duration"), fix))?;
    if !matches!(
        unit,
        "" | "ms" | "msec" | "s" | "sec" | "m" | "min" | "h" | "hr"
    ) {
        return Err(Problem::new(format!("`{v}`: unknown unit `{unit}`"), fix));
    }
    if n == 0 {
        return Err(Problem::new(
            format!("`{v}`: an interval must be positive"),
            fix,
        ));
    }
    Ok(if unit.is_empty() {
        format!("{n}s")
    } else {
        v.to_string()
    })
}

/// `ssh` or `lab:<absolute path of a ganesha-lab state file>`.
pub(super) fn transport_kind(v: &str) -> Result<TransportKind, Problem> {
    if v == "ssh" {
        return Ok(TransportKind::Ssh);
    }
    match v.strip_prefix("lab:") {
        Some(file) => abs_path(file).map(|state_file| TransportKind::Lab { state_file }),
        None => Err(Problem::new(
            format!("`{v}` is not a transport"),
            "write ssh (the default) or lab:<path of a ganesha-lab state.json>",
        )),
    }
}

/// A transport, written as [`transport_kind`] reads it.
pub(super) fn transport_word(t: &TransportKind) -> String {
    match t {
        TransportKind::Ssh => "ssh".into(),
        TransportKind::Lab { state_file } => format!("lab:{state_file}"),
    }
}

/// An absolute path without spaces.
pub(super) fn abs_path(v: &str) -> Result<String, Problem> {
    if !v.starts_with('/') {
        return Err(Problem::new(
            format!("`{v}` is not an absolute path"),
            "write a path starting with /",
        ));
    }
    if v.contains(char::is_whitespace) {
        return Err(Problem::new(
            format!("`{v}` contains a space"),
            "use a path without spaces",
        ));
    }
    Ok(v.to_string())
}

/// HA_STATE_MOUNT: an absolute path of a directory of its own.
pub(super) fn state_mount(v: &str) -> Result<String, Problem> {
    let path = abs_path(v)?;
    if path == "/" {
        return Err(Problem::about_key(
            "cannot be /",
            "use a directory of its own, e.g. /run/gluster/shared_storage",
        ));
    }
    Ok(path)
}

/// A word without spaces; `what` names it in the fix.
pub(super) fn no_space(v: &str, what: &str) -> Result<String, Problem> {
    if v.contains(char::is_whitespace) {
        return Err(Problem::new(
            format!("`{v}` contains a space"),
            format!("write {what} without spaces"),
        ));
    }
    Ok(v.to_string())
}

/// A file system type for `mount -t`.
pub(super) fn fstype(v: &str) -> Result<String, Problem> {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
    {
        Ok(v.to_string())
    } else {
        Err(Problem::new(
            format!("`{v}` is not a file system type"),
            "write a type such as glusterfs, nfs4 or xfs",
        ))
    }
}

/// A login name.
pub(super) fn user_name(v: &str) -> Result<String, Problem> {
    let ok = v.len() <= 32
        && !v.starts_with('-')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(Problem::new(
            format!("`{v}` is not a user name"),
            "use letters, digits, '.', '_' and '-' (not starting with '-')",
        ))
    }
}

/// A network interface name, as the kernel allows it.
pub(super) fn interface(v: &str) -> Result<String, Problem> {
    let ok = v.len() <= 15
        && v != "."
        && v != ".."
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(Problem::new(
            format!("`{v}` is not a network interface name"),
            "use the interface name as `ip link` shows it, e.g. eth0 (at most 15 characters)",
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use crate::config::test_support::{errs, find, fix, ok, only, BASE};
    use crate::spec::{GaneshaPaths, Intervals, SshSettings, StateVolume};

    #[test]
    fn config_cluster_name() {
        only(
            &BASE.replace("HA_NAME=c", "HA_NAME=abcdefghijklmnop"),
            Some(1),
            "longer than 15",
        );
        ok(&BASE.replace("HA_NAME=c", "HA_NAME=abcdefghijklmno"));
        only(
            &BASE.replace("HA_NAME=c", "HA_NAME=\"a.b\""),
            Some(1),
            "contains `.`",
        );
        only(
            &BASE.replace("HA_NAME=c", "HA_NAME=\"\""),
            Some(1),
            "HA_NAME is empty",
        );
        let e = only(
            &BASE.replace("HA_NAME=c", "# no name"),
            None,
            "HA_NAME is missing",
        );
        assert!(fix(&e).contains("HA_NAME="));
    }

    #[test]
    fn config_node_list() {
        let e = only(
            &BASE.replace("a,b", "a,b,a"),
            Some(2),
            "node a is listed twice",
        );
        assert_eq!(fix(&e), "list a once");
        let e = errs(&BASE.replace("a,b", "a,b,10.0.0.3"));
        let ip = find(&e, Some(2), "10.0.0.3 is an IP address");
        assert!(fix(&ip).contains("HA_NODE_ADDR_"));
        find(
            &errs(&BASE.replace("a,b", "a,b,fe80::1")),
            Some(2),
            "fe80::1 is an IP address",
        );
        find(
            &errs(&BASE.replace("a,b", "a,b,c_d")),
            Some(2),
            "`c_d` is not a valid host name",
        );
        find(
            &errs(&BASE.replace("a,b", "a,b,-c")),
            Some(2),
            "`-c` is not a valid host name",
        );
        find(
            &errs(&BASE.replace("a,b", "a,,b")),
            Some(2),
            "empty name at position 2",
        );
        find(
            &errs(&BASE.replace("a,b", "a b")),
            Some(2),
            "`a b` contains a space",
        );
        only(
            "HA_NAME=c\nVIP_a=10.0.2.1\nHA_STONITH=off\n",
            None,
            "HA_CLUSTER_NODES is missing",
        );
        // Case matters: A and a are different names.
        ok("HA_NAME=c\nHA_CLUSTER_NODES=a,A\nVIP_a=10.0.2.1\nVIP_A=10.0.2.2\nHA_STONITH=off\n");
    }

    #[test]
    fn config_vip_values() {
        let vip = |v: &str| BASE.replace("VIP_b=10.0.2.2", &format!("VIP_b={v}"));
        only(
            &vip("server2"),
            Some(4),
            "VIP_b: `server2` is not an IP address",
        );
        only(
            &vip("10.0.2.256"),
            Some(4),
            "`10.0.2.256` is not an IP address",
        );
        only(&vip("10.0.2.2/33"), Some(4), "invalid prefix length `/33`");
        only(
            &vip("10.0.2.2/+24"),
            Some(4),
            "invalid prefix length `/+24`",
        );
        only(&vip("10.0.2.2/"), Some(4), "invalid prefix length `/`");
        only(
            &vip("10.0.2.0/24"),
            Some(4),
            "network address of 10.0.2.0/24",
        );
        only(
            &vip("10.0.2.255/24"),
            Some(4),
            "broadcast address of 10.0.2.0/24",
        );
        only(
            &vip("fd00::/64"),
            Some(4),
            "network (subnet-router anycast) address",
        );
        only(&vip("127.0.0.1"), Some(4), "not a usable unicast address");
        let spec = ok(&vip("10.0.2.0/31"));
        assert_eq!(spec.nodes[1].vip.prefix(), 31);
        let spec = ok(&vip("10.0.2.0"));
        assert_eq!(spec.nodes[1].vip.prefix(), 32);
        let spec = ok(&vip("fd00::2/64"));
        assert_eq!(spec.nodes[1].vip.prefix(), 64);
        let e = only(
            &vip("10.0.2.1/24"),
            Some(4),
            "VIP_b 10.0.2.1 is also the VIP of node a (line 3)",
        );
        assert_eq!(fix(&e), "give each node its own VIP");
    }

    #[test]
    fn config_intervals() {
        let spec = ok(&format!(
            "{BASE}HA_MON_INTERVAL=500ms\nHA_GRACE_INTERVAL=1m\nHA_NFSD_INTERVAL=10\nHA_VIP_INTERVAL=2min\n"
        ));
        assert_eq!(
            spec.intervals,
            Intervals {
                mon: "500ms".into(),
                grace: "1m".into(),
                nfsd: "10s".into(),
                vip: "2min".into()
            }
        );
        only(
            &format!("{BASE}HA_MON_INTERVAL=5x\n"),
            Some(6),
            "HA_MON_INTERVAL: `5x`: unknown unit `x`",
        );
        only(
            &format!("{BASE}HA_MON_INTERVAL=0s\n"),
            Some(6),
            "must be positive",
        );
        only(
            &format!("{BASE}HA_VIP_INTERVAL=s\n"),
            Some(6),
            "`s` is not a duration",
        );
        only(
            &format!("{BASE}HA_VIP_INTERVAL=-5s\n"),
            Some(6),
            "`-5s` is not a duration",
        );
    }

    #[test]
    fn config_paths_and_other_settings() {
        let spec = ok(&format!(
            "{BASE}HA_STATE_DEVICE=server1:/gluster_shared_storage\nHA_STATE_FSTYPE=glusterfs\n\
             HA_STATE_OPTIONS=_netdev\nHA_STATE_MOUNT=/srv/state\nHA_GANESHA_CONF=/etc/g.conf\n\
             HA_GANESHA_PIDFILE=/run/g.pid\nHA_RECOVERY_ROOT=/srv/state/nfs\nHA_SSH_USER=hacluster\n\
             HA_SSH_KEY=/root/.ssh/id_ed25519\nHA_PORTBLOCK=on\nHA_VIP_NIC=eth0\n"
        ));
        assert_eq!(
            spec.state,
            StateVolume {
                device: Some("server1:/gluster_shared_storage".into()),
                fstype: Some("glusterfs".into()),
                options: Some("_netdev".into()),
                mount: "/srv/state".into()
            }
        );
        assert_eq!(
            spec.ganesha,
            GaneshaPaths {
                config: "/etc/g.conf".into(),
                pid_file: "/run/g.pid".into(),
                recovery_root: "/srv/state/nfs".into()
            }
        );
        assert_eq!(
            spec.ssh,
            SshSettings {
                user: "hacluster".into(),
                key: "/root/.ssh/id_ed25519".into(),
                known_hosts: None,
            }
        );
        assert!(spec.portblock);
        assert_eq!(spec.vip_nic.as_deref(), Some("eth0"));

        only(
            &format!("{BASE}HA_STATE_MOUNT=state\n"),
            Some(6),
            "HA_STATE_MOUNT: `state` is not an absolute path",
        );
        only(&format!("{BASE}HA_STATE_MOUNT=/\n"), Some(6), "cannot be /");
        only(
            &format!("{BASE}HA_SSH_KEY=\"/a b\"\n"),
            Some(6),
            "contains a space",
        );
        only(
            &format!("{BASE}HA_SSH_USER=-x\n"),
            Some(6),
            "not a user name",
        );
        only(
            &format!("{BASE}HA_VIP_NIC=averyveryverylongnic\n"),
            Some(6),
            "not a network interface name",
        );
        only(
            &format!("{BASE}HA_PORTBLOCK=true\n"),
            Some(6),
            "`true` is not on or off",
        );
        only(
            &format!("{BASE}HA_STATE_FSTYPE=\"glus ter\"\n"),
            Some(6),
            "not a file system type",
        );
        let e = only(
            &format!("{BASE}HA_VIP_NIC=\n"),
            Some(6),
            "HA_VIP_NIC is empty",
        );
        assert!(fix(&e).contains("remove the line"));
    }
}
