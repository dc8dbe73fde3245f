//! A private dbus-daemon for tests that need a bus but no cluster.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A dbus-daemon with a system-bus policy that allows everything, on a socket in `dir`.
pub struct PrivateBus {
    child: Child,
    pub address: String,
}

impl PrivateBus {
    pub fn start(dir: &Path) -> PrivateBus {
        let socket = dir.join("system_bus_socket");
        let config = dir.join("bus.conf");
        let socket = socket.display().to_string();
        std::fs::write(&config, ganesha_lab::dbus_system_conf(&socket))
            .expect("writing the bus config");
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting dbus-daemon (apt-get install dbus-daemon)");
        // The daemon prints its address once it listens.
        let mut line = String::new();
        let stdout = child.stdout.take().expect("dbus-daemon stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the bus address");
        PrivateBus {
            child,
            address: line.trim().to_owned(),
        }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
