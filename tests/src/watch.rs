//! Watchers that record, in timestamped polls from threads, where every VIP is and whether
//! each ganesha.nfsd is in grace, and what they saw.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ganesha_lab::Lab;
use ganesha_testkit::{Ran, TestCommand};

// The pollers never enter a node: a process inside a node while the lab powers it on again
// (fencing's reboot) makes it keep the old /run, as if the machine had not rebooted. They
// reach the node's system bus through its holder's root, and read its local addresses from
// its holder's /proc view of the network namespace.

/// `get_grace` of the daemon of the node whose holder is `holder` (None when it does not
/// answer within 2 s).
pub fn grace_of(holder: u32) -> Option<bool> {
    let bus = format!("--bus=unix:path=/proc/{holder}/root/run/dbus/system_bus_socket");
    let reply = TestCommand::program("dbus-send")
        .args([
            bus.as_str(),
            "--print-reply",
            "--reply-timeout=2000",
            "--dest=org.ganesha.nfsd",
            "/org/ganesha/nfsd/admin",
            "org.ganesha.nfsd.admin.get_grace",
        ])
        .timeout(Duration::from_secs(3))
        .try_run()
        .ok()
        .filter(Ran::success)?;
    reply
        .stdout()
        .lines()
        .find_map(|l| l.trim().strip_prefix("boolean ").map(|b| b == "true"))
}

/// The node's local IPv4 addresses that are in use (the kernel's local routes: an address
/// on an interface that is down has none, and serves nobody).
pub fn local_addresses(holder: u32) -> Option<Vec<Ipv4Addr>> {
    let text = std::fs::read_to_string(format!("/proc/{holder}/net/fib_trie")).ok()?;
    let mut found = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let l = line.trim();
        if let Some(addr) = l.strip_prefix("|-- ") {
            last = addr.parse().ok();
        } else if l.starts_with("/32 host LOCAL") {
            if let Some(a) = last.filter(|a| !found.contains(a)) {
                found.push(a);
            }
        }
    }
    Some(found)
}

/// One poll of one node.
#[derive(Clone, Debug)]
pub struct Poll<T> {
    pub node: String,
    /// When the call started and ended: a state seen was true at some instant in between.
    pub start: Instant,
    pub end: Instant,
    pub value: Option<T>,
}

/// Polls every node in turn, in a thread, until stopped.
pub struct Watcher<T: Send + 'static> {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Vec<Vec<Poll<T>>>>>,
}

impl<T: Send + Clone + 'static> Watcher<T> {
    fn start(
        lab: &Lab,
        every: Duration,
        poll: impl Fn(u32) -> Option<T> + Send + 'static,
    ) -> Watcher<T> {
        let nodes: Vec<(String, u32)> = lab
            .nodes()
            .iter()
            .map(|n| (n.name().to_owned(), n.holder_pid()))
            .collect();
        Watcher::start_on(nodes, every, poll)
    }

    /// Polls `nodes` (name, holder pid) in turn every `every`.
    fn start_on(
        nodes: Vec<(String, u32)>,
        every: Duration,
        poll: impl Fn(u32) -> Option<T> + Send + 'static,
    ) -> Watcher<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut rounds = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let began = Instant::now();
                let round: Vec<Poll<T>> = nodes
                    .iter()
                    .map(|(name, holder)| {
                        let start = Instant::now();
                        let value = poll(*holder);
                        Poll {
                            node: name.clone(),
                            start,
                            end: Instant::now(),
                            value,
                        }
                    })
                    .collect();
                rounds.push(round);
                if let Some(rest) = every.checked_sub(began.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
            rounds
        });
        Watcher {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops polling; the rounds, oldest first.
    pub fn finish(mut self) -> Vec<Vec<Poll<T>>> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

impl<T: Send + 'static> Drop for Watcher<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Where the VIPs are, every 100 ms (one round reads every node in turn).
pub fn watch_vips(lab: &Lab) -> Watcher<Vec<Ipv4Addr>> {
    Watcher::start(lab, Duration::from_millis(100), local_addresses)
}

/// Each daemon's `get_grace`, polled every 50 ms (or as fast as the calls go), one thread per
/// node so that one slow answer does not delay the others.
pub struct GraceWatcher {
    per_node: Vec<Watcher<bool>>,
}

impl GraceWatcher {
    pub fn start(lab: &Lab) -> GraceWatcher {
        GraceWatcher {
            per_node: lab
                .nodes()
                .iter()
                .map(|n| {
                    let (name, holder) = (n.name().to_owned(), n.holder_pid());
                    Watcher::start_on(vec![(name, holder)], Duration::from_millis(50), grace_of)
                })
                .collect(),
        }
    }

    pub fn finish(self) -> GraceHistory {
        GraceHistory {
            rounds: self
                .per_node
                .into_iter()
                .flat_map(Watcher::finish)
                .collect(),
        }
    }
}

/// What the VIP watcher saw.
pub struct VipHistory {
    pub rounds: Vec<Vec<Poll<Vec<Ipv4Addr>>>>,
}

impl VipHistory {
    /// Rounds in which a VIP was up on two nodes: `(offset from t0, vip, nodes)`.
    pub fn doubles(
        &self,
        t0: Instant,
        vips: &[Ipv4Addr],
    ) -> Vec<(Duration, Ipv4Addr, Vec<String>)> {
        let mut found = Vec::new();
        for round in &self.rounds {
            for vip in vips {
                let on: Vec<String> = round
                    .iter()
                    .filter(|p| p.value.as_ref().is_some_and(|a| a.contains(vip)))
                    .map(|p| p.node.clone())
                    .collect();
                if on.len() > 1 {
                    found.push((round[0].start.saturating_duration_since(t0), *vip, on));
                }
            }
        }
        found
    }

    /// The longest time between the starts of two consecutive polls of one node.
    pub fn max_gap(&self) -> Duration {
        self.rounds
            .windows(2)
            .map(|w| w[1][0].start.saturating_duration_since(w[0][0].start))
            .max()
            .unwrap_or_default()
    }

    /// The first poll after `after` that saw `vip` on a node other than `not`, and the start
    /// of the previous poll of that node, which did not see it: the VIP was added between
    /// the two (`(added after, seen by, node)`).
    pub fn moved(
        &self,
        vip: Ipv4Addr,
        not: &str,
        after: Instant,
    ) -> Option<(Instant, Instant, String)> {
        let mut last_absent: BTreeMap<String, Instant> = BTreeMap::new();
        for round in &self.rounds {
            for p in round {
                let Some(addrs) = &p.value else { continue };
                if p.start < after {
                    continue;
                }
                if addrs.contains(&vip) && p.node != not {
                    let absent = *last_absent.get(&p.node)?;
                    return Some((absent, p.end, p.node.clone()));
                }
                if !addrs.contains(&vip) {
                    last_absent.insert(p.node.clone(), p.start);
                }
            }
        }
        None
    }

    /// The first poll after `after` that saw `vip` on `node` (its end).
    pub fn seen_on(&self, vip: Ipv4Addr, node: &str, after: Instant) -> Option<Instant> {
        self.rounds
            .iter()
            .flatten()
            .find(|p| {
                p.start >= after
                    && p.node == node
                    && p.value.as_ref().is_some_and(|a| a.contains(&vip))
            })
            .map(|p| p.end)
    }
}

/// What the grace watcher saw.
pub struct GraceHistory {
    pub rounds: Vec<Vec<Poll<bool>>>,
}

impl GraceHistory {
    /// The end of the first poll after `after` in which `node` answered "in grace": grace
    /// had started by then.
    pub fn first_grace(&self, node: &str, after: Instant) -> Option<Instant> {
        self.rounds
            .iter()
            .flatten()
            .find(|p| p.node == node && p.start >= after && p.value == Some(true))
            .map(|p| p.end)
    }
}

/// Both watchers, started together before a failure is injected.
pub struct Watch {
    pub t0: Instant,
    vips: Watcher<Vec<Ipv4Addr>>,
    grace: GraceWatcher,
}

impl Watch {
    pub fn start(lab: &Lab) -> Watch {
        Watch {
            t0: Instant::now(),
            vips: watch_vips(lab),
            grace: GraceWatcher::start(lab),
        }
    }

    pub fn finish(self) -> (VipHistory, GraceHistory) {
        (
            VipHistory {
                rounds: self.vips.finish(),
            },
            self.grace.finish(),
        )
    }
}
