//! The main job of the local backend until the feature runner lands: the
//! embedded operator stands an ensemble up; it must serve through every
//! member, survive a follower kill and a leader isolation, then roll an
//! upgrade and scale up and down through reconfig while a client writes,
//! without losing an acknowledged write; then everything is torn down and
//! nothing may be left. Every step checks what it claims; the first failure
//! skips the rest but never the teardown.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::backend::local::{EnsembleSpec, LocalEnsemble, ensemble};
use crate::check::Verdict;
use crate::check::linear::Budget;
use crate::check::suite::check_all;
use crate::client::{self, SessionOptions};
use crate::dist::Progress;
use crate::operator::crd::{JvmSpec, ZookeeperCluster, ZookeeperClusterSpec};
use crate::operator::supervisor::{LocalOptions, Supervisor};
use crate::sys;
use crate::workload::record::{kill_follower_then_leader, record};
use crate::workload::{WorkloadSpec, Writer, writer::missing_writes};

/// Knobs of the job.
#[derive(Debug, Clone)]
pub struct SmokeOptions {
    /// Bound on each wait for quorum.
    pub quorum_timeout: Duration,
}

impl Default for SmokeOptions {
    fn default() -> Self {
        Self { quorum_timeout: Duration::from_secs(60) }
    }
}

/// One step's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    /// What the step proves.
    pub name: String,
    /// Passed, failed, or skipped after an earlier failure.
    pub outcome: Outcome,
    /// Wall time of the step.
    pub millis: u64,
    /// What it found, or why it failed.
    pub detail: String,
}

/// A step's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The check held.
    Passed,
    /// The check failed.
    Failed,
    /// Not run because an earlier step failed.
    Skipped,
}

/// The summary of one job run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// ZooKeeper version.
    pub version: String,
    /// Members.
    pub replicas: u32,
    /// The run id, when the ensemble came up.
    pub run: Option<String>,
    /// Time from servers started to quorum, ms.
    pub quorum_ms: Option<u64>,
    /// Sum of the members' peak resident memory, MiB.
    pub peak_rss_mib: Option<f64>,
    /// Named measurements (durations, write-unavailability windows).
    pub measurements: Vec<(String, String)>,
    /// The steps in order.
    pub steps: Vec<Step>,
}

impl Summary {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.outcome == Outcome::Passed)
    }

    /// A human-readable summary.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\nzk-chaos run: {} members of ZooKeeper {}", self.replicas, self.version);
        for s in &self.steps {
            let mark = match s.outcome {
                Outcome::Passed => "PASS",
                Outcome::Failed => "FAIL",
                Outcome::Skipped => "SKIP",
            };
            let _ = writeln!(out, "  {mark}  {:<60} {:>6.1}s  {}", s.name, s.millis as f64 / 1000.0, s.detail);
        }
        if let Some(q) = self.quorum_ms {
            let _ = writeln!(out, "  time to quorum: {:.2}s", q as f64 / 1000.0);
        }
        for (k, v) in &self.measurements {
            let _ = writeln!(out, "  {k}: {v}");
        }
        if let Some(m) = self.peak_rss_mib {
            let _ = writeln!(
                out,
                "  peak memory of the ensemble: {m:.0} MiB ({:.0} MiB per member)",
                m / f64::from(self.replicas.max(1))
            );
        }
        let passed = self.steps.iter().filter(|s| s.outcome == Outcome::Passed).count();
        let failed = self.steps.iter().filter(|s| s.outcome == Outcome::Failed).count();
        let skipped = self.steps.iter().filter(|s| s.outcome == Outcome::Skipped).count();
        let _ = writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped");
        out
    }
}

struct Recorder {
    steps: Vec<Step>,
    failed: bool,
}

impl Recorder {
    async fn step<F, Fut>(&mut self, name: &str, f: F)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<String, String>>,
    {
        if self.failed {
            self.steps.push(Step { name: name.into(), outcome: Outcome::Skipped, millis: 0, detail: String::new() });
            return;
        }
        let t = Instant::now();
        let r = f().await;
        let millis = t.elapsed().as_millis() as u64;
        let (outcome, detail) = match r {
            Ok(d) => (Outcome::Passed, d),
            Err(e) => {
                self.failed = true;
                (Outcome::Failed, e)
            }
        };
        self.steps.push(Step { name: name.into(), outcome, millis, detail });
    }
}

const SESSION: SessionOptions =
    SessionOptions { session_timeout: Duration::from_secs(6), connect_timeout: Duration::from_secs(10) };

async fn write_via(e: &LocalEnsemble, ordinal: u32, path: &str, data: &[u8]) -> Result<(), String> {
    let c = client::connect(&e.pod_connect_string(ordinal).map_err(|x| x.to_string())?, SESSION)
        .await
        .map_err(|x| x.to_string())?;
    client::create(&c, path, data).await.map_err(|x| x.to_string())?;
    Ok(())
}

async fn read_via(e: &LocalEnsemble, ordinal: u32, path: &str) -> Result<Vec<u8>, String> {
    let c = client::connect(&e.pod_connect_string(ordinal).map_err(|x| x.to_string())?, SESSION)
        .await
        .map_err(|x| x.to_string())?;
    client::sync_read(&c, path).await.map(|(d, _)| d).map_err(|x| x.to_string())
}

/// The resource the job asks the operator for.
fn cluster_for(spec: &EnsembleSpec) -> ZookeeperCluster {
    let mut c = ZookeeperClusterSpec::new(spec.replicas, spec.version.clone());
    c.tick_time_ms = Some(spec.settings.tick_time_ms);
    c.jvm = Some(JvmSpec { heap_mb: Some(spec.heap_mb) });
    let mut cluster = ZookeeperCluster::new(&spec.name, c);
    cluster.metadata.namespace = Some(spec.namespace.clone());
    cluster
}

/// Run the job against a fresh ensemble described by `spec`.
pub async fn run(spec: &EnsembleSpec, opts: &SmokeOptions, progress: &dyn Progress) -> Summary {
    let mut summary = Summary {
        version: spec.version.clone(),
        replicas: spec.replicas,
        run: None,
        quorum_ms: None,
        peak_rss_mib: None,
        measurements: Vec::new(),
        steps: Vec::new(),
    };
    let mut rec = Recorder { steps: Vec::new(), failed: false };
    let mut sup: Option<Supervisor> = None;
    rec.step("the operator provisions and starts the servers", || async {
        let base = LocalOptions { base: spec.clone() };
        let mut s = Supervisor::create(cluster_for(spec), &base, progress).await.map_err(|e| e.to_string())?;
        // The first round creates the StatefulSet and its pods.
        s.reconcile_once().await.map_err(|e| e.to_string())?;
        let d = format!("run {} on {}", s.ensemble().state().run, s.ensemble().state().subnet);
        sup = Some(s);
        Ok(d)
    })
    .await;
    if let Some(s) = sup.as_mut() {
        summary.run = Some(s.ensemble().state().run.to_string());
        progress.stage("running checks");
        let mut quorum_ms = None;
        body(s.ensemble_mut(), opts, &mut rec, &mut quorum_ms, &mut summary.peak_rss_mib).await;
        summary.quorum_ms = quorum_ms;
        progress.stage("recording a workload through faults");
        workload_steps(s.ensemble_mut(), opts, &mut rec, &mut summary.measurements).await;
        operator_steps(s, opts, &mut rec, &mut summary.measurements, progress).await;
    }
    if let Some(e) = sup.take().map(Supervisor::into_ensemble) {
        progress.stage("tearing down");
        let (run, subnet) = (e.state().run.clone(), e.state().subnet);
        let t = Instant::now();
        let down = e.teardown(false).await;
        let left = ensemble::leftovers_of(&run, subnet);
        let (outcome, detail) = match (down, left.is_empty()) {
            (Ok(()), true) => (Outcome::Passed, "no process, namespace, interface, route or hosts file left".into()),
            (Err(e), _) => (Outcome::Failed, e.to_string()),
            (Ok(()), false) => (Outcome::Failed, format!("left behind: {}", left.join(", "))),
        };
        rec.steps.push(Step {
            name: "tear down and leave nothing behind".into(),
            outcome,
            millis: t.elapsed().as_millis() as u64,
            detail,
        });
    }
    summary.steps = rec.steps;
    summary
}

/// A recorded workload (8 clients) while a follower and then the leader are
/// SIGKILLed, then every checker over the history: each verdict is a step.
/// The bundle stays in the run dir for `zk-chaos check`.
async fn workload_steps(
    ens: &mut LocalEnsemble,
    opts: &SmokeOptions,
    rec: &mut Recorder,
    measurements: &mut Vec<(String, String)>,
) {
    let dir = ens.state().run_dir.join("bundle");
    let mut bundle = None;
    rec.step("recorded workload: 8 clients, SIGKILL a follower, then the leader", || async {
        let wl = WorkloadSpec::new("/zk-chaos-workload", 8, 20, Duration::from_secs(12), 1);
        let b = record(ens, &wl, None, opts.quorum_timeout, async |e, r| {
            kill_follower_then_leader(e, r, Duration::from_secs(2), opts.quorum_timeout).await
        })
        .await
        .map_err(|e| e.to_string())?;
        b.save(&dir).map_err(|e| e.to_string())?;
        let n = b.events.len();
        bundle = Some(b);
        Ok(format!("{n} events; bundle in {}", dir.display()))
    })
    .await;
    let report = bundle.as_ref().map(|b| check_all(b, Budget::default()));
    let report = match report {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            rec.step("check the history", || async { Err::<String, String>(e.to_string()) }).await;
            return;
        }
        None => return,
    };
    for r in &report.results {
        rec.step(&format!("checker: {}", r.checker), || async {
            match &r.verdict {
                Verdict::Valid => Ok("valid".to_string()),
                Verdict::Invalid { evidence } => Err(format!("INVALID: {}", evidence.join("; "))),
                Verdict::Unknown { reason } => Err(format!("could not decide: {reason}")),
            }
        })
        .await;
    }
    let gap = report.availability.longest_window.as_ref().map_or(0.0, |w| w.duration_ns as f64 / 1e9);
    measurements.push((
        "recorded workload".into(),
        format!(
            "{:.0} ok ops/s (8 clients, full recording), longest write gap {gap:.2}s, linearizability checked in {:.2}s",
            report.stats.mean_ok_per_second,
            report.linear_elapsed.as_secs_f64()
        ),
    ));
}

/// The version the smoke job upgrades `version` to: the newest version
/// zk-chaos fetches by itself, when `version` is an older one of them
/// (3.8.0 and 3.9.3 -> 3.9.6); `None` (a rolling restart instead) for the
/// newest and for user distributions.
fn upgrade_target(version: &str) -> Option<&'static str> {
    let supported = crate::dist::supported_versions();
    let newest = *supported.last()?;
    (supported.contains(&version) && version != newest).then_some(newest)
}

/// Operator-driven changes under a steady writer: a rolling upgrade (or a
/// rolling restart when there is no newer version), then scale up by two
/// and back down. Each reports its duration and the longest time no write
/// succeeded; afterwards every acknowledged write must be readable.
async fn operator_steps(
    sup: &mut Supervisor,
    opts: &SmokeOptions,
    rec: &mut Recorder,
    measurements: &mut Vec<(String, String)>,
    progress: &dyn Progress,
) {
    let timeout = opts.quorum_timeout * 4;
    let base = sup.cluster().spec.clone();
    let n = base.replicas;
    let mut upgraded = base.clone();
    let what = if let Some(newer) = upgrade_target(&base.version) {
        upgraded.version = newer.into();
        format!("rolling upgrade {} -> {newer}", base.version)
    } else {
        upgraded.rolling_restart = Some("zk-chaos-run".into());
        format!("rolling restart of {}", base.version)
    };
    let mut bigger = upgraded.clone();
    bigger.replicas = n + 2;
    let changes = [
        (format!("operator: {what}, leader last"), upgraded.clone()),
        (format!("operator: scale {n} -> {} through reconfig -add", n + 2), bigger),
        (format!("operator: scale {} -> {n} through reconfig -remove", n + 2), upgraded),
    ];
    let mut acked = Vec::new();
    for (i, (name, spec)) in changes.into_iter().enumerate() {
        rec.step(&name, || async {
            let dir = format!("/zk-chaos-run-writes-{i}");
            let w = Writer::start(sup.ensemble().connect_string(), &dir, Duration::from_millis(50));
            sup.apply(spec.clone()).map_err(|e| e.to_string())?;
            let t = Instant::now();
            let mut leader_restarts = 0;
            let converged = sup
                .converge(timeout, |r| {
                    progress.stage(&r.plan.reason);
                    for a in &r.plan.actions {
                        if let crate::operator::action::Action::DeletePod { ordinal, .. } = a
                            && r.probe.leader() == Some(*ordinal)
                        {
                            leader_restarts += 1;
                        }
                    }
                })
                .await;
            let took = t.elapsed();
            let report = w.stop().await;
            converged.map_err(|e| e.to_string())?;
            let st = sup.ensemble().status().await;
            if !st.all_healthy() || st.members.len() as u32 != spec.replicas {
                return Err(format!("not healthy after converging: {}", st.problems.join("; ")));
            }
            let gap = report.longest_gap.as_secs_f64();
            measurements.push((name.clone(), format!("{:.1}s, longest write gap {gap:.2}s", took.as_secs_f64())));
            acked.push((dir, report.acked.clone()));
            Ok(format!(
                "{} writes acked, longest gap {gap:.2}s, leader restarted {leader_restarts}x",
                report.acked.len()
            ))
        })
        .await;
    }
    rec.step("no acknowledged write was lost", || async {
        let mut total = 0;
        for (dir, writes) in &acked {
            let missing =
                missing_writes(&sup.ensemble().connect_string(), dir, writes).await.map_err(|e| e.to_string())?;
            if !missing.is_empty() {
                return Err(format!("{} acknowledged writes missing, e.g. {}", missing.len(), missing[0]));
            }
            total += writes.len();
        }
        Ok(format!("all {total} acknowledged writes read back after sync"))
    })
    .await;
}

async fn body(
    e: &mut LocalEnsemble,
    opts: &SmokeOptions,
    rec: &mut Recorder,
    quorum_ms: &mut Option<u64>,
    peak: &mut Option<f64>,
) {
    let n = e.ordinals().len() as u32;
    let path = format!("/zk-chaos-smoke-{}", e.state().run);
    let path2 = format!("{path}-during-kill");
    let path3 = format!("{path}-during-partition");
    rec.step("quorum: exactly one leader, every member following", || async {
        let t = Instant::now();
        let st = e.wait_for_quorum(opts.quorum_timeout).await.map_err(|x| x.to_string())?;
        *quorum_ms = Some(t.elapsed().as_millis() as u64);
        let leader = st.leader().ok_or("no single leader")?;
        Ok(format!("leader {}, {} followers", e.state().names.pod(leader), st.followers_of_leader.len()))
    })
    .await;
    rec.step("write through one member, read it back through each", || async {
        write_via(e, 0, &path, b"v1").await?;
        for o in e.ordinals() {
            let got = read_via(e, o, &path).await?;
            if got != b"v1" {
                return Err(format!("member {o} returned {:?}", String::from_utf8_lossy(&got)));
            }
        }
        Ok(format!("{path} read back through {n} members"))
    })
    .await;
    let mut follower = None;
    rec.step("SIGKILL a follower: the ensemble keeps serving", || async {
        let st = e.status().await;
        let f = *st.followers_of_leader.iter().max().ok_or("no follower to kill")?;
        follower = Some(f);
        e.kill_pod(f).await.map_err(|x| x.to_string())?;
        let other = e.ordinals().into_iter().find(|o| *o != f).ok_or("no other member")?;
        if n >= 3 {
            write_via(e, other, &path2, b"v2").await?;
            Ok(format!("killed {}, wrote {path2} through {}", e.state().names.pod(f), e.state().names.pod(other)))
        } else {
            Ok(format!("killed {} (too few members to keep a majority)", e.state().names.pod(f)))
        }
    })
    .await;
    rec.step("restart it: it rejoins with its data", || async {
        let f = follower.ok_or("no follower")?;
        e.start_pod(f).await.map_err(|x| x.to_string())?;
        e.wait_for_quorum(opts.quorum_timeout).await.map_err(|x| x.to_string())?;
        let got = read_via(e, f, &path).await?;
        if got != b"v1" {
            return Err(format!("restarted member lost {path}"));
        }
        if n >= 3 && read_via(e, f, &path2).await? != b"v2" {
            return Err(format!("restarted member did not catch up on {path2}"));
        }
        Ok(format!("{} serves {path} again", e.state().names.pod(f)))
    })
    .await;
    if n >= 3 {
        let mut old = None;
        rec.step("isolate the leader: the rest elect a new one", || async {
            let l = e.status().await.leader().ok_or("no leader")?;
            old = Some(l);
            e.isolate(l).map_err(|x| x.to_string())?;
            let st = e
                .wait_until(opts.quorum_timeout, |s| s.quorum && s.leader().is_some_and(|x| x != l))
                .await
                .map_err(|x| x.to_string())?;
            let new = st.leader().ok_or("no leader")?;
            let other = e.ordinals().into_iter().find(|o| *o != l).ok_or("no member")?;
            write_via(e, other, &path3, b"v3").await?;
            Ok(format!("{} -> {}", e.state().names.pod(l), e.state().names.pod(new)))
        })
        .await;
        rec.step("heal: the old leader rejoins and catches up", || async {
            let l = old.ok_or("no old leader")?;
            e.heal();
            e.wait_for_quorum(opts.quorum_timeout).await.map_err(|x| x.to_string())?;
            if read_via(e, l, &path3).await? != b"v3" {
                return Err(format!("old leader is missing {path3}"));
            }
            Ok(format!("{} follows again and has {path3}", e.state().names.pod(l)))
        })
        .await;
    }
    let pids: Vec<u32> = e.state().pods.values().filter_map(|p| p.pid).collect();
    let kb: u64 = pids.iter().filter_map(|p| sys::peak_rss_kib(*p)).sum();
    if kb > 0 {
        *peak = Some(kb as f64 / 1024.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_upgrades_older_supported_versions_to_the_newest() {
        assert_eq!(upgrade_target("3.8.0"), Some("3.9.6"));
        assert_eq!(upgrade_target("3.9.3"), Some("3.9.6"));
        assert_eq!(upgrade_target("3.9.6"), None);
        assert_eq!(upgrade_target("3.7.2"), None);
    }
}
