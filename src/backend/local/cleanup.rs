//! Removing what runs created: one recorded run (teardown), or everything
//! of ours on the host (`down --all`), and finding what is left. All of it
//! is synchronous and idempotent, so it also runs from `Drop` and after a
//! crash, and it only ever touches objects carrying our prefix or marker.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::naming::{self, RunId, Subnet};
use super::net;
use super::state::{self, RunState};
use crate::sys;

/// Remove everything a recorded run created, synchronously and
/// idempotently: its processes (found by pid and by the run's marker, and
/// only if they carry it), namespaces, veths, bridge, fence, hosts files,
/// registry entry and, unless `keep_data`, volumes.
pub fn teardown_run(state: &RunState, keep_data: bool) {
    let mut pids: BTreeSet<u32> = servers_of(&state.run).into_iter().collect();
    pids.extend(state.pods.values().filter_map(|p| p.pid).filter(|pid| is_server_of(*pid, &state.run)));
    kill_and_reap(&pids);
    super::cpu::remove_where(|r| *r == state.run);
    for ordinal in state.pods.keys() {
        net::remove_pod_netns(&state.run, *ordinal);
    }
    // Namespaces of pods that were removed from the record mid-way.
    for ns in net::our_namespaces() {
        if naming::run_of_netns(&ns).is_some_and(|r| r == state.run) {
            net::remove_netns_by_name(&ns);
        }
    }
    if state.bridged {
        net::remove_bridge(&state.run);
    }
    if state.fenced {
        net::remove_fence(state.subnet);
    }
    // A tmpfs data disk holds nothing once its pods are gone; it never
    // outlives the run.
    super::disk::unmount_run(&state.run);
    if !keep_data {
        let _ = std::fs::remove_dir_all(state.run_dir.join("volumes"));
    }
    state.unregister();
}

/// Whether `pid` is a server process of run `run` (see [`naming::server_run`]).
pub fn is_server_of(pid: u32, run: &RunId) -> bool {
    sys::pid_argv(pid).is_some_and(|a| naming::server_run(&a).as_ref() == Some(run))
}

/// Every server process of run `run`.
fn servers_of(run: &RunId) -> Vec<u32> {
    sys::pids_where(|a| naming::server_run(a).as_ref() == Some(run))
}

/// Every server process of any run of ours.
fn all_servers() -> Vec<u32> {
    sys::pids_where(|a| naming::server_run(a).is_some())
}

fn kill_and_reap(pids: &BTreeSet<u32>) {
    for pid in pids {
        let _ = sys::signal(*pid, Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| sys::pid_alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What `down --all` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Runs torn down from their records.
    pub runs: Vec<RunId>,
    /// Server processes killed.
    pub processes: usize,
    /// Namespaces deleted.
    pub namespaces: usize,
    /// Interfaces deleted.
    pub links: usize,
    /// Fence routes deleted.
    pub routes: usize,
    /// Hosts dirs deleted.
    pub hosts_dirs: usize,
    /// CPU-limit cgroups removed.
    pub cgroups: usize,
    /// Data disks (tmpfs) unmounted.
    pub disks: usize,
}

/// What of ours exists on this host at one moment (see [`sweep_all`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// Server processes.
    pub processes: BTreeSet<u32>,
    /// Namespaces.
    pub namespaces: BTreeSet<String>,
    /// Interfaces on the host.
    pub links: BTreeSet<String>,
    /// Fence routes, by destination.
    pub routes: BTreeSet<String>,
    /// Hosts dirs.
    pub hosts_dirs: BTreeSet<std::path::PathBuf>,
    /// Data disks, by source name.
    pub disks: BTreeSet<String>,
    /// CPU-limit cgroups.
    pub cgroups: BTreeSet<std::path::PathBuf>,
}

impl Inventory {
    /// What of ours exists now.
    pub fn take() -> Self {
        Self {
            processes: all_servers().into_iter().collect(),
            namespaces: net::our_namespaces().into_iter().collect(),
            links: net::our_links().into_iter().collect(),
            routes: net::host_routes()
                .map(|rs| rs.iter().filter(|r| r.is_fence()).map(|r| r.dst.to_string()).collect())
                .unwrap_or_default(),
            hosts_dirs: net::our_hosts_dirs().into_iter().collect(),
            disks: super::disk::our_mounts().into_iter().map(|(s, _)| s).collect(),
            cgroups: super::cpu::our_cgroups().into_iter().collect(),
        }
    }

    /// What was here (`self`, before a sweep) and is gone `after` it: the
    /// counts of what the sweep removed, whichever step removed it.
    pub fn removed(&self, after: &Inventory) -> SweepReport {
        fn gone<T: Ord>(before: &BTreeSet<T>, after: &BTreeSet<T>) -> usize {
            before.difference(after).count()
        }
        SweepReport {
            runs: Vec::new(),
            processes: gone(&self.processes, &after.processes),
            namespaces: gone(&self.namespaces, &after.namespaces),
            links: gone(&self.links, &after.links),
            routes: gone(&self.routes, &after.routes),
            hosts_dirs: gone(&self.hosts_dirs, &after.hosts_dirs),
            disks: gone(&self.disks, &after.disks),
            cgroups: gone(&self.cgroups, &after.cgroups),
        }
    }
}

/// Remove everything of ours on this host, recorded or not: every
/// registered run, then any leftover server process of ours, namespace,
/// interface, fence route or hosts dir with our prefix. The report counts
/// what existed before and is gone after (the registered runs' teardown
/// removes most of it).
pub fn sweep_all(keep_data: bool) -> SweepReport {
    let before = Inventory::take();
    let mut runs = Vec::new();
    for (run, entry) in state::registered_runs() {
        if let Ok(st) = RunState::load(&entry.run_dir) {
            teardown_run(&st, keep_data);
        }
        let _ = std::fs::remove_file(RunState::registry_entry(&run));
        let _ = std::fs::remove_file(RunState::secret_file(&run));
        runs.push(run);
    }
    let pids: BTreeSet<u32> = all_servers().into_iter().collect();
    kill_and_reap(&pids);
    super::cpu::remove_where(|_| true);
    for ns in net::our_namespaces() {
        net::remove_netns_by_name(&ns);
    }
    for link in net::our_links() {
        let _ = sys::ip(["link", "del", &link]);
    }
    for dir in net::our_hosts_dirs() {
        let _ = std::fs::remove_dir_all(dir);
    }
    super::disk::unmount_where(|_| true);
    let _ = std::fs::remove_dir_all(state::registry_dir().join("names"));
    if let Ok(routes) = net::host_routes() {
        for r in routes.iter().filter(|r| r.is_fence()) {
            if let Some(s) = r.subnet() {
                net::remove_fence(s);
            }
        }
    }
    let mut report = before.removed(&Inventory::take());
    report.runs = runs;
    report
}

/// What is left of ours on this host (for tests and `down --all --check`).
pub fn leftovers() -> Vec<String> {
    let mut out = Vec::new();
    out.extend(all_servers().into_iter().map(|p| format!("process {p}")));
    out.extend(net::our_namespaces().into_iter().map(|n| format!("namespace {n}")));
    out.extend(net::our_links().into_iter().map(|l| format!("link {l}")));
    out.extend(net::our_hosts_dirs().into_iter().map(|d| format!("hosts dir {}", d.display())));
    out.extend(super::cpu::our_cgroups().into_iter().map(|d| format!("cgroup {}", d.display())));
    out.extend(super::disk::our_mounts().into_iter().map(|(s, at)| format!("data disk {s} on {}", at.display())));
    if let Ok(routes) = net::host_routes() {
        out.extend(routes.iter().filter(|r| r.is_fence()).map(|r| format!("fence route {}", r.dst)));
    }
    out
}

/// Like [`leftovers`], restricted to one run (by its id and subnet).
pub fn leftovers_of(run: &RunId, subnet: Subnet) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(servers_of(run).into_iter().map(|p| format!("process {p}")));
    let mine = |n: &str| n.contains(run.as_str());
    out.extend(net::our_namespaces().into_iter().filter(|n| mine(n)).map(|n| format!("namespace {n}")));
    out.extend(
        super::cpu::our_cgroups()
            .into_iter()
            .filter(|d| d.to_str().is_some_and(mine))
            .map(|d| format!("cgroup {}", d.display())),
    );
    out.extend(net::our_links().into_iter().filter(|n| mine(n)).map(|l| format!("link {l}")));
    out.extend(
        net::our_hosts_dirs()
            .into_iter()
            .filter(|d| d.to_str().is_some_and(mine))
            .map(|d| format!("hosts dir {}", d.display())),
    );
    out.extend(
        super::disk::our_mounts()
            .into_iter()
            .filter(|(s, _)| mine(s))
            .map(|(s, at)| format!("data disk {s} on {}", at.display())),
    );
    if let Ok(routes) = net::host_routes() {
        out.extend(
            routes
                .iter()
                .filter(|r| r.is_fence() && r.subnet() == Some(subnet))
                .map(|r| format!("fence route {}", r.dst)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt as _;
    use std::process::{Child, Command, Stdio};

    use super::*;

    /// Kills and reaps its child on drop (only the process this test started).
    struct Reaped(Child);

    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn spawn(cmd: &mut Command) -> Reaped {
        Reaped(cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
    }

    #[test]
    fn a_sweep_reports_what_was_there_before_and_is_gone_after() {
        let set = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<BTreeSet<String>>();
        let before = Inventory {
            processes: [10, 11, 12].into(),
            namespaces: set(&["zkc-a-0", "zkc-a-1", "zkc-a-br"]),
            links: set(&["zkcav0"]),
            routes: set(&["10.213.0.0/24"]),
            hosts_dirs: ["/etc/netns/zkc-a-0".into()].into(),
            disks: set(&["zkc-a-0"]),
            cgroups: ["/sys/fs/cgroup/zkc-a-0".into()].into(),
        };
        // Removed by the runs' teardown or the sweep: both count.
        let after = Inventory { namespaces: set(&["zkc-a-br"]), ..Inventory::default() };
        let r = before.removed(&after);
        assert_eq!((r.processes, r.namespaces, r.links, r.routes, r.hosts_dirs, r.disks), (3, 2, 1, 1, 1, 1), "{r:?}");
        assert_eq!(before.removed(&before), SweepReport::default());
    }

    #[test]
    fn a_process_that_only_mentions_our_marker_is_never_swept() {
        let run = RunId::generate();
        let main = crate::dist::MAIN_CLASS;
        // Someone else's process whose command line contains our marker.
        // (`; :` after the sleep: a shell that execs the last command of
        // `-c` would replace these command lines with `sleep 120`.)
        let impostor =
            spawn(Command::new("sh").args(["-c", &format!("sleep 120; : # {} {main}", run.process_marker())]));
        // A stand-in for our server: argv[0] `java`, the marker and the main class as arguments of their own.
        let server =
            spawn(Command::new("sh").arg0("java").args(["-c", "sleep 120; :", "sh", &run.process_marker(), main]));
        let (impostor_pid, server_pid) = (impostor.0.id(), server.0.id());
        // Both command lines in place before anything looks (seen: a sweep
        // right after `spawn` returned did not see the new one yet).
        let marker = run.process_marker();
        let deadline = Instant::now() + Duration::from_secs(5);
        while ![impostor_pid, server_pid]
            .iter()
            .all(|p| sys::pid_argv(*p).is_some_and(|a| a.iter().any(|x| x.contains(&marker))))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let left = leftovers();
        assert!(!left.contains(&format!("process {impostor_pid}")), "{left:?}");
        assert!(!is_server_of(impostor_pid, &run));
        assert!(left.contains(&format!("process {server_pid}")), "{left:?}");
        assert!(is_server_of(server_pid, &run));
        assert_eq!(servers_of(&run), [server_pid]);
    }
}
