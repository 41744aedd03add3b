//! Why an ensemble does not form, said within seconds instead of after the
//! Ready deadline: a server that exited at start (with its log tail), or
//! members that cannot reach each other's election port, probed with TCP
//! connects from inside the pods' own network namespaces, or pods the
//! harness cannot reach from the host.
//!
//! A [`StartupWatch`] is fed a [`StartupSnapshot`] (taken from the
//! ensemble, cheaply) and the latest probe; it waits a grace period before
//! probing, and reports a network failure only when the same pair fails in
//! two consecutive rounds, so a server still binding its ports is never
//! blamed. "Connection refused" means nothing listens yet and is never a
//! network failure.

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::naming::RunId;
use crate::probe::EnsembleStatus;
use crate::zkconfig::{CLIENT_PORT, ELECTION_PORT};

/// How long after the watch starts before the first network probe.
pub const GRACE: Duration = Duration::from_secs(3);
/// Pause between two probe rounds.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// Bound of one TCP connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Where `ip netns` keeps its namespaces.
const NETNS_DIR: &str = "/run/netns";

/// A server that exited on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodExit {
    /// Its ordinal.
    pub ordinal: u32,
    /// The pod's name.
    pub pod: String,
    /// Its exit status as the OS reports it.
    pub status: String,
    /// How long it had run.
    pub uptime: Duration,
    /// The tail of its console and server logs.
    pub tail: String,
}

/// What the watch needs of the ensemble at one moment.
#[derive(Debug, Clone)]
pub struct StartupSnapshot {
    /// The run (for namespace names).
    pub run: RunId,
    /// Each pod: ordinal, address, whether its server runs.
    pub pods: Vec<(u32, Ipv4Addr, bool)>,
    /// Servers that exited on their own since the last snapshot.
    pub exits: Vec<PodExit>,
}

/// The outcome of one TCP connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Connected.
    Open,
    /// Refused: the address answers, nothing listens (yet).
    Refused,
    /// No answer or an error on the way: the network is in the way.
    Failed(String),
}

/// One connect from `from` (a pod, or the host when `None`) to pod `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The pod the connect was made from (`None`: the host).
    pub from: Option<u32>,
    /// The pod connected to.
    pub to: u32,
    /// The outcome.
    pub reach: Reach,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why = match &self.reach {
            Reach::Failed(w) => w.as_str(),
            Reach::Open => "open",
            Reach::Refused => "refused",
        };
        match self.from {
            Some(a) => write!(f, "pod {a} -> pod {}: {why}", self.to),
            None => write!(f, "host -> pod {}: {why}", self.to),
        }
    }
}

/// Why the ensemble does not form.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartupProblem {
    /// A server exited at start.
    #[error(
        "pod {} exited {:.1}s after it started ({}); last lines of its logs:\n{}",
        .0.pod, .0.uptime.as_secs_f64(), .0.status, .0.tail
    )]
    Exited(PodExit),
    /// Members cannot reach each other's election port.
    #[error(
        "members cannot reach each other's election port {ELECTION_PORT} (TCP connects from inside the pods' namespaces, failing in two rounds): {}; \
         check the routes and rules inside those namespaces (`ip -n {} route`, `ip netns exec {} nft list ruleset`)",
        join(.pairs), .netns_example, .netns_example
    )]
    PeersUnreachable {
        /// The failing pairs.
        pairs: Vec<Probe>,
        /// One of the namespaces involved, for the hint.
        netns_example: String,
    },
    /// The harness cannot reach pods from the host.
    #[error(
        "the harness cannot reach the pods' client port {CLIENT_PORT} from the host (failing in two rounds): {}; \
         check the host's routes (`ip route get <pod address>`) and its INPUT/OUTPUT rules for the run's subnet",
        join(.0)
    )]
    HostUnreachable(Vec<Probe>),
}

fn join(p: &[Probe]) -> String {
    p.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Words for the OS error a connect failed with.
pub fn describe_connect_error(e: &io::Error) -> String {
    let what = match (e.kind(), e.raw_os_error()) {
        (io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock, _) => {
            format!("no answer within {}s (packets dropped)", CONNECT_TIMEOUT.as_secs())
        }
        (_, Some(libc::EINVAL)) => "no route (a blackhole route?)".to_string(),
        (_, Some(libc::EHOSTUNREACH)) => "host unreachable".to_string(),
        (_, Some(libc::ENETUNREACH)) => "network unreachable (no route)".to_string(),
        (_, Some(libc::EACCES | libc::EPERM)) => "prohibited (a prohibit route or a firewall reject)".to_string(),
        _ => return e.to_string(),
    };
    format!("{what}: {e}")
}

fn connect(addr: SocketAddr) -> Reach {
    match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
        Ok(_) => Reach::Open,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Reach::Refused,
        Err(e) => Reach::Failed(describe_connect_error(&e)),
    }
}

/// Connect from inside namespace `netns` to every target, on a thread of
/// its own (a thread's network namespace is its own; the thread ends with
/// the probe, so no other work ever runs in the pod's namespace).
fn probe_from_netns(netns: &str, targets: &[(u32, SocketAddr)]) -> Result<Vec<(u32, Reach)>, String> {
    let path = std::path::Path::new(NETNS_DIR).join(netns);
    let file = std::fs::File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let targets = targets.to_vec();
    std::thread::spawn(move || {
        // SAFETY: setns on this thread only, with a namespace fd we own.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns: {}", io::Error::last_os_error()));
        }
        Ok(targets.into_iter().map(|(o, a)| (o, connect(a))).collect())
    })
    .join()
    .map_err(|_| "the probe thread panicked".to_string())?
}

/// Probe, in parallel: every running pod to every other running pod's
/// election port (from inside its namespace), and the host to every running
/// pod's client port.
pub async fn probe_round(snap: &StartupSnapshot) -> Vec<Probe> {
    let running: Vec<(u32, Ipv4Addr)> = snap.pods.iter().filter(|p| p.2).map(|p| (p.0, p.1)).collect();
    let run = snap.run.clone();
    tokio::task::spawn_blocking(move || {
        std::thread::scope(|s| {
            let pairs: Vec<_> = running
                .iter()
                .map(|(from, _)| {
                    let targets: Vec<(u32, SocketAddr)> = running
                        .iter()
                        .filter(|(o, _)| o != from)
                        .map(|(o, a)| (*o, SocketAddr::from((*a, ELECTION_PORT))))
                        .collect();
                    let ns = run.netns(*from);
                    let from = *from;
                    s.spawn(move || (from, probe_from_netns(&ns, &targets)))
                })
                .collect();
            let host: Vec<_> = running
                .iter()
                .map(|(o, a)| {
                    let (o, addr) = (*o, SocketAddr::from((*a, CLIENT_PORT)));
                    s.spawn(move || Probe { from: None, to: o, reach: connect(addr) })
                })
                .collect();
            let mut out = Vec::new();
            for h in pairs {
                let Ok((from, Ok(results))) = h.join() else { continue };
                out.extend(results.into_iter().map(|(to, reach)| Probe { from: Some(from), to, reach }));
            }
            out.extend(host.into_iter().filter_map(|h| h.join().ok()));
            out
        })
    })
    .await
    .unwrap_or_default()
}

/// The failures of `now` that also failed in `before` (the same direction
/// between the same two ends).
pub fn persistent(before: &BTreeSet<(Option<u32>, u32)>, now: &[Probe]) -> Vec<Probe> {
    now.iter().filter(|p| matches!(p.reach, Reach::Failed(_)) && before.contains(&(p.from, p.to))).cloned().collect()
}

/// The failures of one round, as keys for [`persistent`].
pub fn failures(now: &[Probe]) -> BTreeSet<(Option<u32>, u32)> {
    now.iter().filter(|p| matches!(p.reach, Reach::Failed(_))).map(|p| (p.from, p.to)).collect()
}

/// Judge one round: an exit first; then peers that cannot reach each
/// other; then pods the host cannot reach (only failures also seen in the
/// round before count).
pub fn judge(
    run: &RunId,
    exits: &[PodExit],
    before: &BTreeSet<(Option<u32>, u32)>,
    now: &[Probe],
) -> Option<StartupProblem> {
    if let Some(e) = exits.first() {
        return Some(StartupProblem::Exited(e.clone()));
    }
    let (peers, host): (Vec<Probe>, Vec<Probe>) = persistent(before, now).into_iter().partition(|p| p.from.is_some());
    if let Some(first) = peers.first() {
        let netns_example = run.netns(first.from.unwrap_or_default());
        return Some(StartupProblem::PeersUnreachable { pairs: peers, netns_example });
    }
    (!host.is_empty()).then_some(StartupProblem::HostUnreachable(host))
}

/// Watches an ensemble while it should be forming.
#[derive(Debug)]
pub struct StartupWatch {
    started: Instant,
    last_probe: Option<Instant>,
    before: BTreeSet<(Option<u32>, u32)>,
}

impl Default for StartupWatch {
    fn default() -> Self {
        Self::new()
    }
}

impl StartupWatch {
    /// Start watching now.
    pub fn new() -> Self {
        Self { started: Instant::now(), last_probe: None, before: BTreeSet::new() }
    }

    /// Look at `snap` and the latest `status`: an exited server fails at
    /// once; once the grace period is over and the ensemble is not yet
    /// healthy, probe (at most every [`PROBE_EVERY`]).
    pub async fn check(&mut self, snap: &StartupSnapshot, status: &EnsembleStatus) -> Result<(), StartupProblem> {
        if let Some(p) = judge(&snap.run, &snap.exits, &BTreeSet::new(), &[]) {
            return Err(p);
        }
        let healthy = status.all_healthy() && status.members.len() == snap.pods.len();
        if healthy || self.started.elapsed() < GRACE || self.last_probe.is_some_and(|t| t.elapsed() < PROBE_EVERY) {
            if healthy {
                self.before.clear();
            }
            return Ok(());
        }
        let now = probe_round(snap).await;
        self.last_probe = Some(Instant::now());
        let verdict = judge(&snap.run, &[], &self.before, &now);
        self.before = failures(&now);
        verdict.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunId {
        RunId::try_from("a1b2c3".to_string()).unwrap()
    }

    fn p(from: Option<u32>, to: u32, reach: Reach) -> Probe {
        Probe { from, to, reach }
    }

    fn failed(from: Option<u32>, to: u32) -> Probe {
        p(from, to, Reach::Failed("no route (a blackhole route?): Invalid argument (os error 22)".into()))
    }

    #[test]
    fn an_exit_wins_and_carries_its_log_tail() {
        let exit = PodExit {
            ordinal: 1,
            pod: "zk-1".into(),
            status: "exit status: 1".into(),
            uptime: Duration::from_millis(400),
            tail: "Invalid maximum heap size: -Xmx99999999m".into(),
        };
        let msg = judge(&run(), &[exit], &BTreeSet::new(), &[failed(Some(0), 1)]).unwrap().to_string();
        assert!(msg.starts_with("pod zk-1 exited 0.4s after it started (exit status: 1)"), "{msg}");
        assert!(msg.contains("Invalid maximum heap size"), "{msg}");
    }

    #[test]
    fn a_failure_counts_only_when_seen_in_two_rounds() {
        let round1 = vec![failed(Some(0), 1), p(Some(1), 0, Reach::Refused)];
        assert!(judge(&run(), &[], &BTreeSet::new(), &round1).is_none(), "one round is not enough");
        let round2 = vec![failed(Some(0), 1), failed(Some(1), 0), p(Some(0), 2, Reach::Open)];
        let problem = judge(&run(), &[], &failures(&round1), &round2).unwrap();
        let msg = problem.to_string();
        assert!(msg.contains("pod 0 -> pod 1: no route"), "{msg}");
        assert!(!msg.contains("pod 1 -> pod 0"), "failed once only: {msg}");
        assert!(msg.contains("ip -n zkc-a1b2c3-0 route"), "{msg}");
    }

    #[test]
    fn refused_is_never_a_network_failure() {
        let r = vec![p(Some(0), 1, Reach::Refused), p(None, 1, Reach::Refused)];
        assert!(judge(&run(), &[], &failures(&r), &r).is_none());
        assert!(failures(&r).is_empty());
    }

    #[test]
    fn the_host_is_blamed_only_when_peers_are_fine() {
        let r = vec![failed(None, 2), p(Some(0), 2, Reach::Open)];
        let msg = judge(&run(), &[], &failures(&r), &r).unwrap().to_string();
        assert!(msg.starts_with("the harness cannot reach the pods' client port 2181 from the host"), "{msg}");
        assert!(msg.contains("host -> pod 2"), "{msg}");
    }

    #[test]
    fn connect_errors_are_named() {
        let e = io::Error::from_raw_os_error(libc::EINVAL);
        assert!(describe_connect_error(&e).starts_with("no route (a blackhole route?)"));
        let e = io::Error::new(io::ErrorKind::TimedOut, "timed out");
        assert!(describe_connect_error(&e).starts_with("no answer within 1s"));
    }
}
