//! Configuration files the lab writes for corosync, pacemaker and the system bus.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// One entry of corosync's nodelist.
pub(crate) struct Member<'a> {
    pub id: usize,
    pub name: &'a str,
    pub addr: Ipv4Addr,
}

/// `corosync.conf` for the whole cluster (the same text on every node).
pub(crate) fn corosync_conf(cluster_name: &str, members: &[Member<'_>]) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "# Written by ganesha-lab.\n\
         totem {{\n\
         \tversion: 2\n\
         \tcluster_name: {cluster_name}\n\
         \ttransport: knet\n\
         \ttoken: 1000\n\
         \tcrypto_cipher: none\n\
         \tcrypto_hash: none\n\
         }}\n\
         \n\
         nodelist {{\n"
    );
    for m in members {
        let _ = write!(
            s,
            "\tnode {{\n\
             \t\tring0_addr: {addr}\n\
             \t\tname: {name}\n\
             \t\tnodeid: {id}\n\
             \t}}\n",
            addr = m.addr,
            name = m.name,
            id = m.id,
        );
    }
    let _ = write!(
        s,
        "}}\n\
         \n\
         quorum {{\n\
         \tprovider: corosync_votequorum\n{two_node}\
         }}\n\
         \n\
         logging {{\n\
         \tto_logfile: yes\n\
         \tlogfile: /var/log/corosync/corosync.log\n\
         \tto_stderr: no\n\
         \tto_syslog: no\n\
         \ttimestamp: on\n\
         }}\n",
        two_node = if members.len() == 2 {
            "\ttwo_node: 1\n"
        } else {
            ""
        },
    );
    s
}

/// The lab's system bus socket inside a node.
pub const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";

/// A system bus configuration listening on the unix socket `socket`, whose default policy
/// allows everything (own, send, receive); with only `send_*` rules the daemon drops method
/// returns and every client hangs.
pub fn dbus_system_conf(socket: &str) -> String {
    DBUS_SYSTEM_CONF.replace(SYSTEM_BUS_SOCKET, socket)
}

const DBUS_SYSTEM_CONF: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- Written by ganesha-lab: a private system bus for one lab node. -->
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="method_return"/>
    <allow send_type="signal"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="signal"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"#;

/// The CIB every node starts from. `dc-deadtime` is short so that a lone node elects itself
/// at once instead of waiting the default 20 s for peers; fencing is off (a lab has no
/// fencing device) and a lost quorum is ignored.
pub(crate) const SEED_CIB: &str = r#"<cib validate-with="pacemaker-3.0" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="2s"/>
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>
        <nvpair id="cib-bootstrap-options-no-quorum-policy" name="no-quorum-policy" value="ignore"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn corosync_conf_lists_members() {
        let m = [
            Member {
                id: 1,
                name: "node1",
                addr: Ipv4Addr::new(192, 0, 2, 11),
            },
            Member {
                id: 2,
                name: "node2",
                addr: Ipv4Addr::new(192, 0, 2, 12),
            },
        ];
        let c = corosync_conf("lab", &m);
        assert!(
            c.contains("ring0_addr: 192.0.2.12\n\t\tname: node2\n\t\tnodeid: 2"),
            "{c}"
        );
        assert!(c.contains("two_node: 1"), "{c}");
        assert!(!corosync_conf("lab", &m[..1]).contains("two_node"));
    }
}
