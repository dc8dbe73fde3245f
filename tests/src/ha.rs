//! The failover harness: a lab cluster set up with `ganesha-ha setup` (fencing through the lab
//! fence device), files written into the export before a failure, and the end-of-scenario
//! assertions on what the watchers ([`crate::watch`]) recorded. Every failure message carries
//! the cluster's state. Two stacks ([`Stack`]): FSAL VFS over a directory the nodes share
//! ([`Ha::up`]), or GlusterFS ([`Ha::up_gluster`]): FSAL GLUSTER over the volume `data` and
//! the state on the shared storage volume, as in production.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ganesha_lab::util::run_bounded;
use ganesha_lab::{Lab, Node, DATA_VOLUME, SHARED_STORAGE_MOUNT, SHARED_STORAGE_VOLUME};

use crate::lab::{ganesha_ha, ganesha_ha_in, gluster_lab_with_agents, in_node, lab_with_agents};
use crate::log::{first_logged, log_line_after};
use crate::watch::{grace_of, local_addresses, GraceHistory, VipHistory};

/// VIP of the i-th node (0-based): 192.0.2.101, .102, ...
pub fn vip_of(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 101 + u8::try_from(i).unwrap())
}

/// How long a survivor may take to serve a moved VIP, grace period included (the lab's
/// Grace_Period is 15 s, Lease_Lifetime 10 s).
pub const SERVE_BOUND: Duration = Duration::from_secs(60);

/// At most this many labs of one test binary run at once (the machine has 2 cores).
const LAB_SLOTS: usize = 2;

static RUNNING: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
static FREED: std::sync::Condvar = std::sync::Condvar::new();

/// Held while a test's lab runs; taking one waits while [`LAB_SLOTS`] are taken.
pub struct LabSlot;

impl LabSlot {
    pub fn take() -> LabSlot {
        Self::wait_for(1);
        LabSlot
    }

    /// Two slots at once (two sites are two labs): taken one by one, two tests could each
    /// hold one and wait for ever.
    pub fn take_two() -> (LabSlot, LabSlot) {
        Self::wait_for(2);
        (LabSlot, LabSlot)
    }

    fn wait_for(n: usize) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *running + n > LAB_SLOTS {
            running = FREED.wait(running).unwrap_or_else(|e| e.into_inner());
        }
        *running += n;
    }
}

impl Drop for LabSlot {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *running -= 1;
        FREED.notify_all();
    }
}

/// What serves the export and holds the state volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// FSAL VFS over `<shared>/export`; the state volume is the lab's shared directory (no
    /// mount).
    Vfs,
    /// FSAL GLUSTER over the volume `data`; the state volume is the shared storage volume,
    /// mounted by ganesha_nfsd at `/run/gluster/shared_storage`.
    Gluster,
}

impl std::fmt::Display for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stack::Vfs => "FSAL_VFS",
            Stack::Gluster => "FSAL_GLUSTER",
        })
    }
}

/// The state directory ganesha_nfsd's recovery layout lives in (`state_subdir`'s default).
const STATE_SUBDIR: &str = "nfs-ganesha";
/// Where the test files are written into the data volume, inside node1 (its own `/run`).
const DATA_MOUNT: &str = "/run/ganesha-e2e/data";

/// A cluster set up by `ganesha-ha setup`, with files in the export.
pub struct Ha {
    pub lab: Lab,
    pub conf: PathBuf,
    /// Export-relative file name and contents, written before any failure.
    pub files: Vec<(String, Vec<u8>)>,
    pub stack: Stack,
}

/// Deterministic test data (a text file and a binary one with every byte value).
fn test_files(tag: &str) -> Vec<(String, Vec<u8>)> {
    let text = format!("written before the failure ({tag})\n").repeat(40);
    let mut x: u32 = 0x9e37_79b9;
    let binary: Vec<u8> = (0..48 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect();
    vec![
        (format!("{tag}.txt"), text.into_bytes()),
        (format!("{tag}.bin"), binary),
    ]
}

impl Ha {
    /// A lab of `nodes` nodes, `ganesha-ha setup` run on node1 with the lab fence device, every
    /// VIP serving, and the test files written into the export (FSAL VFS, [`Stack::Vfs`]).
    pub fn up(nodes: usize) -> Ha {
        Ha::set_up(lab_with_agents(nodes), Stack::Vfs)
    }

    /// [`Ha::up`] on a GlusterFS lab ([`Stack::Gluster`]): the export is the volume `data`
    /// through FSAL GLUSTER, the test files are written into it through a FUSE mount, and the
    /// state volume is the real one (`localhost:/gluster_shared_storage`, mounted by
    /// ganesha_nfsd).
    pub fn up_gluster(nodes: usize) -> Ha {
        Ha::set_up(gluster_lab_with_agents(nodes), Stack::Gluster)
    }

    fn set_up(lab: Lab, stack: Stack) -> Ha {
        assert!(
            lab.fencing_enabled(),
            "the failover tests need the lab fence agent"
        );
        let names: Vec<String> = lab.nodes().iter().map(|n| n.name().to_owned()).collect();
        let vips: String = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("VIP_{n}={}/24\n", vip_of(i)))
            .collect();
        let state = match stack {
            Stack::Vfs => format!("HA_STATE_MOUNT={}\n", lab.shared_dir().display()),
            Stack::Gluster => format!(
                "HA_STATE_DEVICE=localhost:/{SHARED_STORAGE_VOLUME}\nHA_STATE_FSTYPE=glusterfs\n\
                 HA_STATE_MOUNT={SHARED_STORAGE_MOUNT}\n"
            ),
        };
        let text = format!(
            "HA_NAME=lab\nHA_CLUSTER_NODES={list}\n{vips}HA_VIP_NIC=eth0\n\
             HA_FENCE_lab-fencing=\"fence_ganesha_lab state_file={state_file} pcmk_host_list={list}\"\n\
             {state}",
            list = names.join(","),
            state_file = lab.state_file().display(),
        );
        let conf = lab.root_dir().join("ganesha-ha.conf");
        std::fs::write(&conf, text).unwrap();
        let files = test_files("before");
        match stack {
            Stack::Vfs => {
                let export = lab.shared_dir().join("export");
                std::fs::create_dir_all(&export).unwrap();
                for (name, data) in &files {
                    std::fs::write(export.join(name), data).unwrap();
                }
            }
            Stack::Gluster => {
                let node = lab.node(0);
                let at = Path::new(DATA_MOUNT);
                node.mount_volume(DATA_VOLUME, at)
                    .unwrap_or_else(|e| panic!("{e}"));
                for (name, data) in &files {
                    std::fs::write(node.host_path(at.join(name)), data).unwrap();
                }
                node.unmount(at).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let ha = Ha {
            lab,
            conf,
            files,
            stack,
        };
        ganesha_ha(
            ha.lab.node(0),
            &["setup", "--config", &ha.conf.display().to_string()],
        )
        .expect_success();
        ha.wait_serving(SERVE_BOUND);
        ha
    }

    /// `node`'s recovery directory (`<state volume>/nfs-ganesha/<node>/ganesha`) as the host
    /// sees it: in the lab's shared directory, or through a live node's mount of the shared
    /// storage.
    pub fn recovery_dir(&self, node: &str) -> PathBuf {
        let state = match self.stack {
            Stack::Vfs => self.lab.shared_dir().to_path_buf(),
            Stack::Gluster => self.live_node().host_path(SHARED_STORAGE_MOUNT),
        };
        state.join(STATE_SUBDIR).join(node).join("ganesha")
    }

    /// How many client records `node` has on the state volume (`v4recov` entries).
    pub fn client_records(&self, node: &str) -> usize {
        std::fs::read_dir(self.recovery_dir(node).join("v4recov"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// With [`Stack::Gluster`]: `failed`'s recovery records are on the shared storage volume,
    /// where a survivor takes them over. Seen through a survivor's mount (a FUSE mount of
    /// the volume), through that survivor's link to its peer, and in every brick of the
    /// volume (replicated). Returns a line for the log.
    pub fn assert_records_on_shared_storage(&self, failed: &str) -> String {
        assert_eq!(
            self.stack,
            Stack::Gluster,
            "only the gluster stack has a volume"
        );
        let survivor = self
            .lab
            .nodes()
            .iter()
            .find(|n| n.name() != failed && n.is_powered_on())
            .unwrap();
        let mount = Path::new(SHARED_STORAGE_MOUNT);
        assert!(
            survivor.shared_storage_mounted(),
            "{}: the shared storage is not mounted at {SHARED_STORAGE_MOUNT}\n{}",
            survivor.name(),
            self.context()
        );
        let layout = survivor.host_path(mount.join(STATE_SUBDIR));
        let records = layout.join(failed).join("ganesha").join("v4recov");
        assert!(
            records.is_dir(),
            "{} is not a directory on the shared storage\n{}",
            records.display(),
            self.context()
        );
        let via_link = layout
            .join(survivor.name())
            .join("ganesha")
            .join(failed)
            .join("v4recov");
        // Compared by inode: canonicalizing would resolve the node's root to the host's.
        let inode = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| (m.dev(), m.ino()))
                .unwrap_or_else(|e| panic!("{}: {e}\n{}", p.display(), self.context()))
        };
        assert_eq!(
            inode(&via_link),
            inode(&records),
            "{}'s link to {failed} does not lead to {failed}'s records",
            survivor.name()
        );
        let info = survivor
            .volume_info(SHARED_STORAGE_VOLUME)
            .unwrap_or_else(|e| panic!("{e}"));
        for brick in &info.bricks {
            let (host, path) = brick.split_once(':').unwrap();
            let node = self
                .lab
                .nodes()
                .iter()
                .find(|n| n.name() == host || n.addr().to_string() == host)
                .unwrap_or_else(|| panic!("brick {brick} is on no lab node"));
            // The brick is in the node's own glusterd directory: read it through the node.
            let on_brick = node.host_path(
                Path::new(path)
                    .join(STATE_SUBDIR)
                    .join(failed)
                    .join("ganesha/v4recov"),
            );
            assert!(
                !node.is_powered_on() || on_brick.is_dir(),
                "{failed}'s records are not on brick {brick}\n{}",
                self.context()
            );
        }
        format!(
            "{failed}'s recovery records on {SHARED_STORAGE_VOLUME} ({} client records now; on {} bricks; {}'s peer link resolves to them)",
            self.client_records(failed),
            info.bricks.len(),
            survivor.name()
        )
    }

    pub fn names(&self) -> Vec<String> {
        self.lab
            .nodes()
            .iter()
            .map(|n| n.name().to_owned())
            .collect()
    }

    /// The VIP whose home is `node`.
    pub fn vip(&self, node: &str) -> Ipv4Addr {
        let i = self.names().iter().position(|n| n == node).unwrap();
        vip_of(i)
    }

    /// A node that runs Pacemaker's controller and has its address (checked without
    /// entering any node).
    pub fn live_node(&self) -> &Node {
        self.lab
            .nodes()
            .iter()
            .find(|n| {
                !n.pids_named("pacemaker-controld").is_empty()
                    && local_addresses(n.holder_pid()).is_some_and(|a| a.contains(&n.addr()))
            })
            .unwrap_or(self.lab.node(0))
    }

    /// crm_mon's view (with node attributes, fail counts and fencing history) from every live
    /// node: what an assertion failure prints.
    pub fn context(&self) -> String {
        let mut s = String::new();
        for node in self.lab.nodes() {
            let crm_mon = in_node(node, "crm_mon")
                .args(["--one-shot", "-A", "-f", "--fence-history=2", "--inactive"])
                .timeout(Duration::from_secs(15))
                .try_run();
            let stdout = crm_mon.as_ref().map_or("", |r| r.stdout());
            s.push_str(&format!("=== crm_mon on {}\n{stdout}\n", node.name()));
            match crm_mon {
                Ok(r) if r.success() => {}
                Ok(r) => s.push_str(&format!("{r}\n")),
                Err(e) => s.push_str(&format!("{e}\n")),
            }
        }
        // The fencer's and controller's last words about fencing, and any fatal exit.
        for node in self.lab.nodes() {
            let log = self.pacemaker_log(node);
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| {
                    l.contains("fence_ganesha_lab")
                        || l.contains("allegedly")
                        || l.contains("fatal")
                        || (l.contains("pacemaker-fenced") && l.contains("notice"))
                })
                .collect();
            let tail = &lines[lines.len().saturating_sub(25)..];
            s.push_str(&format!(
                "=== {} pacemaker.log, fencing lines (last {})\n{}\n",
                node.name(),
                tail.len(),
                tail.join("\n")
            ));
        }
        s
    }

    /// Polls `ok` every 100 ms until it holds; panics after `bound` with the cluster state.
    /// Returns how long it took.
    pub fn wait_until(
        &self,
        what: &str,
        bound: Duration,
        mut ok: impl FnMut() -> bool,
    ) -> Duration {
        let t = Instant::now();
        while !ok() {
            if t.elapsed() > bound {
                panic!("{what}: not within {bound:?}\n{}", self.context());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        t.elapsed()
    }

    /// Reads `file` through `vip` from `client` with nfs-cat (NFSv4.0, one-shot). Not through
    /// `TestCommand`, whose output is text: the files compared here are binary.
    pub fn read(&self, client: &Node, vip: Ipv4Addr, file: &str) -> Result<Vec<u8>, String> {
        let url = format!("nfs://{vip}/export/{file}?version=4");
        match run_bounded(client.command("nfs-cat").arg(&url), Duration::from_secs(10)) {
            Ok(o) if o.status.success() => Ok(o.stdout),
            Ok(o) => Err(format!(
                "nfs-cat {url}: {}: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Every VIP on exactly one node.
    pub fn holders(&self) -> BTreeMap<Ipv4Addr, Vec<String>> {
        let mut map: BTreeMap<Ipv4Addr, Vec<String>> = (0..self.lab.nodes().len())
            .map(|i| (vip_of(i), Vec::new()))
            .collect();
        for node in self.lab.nodes() {
            for addr in local_addresses(node.holder_pid()).unwrap_or_default() {
                if let Some(v) = map.get_mut(&addr) {
                    v.push(node.name().to_owned());
                }
            }
        }
        map
    }

    /// Waits until each VIP is on exactly one node and every test file reads back byte for
    /// byte through every VIP (retrying while a server is in grace). A wrong content fails at
    /// once. Returns the time until the last read succeeded.
    pub fn wait_serving(&self, bound: Duration) -> Duration {
        let start = Instant::now();
        let client = self.live_node();
        for i in 0..self.lab.nodes().len() {
            let vip = vip_of(i);
            for (name, data) in &self.files {
                let mut last = String::new();
                self.wait_until(&format!("{name} through {vip}"), bound, || {
                    let holders = self.holders();
                    if holders[&vip].len() != 1 {
                        last = format!("held by {:?}", holders[&vip]);
                        return false;
                    }
                    match self.read(client, vip, name) {
                        Ok(bytes) => {
                            assert!(
                                bytes == *data,
                                "{name} through {vip}: {} bytes differ from the {} written\n{}",
                                bytes.len(),
                                data.len(),
                                self.context()
                            );
                            true
                        }
                        Err(e) => {
                            last = e;
                            false
                        }
                    }
                });
                let _ = last;
            }
        }
        start.elapsed()
    }

    /// `get_grace` of the daemon in `node` (None when it does not answer within 2 s).
    pub fn in_grace(&self, node: &Node) -> Option<bool> {
        grace_of(node.holder_pid())
    }

    /// Waits until no ganesha.nfsd is in grace (so a failure's grace is the only one seen).
    pub fn wait_out_of_grace(&self) {
        self.wait_until(
            "every ganesha.nfsd out of grace",
            Duration::from_secs(60),
            || {
                self.lab
                    .nodes()
                    .iter()
                    .all(|n| self.in_grace(n) == Some(false))
            },
        );
    }

    /// `ganesha-ha status --json`, parsed (`Null` when it did not answer), and the report of
    /// the call.
    pub fn status_json(&self) -> (serde_json::Value, String) {
        match ganesha_ha_in(self.live_node())
            .args(["status", "--json"])
            .try_run()
        {
            Ok(r) => (
                serde_json::from_str(r.stdout()).unwrap_or(serde_json::Value::Null),
                r.to_string(),
            ),
            Err(e) => (serde_json::Value::Null, e),
        }
    }

    /// The cluster ends HEALTHY with no failed action left. `expected` names the failed
    /// operations the scenario legitimately leaves (e.g. `nfs-ganesha_monitor` after the
    /// daemon was killed): only those are cleaned up (`crm_resource --cleanup`), and any other
    /// failed action fails the test. Returns the failures that were cleaned.
    pub fn assert_healthy(&self, expected: &[&str]) -> Vec<String> {
        let mut cleaned = Vec::new();
        // A monitor may record the expected failure only after a first look (its interval is
        // longer than the failover): clean whatever expected failure shows up while waiting.
        self.wait_until(
            "ganesha-ha status HEALTHY, no failed action",
            Duration::from_secs(90),
            || {
                let (v, r) = self.status_json();
                let failed = v["failed_actions"].as_array().cloned().unwrap_or_default();
                for f in &failed {
                    let op = f["operation"].as_str().unwrap_or_default().to_owned();
                    assert!(
                        expected.iter().any(|e| op.starts_with(e)),
                        "unexpected failed action {f}\n{r}\n{}",
                        self.context()
                    );
                    // The resource id is the operation id without `_<action>_<interval>`.
                    let rsc = op.rsplitn(3, '_').last().unwrap_or_default().to_owned();
                    let node = f["node"].as_str().unwrap_or_default().to_owned();
                    in_node(self.live_node(), "crm_resource")
                        .args(["--cleanup", "--resource", &rsc, "--node", &node])
                        .timeout(Duration::from_secs(60))
                        .run()
                        .expect_success();
                    cleaned.push(format!("{op} on {node}"));
                }
                failed.is_empty() && v["verdict"] == "HEALTHY"
            },
        );
        cleaned
    }

    /// The node's ganesha.log (host side).
    pub fn ganesha_log(&self, node: &Node) -> String {
        node.log_files()
            .into_iter()
            .find(|(l, _)| l == "ganesha.log")
            .and_then(|(_, p)| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// The node's pacemaker.log (host side).
    pub fn pacemaker_log(&self, node: &Node) -> String {
        let path = node
            .log_files()
            .into_iter()
            .find(|(l, _)| l == "pacemaker.log")
            .map(|(_, p)| p)
            .unwrap();
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Whether `node`'s ganesha_grace sent `grace(<arg>)` successfully after log offset
    /// `from` (the agent's stderr, which pacemaker-execd logs).
    pub fn grace_sent(&self, node: &Node, arg: &str, from: usize) -> bool {
        let log = self.pacemaker_log(node);
        log.get(from..)
            .is_some_and(|l| l.contains(&format!("grace({arg}):")))
    }

    /// The lines of every node's pacemaker.log after `marks` that contain one of `needles`.
    pub fn log_excerpt(&self, marks: &[usize], needles: &[&str]) -> String {
        let mut s = String::new();
        for (n, &m) in self.lab.nodes().iter().zip(marks) {
            s.push_str(&format!("=== pacemaker.log of {}\n", n.name()));
            for l in self.pacemaker_log(n).get(m..).unwrap_or_default().lines() {
                if needles.iter().any(|x| l.contains(x)) {
                    s.push_str(l);
                    s.push('\n');
                }
            }
        }
        s
    }

    /// Log offsets per node, to look only at what a scenario logged.
    pub fn log_marks(&self) -> Vec<usize> {
        self.lab
            .nodes()
            .iter()
            .map(|n| self.pacemaker_log(n).len())
            .collect()
    }

    pub fn down(self) {
        self.lab.down().unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Reads `file` through `vip` with nfs-cat (NFSv4.0, one-shot) from the network namespace of
/// the node whose holder is `client` (binary, as [`Ha::read`]).
pub fn read_from(client: u32, vip: Ipv4Addr, file: &str) -> Result<Vec<u8>, String> {
    read_within(client, vip, file, Duration::from_secs(10))
}

/// [`read_from`], killed after `bound`.
pub fn read_within(
    client: u32,
    vip: Ipv4Addr,
    file: &str,
    bound: Duration,
) -> Result<Vec<u8>, String> {
    let url = format!("nfs://{vip}/export/{file}?version=4");
    match run_bounded(
        Command::new("nsenter").args(["-t", &client.to_string(), "-n", "--", "nfs-cat", &url]),
        bound,
    ) {
        Ok(o) if o.status.success() => Ok(o.stdout),
        Ok(o) => Err(format!(
            "nfs-cat {url}: {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// No false failover: every VIP but `moving` was on its home node, and only there, at every
/// poll of the scenario.
pub fn assert_others_stayed_home(ha: &Ha, vips: &VipHistory, moving: &[Ipv4Addr]) {
    let names = ha.names();
    for round in &vips.rounds {
        for (i, home) in names.iter().enumerate() {
            let vip = vip_of(i);
            if moving.contains(&vip) {
                continue;
            }
            let on: Vec<&str> = round
                .iter()
                .filter(|p| p.value.as_ref().is_some_and(|a| a.contains(&vip)))
                .map(|p| p.node.as_str())
                .collect();
            assert!(
                on == [home.as_str()],
                "{vip} left {home} (on {on:?}): a failover nobody caused\n{}",
                ha.context()
            );
        }
    }
}

/// Asserts the scenario-independent parts: no VIP ever on two nodes, and each survivor in
/// grace before `failed`'s VIP started on its new node. Returns a line for the log.
pub fn assert_failover_order(
    ha: &Ha,
    vips: &VipHistory,
    grace: &GraceHistory,
    failed: &str,
    survivors: &[&str],
    failed_at: Instant,
    marks: &[usize],
) -> String {
    let all: Vec<Ipv4Addr> = (0..ha.lab.nodes().len()).map(vip_of).collect();
    let doubles = vips.doubles(failed_at, &all);
    assert!(
        doubles.is_empty(),
        "a VIP was up on two nodes: {doubles:?}\n{}",
        ha.context()
    );
    let vip = ha.vip(failed);
    let (added_after, seen, new_home) = vips
        .moved(vip, failed, failed_at)
        .unwrap_or_else(|| panic!("{vip} was never seen moving off {failed}\n{}", ha.context()));
    assert!(
        survivors.contains(&new_home.as_str()),
        "{vip} moved to {new_home}, not a survivor"
    );
    let mut line = format!(
        "{vip} of {failed}: added on {new_home} between {:.2?} and {:.2?} after the failure;",
        added_after.saturating_duration_since(failed_at),
        seen.saturating_duration_since(failed_at)
    );
    // The order, from the records with millisecond timestamps: the controller initiated the
    // VIP's start only after each survivor's ganesha_grace had logged that its daemon
    // accepted grace(5:<failed>). The polls above only bound the order to ~100 ms.
    let vip_rsc = format!("{failed}-vip_start_0");
    let initiated = ha
        .lab
        .nodes()
        .iter()
        .zip(marks)
        .find_map(|(n, &m)| {
            let at = log_line_after(
                &ha.pacemaker_log(n),
                m,
                &format!("Initiating start operation {vip_rsc}"),
            )?;
            Some((n.name().to_owned(), at))
        })
        .unwrap_or_else(|| {
            panic!(
                "no controller log of starting {vip_rsc}\n{}\n{}",
                ha.log_excerpt(marks, &[&format!("{failed}-vip"), "grace("]),
                ha.context()
            )
        });
    let (dc, (start_ms, start_line, start_offset)) = initiated;
    for s in survivors {
        let g = grace.first_grace(s, failed_at).unwrap_or_else(|| {
            panic!(
                "{s} never reported grace after the failure\n{}",
                ha.context()
            )
        });
        let i = ha.names().iter().position(|n| n == s).unwrap();
        let (sent_ms, sent_line, sent_offset) = log_line_after(
            &ha.pacemaker_log(ha.lab.node(i)),
            marks[i],
            &format!("grace(5:{failed}):"),
        )
        .unwrap_or_else(|| panic!("{s}: no grace(5:{failed}) in its log\n{}", ha.context()));
        // Within one log the line order decides; across logs, the same millisecond is as
        // close as the clocks can tell (the controller acts on the notify's result only
        // after the executor logged it).
        let before = if *s == dc && sent_ms == start_ms {
            sent_offset < start_offset
        } else {
            sent_ms <= start_ms
        };
        assert!(
            before,
            "{s} accepted grace only at\n  {sent_line}\nafter the controller started {vip} at\n  {start_line}\n{}",
            ha.context()
        );
        line.push_str(&format!(
            " {s} in grace by {:.2?} (polled), {} ms before the VIP start was initiated (logs);",
            g.saturating_duration_since(failed_at),
            start_ms - sent_ms
        ));
    }
    line.push_str(&format!(" max poll gap {:.0?}", vips.max_gap()));
    line
}

/// Fencing of `failed` succeeded before the controller initiated the start of its VIP
/// elsewhere. Returns the fencing line.
pub fn assert_fenced_before_vip(ha: &Ha, failed: &str, marks: &[usize]) -> String {
    let fenced = first_logged(ha, marks, &[&format!("{failed} was terminated"), "OK"])
        .unwrap_or_else(|| {
            panic!(
                "no successful fencing of {failed} logged\n{}\n{}",
                ha.log_excerpt(marks, &["terminated", "targeting", "fenc"]),
                ha.context()
            )
        });
    let started = first_logged(
        ha,
        marks,
        &[&format!("Initiating start operation {failed}-vip_start_0")],
    )
    .unwrap_or_else(|| panic!("no start of {failed}-vip logged\n{}", ha.context()));
    assert!(
        fenced.0 < started.0,
        "{failed}-vip started before fencing completed:\n  {}\n  {}",
        started.1,
        fenced.1
    );
    format!(
        "fencing of {failed} confirmed {} ms before its VIP's start",
        started.0 - fenced.0
    )
}
