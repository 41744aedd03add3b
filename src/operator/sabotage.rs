//! Planted operator bugs, to prove that the bundled features catch a broken
//! operator (`tests/sabotage.rs`). Test-only: compiled with the cargo
//! feature `sabotage` alone, which the crate's own tests turn on (through
//! its dev-dependency on itself) and no release or `cargo install` build
//! has. `ZK_CHAOS_SABOTAGE` picks one.
//!
//! The pure [`planner`](super::planner) knows nothing of them: each bug is a
//! transform of the plan it returns ([`plan`]), or a hook the embedded
//! operator's runtime plays ([`before_restart`], [`after_template_change`]).

use super::action::{Action, Plan};
use super::assess::Assessment;
use super::crd::ZookeeperClusterSpec;
use super::observed::Observed;
use super::planner;
use super::status::Phase;
use crate::backend::local::state::PodTemplate;
use crate::operator::supervisor::SupervisorError;
use crate::operator::supervisor::runtime::PodRuntime;
use crate::zkconfig::server_id;

/// A deliberately broken operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sabotage {
    /// Roll the leader first instead of last.
    LeaderFirst,
    /// Roll the next pod without waiting for the last one to be back, and
    /// without the majority check.
    NoWaitForReady,
    /// Scale down by stopping pods without `reconfig -remove`.
    ScaleDownWithoutReconfig,
    /// Publish phase Ready, every replica ready, as soon as the pods exist,
    /// whatever the probes say (a status derived from pod phases alone).
    ReadyWhenPodsExist,
    /// Take a config-only change by rewriting each pod's `zoo.cfg` and
    /// marking it at the new revision, without restarting its server
    /// (which reads its config only at start): the rollout is "complete"
    /// at once and no server runs the new setting. Played by the embedded
    /// operator's StatefulSet.
    ConfigWithoutRestart,
    /// Put the pods' snapshots and transaction log on scratch space that
    /// does not survive a restart of the server (as an `emptyDir` wiped by
    /// the entrypoint, or `dataLogDir` under `/tmp`): a restarted member
    /// comes back empty and resyncs, so killing a few members hides it,
    /// killing the whole ensemble loses every write. Played by the embedded
    /// operator's kubelet, which wipes `version-2` before a restart.
    ScratchData,
}

impl std::str::FromStr for Sabotage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            format!("unknown sabotage `{s}`: expected leader-first, no-wait-for-ready, scale-down-without-reconfig, ready-when-pods-exist, config-without-restart or scratch-data")
        })
    }
}

impl Sabotage {
    /// Every kind.
    pub const ALL: [Sabotage; 6] = [
        Sabotage::LeaderFirst,
        Sabotage::NoWaitForReady,
        Sabotage::ScaleDownWithoutReconfig,
        Sabotage::ReadyWhenPodsExist,
        Sabotage::ConfigWithoutRestart,
        Sabotage::ScratchData,
    ];

    /// The sabotage `ZK_CHAOS_SABOTAGE` asks for, if any; an unknown name
    /// is an error.
    pub fn from_env() -> Result<Option<Self>, String> {
        match std::env::var(super::SABOTAGE_ENV) {
            Ok(v) => v.parse().map(Some),
            Err(_) => Ok(None),
        }
    }
}

/// [`planner::plan`], broken by `sabotage`.
pub fn plan(spec: &ZookeeperClusterSpec, observed: &Observed, sabotage: Option<Sabotage>) -> Plan {
    let mut plan = planner::plan(spec, observed);
    let Some(s) = sabotage else { return plan };
    let facts = Assessment::of(spec, observed);
    match s {
        Sabotage::LeaderFirst => leader_first(&mut plan, &facts, observed),
        Sabotage::NoWaitForReady => no_wait_for_ready(&mut plan, &facts, observed),
        Sabotage::ScaleDownWithoutReconfig => scale_down_without_reconfig(&mut plan, spec, &facts, observed),
        Sabotage::ReadyWhenPodsExist => ready_when_pods_exist(&mut plan, observed),
        Sabotage::ConfigWithoutRestart | Sabotage::ScratchData => {}
    }
    plan
}

/// A rollout restart goes to the out-of-date leader while it is healthy.
fn leader_first(plan: &mut Plan, facts: &Assessment, observed: &Observed) {
    let Some(l) = facts.leader().filter(|l| facts.unhealthy.is_empty() && facts.outdated.contains(l)) else {
        return;
    };
    for a in &mut plan.actions {
        if let Action::DeletePod { ordinal, revision, reason } = a {
            *ordinal = l;
            *revision = observed.pod(l).map(|p| p.revision.clone()).unwrap_or_default();
            *reason = "SABOTAGE: rolling the leader first".into();
        }
    }
}

/// Whether `a` changes the world (beyond the status).
fn is_step(a: &Action, observed: &Observed) -> bool {
    let current = observed.statefulset.as_ref().map_or(0, |s| s.replicas);
    a.is_disruptive(current) || matches!(a, Action::ProbeWrite | Action::ReleaseVolume { .. })
}

/// While pods are out of date, the rollout never waits for a restarted pod
/// to be back: every round restarts one more, so the round that restarts a
/// pod also restarts the next (two members down at once, whatever the
/// timing), and a round that would wait restarts the next anyway.
fn no_wait_for_ready(plan: &mut Plan, facts: &Assessment, observed: &Observed) {
    let deleting: Vec<u32> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::DeletePod { ordinal, .. } => Some(*ordinal),
            _ => None,
        })
        .collect();
    if plan.actions.iter().any(|a| is_step(a, observed) && !matches!(a, Action::DeletePod { .. })) {
        return;
    }
    let candidates = || facts.outdated.iter().rev().filter(|o| !deleting.contains(o));
    let next = candidates().find(|o| !facts.unhealthy.contains(o)).or(candidates().next());
    let Some(&t) = next else { return };
    plan.actions.retain(|a| !matches!(a, Action::Wait { .. }));
    let revision = observed.pod(t).map(|p| p.revision.clone()).unwrap_or_default();
    let reason = "SABOTAGE: rolling without waiting".to_string();
    plan.actions.push(Action::DeletePod { ordinal: t, revision, reason: reason.clone() });
    plan.reason = reason;
}

/// Scale-down shrinks the StatefulSet at once and never `reconfig
/// -remove`s a member: the removed pods stay voters of the committed config.
fn scale_down_without_reconfig(plan: &mut Plan, spec: &ZookeeperClusterSpec, facts: &Assessment, observed: &Observed) {
    let gone: Vec<u64> = facts.beyond.iter().filter(|&&o| o >= facts.desired).map(|&o| server_id(o)).collect();
    plan.actions.retain(|a| !matches!(a, Action::ReconfigRemove { id, .. } if gone.contains(id)));
    if observed.statefulset.as_ref().is_some_and(|s| s.replicas > facts.desired) {
        plan.actions.retain(|a| !is_step(a, observed) && !matches!(a, Action::EnsureStatefulSet { .. }));
        let shrink = Action::EnsureStatefulSet {
            replicas: facts.desired,
            update_revision: facts.target_revision.clone(),
            partition: spec.partition(),
        };
        plan.actions.insert(0, shrink);
        plan.reason = "SABOTAGE: scaling down without reconfig".into();
    }
}

/// The status says Ready, every replica ready, as soon as the pods exist.
fn ready_when_pods_exist(plan: &mut Plan, observed: &Observed) {
    if observed.pods.is_empty() {
        return;
    }
    let status = &mut plan.status;
    status.phase = Some(Phase::Ready);
    status.ready_replicas = observed.pods.len() as u32;
    for m in &mut status.members {
        m.ready = true;
    }
    plan.actions.retain(|a| !matches!(a, Action::UpdateStatus(_)));
    if observed.status.as_ref() != Some(&plan.status) {
        plan.actions.push(Action::UpdateStatus(Box::new(plan.status.clone())));
    }
}

/// Kubelet is about to restart pod `ordinal`'s exited server: under
/// `scratch-data` its data was on scratch space and is gone.
pub async fn before_restart<E: PodRuntime>(sabotage: Option<Sabotage>, ens: &mut E, ordinal: u32) {
    if sabotage == Some(Sabotage::ScratchData) {
        ens.wipe_data(ordinal).await;
    }
}

/// The StatefulSet's template became `template`: under
/// `config-without-restart` every pod of the same ZooKeeper version gets it
/// in place (its `zoo.cfg` rewritten, its revision bumped), no restart.
pub async fn after_template_change<E: PodRuntime>(
    sabotage: Option<Sabotage>,
    ens: &mut E,
    template: &PodTemplate,
) -> Result<(), SupervisorError> {
    if sabotage != Some(Sabotage::ConfigWithoutRestart) {
        return Ok(());
    }
    let same_version: Vec<u32> = ens
        .templates()
        .into_iter()
        .filter(|(_, t)| t.version == template.version && t.revision != template.revision)
        .map(|(o, _)| o)
        .collect();
    for o in same_version {
        ens.set_pod_template(o, template).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::revision::revision;
    use crate::operator::testkit::*;

    const V1: u64 = 0x1_0000_0000;

    fn spec(replicas: u32, version: &str) -> ZookeeperClusterSpec {
        ZookeeperClusterSpec::new(replicas, version)
    }

    #[test]
    fn every_name_parses_back() {
        for s in Sabotage::ALL {
            let name = serde_json::to_value(s).unwrap();
            assert_eq!(name.as_str().unwrap().parse::<Sabotage>(), Ok(s));
        }
        assert!("leader-last".parse::<Sabotage>().unwrap_err().contains("unknown sabotage"));
    }

    #[test]
    fn without_a_sabotage_the_plan_is_the_planners() {
        let (s, obs) = (spec(3, "3.9.3"), healthy(3, &revision(&spec(3, "3.8.0")), V1).build());
        assert_eq!(plan(&s, &obs, None), planner::plan(&s, &obs));
    }

    #[test]
    fn leader_first_rolls_the_leader_where_the_planner_rolls_a_follower() {
        let (s, obs) = (spec(3, "3.9.3"), healthy(3, &revision(&spec(3, "3.8.0")), V1).build());
        assert_eq!(deletes(&planner::plan(&s, &obs)), vec![1]);
        assert_eq!(deletes(&plan(&s, &obs, Some(Sabotage::LeaderFirst))), vec![2]);
    }

    #[test]
    fn no_wait_for_ready_rolls_while_a_member_is_down() {
        let (o, n) = (revision(&spec(3, "3.8.0")), revision(&spec(3, "3.9.3")));
        let obs = observed()
            .sts_with(3, &n, &o, 0)
            .committed(0..3, V1)
            .pod(0, &o, follower().config(V1))
            .pod(1, &n, booting())
            .pod(2, &o, leader().config(V1))
            .build();
        let s = spec(3, "3.9.3");
        assert_eq!(deletes(&planner::plan(&s, &obs)), Vec::<u32>::new());
        assert_eq!(deletes(&plan(&s, &obs, Some(Sabotage::NoWaitForReady))), vec![2]);
        // The round that restarts a pod restarts the next one too.
        let (s, obs) = (spec(3, "3.9.3"), healthy(3, &o, V1).build());
        assert_eq!(deletes(&planner::plan(&s, &obs)), vec![1]);
        assert_eq!(deletes(&plan(&s, &obs, Some(Sabotage::NoWaitForReady))), vec![1, 2]);
    }

    #[test]
    fn scale_down_without_reconfig_shrinks_the_statefulset_and_never_removes() {
        let r = revision(&spec(3, "3.9.3"));
        let (s, obs) = (spec(3, "3.9.3"), healthy(5, &r, V1).build());
        assert!(planner::plan(&s, &obs).actions.iter().any(|a| matches!(a, Action::ReconfigRemove { .. })));
        let p = plan(&s, &obs, Some(Sabotage::ScaleDownWithoutReconfig));
        assert!(p.actions.iter().all(|a| !matches!(a, Action::ReconfigRemove { .. })), "{p:?}");
        assert!(p.actions.iter().any(|a| matches!(a, Action::EnsureStatefulSet { replicas: 3, .. })), "{p:?}");
        // Members 3 and 4 left without reconfig stay voters: never removed.
        let left = observed().sts(3, &r).committed(0..5, V1).pod(0, &r, follower().config(V1));
        let left = left.pod(1, &r, follower().config(V1)).pod(2, &r, leader().config(V1)).build();
        let p = plan(&s, &left, Some(Sabotage::ScaleDownWithoutReconfig));
        assert!(p.actions.iter().all(|a| !matches!(a, Action::ReconfigRemove { .. })), "{p:?}");
    }

    #[test]
    fn ready_when_pods_exist_reports_ready_for_pods_that_do_not_serve() {
        let r = revision(&spec(3, "3.9.3"));
        let obs = observed().sts(3, &r).pod(0, &r, not_serving()).pod(1, &r, not_serving()).build();
        let s = spec(3, "3.9.3");
        assert_ne!(planner::plan(&s, &obs).status.phase, Some(Phase::Ready));
        let p = plan(&s, &obs, Some(Sabotage::ReadyWhenPodsExist));
        assert_eq!(p.status.phase, Some(Phase::Ready));
        assert_eq!(p.status.ready_replicas, 2);
        assert_eq!(p.actions.last(), Some(&Action::UpdateStatus(Box::new(p.status.clone()))));
    }
}
