//! Two GlusterFS sites on this machine: each in its own network and mount namespace with
//! its own glusterd, `/var/lib/glusterd`, logs, `/root` and (on the secondary) sshd, joined
//! by a veth pair with addresses from 192.0.2.0/24 that exist only inside the two
//! namespaces. The host's own gluster state is never touched. Everything is torn down on
//! drop, also after a failure: only processes inside the two namespaces, which this harness
//! created, are killed.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ganesha_testkit::{Ran, TestCommand};

/// A failed step, with the command line and its output.
pub type Fallible<T> = Result<T, String>;

/// Runs argv with a time bound; a non-zero exit, or none within the bound, is an error that
/// shows command, status, stdout and stderr.
pub fn run(argv: &[&str], bound: Duration) -> Fallible<String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let ran = TestCommand::program(program)
        .args(args)
        .timeout(bound)
        .try_run()
        .and_then(Ran::checked)?;
    Ok(ran.stdout().to_owned())
}

/// Polls `check` until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Fallible<T> {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        if started.elapsed() > limit {
            return Err(format!("gave up after {limit:?} waiting for {what}"));
        }
        thread::sleep(Duration::from_millis(300));
    }
}

/// One site.
pub struct Site {
    pub netns: String,
    pub address: String,
    pub dir: PathBuf,
    holder: Option<Child>,
    daemons: Vec<Child>,
}

impl Site {
    /// The argv prefix that runs a program inside this site.
    pub fn prefix(&self) -> Vec<String> {
        let pid = self.holder.as_ref().map_or(0, Child::id).to_string();
        ["nsenter", "-t", &pid, "-n", "-m", "--"]
            .map(String::from)
            .to_vec()
    }

    /// Runs argv inside the site.
    pub fn run(&self, argv: &[&str], bound: Duration) -> Fallible<String> {
        let prefix = self.prefix();
        let mut full: Vec<&str> = prefix.iter().map(String::as_str).collect();
        full.extend_from_slice(argv);
        run(&full, bound)
    }

    /// `gluster --mode=script ARGS` inside the site.
    pub fn gluster(&self, args: &[&str]) -> Fallible<String> {
        let mut argv = vec!["gluster", "--mode=script"];
        argv.extend_from_slice(args);
        self.run(&argv, Duration::from_secs(60))
    }

    fn spawn_daemon(&mut self, argv: &[&str], log: &str) -> Fallible<()> {
        let prefix = self.prefix();
        let log = fs::File::create(self.dir.join(log)).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&prefix[0])
            .args(&prefix[1..])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{}: {e}", argv.join(" ")))?;
        self.daemons.push(child);
        Ok(())
    }

    /// Every process in the site's network namespace: all started by this harness.
    fn pids(&self) -> Vec<i32> {
        run(
            &["ip", "netns", "pids", &self.netns],
            Duration::from_secs(10),
        )
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
    }
}

/// The primary and the secondary site.
pub struct TwoSites {
    pub primary: Site,
    pub secondary: Site,
    /// Kept (not deleted) when the test fails, for its logs.
    pub work: Option<tempfile::TempDir>,
    veth: String,
}

impl TwoSites {
    /// Builds both sites: namespaces, veth, private mounts, keys, sshd, glusterd; returns
    /// once both glusterds answer.
    pub fn build() -> Fallible<TwoSites> {
        let work = tempfile::Builder::new()
            .prefix("georep-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let tag = std::process::id() % 100_000;
        let site = |name: &str, address: &str| Site {
            netns: format!("gr{name}{tag}"),
            address: address.into(),
            dir: work.path().join(name),
            holder: None,
            daemons: Vec::new(),
        };
        let mut sites = TwoSites {
            primary: site("p", "192.0.2.101"),
            secondary: site("s", "192.0.2.102"),
            veth: format!("vgr{tag}"),
            work: Some(work),
        };
        sites.network()?;
        for s in [&mut sites.primary, &mut sites.secondary] {
            hold(s)?;
        }
        sites.keys_and_sshd()?;
        for s in [&mut sites.primary, &mut sites.secondary] {
            let pidfile = s.dir.join("glusterd.pid");
            let pidfile = pidfile.to_string_lossy().into_owned();
            // A clean environment: gsyncd spawns its worker as `python3` through PATH.
            s.spawn_daemon(
                &[
                    "env",
                    "-i",
                    "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME=/root",
                    "LANG=C.UTF-8",
                    "/usr/sbin/glusterd",
                    "-N",
                    "-p",
                    &pidfile,
                    "--log-level",
                    "INFO",
                ],
                "glusterd.out",
            )?;
        }
        for s in [&sites.primary, &sites.secondary] {
            wait_for("glusterd to answer", Duration::from_secs(30), || {
                s.gluster(&["pool", "list"]).ok()
            })?;
        }
        Ok(sites)
    }

    fn network(&self) -> Fallible<()> {
        let t = Duration::from_secs(10);
        let (p, s) = (&self.primary.netns, &self.secondary.netns);
        let (vp, vs) = (format!("{}p", self.veth), format!("{}s", self.veth));
        run(&["ip", "netns", "add", p], t)?;
        run(&["ip", "netns", "add", s], t)?;
        run(
            &[
                "ip", "link", "add", &vp, "type", "veth", "peer", "name", &vs,
            ],
            t,
        )?;
        run(&["ip", "link", "set", &vp, "netns", p], t)?;
        run(&["ip", "link", "set", &vs, "netns", s], t)?;
        for (ns, dev, site) in [(p, &vp, &self.primary), (s, &vs, &self.secondary)] {
            let address = format!("{}/24", site.address);
            run(&["ip", "-n", ns, "addr", "add", &address, "dev", dev], t)?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"], t)?;
            run(&["ip", "-n", ns, "link", "set", dev, "up"], t)?;
        }
        Ok(())
    }

    /// The secondary's sshd takes the primary's root key. It needs the sftp subsystem: the
    /// push-pem hook copies the keys with scp, which speaks sftp since OpenSSH 9.
    fn keys_and_sshd(&mut self) -> Fallible<()> {
        let t = Duration::from_secs(30);
        self.primary.run(
            &[
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                "/root/.ssh/id_ed25519",
            ],
            t,
        )?;
        let public = self.primary.run(&["cat", "/root/.ssh/id_ed25519.pub"], t)?;
        let staged = self.secondary.dir.join("authorized_keys");
        fs::write(&staged, public).map_err(|e| e.to_string())?;
        let staged = staged.to_string_lossy().into_owned();
        self.secondary.run(
            &[
                "install",
                "-m",
                "600",
                &staged,
                "/root/.ssh/authorized_keys",
            ],
            t,
        )?;
        let config = self.secondary.dir.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port 22\nListenAddress {}\nHostKey /etc/ssh/ssh_host_ed25519_key\n\
                 PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 PidFile {}/sshd.pid\nAuthorizedKeysFile .ssh/authorized_keys\n\
                 Subsystem sftp /usr/lib/openssh/sftp-server\n",
                self.secondary.address,
                self.secondary.dir.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let config = config.to_string_lossy().into_owned();
        let log = self
            .secondary
            .dir
            .join("sshd.log")
            .to_string_lossy()
            .into_owned();
        self.secondary.spawn_daemon(
            &["/usr/sbin/sshd", "-D", "-f", &config, "-E", &log],
            "sshd.out",
        )?;
        let target = format!("root@{}", self.secondary.address);
        wait_for("sshd on the secondary", Duration::from_secs(15), || {
            self.primary
                .run(
                    &[
                        "ssh",
                        "-oBatchMode=yes",
                        "-oStrictHostKeyChecking=no",
                        &target,
                        "true",
                    ],
                    Duration::from_secs(10),
                )
                .ok()
        })
        .map(|_| ())
    }

    /// Creates and starts a one-brick volume on a site.
    pub fn volume(site: &Site, name: &str) -> Fallible<PathBuf> {
        let brick = site.dir.join("bricks").join(name);
        let spec = format!("{}:{}", site.address, brick.display());
        site.gluster(&["volume", "create", name, &spec, "force"])?;
        site.gluster(&["volume", "start", name])?;
        Ok(brick)
    }

    /// Mounts a volume of `site` inside the site, at `<site dir>/mnt/<volume>`.
    pub fn mount(site: &Site, volume: &str) -> Fallible<String> {
        let at = site.dir.join("mnt").join(volume);
        fs::create_dir_all(&at).map_err(|e| e.to_string())?;
        let at = at.to_string_lossy().into_owned();
        let source = format!("{}:/{volume}", site.address);
        site.run(
            &["mount", "-t", "glusterfs", &source, &at],
            Duration::from_secs(30),
        )?;
        Ok(at)
    }
}

/// Starts the site's holder: a process in the site's network namespace that owns a private
/// mount namespace where gluster's state directories, /root and /run are the site's own.
fn hold(site: &mut Site) -> Fallible<()> {
    let d = site.dir.display().to_string();
    for sub in ["glusterd", "log", "misc", "bricks", "mnt"] {
        fs::create_dir_all(site.dir.join(sub)).map_err(|e| e.to_string())?;
    }
    // push-pem needs the hooks; glusterd the option groups.
    for sub in ["hooks", "groups"] {
        run(
            &[
                "cp",
                "-a",
                &format!("/var/lib/glusterd/{sub}"),
                &format!("{d}/glusterd/"),
            ],
            Duration::from_secs(30),
        )?;
    }
    let script = format!(
        "set -e
         mount --bind {d}/glusterd /var/lib/glusterd
         mount --bind {d}/log /var/log/glusterfs
         mount --bind {d}/misc /var/lib/misc
         mount -t tmpfs -o mode=700 tmpfs /root
         mkdir -m 700 /root/.ssh
         mount -t tmpfs -o mode=755 tmpfs /run
         mkdir -p /run/gluster /run/sshd
         touch {d}/held
         exec sleep infinity"
    );
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &site.netns,
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ])
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("holder for {}: {e}", site.netns))?;
    site.holder = Some(child);
    let held = site.dir.join("held");
    wait_for("the site's private mounts", Duration::from_secs(10), || {
        held.exists().then_some(())
    })
}

impl Drop for TwoSites {
    fn drop(&mut self) {
        // Stop what glusterd daemonized (gsyncd, bricks, FUSE clients) through gluster
        // first, then every process left in the two namespaces, then the namespaces.
        let short = Duration::from_secs(30);
        let _ = self
            .primary
            .gluster(&["volume", "geo-replication", "stop", "force"]);
        for site in [&self.primary, &self.secondary] {
            let mnt = site.dir.join("mnt");
            for entry in fs::read_dir(&mnt).into_iter().flatten().flatten() {
                let path = entry.path().to_string_lossy().into_owned();
                let _ = site.run(&["umount", "-l", &path], short);
            }
            if let Ok(list) = site.gluster(&["volume", "list"]) {
                for volume in list.split_whitespace() {
                    let _ = site.gluster(&["volume", "stop", volume, "force"]);
                }
            }
        }
        for site in [&mut self.primary, &mut self.secondary] {
            for pid in site.pids() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            for child in site.daemons.iter_mut().chain(site.holder.iter_mut()) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if let Some(work) = self.work.take() {
            if thread::panicking() {
                eprintln!(
                    "kept the sites' files and logs in {}",
                    work.keep().display()
                );
            }
        }
        for site in [&self.primary, &self.secondary] {
            let _ = wait_for("the namespace to empty", Duration::from_secs(10), || {
                site.pids().is_empty().then_some(())
            });
            let _ = run(&["ip", "netns", "del", &site.netns], short);
        }
    }
}

/// Whether this machine can run the real-gluster tests: root, glusterd and sshd.
pub fn can_run() -> bool {
    nix::unistd::Uid::effective().is_root()
        && Path::new("/usr/sbin/glusterd").exists()
        && Path::new("/usr/sbin/sshd").exists()
}
