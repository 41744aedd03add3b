//! A tiny world model driven by the planner in a loop: pods that boot,
//! a StatefulSet with partition semantics, a committed dynamic config that
//! only conditional reconfigs change, volumes that remember whether their
//! member was removed. Every plan is checked against the invariants, the
//! world checks that quorum survives every step, and each scenario must
//! converge within a bounded number of steps.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zk_chaos::operator::action::{Action, Plan};
use zk_chaos::operator::crd::{StorageReclaimPolicy, ZookeeperClusterSpec};
use zk_chaos::operator::invariants::check;
use zk_chaos::operator::observed::{Mode, Observed, PodObservation, StatefulSetObservation};
use zk_chaos::operator::planner::plan;
use zk_chaos::operator::revision::revision;
use zk_chaos::operator::status::ZookeeperClusterStatus;
use zk_chaos::zkconfig::{DynamicConfig, EnsembleNames, Role, ServerEntry, ordinal_of};

/// Config version of a freshly bootstrapped ensemble (epoch 1, counter 0).
const V0: u64 = 1 << 32;
/// Steps any one stage may take.
const MAX_STEPS: usize = 200;

#[derive(Debug, Clone, PartialEq)]
enum PodPhase {
    /// Starting; serves after this many more ticks.
    Booting(u32),
    /// Process up (serves when a quorum exists).
    Running,
    /// Removed from the config while running: answers, never serves.
    Removed { seen: u64 },
    /// Failed to start (stale config on its volume).
    Crashed,
    /// Being stopped by a scale-down; gone at the next tick.
    Terminating,
}

#[derive(Debug, Clone)]
struct SimPod {
    revision: String,
    version: String,
    phase: PodPhase,
}

/// What the config on a data volume says about its own member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vol {
    /// Lists itself as an observer (a joiner's initial config).
    Joiner,
    /// Lists itself as a participant.
    Member,
    /// Its last config lacks it: starting on it fails with
    /// "My id N not in the peer list".
    Stale,
}

#[derive(Debug, Clone)]
struct Sts {
    replicas: u32,
    update: String,
    current: String,
    partition: u32,
}

/// The world: everything an executor would touch, nothing of the operator.
struct World {
    names: EnsembleNames,
    sts: Option<Sts>,
    pods: BTreeMap<u32, SimPod>,
    /// Data volumes by ordinal.
    volumes: BTreeMap<u32, Vol>,
    participants: Option<BTreeSet<u32>>,
    version: u64,
    zxid: u64,
    leader: Option<u32>,
    probe_ok: Option<u64>,
    status: Option<ZookeeperClusterStatus>,
    /// ZooKeeper version of each revision the specs produced.
    versions: BTreeMap<String, String>,
    rng: StdRng,
    // Records.
    failures: Vec<String>,
    restarts: BTreeMap<u32, u32>,
    leader_restarts: u32,
    config_versions: Vec<u64>,
    clock: u64,
}

impl World {
    fn new(seed: u64) -> Self {
        World {
            names: EnsembleNames::new("zk", "sim"),
            sts: None,
            pods: BTreeMap::new(),
            volumes: BTreeMap::new(),
            participants: None,
            version: 0,
            zxid: 0,
            leader: None,
            probe_ok: None,
            status: None,
            versions: BTreeMap::new(),
            rng: StdRng::seed_from_u64(seed),
            failures: Vec::new(),
            restarts: BTreeMap::new(),
            leader_restarts: 0,
            config_versions: Vec::new(),
            clock: 0,
        }
    }

    fn register(&mut self, spec: &ZookeeperClusterSpec) {
        self.versions.insert(revision(spec), spec.version.clone());
    }

    fn running(&self, o: u32) -> bool {
        self.pods.get(&o).is_some_and(|p| p.phase == PodPhase::Running)
    }

    fn quorum(&self) -> bool {
        self.participants.as_ref().is_some_and(|p| {
            let up = p.iter().filter(|&&o| self.running(o)).count();
            !p.is_empty() && up > p.len() / 2
        })
    }

    fn is_participant(&self, o: u32) -> bool {
        self.participants.as_ref().is_some_and(|p| p.contains(&o))
    }

    /// Keep a valid leader, else elect the highest running participant
    /// (ZooKeeper's election prefers the highest id among equal zxids).
    fn elect(&mut self) {
        if !self.quorum() {
            self.leader = None;
            return;
        }
        if self.leader.is_some_and(|l| self.running(l) && self.is_participant(l)) {
            return;
        }
        let participants = self.participants.clone().unwrap_or_default();
        self.leader = participants.iter().rev().copied().find(|&o| self.running(o));
    }

    fn create_pod(&mut self, o: u32) {
        let sts = self.sts.as_ref().expect("pods need a StatefulSet");
        let revision = if o >= sts.partition { sts.update.clone() } else { sts.current.clone() };
        let version = self.versions.get(&revision).cloned().unwrap_or_else(|| "?".into());
        let ticks = self.rng.random_range(1..=2);
        self.pods.insert(o, SimPod { revision, version, phase: PodPhase::Booting(ticks) });
    }

    fn boot(&mut self, o: u32) {
        let replicas = self.sts.as_ref().map_or(0, |s| s.replicas);
        if self.participants.is_none() {
            // Bootstrap: every pod starts with the full initial config.
            self.participants = Some((0..replicas).collect());
            self.version = V0;
            self.zxid = V0;
            self.config_versions.push(V0);
        }
        let member = self.is_participant(o);
        let phase = match (self.volumes.get(&o).copied(), member) {
            (Some(Vol::Stale), _) => {
                self.failures.push(format!("zk-{o}: My id {} not in the peer list (stale volume)", o + 1));
                PodPhase::Crashed
            }
            // Its data says member, the ensemble says otherwise: it learns it was removed.
            (Some(Vol::Member), false) => {
                self.volumes.insert(o, Vol::Stale);
                PodPhase::Removed { seen: self.version }
            }
            (None, true) | (Some(Vol::Joiner), true) | (Some(Vol::Member), true) => {
                self.volumes.insert(o, Vol::Member);
                PodPhase::Running
            }
            (None, false) | (Some(Vol::Joiner), false) => {
                self.volumes.insert(o, Vol::Joiner);
                PodPhase::Running
            }
        };
        self.pods.get_mut(&o).unwrap().phase = phase;
    }

    fn observe(&self) -> Observed {
        let quorum = self.quorum();
        let mut obs = Observed::new(self.names.clone());
        obs.generation = Some(1);
        for (&o, p) in &self.pods {
            let serving = p.phase == PodPhase::Running && quorum;
            let mode = match &p.phase {
                PodPhase::Running if !quorum => Some(Mode::NotServing),
                PodPhase::Running if self.leader == Some(o) => Some(Mode::Leader),
                PodPhase::Running if self.is_participant(o) => Some(Mode::Follower),
                PodPhase::Running => Some(Mode::Observer),
                PodPhase::Removed { .. } => Some(Mode::NotServing),
                _ => None,
            };
            let config_version = match p.phase {
                PodPhase::Removed { seen } => Some(seen),
                _ if serving => Some(self.version),
                _ => None,
            };
            obs.pods.insert(
                o,
                PodObservation {
                    exists: true,
                    revision: p.revision.clone(),
                    version: p.version.clone(),
                    ready: serving,
                    mode,
                    zxid: serving.then_some(self.zxid),
                    config_version,
                    synced: serving,
                },
            );
        }
        if quorum {
            let servers =
                self.participants.iter().flatten().map(|&o| ServerEntry::for_pod(&self.names, o, Role::Participant));
            obs.committed = Some(DynamicConfig { servers: servers.collect(), version: Some(self.version) });
        }
        obs.statefulset = self.sts.as_ref().map(|s| StatefulSetObservation {
            replicas: s.replicas,
            update_revision: s.update.clone(),
            current_revision: s.current.clone(),
            partition: s.partition,
        });
        obs.volumes = self.volumes.keys().copied().collect();
        obs.last_write_ok_after_config = self.probe_ok;
        obs.status = self.status.clone();
        obs
    }

    fn commit_config(&mut self) {
        self.zxid += 1;
        assert!(self.zxid > self.version, "config versions strictly increase");
        self.version = self.zxid;
        self.config_versions.push(self.version);
    }

    fn apply(&mut self, action: &Action) {
        match action {
            Action::EnsureStatefulSet { replicas, update_revision, partition } => {
                let created = self.sts.is_none();
                let sts = self.sts.get_or_insert_with(|| Sts {
                    replicas: 0,
                    update: update_revision.clone(),
                    current: update_revision.clone(),
                    partition: *partition,
                });
                sts.update.clone_from(update_revision);
                sts.partition = *partition;
                let before = if created { 0 } else { sts.replicas };
                sts.replicas = *replicas;
                for o in before..*replicas {
                    if !self.pods.contains_key(&o) {
                        self.create_pod(o);
                    }
                }
                for o in *replicas..before {
                    if let Some(p) = self.pods.get_mut(&o) {
                        p.phase = PodPhase::Terminating;
                    }
                }
            }
            Action::DeletePod { ordinal, revision, .. } => {
                // Conditional on the revision, as the executor does it.
                if self.pods.get(ordinal).is_some_and(|p| p.revision == *revision) {
                    self.pods.remove(ordinal);
                    *self.restarts.entry(*ordinal).or_default() += 1;
                    if self.leader == Some(*ordinal) {
                        self.leader_restarts += 1;
                        self.leader = None;
                    }
                }
            }
            Action::ReconfigAdd { entry, expected_version } => {
                if self.quorum() && *expected_version == self.version {
                    let o = ordinal_of(entry.id).unwrap();
                    self.participants.as_mut().unwrap().insert(o);
                    self.commit_config();
                    if self.running(o) {
                        self.volumes.insert(o, Vol::Member);
                    }
                }
            }
            Action::ReconfigRemove { id, expected_version } => {
                if self.quorum() && *expected_version == self.version {
                    let o = ordinal_of(*id).unwrap();
                    self.participants.as_mut().unwrap().remove(&o);
                    self.commit_config();
                    // A running member sees the commit; a stopped one learns it when it starts.
                    if let Some(p) = self.pods.get_mut(&o).filter(|p| p.phase == PodPhase::Running) {
                        p.phase = PodPhase::Removed { seen: self.version };
                        self.volumes.insert(o, Vol::Stale);
                    }
                    if self.leader == Some(o) {
                        self.leader = None;
                    }
                }
            }
            Action::ProbeWrite => {
                if self.quorum() {
                    self.zxid += 1;
                    self.probe_ok = Some(self.version);
                }
            }
            Action::ReleaseVolume { ordinal } => {
                // The executor never deletes the volume of an existing pod
                // (the invariants check that the planner does not ask to).
                if !self.pods.contains_key(ordinal) {
                    self.volumes.remove(ordinal);
                }
            }
            Action::UpdateStatus(status) => {
                let mut s = (**status).clone();
                s.stamp(&format!("t{}", self.clock));
                self.status = Some(s);
            }
            Action::Wait { .. } => {}
        }
        self.elect();
    }

    /// Time passes: stopped pods go, missing pods are recreated, booting
    /// pods come up, the StatefulSet's current revision catches up.
    fn tick(&mut self) {
        self.clock += 1;
        self.pods.retain(|_, p| p.phase != PodPhase::Terminating);
        let replicas = self.sts.as_ref().map_or(0, |s| s.replicas);
        for o in 0..replicas {
            if !self.pods.contains_key(&o) {
                self.create_pod(o);
            }
        }
        let booting: Vec<u32> =
            self.pods.iter().filter(|(_, p)| matches!(p.phase, PodPhase::Booting(_))).map(|(o, _)| *o).collect();
        for o in booting {
            let p = self.pods.get_mut(&o).unwrap();
            if let PodPhase::Booting(n) = p.phase {
                if n <= 1 {
                    self.boot(o);
                } else {
                    p.phase = PodPhase::Booting(n - 1);
                }
            }
        }
        self.elect();
        if let Some(s) = self.sts.as_mut() {
            let all_updated = (0..s.replicas).all(|o| self.pods.get(&o).is_some_and(|p| p.revision == s.update));
            if all_updated {
                s.current.clone_from(&s.update);
            }
        }
    }

    /// Chaos: one running member's process restarts in place (same revision).
    fn blip(&mut self) {
        let running: Vec<u32> =
            self.pods.iter().filter(|(_, p)| p.phase == PodPhase::Running).map(|(o, _)| *o).collect();
        if running.is_empty() {
            return;
        }
        let o = running[self.rng.random_range(0..running.len())];
        self.pods.get_mut(&o).unwrap().phase = PodPhase::Booting(1);
        self.elect();
    }

    fn revisions(&self) -> BTreeMap<u32, String> {
        self.pods.iter().map(|(o, p)| (*o, p.revision.clone())).collect()
    }
}

/// How the driver misbehaves.
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    /// Chance per step that the operator crashes mid-plan: only a prefix of
    /// the actions is applied, then it restarts with nothing but the world.
    crash: f64,
    /// Chance per step that, after a crash, the executor replays the
    /// previous plan's actions (conditional reconfigs must make this harmless).
    replay: f64,
    /// Chance per step of a member process restart (for `chaos_steps` steps).
    blip: f64,
    chaos_steps: usize,
}

#[derive(Debug)]
enum Outcome {
    Converged(usize),
    Stopped,
}

/// Drive the planner until the plan is converged (or `stop` holds),
/// checking every invariant on the way.
fn drive(
    world: &mut World,
    spec: &ZookeeperClusterSpec,
    faults: Faults,
    stop: impl Fn(&World) -> bool,
) -> Result<Outcome, String> {
    world.register(spec);
    let mut previous: Option<Plan> = None;
    for step in 0..MAX_STEPS {
        if step > 0 && stop(world) {
            return Ok(Outcome::Stopped);
        }
        let obs = world.observe();
        let p = plan(spec, &obs);
        check(spec, &obs, &p).map_err(|v| format!("step {step}: {v}\nobserved: {obs:#?}\nplan: {p:#?}"))?;
        if std::env::var_os("SIM_TRACE").is_some() {
            eprintln!("step {step:3} {:?}: {}", p.phase(), p.reason);
        }
        if p.is_converged() && p.actions.is_empty() {
            return Ok(Outcome::Converged(step));
        }
        let had_quorum = world.quorum();
        let crash = world.rng.random_bool(faults.crash);
        let n = if crash { world.rng.random_range(0..=p.actions.len()) } else { p.actions.len() };
        for a in &p.actions[..n] {
            world.apply(a);
        }
        if crash && world.rng.random_bool(faults.replay) {
            for a in previous.iter().flat_map(|p| &p.actions) {
                world.apply(a);
            }
        }
        if had_quorum && !world.quorum() {
            return Err(format!("step {step}: the plan broke quorum: {p:#?}"));
        }
        previous = (!crash).then_some(p);
        world.tick();
        if step < faults.chaos_steps && world.rng.random_bool(faults.blip) {
            world.blip();
        }
        if !world.failures.is_empty() {
            return Err(format!("step {step}: {:?}", world.failures));
        }
    }
    Err(format!("no convergence within {MAX_STEPS} steps: {:#?}", plan(spec, &world.observe())))
}

fn converge(world: &mut World, spec: &ZookeeperClusterSpec, faults: Faults) -> usize {
    match drive(world, spec, faults, |_| false) {
        Ok(Outcome::Converged(n)) => n,
        Ok(Outcome::Stopped) => unreachable!(),
        Err(e) => panic!("{e}"),
    }
}

fn run_until(world: &mut World, spec: &ZookeeperClusterSpec, stop: impl Fn(&World) -> bool) {
    match drive(world, spec, Faults::default(), stop) {
        Ok(Outcome::Stopped) => {}
        Ok(Outcome::Converged(n)) => panic!("converged after {n} steps before the stop condition"),
        Err(e) => panic!("{e}"),
    }
}

fn spec(replicas: u32, version: &str) -> ZookeeperClusterSpec {
    ZookeeperClusterSpec::new(replicas, version)
}

/// A converged ensemble of `n` members at 3.8.0, bootstrapped by the planner.
fn ensemble(n: u32, seed: u64) -> World {
    let mut w = World::new(seed);
    converge(&mut w, &spec(n, "3.8.0"), Faults::default());
    assert_eq!(w.participants, Some((0..n).collect()));
    w.restarts.clear();
    w.leader_restarts = 0;
    w
}

fn assert_settled(w: &World, s: &ZookeeperClusterSpec) {
    let target = revision(s);
    let n = s.replicas;
    assert_eq!(w.participants, Some((0..n).collect()), "membership");
    assert_eq!(w.pods.keys().copied().collect::<Vec<_>>(), (0..n).collect::<Vec<_>>(), "pods");
    for (o, p) in &w.pods {
        assert_eq!(p.phase, PodPhase::Running, "zk-{o}");
        if *o >= s.partition() {
            assert_eq!(p.revision, target, "zk-{o} revision");
        }
    }
    assert!(w.config_versions.windows(2).all(|v| v[0] < v[1]), "config versions increase: {:?}", w.config_versions);
    assert!(w.failures.is_empty(), "{:?}", w.failures);
}

// ---------------------------------------------------------------- scenarios

#[test]
fn bootstrap_from_nothing() {
    for seed in 0..5 {
        let w = ensemble(3, seed);
        assert_settled(&w, &spec(3, "3.8.0"));
        assert_eq!(w.status.as_ref().unwrap().ready_replicas, 3);
    }
}

#[test]
fn full_upgrade_restarts_each_member_once_and_the_leader_last() {
    for (n, seed) in [(3, 1), (3, 2), (5, 3), (5, 4)] {
        let mut w = ensemble(n, seed);
        let s = spec(n, "3.9.3");
        converge(&mut w, &s, Faults::default());
        assert_settled(&w, &s);
        assert_eq!(w.leader_restarts, 1, "n={n} seed={seed}");
        assert_eq!(w.restarts, (0..n).map(|o| (o, 1)).collect(), "n={n}");
        assert!(w.pods.values().all(|p| p.version == "3.9.3"));
        assert_eq!(w.status.as_ref().unwrap().current_version.as_deref(), Some("3.9.3"));
    }
}

#[test]
fn partitioned_upgrade_2_then_1_then_0() {
    let mut w = ensemble(3, 7);
    let old = revision(&spec(3, "3.8.0"));
    let mut s = spec(3, "3.9.3");
    let new = revision(&s);
    let mut total = BTreeMap::new();
    for (partition, updated) in [(2, vec![2]), (1, vec![1, 2]), (0, vec![0, 1, 2])] {
        s.update_strategy.partition = partition;
        w.leader_restarts = 0;
        w.restarts.clear();
        converge(&mut w, &s, Faults::default());
        assert_settled(&w, &s);
        assert!(w.leader_restarts <= 1, "the leader restarts at most once per stage");
        for (o, r) in w.revisions() {
            let want = if updated.contains(&o) { &new } else { &old };
            assert_eq!(&r, want, "partition {partition}: zk-{o}");
        }
        assert!(w.restarts.keys().all(|&o| o >= partition), "nothing below the partition restarted");
        for (o, n) in &w.restarts {
            *total.entry(*o).or_insert(0) += n;
        }
    }
    assert_eq!(total, BTreeMap::from([(0, 1), (1, 1), (2, 1)]), "each member restarted once in the whole upgrade");
}

#[test]
fn a_below_partition_pod_that_dies_comes_back_at_the_old_revision() {
    let mut w = ensemble(3, 8);
    let old = revision(&spec(3, "3.8.0"));
    let mut s = spec(3, "3.9.3");
    s.update_strategy.partition = 2;
    converge(&mut w, &s, Faults::default());
    // Someone else deletes zk-0: the StatefulSet recreates it at the current revision.
    let revision = w.pods[&0].revision.clone();
    w.apply(&Action::DeletePod { ordinal: 0, revision, reason: "chaos".into() });
    w.tick();
    converge(&mut w, &s, Faults::default());
    assert_eq!(w.pods[&0].revision, old);
}

#[test]
fn scale_3_to_5_to_3() {
    for seed in 0..4 {
        let mut w = ensemble(3, seed);
        let up = spec(5, "3.8.0");
        converge(&mut w, &up, Faults::default());
        assert_settled(&w, &up);
        assert_eq!(w.config_versions.len(), 3, "bootstrap + two adds");
        assert!(w.restarts.is_empty(), "scaling up restarts nobody");
        let down = spec(3, "3.8.0");
        converge(&mut w, &down, Faults::default());
        assert_settled(&w, &down);
        assert_eq!(w.config_versions.len(), 5, "+ two removes");
        assert_eq!(w.volumes.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2], "Delete releases");
        // And up again: the released volumes do not come back stale.
        converge(&mut w, &up, Faults::default());
        assert_settled(&w, &up);
    }
}

#[test]
fn retained_volumes_block_scale_up_until_removed() {
    let mut w = ensemble(3, 5);
    let mut s = spec(5, "3.8.0");
    s.storage_reclaim_policy = StorageReclaimPolicy::Retain;
    converge(&mut w, &s, Faults::default());
    s.replicas = 3;
    converge(&mut w, &s, Faults::default());
    assert_eq!(w.volumes.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4], "Retain keeps");
    s.replicas = 4;
    let err = drive(&mut w, &s, Faults::default(), |_| false).unwrap_err();
    assert!(err.contains("retained volume of zk-3"), "{err}");
    assert!(w.failures.is_empty(), "never started on the stale volume");
    // An administrator deletes the volume; scale-up proceeds.
    w.volumes.remove(&3);
    converge(&mut w, &s, Faults::default());
    assert_settled(&w, &s);
}

#[test]
fn spec_change_mid_rollout_scale_up() {
    // Upgrade 3 members, and halfway through ask for 5.
    let mut w = ensemble(3, 11);
    let s = spec(3, "3.9.3");
    run_until(&mut w, &s, |w| w.restarts.len() == 2);
    let updated_before: Vec<u32> =
        w.revisions().into_iter().filter(|(_, r)| *r == revision(&s)).map(|(o, _)| o).collect();
    let s5 = spec(5, "3.9.3");
    converge(&mut w, &s5, Faults::default());
    assert_settled(&w, &s5);
    for o in updated_before {
        assert_eq!(w.restarts[&o], 1, "zk-{o} was done and is not restarted again");
    }
    assert!(!w.restarts.contains_key(&3) && !w.restarts.contains_key(&4), "new members start at the new revision");
}

#[test]
fn spec_change_mid_rollout_revert() {
    // Upgrade 5 members; after two are done, go back to 3.8.0. Only the
    // updated ones are rolled back, each once; the others are never touched.
    let mut w = ensemble(5, 12);
    let s = spec(5, "3.9.3");
    run_until(&mut w, &s, |w| w.restarts.len() == 2 && w.pods.values().all(|p| p.phase == PodPhase::Running));
    let touched: BTreeSet<u32> = w.restarts.keys().copied().collect();
    let back = spec(5, "3.8.0");
    converge(&mut w, &back, Faults::default());
    assert_settled(&w, &back);
    for o in 0..5 {
        let want = if touched.contains(&o) { 2 } else { 0 };
        assert_eq!(w.restarts.get(&o).copied().unwrap_or(0), want, "zk-{o}");
    }
}

#[test]
fn spec_change_mid_scale_up() {
    // Scaling 3 -> 5, and while the first joiner starts, a new version.
    for seed in 0..6 {
        let mut w = ensemble(3, 20 + seed);
        let s = spec(5, "3.8.0");
        run_until(&mut w, &s, |w| w.pods.contains_key(&3));
        let s2 = spec(5, "3.9.3");
        converge(&mut w, &s2, Faults::default());
        assert_settled(&w, &s2);
    }
}

#[test]
fn spec_change_mid_scale_down() {
    // Scaling 5 -> 3; once zk-4 was removed from the config, back to 5. The
    // removed member must not be restarted on its stale volume.
    for seed in 0..6 {
        let mut w = ensemble(5, 30 + seed);
        let s = spec(3, "3.8.0");
        run_until(&mut w, &s, |w| !w.is_participant(4));
        let s5 = spec(5, "3.8.0");
        converge(&mut w, &s5, Faults::default());
        assert_settled(&w, &s5);
    }
}

#[test]
fn crashes_at_random_steps_still_converge() {
    let faults = Faults { crash: 0.25, replay: 0.5, ..Faults::default() };
    for seed in 0..12 {
        let mut w = World::new(100 + seed);
        let mut s = spec(3, "3.8.0");
        converge(&mut w, &s, faults);
        s.version = "3.9.3".into();
        converge(&mut w, &s, faults);
        assert_settled(&w, &s);
        s.replicas = 5;
        converge(&mut w, &s, faults);
        assert_settled(&w, &s);
        s.rolling_restart = Some("again".into());
        converge(&mut w, &s, faults);
        assert_settled(&w, &s);
        s.replicas = 3;
        converge(&mut w, &s, faults);
        assert_settled(&w, &s);
    }
}

#[test]
fn member_restarts_during_operations_never_break_an_invariant() {
    let faults = Faults { blip: 0.2, chaos_steps: 40, ..Faults::default() };
    for seed in 0..12 {
        let mut w = ensemble(5, 200 + seed);
        let s = spec(5, "3.9.3");
        converge(&mut w, &s, faults);
        assert_settled(&w, &s);
        let s = spec(3, "3.9.3");
        converge(&mut w, &s, faults);
        assert_settled(&w, &s);
        let mut s = spec(4, "3.9.3");
        s.rolling_restart = Some("x".into());
        converge(&mut w, &s, faults);
        assert_settled(&w, &s);
    }
}
