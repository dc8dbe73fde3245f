//! The keys of `ganesha-ha.conf`, declared once.
//!
//! [`KEYS`] says of every key how its value is read and where it goes in the spec, what
//! applies when it is not set, and what it means. The interpretation (`interpret.rs`) walks
//! it, the unknown-key check and its "did you mean" come from it, and README's key table is
//! [`markdown_table`].

use std::net::IpAddr;

use ipnetwork::IpNetwork;

use super::errors::Problem;
use super::interpret::Draft;
use super::values::{
    abs_path, cluster_name, duration, fence_device, fstype, interface, no_space, node_addr,
    node_list, on_off, on_off_word, state_mount, transport_kind, transport_word, user_name,
    vip_network,
};
use crate::spec::FenceDevice;

/// The node list, which the `<node>` keys are matched against.
pub(super) const CLUSTER_NODES: &str = "HA_CLUSTER_NODES";
/// Whether fencing is on.
pub(super) const STONITH: &str = "HA_STONITH";
/// `VIP_<node>`.
pub(super) const VIP: &str = "VIP_";
/// `HA_NODE_ADDR_<node>`.
pub(super) const NODE_ADDR: &str = "HA_NODE_ADDR_";
/// `HA_FENCE_<id>`.
pub(super) const FENCE: &str = "HA_FENCE_";
/// The state volume's keys, which `HA_GLUSTER_SHARED_STORAGE` gives other defaults.
pub(super) const STATE_DEVICE: &str = "HA_STATE_DEVICE";
pub(super) const STATE_FSTYPE: &str = "HA_STATE_FSTYPE";
pub(super) const STATE_MOUNT: &str = "HA_STATE_MOUNT";

/// One key, or a family of keys sharing a prefix.
pub struct Key {
    /// The key; for a family, the prefix its members start with (`VIP_`).
    pub name: &'static str,
    /// What it means: one line of markdown.
    pub doc: &'static str,
    pub(super) read: Read,
    pub(super) unset: Unset,
}

/// How a key is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// A key of its own, set at most once.
    Fixed,
    /// A family: the prefix followed by what the placeholder names (`VIP_<node>`).
    Family { placeholder: &'static str },
    /// A key of older glusterfs versions: refused.
    Obsolete,
}

/// How a key's value is read, and where it goes.
pub(super) enum Read {
    /// Parsed and stored in the draft spec.
    Setting(fn(&mut Draft, &str) -> Result<(), Problem>),
    /// The node list: every name is checked, and the well-formed ones are kept.
    Nodes(fn(&str) -> (Vec<String>, Vec<Problem>)),
    /// A node's VIP, matched to the node once every line is read.
    Vip(fn(&str) -> Result<IpNetwork, Problem>),
    /// A node's Corosync address, matched like a VIP.
    NodeAddr(fn(&str) -> Result<IpAddr, Problem>),
    /// A fence device, given its id.
    Fence(fn(&str, &str) -> Result<FenceDevice, Problem>),
    /// Refused with "remove the line".
    Obsolete,
}

/// What applies when a key is not set.
pub(super) enum Unset {
    /// The file is incomplete without it: reported missing, with this fix.
    Required(&'static str),
    /// The draft's default (spec.rs's), shown as the key would write it.
    Default(fn(&Draft) -> String),
    /// What happens instead, in words.
    Otherwise(&'static str),
}

impl Key {
    /// An obsolete glusterfs key.
    const fn obsolete(name: &'static str, doc: &'static str) -> Key {
        Key {
            name,
            doc,
            read: Read::Obsolete,
            unset: Unset::Otherwise("obsolete: refused"),
        }
    }

    pub fn form(&self) -> Form {
        match self.read {
            Read::Setting(_) | Read::Nodes(_) => Form::Fixed,
            Read::Vip(_) | Read::NodeAddr(_) => Form::Family {
                placeholder: "<node>",
            },
            Read::Fence(_) => Form::Family {
                placeholder: "<id>",
            },
            Read::Obsolete => Form::Obsolete,
        }
    }

    /// The key as a file writes it: `HA_NAME`, `VIP_<node>`.
    pub fn spelled(&self) -> String {
        match self.form() {
            Form::Family { placeholder } => format!("{}{placeholder}", self.name),
            Form::Fixed | Form::Obsolete => self.name.to_string(),
        }
    }

    /// Whether a file without it is incomplete.
    pub fn required(&self) -> bool {
        matches!(self.unset, Unset::Required(_))
    }

    /// What applies when it is not set: `required`, a default value, or words.
    pub fn unset_text(&self) -> String {
        match self.unset {
            Unset::Required(_) => "required".into(),
            Unset::Default(value) => format!("`{}`", value(&Draft::default())),
            Unset::Otherwise(words) => words.into(),
        }
    }
}

/// Every key, in the order of the documentation.
pub static KEYS: &[Key] = &[
    Key {
        name: "HA_NAME",
        doc: "Corosync cluster name: 1-15 letters, digits, `-`, `_`",
        read: Read::Setting(|d, v| {
            d.name = Some(cluster_name(v)?);
            Ok(())
        }),
        unset: Unset::Required(
            "add HA_NAME=\"<cluster name>\" (at most 15 letters, digits, '-', '_')",
        ),
    },
    Key {
        name: CLUSTER_NODES,
        doc: "comma-separated host names (no IP addresses), no duplicates; the ring order of \
              VIP preferences",
        read: Read::Nodes(node_list),
        unset: Unset::Required(
            "add HA_CLUSTER_NODES=\"node1,node2,...\" (host names, not IP addresses)",
        ),
    },
    Key {
        name: VIP,
        doc: "the node's VIP: an IPv4/IPv6 address with an optional `/prefix` (default /32, \
              /128); not a network or broadcast address, not used twice, not a node's \
              address; `<node>` as listed (`VIP_host-1.dom`) or with `-`/`.` written `_` \
              (`VIP_host_1_dom`), not both",
        read: Read::Vip(vip_network),
        unset: Unset::Otherwise("required, one per node"),
    },
    Key {
        name: NODE_ADDR,
        doc: "Corosync ring0 address of that node (no prefix); `<node>` spelled as in \
              `VIP_<node>`",
        read: Read::NodeAddr(node_addr),
        unset: Unset::Otherwise("the node name must resolve"),
    },
    Key {
        name: STONITH,
        doc: "`on` or `off`; `on` needs at least one `HA_FENCE_<id>`",
        read: Read::Setting(|d, v| {
            d.stonith = on_off(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| on_off_word(d.stonith).into()),
    },
    Key {
        name: FENCE,
        doc: "a stonith resource: `\"<agent> key=value ...\"`, e.g. `\"fence_ipmilan \
              ip=10.0.0.101 username=admin password=secret pcmk_host_list=node1\"`",
        read: Read::Fence(fence_device),
        unset: Unset::Otherwise("none"),
    },
    Key {
        name: "HA_MON_INTERVAL",
        doc: "ganesha_mon's monitor interval (`5s`, `500ms`, `1m`; a bare number is seconds); \
              why the defaults: [docs/failover.md](docs/failover.md#defaults-and-why)",
        read: Read::Setting(|d, v| {
            d.intervals.mon = duration(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| d.intervals.mon.clone()),
    },
    Key {
        name: "HA_GRACE_INTERVAL",
        doc: "ganesha_grace's monitor interval, written as `HA_MON_INTERVAL`",
        read: Read::Setting(|d, v| {
            d.intervals.grace = duration(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| d.intervals.grace.clone()),
    },
    Key {
        name: "HA_NFSD_INTERVAL",
        doc: "ganesha_nfsd's monitor interval, written as `HA_MON_INTERVAL`",
        read: Read::Setting(|d, v| {
            d.intervals.nfsd = duration(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| d.intervals.nfsd.clone()),
    },
    Key {
        name: "HA_VIP_INTERVAL",
        doc: "the VIPs' monitor interval (IPaddr2, portblock), written as `HA_MON_INTERVAL`",
        read: Read::Setting(|d, v| {
            d.intervals.vip = duration(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| d.intervals.vip.clone()),
    },
    Key {
        name: STATE_DEVICE,
        doc: "the shared state volume ganesha_nfsd mounts, e.g. \
              `server1:/gluster_shared_storage`",
        read: Read::Setting(|d, v| {
            d.state.device = Some(no_space(v, "a device")?);
            Ok(())
        }),
        unset: Unset::Otherwise(
            "none: `HA_STATE_MOUNT` is an existing directory (with \
             `HA_GLUSTER_SHARED_STORAGE=on`: `localhost:/gluster_shared_storage`)",
        ),
    },
    Key {
        name: STATE_FSTYPE,
        doc: "the state volume's file system type (`mount -t`), e.g. `glusterfs`",
        read: Read::Setting(|d, v| {
            d.state.fstype = Some(fstype(v)?);
            Ok(())
        }),
        unset: Unset::Otherwise("mount decides (with `HA_GLUSTER_SHARED_STORAGE=on`: `glusterfs`)"),
    },
    Key {
        name: "HA_STATE_OPTIONS",
        doc: "the state volume's mount options (`mount -o`), e.g. `_netdev`",
        read: Read::Setting(|d, v| {
            d.state.options = Some(no_space(v, "mount options")?);
            Ok(())
        }),
        unset: Unset::Otherwise("none"),
    },
    Key {
        name: STATE_MOUNT,
        doc: "where the state volume is mounted (an absolute path, not `/`)",
        read: Read::Setting(|d, v| {
            d.state.mount = state_mount(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| d.state.mount.clone()),
    },
    Key {
        name: "HA_GLUSTER_SHARED_STORAGE",
        doc: "`on` or `off`: `setup` refuses unless every node is `Peer in Cluster (Connected)` \
              in the gluster trusted pool, enables glusterfs's shared storage (`volume set all \
              cluster.enable-shared-storage enable`) when its volume does not exist, waits \
              until it is mounted at `/run/gluster/shared_storage` on every node, and makes it \
              the state volume unless the `HA_STATE_*` keys say otherwise; `teardown` never \
              disables it (other gluster features use it)",
        read: Read::Setting(|d, v| {
            d.gluster_shared_storage = on_off(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| on_off_word(d.gluster_shared_storage).into()),
    },
    Key {
        name: "HA_GANESHA_CONF",
        doc: "ganesha.nfsd's configuration file",
        read: Read::Setting(|d, v| {
            d.ganesha.config = abs_path(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| d.ganesha.config.clone()),
    },
    Key {
        name: "HA_GANESHA_PIDFILE",
        doc: "ganesha.nfsd's pid file",
        read: Read::Setting(|d, v| {
            d.ganesha.pid_file = abs_path(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| d.ganesha.pid_file.clone()),
    },
    Key {
        name: "HA_RECOVERY_ROOT",
        doc: "ganesha's RecoveryRoot, which ganesha_nfsd links to the node's directory on the \
              state volume",
        read: Read::Setting(|d, v| {
            d.ganesha.recovery_root = abs_path(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| d.ganesha.recovery_root.clone()),
    },
    Key {
        name: "HA_SSH_USER",
        doc: "the user the ssh transport logs in as",
        read: Read::Setting(|d, v| {
            d.ssh.user = user_name(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| d.ssh.user.clone()),
    },
    Key {
        name: "HA_SSH_KEY",
        doc: "the ssh transport's private key",
        read: Read::Setting(|d, v| {
            d.ssh.key = abs_path(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| d.ssh.key.clone()),
    },
    Key {
        name: "HA_SSH_KNOWN_HOSTS",
        doc: "the ssh transport's known-hosts file; host keys are always checked",
        read: Read::Setting(|d, v| {
            d.ssh.known_hosts = Some(abs_path(v)?);
            Ok(())
        }),
        unset: Unset::Otherwise("ssh's own"),
    },
    Key {
        name: "HA_PORTBLOCK",
        doc: "`on` or `off`: wrap each VIP in portblock block/unblock on TCP 2049",
        read: Read::Setting(|d, v| {
            d.portblock = on_off(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| on_off_word(d.portblock).into()),
    },
    Key {
        name: "HA_VIP_NIC",
        doc: "the interface for the VIPs (IPaddr2 `nic`)",
        read: Read::Setting(|d, v| {
            d.vip_nic = Some(interface(v)?);
            Ok(())
        }),
        unset: Unset::Otherwise("IPaddr2 finds it"),
    },
    Key {
        name: "HA_TRANSPORT",
        doc: "how commands reach the nodes: `ssh` or `lab:<absolute path of a ganesha-lab \
              state.json>`",
        read: Read::Setting(|d, v| {
            d.transport = transport_kind(v)?;
            Ok(())
        }),
        unset: Unset::Default(|d| transport_word(&d.transport)),
    },
    Key {
        name: "HA_EXPORTS_DIR",
        doc: "where `ganesha-ha export` keeps export files",
        read: Read::Setting(|d, v| {
            d.exports_dir = Some(abs_path(v)?);
            Ok(())
        }),
        unset: Unset::Otherwise("`<HA_STATE_MOUNT>/nfs-ganesha/exports`"),
    },
    Key::obsolete(
        "HA_VOL_SERVER",
        "older glusterfs: the server the shared state volume was mounted from (now in \
         `HA_STATE_DEVICE`)",
    ),
    Key::obsolete(
        "HA_VOL_NAME",
        "older glusterfs: the shared state volume's name (now in `HA_STATE_DEVICE`)",
    ),
    Key::obsolete(
        "HA_VOL_MNT",
        "older glusterfs: the shared state volume's mount point (now `HA_STATE_MOUNT`)",
    ),
];

/// The table entry of a key as written in a file, and for a family what follows the
/// prefix: a fixed or obsolete key by its name, else a family by its prefix.
pub(super) fn find(key: &str) -> Option<(&'static Key, &str)> {
    let families = || KEYS.iter().filter(|k| is_family(k));
    KEYS.iter()
        .find(|k| !is_family(k) && k.name == key)
        .map(|k| (k, ""))
        .or_else(|| families().find_map(|k| key.strip_prefix(k.name).map(|rest| (k, rest))))
}

fn is_family(key: &Key) -> bool {
    matches!(key.form(), Form::Family { .. })
}

/// A node name as a `<node>` key may also spell it: '-' and '.' written as '_'.
pub(super) fn underscored(node: &str) -> String {
    node.replace(['-', '.'], "_")
}

/// A key within edit distance 2 of an unknown one (case-insensitively): a fixed key, or a
/// family's prefix followed by the node or id part of the unknown key.
pub(super) fn suggest(key: &str) -> Option<String> {
    let upper = key.to_ascii_uppercase();
    let mut best: Option<(usize, String)> = None;
    let mut consider = |d: usize, s: String| {
        if d <= 2 && s != key && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
            best = Some((d, s));
        }
    };
    for k in KEYS.iter().filter(|k| k.form() == Form::Fixed) {
        consider(distance(&upper, k.name), k.name.to_string());
    }
    for prefix in KEYS.iter().filter(|k| is_family(k)).map(|k| k.name) {
        let lo = prefix.len().saturating_sub(2);
        let hi = (prefix.len() + 2).min(key.len().saturating_sub(1));
        for cut in lo..=hi {
            if cut == 0 || !key.is_char_boundary(cut) {
                continue;
            }
            let d = distance(&upper[..cut], prefix);
            consider(d, format!("{prefix}{}", &key[cut..]));
        }
    }
    best.map(|(_, s)| s)
}

/// Levenshtein distance.
pub(super) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// [`KEYS`] as a markdown table: README's key table.
pub fn markdown_table() -> String {
    let mut out = String::from("| key | if not set | meaning |\n|---|---|---|\n");
    for key in KEYS {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            key.spelled(),
            key.unset_text(),
            key.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::config::test_support::{fix, only, BASE};

    #[test]
    fn config_unknown_keys() {
        let e = only(
            &format!("{BASE}HA_NAMEE=x\n"),
            Some(6),
            "unknown key HA_NAMEE",
        );
        assert_eq!(fix(&e), "did you mean HA_NAME?");
        let e = only(
            &format!("{BASE}ha_portblock=on\n"),
            Some(6),
            "unknown key ha_portblock",
        );
        assert_eq!(fix(&e), "did you mean HA_PORTBLOCK?");
        let e = only(
            &format!("{BASE}HA_FENSE_ipmi=fence_x\n"),
            Some(6),
            "unknown key HA_FENSE_ipmi",
        );
        assert_eq!(fix(&e), "did you mean HA_FENCE_ipmi?");
        let e = only(
            &format!("{BASE}HA_NODEADDR_a=10.1.1.1\n"),
            Some(6),
            "unknown key",
        );
        assert_eq!(fix(&e), "did you mean HA_NODE_ADDR_a?");
        let e = only(
            &format!("{BASE}vip_c=10.1.1.1\n"),
            Some(6),
            "unknown key vip_c",
        );
        assert_eq!(fix(&e), "did you mean VIP_c?");
        let e = only(
            &format!("{BASE}CONFFILE=/etc/x\n"),
            Some(6),
            "unknown key CONFFILE",
        );
        assert!(fix(&e).starts_with("remove the line"));
        let e = only(
            &format!("{BASE}HA_VOL_SERVER=server1\n"),
            Some(6),
            "HA_VOL_SERVER is obsolete",
        );
        assert_eq!(fix(&e), "remove the line");
        only(
            &format!("{BASE}VIP_=10.0.2.9\n"),
            Some(6),
            "no node name after VIP_",
        );
    }

    #[test]
    fn config_distance_and_suggest() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(suggest("HA_STONTIH").as_deref(), Some("HA_STONITH"));
        assert_eq!(suggest("TOTALLY_ELSE"), None);
    }

    /// Every key is found by its own name, and no two entries can claim one key.
    #[test]
    fn config_keys_are_declared_once() {
        for (i, key) in KEYS.iter().enumerate() {
            assert!(
                KEYS[..i].iter().all(|k| k.name != key.name),
                "{} is declared twice",
                key.name
            );
            let written = match key.form() {
                Form::Family { .. } => format!("{}x", key.name),
                Form::Fixed | Form::Obsolete => key.name.to_string(),
            };
            let (found, _) = find(&written).unwrap();
            assert_eq!(found.name, key.name);
            if is_family(key) {
                assert!(
                    KEYS.iter()
                        .all(|k| k.name == key.name || !k.name.starts_with(key.name)),
                    "a key starts with the family prefix {}",
                    key.name
                );
            }
            // Only a fixed key can be reported missing.
            assert!(!key.required() || key.form() == Form::Fixed, "{}", key.name);
            assert!(
                !key.doc.contains('|'),
                "{}: a `|` breaks the table",
                key.name
            );
        }
    }

    /// README's key table is [`markdown_table`]; on a difference, paste what it prints.
    #[test]
    fn config_readme_table_is_the_key_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let expected = markdown_table();
        let header = expected.lines().next().unwrap();
        let table: String = readme
            .lines()
            .skip_while(|l| *l != header)
            .take_while(|l| l.starts_with('|'))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            table == expected,
            "README.md's configuration key table differs from config::keys::markdown_table(); \
             replace it with:\n\n{expected}"
        );
    }
}
