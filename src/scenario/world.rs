//! One scenario's world: its cluster, its workload, the faults in effect
//! and everything recorded for the report. Each method is what one step
//! (or one plan entry) does; it returns a short detail line on success and
//! a [`ScenarioError`] that says what was expected and what was seen.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha1::Digest as _;
use tokio::task::JoinHandle;

mod findings;

use super::context::RunContext;
use super::evidence::{FaultEntry, ScenarioEvidence};
use super::expect::{Expect, poll, poll_observed};
use crate::backend::{Cluster, ClusterError};
use crate::check::converge::{self, Convergence, SETTLE_BOUND};
use crate::check::linear::Budget;
use crate::check::status_truth::StatusSample;
use crate::check::suite::{Bundle, RunFacts, SuiteReport, check_all};
use crate::check::{Verdict, quorum};
use crate::client::{self, SessionOptions};
use crate::faults::{
    ActiveFault, ActiveFaults, EFFECT_TIMEOUT, Effect, Fault, FaultError, Schedule, ScheduleSpec, Selector,
    await_effects, run_schedule,
};
use crate::operator::crd::{JvmSpec, ZookeeperCluster, ZookeeperClusterSpec};
use crate::probe::EnsembleStatus;
use crate::workload::run::{self, Recorder, RunOutput};
use crate::workload::{WorkloadSpec, stats};

/// Probe interval of the scenario's sampler.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// How often a forming ensemble is asked why it has not formed yet.
const STARTUP_CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a new ensemble may take to be Ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the operator stays down after "I kill the operator" before its
/// Deployment starts it again.
pub const OPERATOR_RESTART: Duration = Duration::from_secs(2);

const SESSION: SessionOptions =
    SessionOptions { session_timeout: Duration::from_secs(6), connect_timeout: Duration::from_secs(10) };

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A step needs something an earlier step sets up.
    #[error("{0}")]
    Precondition(String),
    /// An expectation did not hold by its deadline.
    #[error("{0}")]
    Expectation(String),
    /// A checker found a violation (or could not decide).
    #[error("{checker} is {verdict}:\n{evidence}")]
    Check {
        /// The checker.
        checker: String,
        /// `invalid` or `unknown`.
        verdict: &'static str,
        /// What it found.
        evidence: String,
    },
    /// The backend failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A fault could not be started or healed.
    #[error(transparent)]
    Fault(#[from] FaultError),
    /// Bad input in a step or plan.
    #[error("{0}")]
    Input(String),
}

/// What a step returns: a detail line for the report.
pub type StepResult = Result<String, ScenarioError>;

struct RunningWorkload {
    spec: WorkloadSpec,
    rec: Arc<Recorder>,
    stop: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<RunOutput>,
    /// When it started, on the scenario clock.
    offset_ns: u64,
}

/// One scenario.
pub struct ScenarioWorld {
    ctx: Arc<RunContext>,
    started: Instant,
    /// The wall clock at `started`, unix ms (server logs are on it).
    started_unix_ms: i64,
    rng: StdRng,
    seed: u64,
    name: String,
    dir: PathBuf,
    cluster: Option<Arc<dyn Cluster>>,
    sampler: Option<(tokio::sync::watch::Sender<bool>, JoinHandle<()>)>,
    samples: Arc<std::sync::Mutex<Vec<(u64, EnsembleStatus)>>>,
    statuses: Arc<std::sync::Mutex<Vec<StatusSample>>>,
    workload: Option<RunningWorkload>,
    judged: Option<SuiteReport>,
    workload_offset_ns: Option<u64>,
    open: Vec<(usize, ActiveFault)>,
    scheduled: Arc<ActiveFaults>,
    faults: Vec<FaultEntry>,
    operator_restart: Option<JoinHandle<()>>,
    leader_before_fault: Option<u32>,
    timeline_start: Option<Instant>,
    ready_ns: Option<u64>,
    steps: Vec<(usize, String)>,
    notes: Vec<String>,
    names: BTreeMap<char, u32>,
    log_mark: crate::diagnose::LogMark,
    finding: Option<crate::diagnose::Finding>,
}

impl ScenarioWorld {
    /// A fresh world for scenario `name`; its seed derives from the run's
    /// seed and the name, so a scenario replays alone with the same seed.
    pub fn new(ctx: Arc<RunContext>, name: &str) -> Self {
        let seed = ctx.scenario_seed(name);
        let dir = ctx.scenario_dir(name);
        Self {
            ctx,
            started: Instant::now(),
            started_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            rng: StdRng::seed_from_u64(seed),
            seed,
            name: name.to_string(),
            dir,
            cluster: None,
            sampler: None,
            samples: Arc::default(),
            statuses: Arc::default(),
            workload: None,
            judged: None,
            workload_offset_ns: None,
            open: Vec::new(),
            scheduled: Arc::default(),
            faults: Vec::new(),
            operator_restart: None,
            leader_before_fault: None,
            timeline_start: None,
            ready_ns: None,
            steps: Vec::new(),
            notes: Vec::new(),
            names: BTreeMap::new(),
            log_mark: crate::diagnose::LogMark::default(),
            finding: None,
        }
    }

    /// The scenario's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Remember what the step at `line` found (for the report).
    pub fn note_step(&mut self, line: usize, detail: String) {
        self.steps.push((line, detail));
    }

    fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    fn ns_at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.started).as_nanos() as u64
    }

    fn cluster(&self) -> Result<Arc<dyn Cluster>, ScenarioError> {
        self.cluster.clone().ok_or_else(|| {
            ScenarioError::Precondition(
                "no ensemble yet: start the scenario with `Given a 3-member ensemble \"zk\" running ZooKeeper 3.9.6`"
                    .into(),
            )
        })
    }

    /// The live line of the progress display.
    fn live(&self, what: impl Into<String>) {
        self.ctx.set_live(&self.name, what.into());
    }

    // ----- Given -----

    /// Stand up `replicas` members of `version` through the operator, with
    /// extra zoo.cfg `config`, and wait until the resource is Ready.
    pub async fn given_ensemble(
        &mut self,
        name: &str,
        replicas: u32,
        version: &str,
        config: BTreeMap<String, String>,
    ) -> StepResult {
        self.given_ensemble_with_disks(name, replicas, version, config, None).await
    }

    /// [`ScenarioWorld::given_ensemble`], each pod's data dir a tmpfs of
    /// `disk_mb` MiB when given (for disk faults).
    pub async fn given_ensemble_with_disks(
        &mut self,
        name: &str,
        replicas: u32,
        version: &str,
        config: BTreeMap<String, String>,
        disk_mb: Option<u32>,
    ) -> StepResult {
        if self.cluster.is_some() {
            return Err(ScenarioError::Precondition("this scenario already has an ensemble".into()));
        }
        let mut spec = ZookeeperClusterSpec::new(replicas, version.to_string());
        spec.config = config;
        spec.tick_time_ms = Some(self.ctx.base.settings.tick_time_ms);
        spec.jvm = Some(JvmSpec { heap_mb: Some(self.ctx.base.heap_mb) });
        let unique = self.ctx.unique_name(name);
        let mut resource = ZookeeperCluster::new(&unique, spec);
        resource.metadata.namespace = Some(self.ctx.base.namespace.clone());
        let mut base = self.ctx.base.clone();
        base.data_disk_mb = disk_mb;
        if disk_mb.is_some() && !matches!(self.ctx.backend.label(), "local" | "docker") {
            return Err(ScenarioError::Cluster(ClusterError::Unsupported {
                backend: self.ctx.backend.label(),
                what: "size-limited data disks (a tmpfs per pod) exist on the local and docker backends only".into(),
            }));
        }
        self.live(format!("provisioning {unique}"));
        let c = crate::backend::create(&self.ctx.backend, &base, resource).await?;
        self.cluster = Some(c.clone());
        self.start_sampler(c.clone());
        let t = Instant::now();
        let ready = async {
            self.wait_for(READY_TIMEOUT, Expect::RolloutComplete).await?;
            self.wait_for(READY_TIMEOUT, Expect::AllHealthy).await
        };
        // Fail within seconds, naming the cause, when it cannot form.
        tokio::select! {
            r = ready => { r?; }
            e = watch_startup(c.as_ref()) => return Err(ScenarioError::Cluster(e)),
        }
        self.ready_ns = Some(self.now_ns());
        Ok(format!("{unique}: {replicas} × ZooKeeper {version} Ready in {:.1}s", t.elapsed().as_secs_f64()))
    }

    fn start_sampler(&mut self, c: Arc<dyn Cluster>) {
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let (samples, started) = (self.samples.clone(), self.started);
        // The resource's status, read beside the probes (on its own loop:
        // reading it may wait for an operator round).
        let (statuses, c2, mut rx2) = (self.statuses.clone(), c.clone(), rx.clone());
        let status_task = tokio::spawn(async move {
            loop {
                let status = c2.resource_status().await;
                let spec = c2.spec().await;
                let at_ns = started.elapsed().as_nanos() as u64;
                statuses.lock().expect("not poisoned").push(StatusSample { at_ns, status, spec });
                if *rx2.borrow() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(SAMPLE_EVERY) => {}
                    _ = rx2.changed() => {}
                }
            }
        });
        let task = tokio::spawn(async move {
            loop {
                let st = c.status().await;
                samples.lock().expect("not poisoned").push((started.elapsed().as_nanos() as u64, st));
                if *rx.borrow() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(SAMPLE_EVERY) => {}
                    _ = rx.changed() => {}
                }
            }
            let _ = status_task.await;
        });
        self.sampler = Some((tx, task));
    }

    /// Set the update strategy's partition (the strategy is always OnDelete).
    pub async fn set_partition(&mut self, partition: u32) -> StepResult {
        let c = self.cluster()?;
        let mut spec = c.spec().await;
        spec.update_strategy.partition = partition;
        c.apply(spec).await?;
        Ok(format!("update strategy OnDelete, partition {partition}"))
    }

    /// Create `count` znodes under `path` with contents derived from their
    /// names (checked later by [`ScenarioWorld::integrity_intact`]).
    pub async fn populate(&mut self, path: &str, count: u32) -> StepResult {
        let c = self.cluster()?;
        let session = client::connect(&c.connect_string().await, SESSION).await.map_err(io)?;
        match client::create(&session, path, b"").await {
            Ok(_) | Err(client::ClientError::Op { source: zookeeper_client::Error::NodeExists, .. }) => {}
            Err(e) => return Err(io(e)),
        }
        let t = Instant::now();
        let results: Vec<Result<(), client::ClientError>> = futures::stream::iter(0..count)
            .map(|i| {
                let session = &session;
                async move {
                    let p = integrity_path(path, i);
                    client::create(session, &p, integrity_value(&p).as_bytes()).await.map(drop)
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            return Err(io(e));
        }
        Ok(format!("{count} znodes under {path} in {:.1}s", t.elapsed().as_secs_f64()))
    }

    /// Start a recorded workload in the background: `clients` sessions at
    /// `rate` ops/s in total (closed loop when `None`) over `keys` keys.
    pub async fn start_workload(&mut self, clients: u32, rate: Option<f64>, keys: u32) -> StepResult {
        let c = self.cluster()?;
        if self.workload.is_some() || self.judged.is_some() {
            return Err(ScenarioError::Precondition("a workload already ran in this scenario".into()));
        }
        if clients == 0 || keys == 0 {
            return Err(ScenarioError::Input("a workload needs at least 1 client and 1 key".into()));
        }
        let mut spec =
            WorkloadSpec::new("/zk-chaos-workload", clients, keys, Duration::from_secs(24 * 3600), self.seed);
        spec.rate = rate;
        let servers = c.connect_string().await;
        run::prepare(&servers, &spec).await.map_err(io)?;
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let rec = Arc::new(Recorder::new(Some(&self.dir.join("history.jsonl"))).map_err(io)?);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = {
            let (spec, rec) = (spec.clone(), rec.clone());
            tokio::spawn(async move { run::run_until(&servers, &spec, rec, stopped).await })
        };
        let offset_ns = self.now_ns();
        self.workload_offset_ns = Some(offset_ns);
        self.spawn_ops_meter(rec.clone(), stop.subscribe());
        self.workload = Some(RunningWorkload { spec, rec, stop, task, offset_ns });
        let rate = rate.map_or("as fast as they can".to_string(), |r| format!("at {r} ops/s"));
        Ok(format!("{clients} clients {rate} on {keys} keys (seed {})", self.seed))
    }

    /// Every second, put the workload's ok ops/s and error counts on the
    /// progress line, until the workload stops.
    fn spawn_ops_meter(&self, rec: Arc<Recorder>, mut stopped: tokio::sync::watch::Receiver<bool>) {
        let (ctx, key) = (self.ctx.clone(), self.name.clone());
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped.changed() => break,
                }
                let (ok, fail, unknown) = rec.counts();
                ctx.set_ops(&key, format!("{} ok ops/s, {fail} failed, {unknown} unknown", ok - last));
                last = ok;
            }
            ctx.set_ops(&key, String::new());
        });
    }

    // ----- When: faults -----

    /// Start `fault`; with `hold`, heal it after that long, else leave it in
    /// effect until healed (at the latest when the scenario ends).
    pub async fn inject(&mut self, fault: Fault, hold: Option<Duration>) -> StepResult {
        let c = self.cluster()?;
        let fault = fault.bind(&self.names)?;
        // A fault on pods named by ordinal takes the leader from the latest
        // probe round (every 250 ms): a fresh round would delay a fault that
        // a server event triggered by tens of milliseconds.
        let by_ordinal = fault.selectors().iter().all(|s| matches!(s, Selector::Ordinal(_)));
        let sampled = if by_ordinal {
            self.samples.lock().expect("not poisoned").last().and_then(|(_, st)| st.leader())
        } else {
            None
        };
        self.leader_before_fault = match sampled {
            Some(l) => Some(l),
            None => c.status().await.leader().or(self.leader_before_fault),
        };
        // The fault starts when its action begins: a member killed by it may
        // be back (restarted, its data loaded) before the action returns,
        // as on docker, and what it did after the fault must not be taken
        // for what it did before.
        let start_ns = self.now_ns();
        let active = fault.start(c.as_ref(), &mut self.rng).await?;
        let description = active.description().to_string();
        self.faults.push(FaultEntry {
            name: active.name().to_string(),
            description: description.clone(),
            targets: active.targets().to_vec(),
            start_ns,
            heal_ns: None,
        });
        let idx = self.faults.len() - 1;
        self.live(format!("fault: {description}"));
        let effects = active.effects().to_vec();
        // Kills are instantaneous: the StatefulSet (kubelet) brings the pod
        // back, so nothing stays "in effect".
        let kill = fault.name() == "kill";
        if kill {
            drop(active);
            self.faults[idx].heal_ns = Some(self.faults[idx].start_ns);
        } else {
            self.open.push((idx, active));
        }
        // No later step may see the ensemble as it was before the fault.
        let seen = self.await_effects(c.as_ref(), &effects).await?;
        let description = format!("{description}{seen}");
        match hold {
            Some(d) if !kill => {
                tokio::time::sleep(d).await;
                self.heal_one(idx).await?;
                Ok(format!("{description}, held for {}", super::params::show(d)))
            }
            _ => Ok(description),
        }
    }

    /// Wait until probes show `effects` (see [`crate::faults::effect`]);
    /// returns a note for the step's detail line.
    async fn await_effects(&self, c: &dyn Cluster, effects: &[Effect]) -> Result<String, ScenarioError> {
        if effects.is_empty() {
            return Ok(String::new());
        }
        let what: Vec<String> = effects.iter().map(|e| e.to_string()).collect();
        self.live(format!("waiting for the fault's effect: {}", what.join(", ")));
        let took = await_effects(c, effects, EFFECT_TIMEOUT).await?;
        Ok(format!(" (in effect after {:.1}s: {})", took.as_secs_f64(), what.join(", ")))
    }

    async fn heal_one(&mut self, idx: usize) -> Result<(), ScenarioError> {
        let c = self.cluster()?;
        let Some(pos) = self.open.iter().position(|(i, _)| *i == idx) else { return Ok(()) };
        let (_, active) = self.open.remove(pos);
        let others: Vec<&ActiveFault> = self.open.iter().map(|(_, a)| a).collect();
        let r = active.heal_keeping(c.as_ref(), &others).await;
        self.faults[idx].heal_ns = Some(self.now_ns());
        self.live("");
        Ok(r?)
    }

    /// Kill `sel` `times` times, `every` apart, each time waiting for the
    /// ensemble to regain quorum first.
    pub async fn kill_repeatedly(&mut self, sel: Selector, times: u32, every: Duration) -> StepResult {
        let mut done = Vec::new();
        for i in 0..times {
            if i > 0 {
                tokio::time::sleep(every).await;
            }
            self.wait_for(Duration::from_secs(60), Expect::Quorum).await?;
            done.push(self.inject(Fault::Kill(sel), None).await?);
        }
        Ok(done.join("; "))
    }

    /// Heal every fault still in effect.
    pub async fn heal_all(&mut self) -> StepResult {
        let c = self.cluster()?;
        let n = self.open.len() + self.scheduled.len();
        let mut errors: Vec<String> = Vec::new();
        while let Some((idx, _)) = self.open.last() {
            if let Err(e) = self.heal_one(*idx).await {
                errors.push(e.to_string());
            }
        }
        errors.extend(self.scheduled.heal_all(c.as_ref()).await.into_iter().map(|e| e.to_string()));
        if errors.is_empty() {
            Ok(format!("{n} fault(s) healed"))
        } else {
            Err(ScenarioError::Fault(FaultError::Invalid(errors.join("; "))))
        }
    }

    /// A seeded random schedule: `count` faults, one per `period`, each for
    /// `hold`, drawn from `faults`.
    pub async fn random_schedule(
        &mut self,
        count: usize,
        period: Duration,
        hold: Duration,
        faults: Vec<Fault>,
    ) -> StepResult {
        let c = self.cluster()?;
        let spec = ScheduleSpec { period, duration: hold, count, faults, seed: self.seed };
        let mut schedule = Schedule::generate(&spec)?;
        let planned: Vec<String> = schedule
            .entries
            .iter()
            .map(|e| {
                format!(
                    "#{} at {:.1}s: {} for {}",
                    e.index,
                    e.offset.as_secs_f64(),
                    e.fault,
                    super::params::show(e.duration)
                )
            })
            .collect();
        let mut kept = String::new();
        if let Some(keep) = &self.ctx.schedule_subset {
            schedule = schedule.subset(keep);
            let ks: Vec<String> = keep.iter().map(|k| k.to_string()).collect();
            kept = format!(", only faults {} of it", ks.join(","));
        }
        self.live(format!("schedule of {count} faults (seed {}{kept})", self.seed));
        let started = self.started;
        let clock = move || started.elapsed().as_nanos() as u64;
        let records = run_schedule(c.as_ref(), &schedule, clock, &self.scheduled).await;
        self.live("");
        let records = records?;
        for (description, start, heal) in &records {
            let name = description.split_whitespace().next().unwrap_or("fault").to_lowercase();
            self.faults.push(FaultEntry {
                name,
                description: description.clone(),
                targets: Vec::new(),
                start_ns: *start,
                heal_ns: *heal,
            });
        }
        Ok(format!(
            "seed {}: planned [{}]{kept}; done: {}",
            self.seed,
            planned.join("; "),
            records.iter().map(|(d, _, _)| d.as_str()).collect::<Vec<_>>().join("; ")
        ))
    }

    /// Delete a pod gracefully (`kubectl delete pod`).
    pub async fn delete_pod(&mut self, ordinal: u32) -> StepResult {
        let c = self.cluster()?;
        let before = c.status().await;
        let t = self.now_ns();
        c.delete_pod(ordinal).await?;
        self.faults.push(FaultEntry {
            name: "delete".into(),
            description: format!("delete pod {ordinal}"),
            targets: vec![ordinal],
            start_ns: t,
            heal_ns: Some(t),
        });
        let seen = self.await_effects(c.as_ref(), &[Effect::gone(ordinal, Some(&before))]).await?;
        Ok(format!("pod {ordinal} deleted{seen}"))
    }

    // ----- When: operations -----

    /// Change the desired spec with `edit` (what `kubectl apply` does).
    pub async fn change_spec(&mut self, what: &str, edit: impl FnOnce(&mut ZookeeperClusterSpec)) -> StepResult {
        let c = self.cluster()?;
        let mut spec = c.spec().await;
        edit(&mut spec);
        c.apply(spec).await?;
        self.faults.push(FaultEntry {
            name: "change".into(),
            description: what.to_string(),
            targets: Vec::new(),
            start_ns: self.now_ns(),
            heal_ns: None,
        });
        Ok(what.to_string())
    }

    /// Kill the operator; its Deployment starts it again after `down`.
    pub async fn kill_operator(&mut self, down: Duration) -> StepResult {
        let c = self.cluster()?;
        c.kill_operator().await?;
        let t = self.now_ns();
        self.faults.push(FaultEntry {
            name: "operator".into(),
            description: format!("operator killed for {}", super::params::show(down)),
            targets: Vec::new(),
            start_ns: t,
            heal_ns: Some(t + down.as_nanos() as u64),
        });
        let restart = tokio::spawn(async move {
            tokio::time::sleep(down).await;
            if let Err(e) = c.start_operator().await {
                tracing::error!(error = %e, "could not restart the operator");
            }
        });
        self.operator_restart = Some(restart);
        Ok(format!("operator killed; it restarts in {}", super::params::show(down)))
    }

    /// Sleep.
    pub async fn wait(&mut self, d: Duration) -> StepResult {
        tokio::time::sleep(d).await;
        Ok(String::new())
    }

    /// Mark the start of a plan's timeline.
    pub fn start_timeline(&mut self) -> StepResult {
        self.timeline_start = Some(Instant::now());
        Ok(format!("at {:.1}s into the scenario", self.started.elapsed().as_secs_f64()))
    }

    /// Sleep until `at` after the timeline started (at once when that is
    /// past: the previous entry ran long).
    pub async fn wait_until_into_timeline(&mut self, at: Duration) -> StepResult {
        let start = self.timeline_start.ok_or_else(|| {
            ScenarioError::Precondition("no timeline started: add `When the timeline starts` first".into())
        })?;
        let late = start.elapsed().saturating_sub(at);
        tokio::time::sleep_until((start + at).into()).await;
        Ok(if late.is_zero() { String::new() } else { format!("{:.1}s late", late.as_secs_f64()) })
    }

    /// Whether an ensemble was stood up.
    pub fn has_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    // ----- Then -----

    /// Poll until `expect` holds or `within` passes; on failure say what was
    /// last seen.
    pub async fn wait_for(&mut self, within: Duration, expect: Expect) -> StepResult {
        let c = self.cluster()?;
        self.live(format!("waiting: {expect}"));
        let (ctx, name, shown) = (self.ctx.clone(), self.name.clone(), expect.to_string());
        let seen = move |last: &str| ctx.set_live(&name, format!("waiting: {shown}; last seen: {last}"));
        let r = poll_observed(c.as_ref(), within, &expect, &seen).await;
        self.live("");
        r.map_err(ScenarioError::Expectation)
    }

    /// Quorum under a leader other than the one before the last fault.
    pub async fn new_leader(&mut self, within: Duration) -> StepResult {
        let old = self.leader_before_fault.ok_or_else(|| {
            ScenarioError::Precondition("no fault was injected yet, so there is no old leader to replace".into())
        })?;
        self.wait_for(within, Expect::LeaderIsNot(old)).await
    }

    /// Poll until no member the last fault hit answers a client (`ruok`).
    pub async fn last_fault_targets_unreachable(&mut self, within: Duration) -> StepResult {
        let c = self.cluster()?;
        let targets = self.faults.last().map(|f| f.targets.clone()).unwrap_or_default();
        if targets.is_empty() {
            return Err(ScenarioError::Precondition("the last fault hit no member".into()));
        }
        let start = Instant::now();
        loop {
            let mut answering = Vec::new();
            for o in &targets {
                if let Ok(Ok(a)) = tokio::time::timeout(Duration::from_secs(1), c.four_letter(*o, "ruok")).await {
                    answering.push(format!("pod {o} answered {a:?}"));
                }
            }
            if answering.is_empty() {
                let pods: Vec<String> = targets.iter().map(|o| o.to_string()).collect();
                return Ok(format!("pods {} do not answer clients", pods.join(",")));
            }
            if start.elapsed() >= within {
                return Err(ScenarioError::Expectation(format!(
                    "expected within {:.0}s that the clients get no answer, but {}",
                    within.as_secs_f64(),
                    answering.join(", ")
                )));
            }
            tokio::time::sleep(super::expect::POLL_EVERY).await;
        }
    }

    /// Every member answers `ruok` with `imok`.
    pub async fn every_member_ruok(&mut self) -> StepResult {
        let c = self.cluster()?;
        let mut answers = Vec::new();
        for o in c.members().await {
            let a = c.four_letter(o, "ruok").await?;
            if a.trim() != "imok" {
                return Err(ScenarioError::Expectation(format!("pod {o} answered `ruok` with {a:?}, expected imok")));
            }
            answers.push(format!("pod {o}: imok"));
        }
        Ok(answers.join(", "))
    }

    /// Create `path` with `data` through pod `via`, then read it back
    /// through every other member.
    pub async fn write_then_read_everywhere(&mut self, path: &str, data: &str, via: u32) -> StepResult {
        let c = self.cluster()?;
        let w = client::connect(&c.member_connect_string(via).await?, SESSION).await.map_err(io)?;
        client::create(&w, path, data.as_bytes()).await.map_err(io)?;
        let mut seen = Vec::new();
        for o in c.members().await.into_iter().filter(|o| *o != via) {
            let r = client::connect(&c.member_connect_string(o).await?, SESSION).await.map_err(io)?;
            let (got, _) = client::sync_read(&r, path).await.map_err(io)?;
            let got = String::from_utf8_lossy(&got).into_owned();
            if got != data {
                return Err(ScenarioError::Expectation(format!(
                    "get {path} through pod {o} returned {got:?}, expected {data:?}"
                )));
            }
            seen.push(o.to_string());
        }
        Ok(format!("written through pod {via}, read back through pods {}", seen.join(",")))
    }

    /// Every znode [`ScenarioWorld::populate`] made is there with its
    /// contents, read after `sync`.
    pub async fn integrity_intact(&mut self, path: &str, count: u32) -> StepResult {
        let c = self.cluster()?;
        let session = client::connect(&c.connect_string().await, SESSION).await.map_err(io)?;
        session.sync(path).await.map_err(|e| io(format!("sync {path}: {e}")))?;
        let bad: Vec<String> = futures::stream::iter(0..count)
            .map(|i| {
                let session = &session;
                async move {
                    let p = integrity_path(path, i);
                    match session.get_data(&p).await {
                        Ok((d, _)) if d == integrity_value(&p).as_bytes() => None,
                        Ok((d, _)) => Some(format!("{p}: content {:?}", String::from_utf8_lossy(&d))),
                        Err(e) => Some(format!("{p}: {e}")),
                    }
                }
            })
            .buffer_unordered(64)
            .filter_map(|x| async move { x })
            .collect()
            .await;
        if bad.is_empty() {
            Ok(format!("all {count} znodes under {path} intact"))
        } else {
            let n = bad.len();
            let shown: Vec<String> = bad.into_iter().take(5).collect();
            Err(ScenarioError::Expectation(format!(
                "{n} of {count} znodes under {path} are missing or damaged, e.g.\n  {}",
                shown.join("\n  ")
            )))
        }
    }

    /// Stop the workload (if running), settle, and run every checker once.
    async fn judge(&mut self) -> Result<&SuiteReport, ScenarioError> {
        if self.judged.is_none() {
            let c = self.cluster()?;
            let wl = self.workload.take().ok_or_else(|| {
                ScenarioError::Precondition(
                    "no workload ran in this scenario: add `Given a workload of 8 clients at 500 ops/s on 100 keys`"
                        .into(),
                )
            })?;
            self.live("checking the history");
            let _ = wl.stop.send(true);
            let out = wl.task.await;
            poll(c.as_ref(), Duration::from_secs(60), &Expect::Quorum).await.map_err(ScenarioError::Expectation)?;
            if let Err(e) = run::settle_barrier(&c.connect_string().await, &wl.spec).await {
                self.notes.push(format!(
                    "the settle barrier write failed ({e}): zxids after an election may not be comparable"
                ));
            }
            let settle_after_ns = wl.rec.now_ns();
            self.live("waiting for the members to agree (convergence)");
            self.sample_until_converged(wl.offset_ns, settle_after_ns).await;
            let (events, workload) = match out {
                Ok(o) => (o.events, o.target),
                Err(_) => (wl.rec.finish().await, None),
            };
            let final_state =
                run::read_final_state(&c.connect_string().await, &wl.spec).await.map_err(|e| io(e.to_string()))?;
            let mut final_by_member = BTreeMap::new();
            for o in c.members().await {
                let read = match c.member_connect_string(o).await {
                    Ok(cs) => run::read_final_state(&cs, &wl.spec).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match read {
                    Ok(state) => {
                        final_by_member.insert(o, state);
                    }
                    Err(e) => self.notes.push(format!("the final state could not be read through pod {o}: {e}")),
                }
            }
            let probes: Vec<(u64, EnsembleStatus)> = self
                .samples
                .lock()
                .expect("not poisoned")
                .iter()
                .filter(|(t, _)| *t >= wl.offset_ns)
                .map(|(t, s)| (t - wl.offset_ns, s.clone()))
                .collect();
            let faults = self
                .faults
                .iter()
                .filter(|f| f.start_ns >= wl.offset_ns)
                .map(|f| {
                    (
                        f.description.clone(),
                        f.start_ns - wl.offset_ns,
                        f.heal_ns.map(|h| h.saturating_sub(wl.offset_ns)),
                    )
                })
                .collect();
            // The operator's status from the workload's start (the
            // ensemble was Ready before it), on the history clock.
            let statuses: Vec<StatusSample> = self
                .statuses
                .lock()
                .expect("not poisoned")
                .iter()
                .filter(|s| s.at_ns >= wl.offset_ns.max(self.ready_ns.unwrap_or(u64::MAX)))
                .map(|s| StatusSample { at_ns: s.at_ns - wl.offset_ns, ..s.clone() })
                .collect();
            let operator_down = self
                .operator_down()
                .into_iter()
                .map(|(a, b)| (a.saturating_sub(wl.offset_ns), b.saturating_sub(wl.offset_ns)))
                .collect();
            let bundle = Bundle {
                events,
                final_state: Some(final_state),
                final_by_member: Some(final_by_member),
                probes: Some(probes),
                statuses: Some(statuses),
                facts: RunFacts {
                    settle_after_ns,
                    faults,
                    settle_bound_ns: Some(SETTLE_BOUND.as_nanos() as u64),
                    workload,
                    operator_down: Some(operator_down),
                },
                history_cut: None,
            };
            if let Err(e) = bundle.save(&self.dir) {
                self.notes.push(format!("could not save the history: {e}"));
            }
            let budget = Budget { time_limit: Some(Duration::from_secs(60)), ..Budget::default() };
            let report = check_all(&bundle, budget).map_err(|e| io(e.to_string()))?;
            self.diagnose_judged(&bundle.events, report.any_invalid()).await;
            if let Some(w) = report.pace.as_ref().and_then(|p| p.warning()) {
                self.notes.push(w);
            }
            self.live("");
            self.judged = Some(report);
        }
        Ok(self.judged.as_ref().expect("just set"))
    }

    /// Keep the sampler's rounds coming until the convergence rule decides
    /// over them (members agree, or the settle bound passed), and one more
    /// round after the settle point at least. Times are on the history
    /// clock (`offset_ns` is when the workload started on the scenario
    /// clock).
    async fn sample_until_converged(&self, offset_ns: u64, settle_after_ns: u64) {
        let bound = SETTLE_BOUND.as_nanos() as u64;
        // The rule decides by the bound; a few rounds more cover a slow probe.
        let give_up = Instant::now() + SETTLE_BOUND + SAMPLE_EVERY * 8;
        loop {
            tokio::time::sleep(SAMPLE_EVERY).await;
            let probes: Vec<(u64, EnsembleStatus)> = self
                .samples
                .lock()
                .expect("not poisoned")
                .iter()
                .filter(|(t, _)| *t >= offset_ns + settle_after_ns)
                .map(|(t, s)| (t - offset_ns, s.clone()))
                .collect();
            let decided = !matches!(converge::judge(&probes, settle_after_ns, bound), Convergence::Pending { .. });
            if decided || Instant::now() >= give_up {
                return;
            }
        }
    }

    /// The named checker's verdict must be valid.
    pub async fn checker_valid(&mut self, checker: &str) -> StepResult {
        let report = self.judge().await?;
        let ok = report.stats.outcomes.get("ok").copied().unwrap_or(0);
        let r = report
            .results
            .iter()
            .find(|r| r.checker == checker)
            .ok_or_else(|| ScenarioError::Input(format!("no checker named {checker}")))?;
        match &r.verdict {
            Verdict::Valid => Ok(format!("{checker}: valid over {ok} acknowledged operations")),
            Verdict::Invalid { evidence } => {
                let mut evidence = evidence.join("\n");
                if let Some(f) = &self.finding {
                    evidence.push('\n');
                    evidence.push_str(&f.explain());
                }
                Err(ScenarioError::Check { checker: checker.into(), verdict: "INVALID", evidence })
            }
            Verdict::Unknown { reason } => {
                Err(ScenarioError::Check { checker: checker.into(), verdict: "UNKNOWN", evidence: reason.clone() })
            }
        }
    }

    /// The longest span without an acknowledged write is at most `max`.
    pub async fn unavailable_at_most(&mut self, max: Duration) -> StepResult {
        let report = self.judge().await?;
        let longest = report.availability.longest_window.as_ref().map_or(0, |w| w.duration_ns);
        let longest = Duration::from_nanos(longest);
        if longest <= max {
            Ok(format!("longest write gap {:.2}s", longest.as_secs_f64()))
        } else {
            Err(ScenarioError::Expectation(format!(
                "writes were unavailable for {:.2}s, more than {}",
                longest.as_secs_f64(),
                super::params::show(max)
            )))
        }
    }

    /// The workload made progress: at least `min` acknowledged operations.
    pub async fn at_least_ok_ops(&mut self, min: u64) -> StepResult {
        let report = self.judge().await?;
        let ok = report.stats.outcomes.get("ok").copied().unwrap_or(0);
        if ok >= min {
            Ok(format!("{ok} acknowledged operations"))
        } else {
            Err(ScenarioError::Expectation(format!("only {ok} operations were acknowledged, expected {min}")))
        }
    }

    /// In no probe round since the ensemble was Ready were more than `max`
    /// members down at once (see [`crate::check::restart::down_per_round`]:
    /// no server answering, or a restarted server not serving yet; members
    /// of the same process that answer but are electing a leader are not
    /// down).
    pub async fn at_most_down_at_once(&mut self, max: usize) -> StepResult {
        let samples = self.samples.lock().expect("not poisoned").clone();
        let since = self.ready_ns.unwrap_or(0);
        let rounds: Vec<&(u64, EnsembleStatus)> = samples.iter().filter(|(t, _)| *t >= since).collect();
        let down = crate::check::restart::down_per_round(rounds.iter().map(|(_, s)| s));
        let worst = rounds.iter().zip(down).map(|((t, s), n)| (n, *t, s)).max_by_key(|(n, _, _)| *n);
        match worst {
            Some((n, t, s)) if n > max => Err(ScenarioError::Expectation(format!(
                "{n} members were down at once at {:.1}s: {}",
                t as f64 / 1e9,
                super::expect::describe(s)
            ))),
            Some((n, _, _)) => Ok(format!("at most {n} member(s) down at once over {} probes", samples.len())),
            None => Err(ScenarioError::Precondition("no probe rounds were recorded".into())),
        }
    }

    /// Since the last spec change, the member leading was restarted only
    /// after every other member (see
    /// [`crate::check::restart::leader_restarted_last`]).
    pub async fn leader_restarted_last(&mut self) -> StepResult {
        let since = self.faults.iter().rev().find(|f| f.name == "change").map(|f| f.start_ns).ok_or_else(|| {
            ScenarioError::Precondition("no spec change in this scenario: `When I upgrade to 3.9.6`".into())
        })?;
        let samples = self.samples.lock().expect("not poisoned").clone();
        // From the last round before the change: who led, which processes ran.
        let from = samples.iter().rposition(|(t, _)| *t < since).unwrap_or(0);
        crate::check::restart::leader_restarted_last(samples[from..].iter().map(|(_, s)| s))
            .map_err(ScenarioError::Expectation)
    }

    /// The last config change reached every member, the leader included:
    /// each member's own `conf` shows `key = value`, each restarted exactly
    /// once after the change, the leader last, and the status did not
    /// report the rollout complete while a member still ran its old
    /// instance (see [`crate::check::rollout`]).
    pub async fn config_reached_every_member(&mut self, key: &str, value: &str) -> StepResult {
        use crate::check::rollout;
        let c = self.cluster()?;
        let since = self.faults.iter().rev().find(|f| f.name == "change").map(|f| f.start_ns).ok_or_else(|| {
            ScenarioError::Precondition(
                "no config change in this scenario: `When I set \"k\" to \"v\" in the config`".into(),
            )
        })?;
        let spec = c.spec().await;
        let members: Vec<u32> = (0..spec.replicas).collect();
        let mut problems = Vec::new();
        for &o in &members {
            let conf = c.four_letter(o, "conf").await.map_err(|e| e.to_string()).and_then(|body| {
                crate::probe::parse::parse_conf(&body).map_err(|e| e.to_string())?.ok_or("not serving".to_string())
            });
            match conf {
                Ok(conf) => match conf.settings.get(key) {
                    Some(v) if v == value => {}
                    Some(v) => problems.push(format!("pod {o} runs with {key}={v} per its own conf, not {value}")),
                    None => problems.push(format!("pod {o}'s conf does not show {key}")),
                },
                Err(e) => problems.push(format!("pod {o}'s conf could not be read: {e}")),
            }
        }
        let probes = self.samples.lock().expect("not poisoned").clone();
        let since_ms = self.started_unix_ms + (since / 1_000_000) as i64;
        let starts: Vec<(u32, u64)> = crate::diagnose::events::read_logs(&c.log_files())
            .into_iter()
            .filter(|e| e.kind == crate::diagnose::logline::EventKind::Started && e.at_ms >= since_ms)
            .map(|e| (e.ordinal, ((e.at_ms - self.started_unix_ms).max(0) as u64) * 1_000_000))
            .collect();
        let restarts = rollout::restarts(&starts, &probes);
        let order = rollout::judge_restarts(&members, &restarts).unwrap_or_else(|e| {
            problems.push(e.clone());
            e
        });
        // Complete is a lie before the last member's new server started.
        if let Some(last_old) = restarts.iter().map(|r| r.started_ns).max() {
            let statuses = self.statuses.lock().expect("not poisoned").clone();
            if let Some(s) = statuses.iter().find(|s| {
                s.at_ns >= since
                    && s.at_ns <= last_old
                    && s.spec.config.get(key).is_some_and(|v| v == value)
                    && crate::operator::supervisor::Supervisor::converged_on(s.status.as_ref(), &s.spec)
            }) {
                problems.push(format!(
                    "the status reported the rollout complete at {:.1}s, before the last member's new server started (at {:.1}s)",
                    s.at_ns as f64 / 1e9,
                    last_old as f64 / 1e9
                ));
            }
        }
        if problems.is_empty() {
            Ok(format!("every member's conf shows {key}={value}; {order}"))
        } else {
            Err(ScenarioError::Expectation(problems.join("; ")))
        }
    }

    /// The windows when the operator was down (killed until its restart),
    /// on the scenario clock.
    fn operator_down(&self) -> Vec<(u64, u64)> {
        self.faults
            .iter()
            .filter(|f| f.name == "operator")
            .map(|f| (f.start_ns, f.heal_ns.unwrap_or(u64::MAX)))
            .collect()
    }

    /// The status the operator published told the truth over the whole
    /// scenario so far, against the probes (see
    /// [`crate::check::status_truth`]): never Ready without quorum or with
    /// a member not serving, `readyReplicas` never above the members that
    /// serve, the rollout never complete while a member runs another
    /// version. Claims read while the operator was down are not judged.
    /// With a workload this is the verdict of the bundle's `status-truth`
    /// checker (judged with the history, as `zk-chaos check` re-judges
    /// it); without one, the same check over the samples so far.
    pub async fn status_told_the_truth(&mut self) -> StepResult {
        use crate::check::status_truth::{CHECKER, GRACE_NS, check};
        if self.workload.is_some() || self.judged.is_some() {
            let detail = self.checker_valid(CHECKER).await?;
            let summary = self.judged.as_ref().and_then(|r| r.status_truth.clone());
            return Ok(summary.map_or(detail, |s| format!("{CHECKER}: {s}")));
        }
        let since = self.ready_ns.unwrap_or(u64::MAX);
        // Only rounds after Ready: a forming ensemble's rounds are slow and
        // sparse, and would stretch a contradiction back over them.
        let probes: Vec<(u64, EnsembleStatus)> =
            self.samples.lock().expect("not poisoned").iter().filter(|(t, _)| *t >= since).cloned().collect();
        let statuses = self.statuses.lock().expect("not poisoned").clone();
        let statuses: Vec<StatusSample> = statuses.into_iter().filter(|s| s.at_ns >= since).collect();
        if statuses.is_empty() {
            return Err(ScenarioError::Precondition("no status was read since the ensemble was Ready".into()));
        }
        let down = self.operator_down();
        check(&probes, &statuses, &down, GRACE_NS).map_err(|lies| ScenarioError::Expectation(lies.join("; ")))
    }

    /// Every member a kill, stop or delete restarted in this scenario came
    /// back with its own data: the zxid it loaded from its volume is not
    /// behind what it served before the fault, and its myid is unchanged
    /// (see [`crate::check::restart`]).
    pub async fn restarted_with_own_data(&mut self) -> StepResult {
        use crate::check::restart::{self, FLUSH_MARGIN_NS, Restarted};
        let c = self.cluster()?;
        let files = c.log_files();
        let log_of = |ordinal: u32| -> String {
            let mut text = String::new();
            for (pod, path) in &files {
                if crate::diagnose::events::ordinal_of_pod(pod) == Some(ordinal) {
                    for f in crate::diagnose::events::rotated(path) {
                        text.push_str(&String::from_utf8_lossy(&std::fs::read(&f).unwrap_or_default()));
                    }
                }
            }
            text
        };
        let samples = self.samples.lock().expect("not poisoned").clone();
        let mut restarts = Vec::new();
        for f in self.faults.iter().filter(|f| matches!(f.name.as_str(), "kill" | "stop" | "delete")) {
            for &ordinal in &f.targets {
                let at_ms = self.started_unix_ms + (f.start_ns / 1_000_000) as i64;
                let zxid_before = samples
                    .iter()
                    .filter(|(t, _)| t + FLUSH_MARGIN_NS <= f.start_ns)
                    .filter_map(|(_, st)| st.members.iter().find(|m| m.ordinal == ordinal)?.srvr.as_ref())
                    .map(|s| s.zxid)
                    .next_back();
                let log = log_of(ordinal);
                let myid_before =
                    restart::last_myid_before(&log, at_ms).unwrap_or_else(|| crate::zkconfig::server_id(ordinal));
                let r = Restarted { ordinal, fault: f.description.clone(), at_ms, zxid_before, myid_before };
                restarts.push(restart::judge(&r, restart::first_load_after(&log, at_ms)));
            }
        }
        if restarts.is_empty() {
            return Err(ScenarioError::Precondition(
                "no member was killed, stopped or deleted in this scenario: nothing restarted".into(),
            ));
        }
        let (ok, bad): (Vec<_>, Vec<_>) = restarts.into_iter().partition(Result::is_ok);
        if bad.is_empty() {
            Ok(ok.into_iter().map(Result::unwrap).collect::<Vec<_>>().join("; "))
        } else {
            Err(ScenarioError::Expectation(bad.into_iter().map(|e| e.unwrap_err()).collect::<Vec<_>>().join("; ")))
        }
    }

    /// The leader (by ordinal) changed at most `max` times so far.
    pub async fn leader_changed_at_most(&mut self, max: usize) -> StepResult {
        let samples = self.samples.lock().expect("not poisoned").clone();
        let changes = quorum::check(&samples, u64::MAX).leader_changes;
        if changes <= max {
            Ok(format!("{changes} leader change(s) over {} probes", samples.len()))
        } else {
            Err(ScenarioError::Expectation(format!("the leader changed {changes} times, at most {max} expected")))
        }
    }

    // ----- the end -----

    /// Heal everything, stop the workload and sampler, tear the cluster
    /// down, check nothing is left, and hand the evidence over. Runs
    /// whatever happened in the steps.
    pub async fn finish(&mut self) -> ScenarioEvidence {
        if let Some(r) = self.operator_restart.take() {
            r.abort();
        }
        if let Some(c) = self.cluster.clone() {
            if !c.operator_running() {
                let _ = c.start_operator().await;
            }
            if let Err(e) = self.heal_all().await {
                self.notes.push(format!("healing at the end: {e}"));
            }
        }
        let mut stats = None;
        let mut pace = self.judged.as_ref().and_then(|r| r.pace.clone());
        if let Some(wl) = self.workload.take() {
            let _ = wl.stop.send(true);
            if let Ok(out) = wl.task.await {
                let ops = crate::history::pair(&out.events, "history").unwrap_or_default();
                stats = Some(stats::stats(&ops));
                let rounds: Vec<(u64, bool)> = self
                    .samples
                    .lock()
                    .expect("not poisoned")
                    .iter()
                    .filter(|(at, _)| *at >= wl.offset_ns)
                    .map(|(at, st)| (at - wl.offset_ns, st.quorum))
                    .collect();
                let outages = crate::workload::pace::no_quorum_windows(rounds);
                pace = out.target.as_ref().and_then(|t| crate::workload::pace::pace(&out.events, t, &outages));
                if let Some(w) = pace.as_ref().and_then(|p| p.warning()) {
                    self.notes.push(w);
                }
            }
        }
        if let Some((tx, task)) = self.sampler.take() {
            let _ = tx.send(true);
            let _ = task.await;
        }
        let mut logs = Vec::new();
        let mut operator = Vec::new();
        let mut run_id = None;
        let mut server_marks = Vec::new();
        if let Some(c) = self.cluster.take() {
            logs = c.log_files();
            for e in crate::diagnose::read_logs(&logs) {
                let Some((text, severe)) = crate::diagnose::events::mark(&e.kind) else { continue };
                let at_ns = (e.at_ms - self.started_unix_ms).max(0) as u64 * 1_000_000;
                server_marks.push((e.ordinal, at_ns, text, severe));
            }
            operator = c.operator_events().into_iter().map(|e| (self.ns_at(e.at), e.text)).collect();
            if let Err(e) = c.teardown().await {
                self.notes.push(format!("teardown: {e}"));
            }
            let left = c.leftovers();
            if !left.is_empty() {
                self.notes.push(format!("teardown left behind: {}", left.join(", ")));
            }
            run_id = Some(c.name().to_string());
        }
        ScenarioEvidence {
            name: self.name.clone(),
            seed: self.seed,
            cluster: run_id,
            faults: std::mem::take(&mut self.faults),
            operator,
            probes: std::mem::take(&mut *self.samples.lock().expect("not poisoned")),
            report: self.judged.take(),
            stats,
            pace,
            history_dir: self.dir.clone(),
            workload_offset_ns: self.workload_offset_ns,
            logs,
            server_marks,
            steps: std::mem::take(&mut self.steps),
            notes: std::mem::take(&mut self.notes),
        }
    }
}

fn io(e: impl ToString) -> ScenarioError {
    ScenarioError::Cluster(ClusterError::Io(e.to_string()))
}

/// The path of integrity znode `i` under `root`.
pub fn integrity_path(root: &str, i: u32) -> String {
    format!("{}/n{i:06}", root.trim_end_matches('/'))
}

/// The content of the integrity znode at `path`: derived from the path, so
/// a lost, swapped or truncated znode shows.
pub fn integrity_value(path: &str) -> String {
    let digest = sha1::Sha1::digest(path.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{path}#{hex}")
}

/// Resolve with the cluster's answer to why a new ensemble does not form,
/// asking every second; never resolves while it is forming.
async fn watch_startup(c: &dyn Cluster) -> ClusterError {
    loop {
        tokio::time::sleep(STARTUP_CHECK_EVERY).await;
        if let Err(e) = c.startup_check().await {
            return e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_values_differ_per_path_and_are_stable() {
        let a = integrity_value(&integrity_path("/integrity", 1));
        assert_eq!(a, integrity_value("/integrity/n000001"));
        assert_ne!(a, integrity_value(&integrity_path("/integrity", 2)));
        assert_eq!(integrity_path("/x/", 7), "/x/n000007");
    }
}
