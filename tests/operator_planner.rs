//! The planner's rules, one readable fixture each.

use zk_chaos::operator::action::{Action, Plan};
use zk_chaos::operator::crd::{StorageReclaimPolicy, ZookeeperClusterSpec};
use zk_chaos::operator::observed::Observed;
use zk_chaos::operator::planner::plan;
use zk_chaos::operator::revision::revision;
use zk_chaos::operator::status::{ConditionStatus, ConditionType, Phase, ZookeeperClusterStatus};
use zk_chaos::operator::testkit::*;
use zk_chaos::zkconfig::{Role, server_id};

const V1: u64 = 0x1_0000_0000;
const V2: u64 = 0x1_0000_0005;

fn spec(replicas: u32, version: &str) -> ZookeeperClusterSpec {
    ZookeeperClusterSpec::new(replicas, version)
}

/// Revision of 3.8.0 (the "old" one in most fixtures).
fn old() -> String {
    revision(&spec(3, "3.8.0"))
}

/// Revision of 3.9.3 (the "new" one).
fn new() -> String {
    revision(&spec(3, "3.9.3"))
}

/// The plan's actions without the trailing status update.
fn steps(p: &Plan) -> Vec<Action> {
    p.actions.iter().filter(|a| !matches!(a, Action::UpdateStatus(_))).cloned().collect()
}

fn ensure(replicas: u32, rev: &str, partition: u32) -> Action {
    Action::EnsureStatefulSet { replicas, update_revision: rev.into(), partition }
}

fn condition(p: &Plan, t: ConditionType) -> (ConditionStatus, String) {
    let c = p.status.condition(t).unwrap();
    (c.status, c.reason.clone())
}

fn upgrade_spec() -> ZookeeperClusterSpec {
    spec(3, "3.9.3")
}

// ---------------------------------------------------------------- bootstrap

#[test]
fn nothing_exists_creates_the_statefulset() {
    let s = spec(3, "3.8.0");
    let p = plan(&s, &observed().build());
    assert_eq!(steps(&p), vec![ensure(3, &old(), 0)]);
    assert_eq!(p.phase(), Phase::Provisioning);
    assert!(matches!(p.actions.last(), Some(Action::UpdateStatus(_))));
}

#[test]
fn without_a_committed_config_it_waits_and_deletes_nothing() {
    let s = spec(3, "3.8.0");
    let o = old();
    let obs = observed().sts(3, &o).pod(0, &o, booting()).pod(1, &o, not_serving()).pod(2, &o, booting()).build();
    let p = plan(&s, &obs);
    assert_eq!(p.steps().count(), 0);
    assert!(p.waiting().unwrap().contains("quorum"));
    assert_eq!(p.phase(), Phase::Provisioning);
}

#[test]
fn a_healthy_ensemble_at_the_target_is_ready_and_quiet() {
    let s = spec(3, "3.8.0");
    let p = plan(&s, &healthy(3, &old(), V1).build());
    assert!(p.is_converged(), "{p:#?}");
    assert_eq!(p.status.leader, Some(2));
    assert_eq!(p.status.ready_replicas, 3);
    assert_eq!(p.status.config_version.as_deref(), Some("100000000"));
    assert_eq!(p.status.current_version.as_deref(), Some("3.8.0"));
    assert_eq!(condition(&p, ConditionType::Available), (ConditionStatus::True, "QuorumPresent".into()));
    assert_eq!(condition(&p, ConditionType::Progressing), (ConditionStatus::False, "Converged".into()));
    // Publishing that status makes the next plan empty.
    let mut obs = healthy(3, &old(), V1).build();
    obs.status = Some(p.status.clone());
    assert!(plan(&s, &obs).actions.is_empty());
}

#[test]
fn the_same_observation_gives_the_same_plan() {
    let s = upgrade_spec();
    let obs = healthy(3, &old(), V1).build();
    assert_eq!(plan(&s, &obs), plan(&s, &obs));
}

// ---------------------------------------------------------------- rolling update

#[test]
fn rolling_update_starts_with_the_highest_non_leader() {
    let s = upgrade_spec();
    // Leader is zk-2 (highest id), so zk-1 goes first; the template moves in the same plan.
    let p = plan(&s, &healthy(3, &old(), V1).build());
    assert_eq!(steps(&p)[0], ensure(3, &new(), 0));
    assert_eq!(deletes(&p), vec![1]);
    assert_eq!(p.phase(), Phase::Upgrading);
}

#[test]
fn followers_first_and_the_leader_last() {
    let s = upgrade_spec();
    let (o, n) = (old(), new());
    let obs = observed()
        .sts_with(3, &n, &o, 0)
        .committed(0..3, V1)
        .pod(0, &o, follower())
        .pod(1, &n, follower().version("3.9.3"))
        .pod(2, &o, leader())
        .build();
    assert_eq!(deletes(&plan(&s, &obs)), vec![0]);
    let obs = observed()
        .sts_with(3, &n, &o, 0)
        .committed(0..3, V1)
        .pod(0, &n, follower())
        .pod(1, &n, follower())
        .pod(2, &o, leader())
        .build();
    let p = plan(&s, &obs);
    assert_eq!(deletes(&p), vec![2]);
    assert!(p.reason.contains("leader"), "{}", p.reason);
}

#[test]
fn a_restarted_member_must_be_back_and_synced_before_the_next() {
    let s = upgrade_spec();
    let (o, n) = (old(), new());
    for state in [absent(), booting(), not_serving(), lagging()] {
        let obs = observed()
            .sts_with(3, &n, &o, 0)
            .committed(0..3, V1)
            .pod(0, &o, follower())
            .pod(1, &n, state.clone())
            .pod(2, &o, leader())
            .build();
        let p = plan(&s, &obs);
        assert!(deletes(&p).is_empty(), "{state:?}: {p:#?}");
        assert!(p.waiting().unwrap().contains("zk-1"), "{state:?}");
    }
}

#[test]
fn only_ordinals_at_or_above_the_partition_are_rolled() {
    let mut s = upgrade_spec();
    s.update_strategy.partition = 2;
    let (o, n) = (old(), new());
    // zk-2 leads and is the only one at/above the partition: it is restarted.
    let p = plan(&s, &healthy(3, &o, V1).build());
    assert_eq!(deletes(&p), vec![2]);
    assert_eq!(steps(&p)[0], ensure(3, &n, 2));
    // Once zk-2 is updated, zk-0 and zk-1 are held back: nothing to do.
    let obs = observed()
        .sts_with(3, &n, &o, 2)
        .committed(0..3, V1)
        .pod(0, &o, follower())
        .pod(1, &o, leader())
        .pod(2, &n, follower().version("3.9.3"))
        .build();
    let p = plan(&s, &obs);
    assert!(p.is_converged(), "{p:#?}");
    assert_eq!(condition(&p, ConditionType::Upgrading), (ConditionStatus::True, "PartitionHold".into()));
    // Lowering the partition continues with zk-1, the leader, since it is the only candidate.
    s.update_strategy.partition = 1;
    let p = plan(&s, &obs);
    assert_eq!(deletes(&p), vec![1]);
}

#[test]
fn up_to_date_members_are_never_restarted() {
    let s = upgrade_spec();
    let n = new();
    let obs = healthy(3, &n, V1).build();
    assert!(deletes(&plan(&s, &obs)).is_empty());
    // Even when an updated member is the only unhealthy one.
    let obs = healthy(3, &n, V1).pod(1, &n, not_serving()).build();
    let p = plan(&s, &obs);
    assert!(deletes(&p).is_empty());
    assert_eq!(p.phase(), Phase::Critical);
}

#[test]
fn a_rollout_waits_while_another_member_is_down() {
    let s = upgrade_spec();
    let o = old();
    // Two members are down: nothing may be touched, even out-of-date ones.
    let obs = healthy(3, &o, V1).pod(0, &o, not_serving()).pod(1, &o, booting()).build();
    let p = plan(&s, &obs);
    assert!(deletes(&p).is_empty());
    assert_eq!(p.phase(), Phase::NotReady);
}

#[test]
fn the_only_down_member_may_be_restarted_into_the_new_revision() {
    let s = upgrade_spec();
    let o = old();
    let obs = healthy(3, &o, V1).pod(0, &o, not_serving()).build();
    let p = plan(&s, &obs);
    assert_eq!(deletes(&p), vec![0], "restarting a down member costs no quorum");
}

#[test]
fn a_member_down_at_the_new_revision_blocks_the_rollout() {
    let s = upgrade_spec();
    let (o, n) = (old(), new());
    let obs = observed()
        .sts_with(3, &n, &o, 0)
        .committed(0..3, V1)
        .pod(0, &o, follower())
        .pod(1, &o, leader())
        .pod(2, &n, not_serving())
        .build();
    let p = plan(&s, &obs);
    assert!(deletes(&p).is_empty());
    assert!(p.waiting().unwrap().contains("zk-2"));
}

#[test]
fn one_and_two_member_ensembles_cannot_be_rolled_without_losing_quorum() {
    for n in [1, 2] {
        let s = spec(n, "3.9.3");
        let p = plan(&s, &healthy(n, &revision(&spec(n, "3.8.0")), V1).build());
        assert!(deletes(&p).is_empty(), "n={n}");
        assert!(p.waiting().unwrap().contains("would leave"), "n={n}: {}", p.reason);
        assert_eq!(condition(&p, ConditionType::SpecWarning).0, ConditionStatus::True);
    }
}

#[test]
fn a_rolling_restart_token_rolls_every_member() {
    let mut s = spec(3, "3.8.0");
    s.rolling_restart = Some("now".into());
    let p = plan(&s, &healthy(3, &old(), V1).build());
    assert_eq!(deletes(&p), vec![1]);
}

#[test]
fn changing_only_the_partition_moves_the_template_without_disruption() {
    let mut s = spec(3, "3.8.0");
    s.update_strategy.partition = 1;
    let p = plan(&s, &healthy(3, &old(), V1).build());
    assert_eq!(steps(&p), vec![ensure(3, &old(), 1)]);
}

// ---------------------------------------------------------------- scale-up

#[test]
fn scale_up_starts_one_member_then_adds_it_once_it_serves() {
    let s = spec(4, "3.8.0");
    let o = old();
    let p = plan(&s, &healthy(3, &o, V1).build());
    assert_eq!(steps(&p), vec![ensure(4, &o, 0)]);
    assert_eq!(p.phase(), Phase::Scaling);

    // The joiner is starting: never reconfig -add it yet.
    for state in [absent(), booting(), not_serving().config(0)] {
        let obs = healthy(3, &o, V1).sts(4, &o).pod(3, &o, state.clone()).volumes(0..4).build();
        let p = plan(&s, &obs);
        assert_eq!(p.steps().count(), 0, "{state:?}: {p:#?}");
    }

    // It serves as an observer: add it as a participant, conditional on the version.
    let obs = healthy(3, &o, V1).sts(4, &o).pod(3, &o, observer().config(V1)).volumes(0..4).build();
    let p = plan(&s, &obs);
    let Action::ReconfigAdd { entry, expected_version } = &steps(&p)[0] else { panic!("{p:#?}") };
    assert_eq!((entry.id, entry.role, *expected_version), (server_id(3), Role::Participant, V1));
    assert_eq!(entry.host, "zk-3.zk-pods.default.svc.cluster.local");

    // Added but still observing: wait until it is a synced participant.
    let obs = healthy(3, &o, V2).sts(4, &o).committed(0..4, V2).pod(3, &o, observer()).volumes(0..4).build();
    let p = plan(&s, &obs);
    assert_eq!(p.steps().count(), 0);
    assert_ne!(p.phase(), Phase::Ready);

    // A synced follower: done.
    let obs = healthy(3, &o, V2).sts(4, &o).committed(0..4, V2).pod(3, &o, follower()).volumes(0..4).build();
    assert!(plan(&s, &obs).is_converged());
}

#[test]
fn scale_up_goes_one_member_per_step() {
    let s = spec(5, "3.8.0");
    let o = old();
    let obs = healthy(3, &o, V1).sts(4, &o).pod(3, &o, booting()).build();
    assert_eq!(plan(&s, &obs).steps().count(), 0, "no second member before the first has joined");
}

#[test]
fn scale_up_releases_a_stale_volume_before_starting_the_joiner() {
    let s = spec(4, "3.8.0");
    let o = old();
    let obs = healthy(3, &o, V1).volumes(0..4).build();
    assert_eq!(steps(&plan(&s, &obs)), vec![Action::ReleaseVolume { ordinal: 3 }]);
}

#[test]
fn with_retain_a_stale_volume_blocks_scale_up() {
    let mut s = spec(4, "3.8.0");
    s.storage_reclaim_policy = StorageReclaimPolicy::Retain;
    let obs = healthy(3, &old(), V1).volumes(0..4).build();
    let p = plan(&s, &obs);
    assert_eq!(p.steps().count(), 0);
    assert!(p.waiting().unwrap().contains("retained volume of zk-3"), "{}", p.reason);
}

#[test]
fn scale_up_waits_for_a_healthy_ensemble() {
    let s = spec(4, "3.8.0");
    let o = old();
    let obs = healthy(3, &o, V1).pod(0, &o, lagging()).build();
    assert_eq!(plan(&s, &obs).steps().count(), 0);
}

#[test]
fn a_joiner_that_cannot_start_at_an_old_revision_is_backed_out() {
    // Scale-up started at the old revision, the spec then moved on, and the
    // joiner never came up: it is not restarted in place but stopped
    // (after a probe write), its volume released, and started again.
    let s = spec(4, "3.9.3");
    let (o, n) = (old(), new());
    let obs = healthy(3, &n, V1).sts(4, &n).pod(3, &o, not_serving()).volumes(0..4).build();
    assert_eq!(steps(&plan(&s, &obs)), vec![Action::ProbeWrite]);
    let obs = healthy(3, &n, V1).sts(4, &n).pod(3, &o, not_serving()).volumes(0..4).probe_ok(V1).build();
    assert_eq!(steps(&plan(&s, &obs)), vec![ensure(3, &n, 0)]);
}

// ---------------------------------------------------------------- scale-down

#[test]
fn scale_down_removes_waits_for_commit_and_a_write_then_stops_and_releases() {
    let s = spec(3, "3.8.0");
    let o = old();
    // 1. reconfig -remove the highest ordinal, conditional on the version.
    let p = plan(&s, &healthy(4, &o, V1).build());
    assert_eq!(steps(&p), vec![Action::ReconfigRemove { id: server_id(3), expected_version: V1 }]);
    assert_eq!(p.phase(), Phase::Scaling);

    // 2. Committed without zk-3: a probe write must go through first.
    let removed = || healthy(3, &o, V2).sts(4, &o).pod(3, &o, not_serving().config(V2)).volumes(0..4);
    assert_eq!(steps(&plan(&s, &removed().build())), vec![Action::ProbeWrite]);
    // A write acknowledged before the new config does not count.
    assert_eq!(steps(&plan(&s, &removed().probe_ok(V1).build())), vec![Action::ProbeWrite]);

    // 3. Then the pod is stopped.
    assert_eq!(steps(&plan(&s, &removed().probe_ok(V2).build())), vec![ensure(3, &o, 0)]);

    // 4. Then its volume released.
    let gone = healthy(3, &o, V2).volumes(0..4).probe_ok(V2);
    assert_eq!(steps(&plan(&s, &gone.clone().build())), vec![Action::ReleaseVolume { ordinal: 3 }]);
    // ... but not while the pod is still terminating.
    let terminating = gone.clone().pod(3, &o, not_serving()).build();
    assert!(steps(&plan(&s, &terminating)).is_empty());
    assert!(plan(&s, &healthy(3, &o, V2).probe_ok(V2).build()).is_converged());
}

#[test]
fn with_retain_the_volume_stays() {
    let mut s = spec(3, "3.8.0");
    s.storage_reclaim_policy = StorageReclaimPolicy::Retain;
    let obs = healthy(3, &old(), V2).volumes(0..4).probe_ok(V2).build();
    assert!(plan(&s, &obs).is_converged());
}

#[test]
fn scale_down_never_breaks_quorum_and_goes_one_member_at_a_time() {
    let s = spec(2, "3.8.0");
    let o = old();
    // zk-0 is down: removing zk-2 would leave 1 healthy of the 2 new voters.
    let obs = healthy(3, &o, V1).pod(0, &o, not_serving()).build();
    let p = plan(&s, &obs);
    assert_eq!(p.steps().count(), 0, "{p:#?}");
    // From 5 to 3, the first step removes only zk-4.
    let p = plan(&spec(3, "3.8.0"), &healthy(5, &o, V1).build());
    assert_eq!(steps(&p), vec![Action::ReconfigRemove { id: server_id(4), expected_version: V1 }]);
}

#[test]
fn scale_down_to_one_member_is_allowed_but_never_below() {
    let o = revision(&spec(1, "3.8.0"));
    let p = plan(&spec(1, "3.8.0"), &healthy(2, &o, V1).build());
    assert_eq!(steps(&p), vec![Action::ReconfigRemove { id: server_id(1), expected_version: V1 }]);
    // replicas 0 is rejected: no step at all.
    let p = plan(&spec(0, "3.8.0"), &healthy(1, &o, V1).build());
    assert_eq!(p.steps().count(), 0);
    assert_eq!(condition(&p, ConditionType::Progressing), (ConditionStatus::False, "InvalidSpec".into()));
}

#[test]
fn a_member_without_a_pod_is_removed_or_restored() {
    let o = old();
    // The committed config still lists zk-3, whose pod is gone.
    let obs = || healthy(3, &o, V1).committed(0..4, V1);
    let p = plan(&spec(3, "3.8.0"), &obs().build());
    assert_eq!(steps(&p), vec![Action::ReconfigRemove { id: server_id(3), expected_version: V1 }]);
    let p = plan(&spec(4, "3.8.0"), &obs().volumes(0..4).build());
    assert_eq!(steps(&p), vec![ensure(4, &o, 0)], "its volume is its own: never released");
}

#[test]
fn scale_down_interrupted_by_scale_up_restarts_the_member_fresh() {
    // zk-3 was removed from the config, then replicas went back to 4. The
    // removed member's data holds a config without it ("My id 4 not in the
    // peer list" on restart): stop it, release its volume, start it anew.
    let s = spec(4, "3.8.0");
    let o = old();
    let removed = || healthy(3, &o, V2).sts(4, &o).pod(3, &o, not_serving().config(V2)).volumes(0..4);
    assert_eq!(steps(&plan(&s, &removed().build())), vec![Action::ProbeWrite]);
    assert_eq!(steps(&plan(&s, &removed().probe_ok(V2).build())), vec![ensure(3, &o, 0)]);
    let gone = healthy(3, &o, V2).volumes(0..4).probe_ok(V2).build();
    assert_eq!(steps(&plan(&s, &gone)), vec![Action::ReleaseVolume { ordinal: 3 }]);
    let clean = healthy(3, &o, V2).probe_ok(V2).build();
    assert_eq!(steps(&plan(&s, &clean)), vec![ensure(4, &o, 0)]);
}

#[test]
fn scale_down_comes_before_the_rollout() {
    let s = spec(3, "3.9.3");
    let p = plan(&s, &healthy(4, &old(), V1).build());
    assert!(p.actions.contains(&Action::ReconfigRemove { id: server_id(3), expected_version: V1 }));
    assert!(deletes(&p).is_empty());
}

// ---------------------------------------------------------------- status

#[test]
fn phases_follow_health_and_quorum() {
    let s = spec(3, "3.8.0");
    let o = old();
    let critical = plan(&s, &healthy(3, &o, V1).pod(0, &o, not_serving()).build());
    assert_eq!(critical.phase(), Phase::Critical);
    assert_eq!(condition(&critical, ConditionType::Degraded), (ConditionStatus::True, "MembersNotReady".into()));
    let obs = healthy(3, &o, V1).pod(0, &o, not_serving()).pod(1, &o, not_serving()).build();
    let lost = plan(&s, &obs);
    assert_eq!(lost.phase(), Phase::NotReady);
    assert_eq!(condition(&lost, ConditionType::Available), (ConditionStatus::False, "NoQuorum".into()));
    // Without a committed config, a cluster that was Ready is NotReady, not Provisioning.
    let mut obs = observed().sts(3, &o).pod(0, &o, not_serving()).build();
    obs.status = Some(ZookeeperClusterStatus { phase: Some(Phase::Ready), ..Default::default() });
    assert_eq!(plan(&s, &obs).phase(), Phase::NotReady);
    // Two leaders reported: not Ready.
    let obs = healthy(3, &o, V1).pod(0, &o, leader()).build();
    assert_eq!(plan(&s, &obs).phase(), Phase::Critical);
}

#[test]
fn status_reports_members_revisions_and_generation() {
    let s = upgrade_spec();
    let (o, n) = (old(), new());
    let mut obs = observed()
        .sts_with(3, &n, &o, 0)
        .committed(0..3, V1)
        .pod(0, &o, follower())
        .pod(1, &n, follower().version("3.9.3"))
        .pod(2, &o, leader())
        .build();
    obs.generation = Some(7);
    let st = plan(&s, &obs).status;
    assert_eq!(st.observed_generation, Some(7));
    assert_eq!(st.current_revision.as_deref(), Some(o.as_str()));
    assert_eq!(st.update_revision.as_deref(), Some(n.as_str()));
    assert_eq!(st.current_version.as_deref(), Some("3.8.0"));
    assert_eq!(st.target_version.as_deref(), Some("3.9.3"));
    assert_eq!(st.members.len(), 3);
    assert_eq!(st.members[1].version, "3.9.3");
    let up = st.condition(ConditionType::Upgrading).unwrap();
    assert_eq!(up.reason, "RollingUpdate");
    assert!(up.message.starts_with("1 of 3"), "{}", up.message);
}

#[test]
fn even_replicas_raise_a_warning_condition_and_still_act() {
    let s = spec(4, "3.8.0");
    let p = plan(&s, &healthy(3, &old(), V1).build());
    assert_eq!(condition(&p, ConditionType::SpecWarning), (ConditionStatus::True, "EvenReplicas".into()));
    assert_eq!(p.steps().count(), 1);
}

#[test]
fn an_invalid_spec_only_updates_the_status() {
    let mut s = spec(3, "3.9.3");
    s.config.insert("clientPort".into(), "1".into());
    let p = plan(&s, &healthy(3, &old(), V1).build());
    assert_eq!(p.steps().count(), 0);
    assert!(p.reason.contains("clientPort"), "{}", p.reason);
}

#[test]
fn condition_times_are_kept_while_unchanged() {
    let s = spec(3, "3.8.0");
    let mut obs: Observed = healthy(3, &old(), V1).build();
    let mut first = plan(&s, &obs).status;
    first.stamp("2025-01-01T00:00:00Z");
    obs.status = Some(first.clone());
    let o = old();
    let mut obs2 = healthy(3, &o, V1).pod(0, &o, lagging()).build();
    obs2.status = Some(first);
    let st = plan(&s, &obs2).status;
    let avail = st.condition(ConditionType::Available).unwrap();
    assert_eq!(avail.last_transition_time.as_deref(), Some("2025-01-01T00:00:00Z"));
    assert_eq!(st.condition(ConditionType::Degraded).unwrap().last_transition_time, None);
}

// ---------------------------------------------------------------- found by the property tests

#[test]
fn an_observer_member_is_never_stopped_before_it_is_removed() {
    // zk-3 is in the committed config as an observer and is down at an old
    // revision: stopping it would leave a config entry without a pod.
    let s = spec(4, "3.8.0");
    let o = old();
    let obs = healthy(3, &o, V1).sts(4, &o).committed_observer(3).pod(3, "other", not_serving()).build();
    let p = plan(&s, &obs);
    assert!(!p.actions.iter().any(|a| matches!(a, Action::EnsureStatefulSet { replicas: 3, .. })), "{p:#?}");
}

#[test]
fn restoring_a_member_never_starts_a_non_member_on_a_stale_volume() {
    // The config lists zk-3 but the StatefulSet has 2 pods: growing it
    // starts zk-2 first, whose leftover volume is not a member's.
    let s = spec(4, "3.8.0");
    let o = old();
    let obs = observed()
        .sts(2, &o)
        .committed([0, 1, 3], V1)
        .pod(0, &o, follower())
        .pod(1, &o, leader())
        .volumes([0, 1, 2, 3])
        .build();
    assert_eq!(steps(&plan(&s, &obs)), vec![Action::ReleaseVolume { ordinal: 2 }]);
}

#[test]
fn pod_deletion_is_conditional_on_the_observed_revision() {
    let p = plan(&upgrade_spec(), &healthy(3, &old(), V1).build());
    let Some(Action::DeletePod { revision, .. }) = p.actions.iter().find(|a| matches!(a, Action::DeletePod { .. }))
    else {
        panic!("{p:#?}")
    };
    assert_eq!(revision, &old());
}

#[test]
fn a_forming_ensemble_stays_provisioning_until_first_ready() {
    let s = spec(3, "3.8.0");
    let o = old();
    let mut obs = healthy(3, &o, V1).pod(0, &o, booting()).build();
    obs.status = Some(ZookeeperClusterStatus { phase: Some(Phase::Provisioning), ..Default::default() });
    assert_eq!(plan(&s, &obs).phase(), Phase::Provisioning);
    obs.status = Some(ZookeeperClusterStatus { phase: Some(Phase::Ready), ..Default::default() });
    assert_eq!(plan(&s, &obs).phase(), Phase::Critical);
}
