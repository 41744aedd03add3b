//! Property tests: over random observations and specs the planner never
//! breaks an invariant (see `zk_chaos::operator::invariants`), is
//! deterministic, and depends on nothing but its inputs.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, TestRunner};
use zk_chaos::operator::action::Action;
use zk_chaos::operator::crd::{StorageReclaimPolicy, ZookeeperClusterSpec};
use zk_chaos::operator::invariants::check;
use zk_chaos::operator::observed::{Mode, Observed};
use zk_chaos::operator::planner::plan;
use zk_chaos::operator::revision::revision;
use zk_chaos::operator::testkit::{PodState, booting, follower, lagging, leader, not_serving, observed, observer};

const MAX_ORDINAL: u32 = 6;
const OLD: &str = "0ld0000000";

fn spec_strategy() -> impl Strategy<Value = ZookeeperClusterSpec> {
    (0u32..=6, prop::bool::ANY, 0u32..=MAX_ORDINAL + 1, prop::bool::ANY, prop::option::of("[ab]")).prop_map(
        |(replicas, new, partition, retain, token)| {
            let mut s = ZookeeperClusterSpec::new(replicas, if new { "3.9.3" } else { "3.8.0" });
            s.update_strategy.partition = partition;
            s.rolling_restart = token;
            if retain {
                s.storage_reclaim_policy = StorageReclaimPolicy::Retain;
            }
            s
        },
    )
}

fn mode_strategy() -> impl Strategy<Value = Option<Mode>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Mode::Leader)),
        3 => Just(Some(Mode::Follower)),
        1 => Just(Some(Mode::Observer)),
        1 => Just(Some(Mode::NotServing)),
    ]
}

#[derive(Debug, Clone)]
struct PodGen {
    exists: bool,
    at_target: bool,
    ready: bool,
    synced: bool,
    mode: Option<Mode>,
    config: Option<u64>,
}

fn pod_strategy() -> impl Strategy<Value = Option<PodGen>> {
    prop::option::weighted(
        0.85,
        (
            prop::bool::weighted(0.9),
            prop::bool::ANY,
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.8),
            mode_strategy(),
            prop::option::of(1u64..=3),
        )
            .prop_map(|(exists, at_target, ready, synced, mode, config)| PodGen {
                exists,
                at_target,
                ready,
                synced,
                mode,
                config,
            }),
    )
}

/// Arbitrary observations: anything the world could report, however odd.
fn random_world() -> impl Strategy<Value = (ZookeeperClusterSpec, Observed)> {
    (
        spec_strategy(),
        prop::option::weighted(0.9, (0u32..=MAX_ORDINAL, prop::bool::ANY, 0u32..=MAX_ORDINAL)),
        prop::collection::vec(pod_strategy(), (MAX_ORDINAL + 1) as usize),
        prop::option::weighted(0.85, (0u8..128, 0u8..128, 1u64..=3)),
        0u8..128,
        prop::option::of(0u64..=3),
    )
        .prop_map(|(spec, sts, pods, committed, volumes, probe)| {
            let target = revision(&spec);
            let rev = |at_target: bool| if at_target { target.clone() } else { OLD.to_string() };
            let mut f = observed();
            if let Some((replicas, update_at_target, partition)) = sts {
                f = f.sts_with(replicas, &rev(update_at_target), OLD, partition);
            }
            if let Some((voters, observers, version)) = committed {
                f = f.committed((0..=MAX_ORDINAL).filter(|o| voters & (1 << o) != 0), version);
                for o in (0..=MAX_ORDINAL).filter(|o| observers & (1 << o) != 0 && voters & (1 << o) == 0) {
                    f = f.committed_observer(o);
                }
            }
            f = f.volumes((0..=MAX_ORDINAL).filter(|o| volumes & (1 << o) != 0));
            if let Some(p) = probe {
                f = f.probe_ok(p);
            }
            let mut obs = f.build();
            for (o, p) in pods.into_iter().enumerate() {
                let Some(p) = p else { continue };
                obs.pods.insert(
                    o as u32,
                    zk_chaos::operator::observed::PodObservation {
                        exists: p.exists,
                        revision: rev(p.at_target),
                        version: "3.8.0".into(),
                        ready: p.ready,
                        mode: p.mode,
                        zxid: None,
                        config_version: p.config,
                        synced: p.synced,
                    },
                );
            }
            (spec, obs)
        })
}

/// Observations close to a healthy ensemble, where the planner acts most.
fn near_healthy_world() -> impl Strategy<Value = (ZookeeperClusterSpec, Observed)> {
    (
        spec_strategy(),
        1u32..=MAX_ORDINAL,
        -1i32..=1,
        -1i32..=1,
        prop::collection::vec(prop::bool::ANY, (MAX_ORDINAL + 1) as usize),
        0u32..=MAX_ORDINAL,
        prop::option::of((0u32..=MAX_ORDINAL, 0usize..5)),
        0u8..128,
        prop::option::of(1u64..=2),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(spec, n, sts_delta, cfg_delta, at_target, lead, broken, extra_volumes, probe, stale_template)| {
                let target = revision(&spec);
                let rev = |o: u32| if at_target[o as usize] { target.clone() } else { OLD.to_string() };
                let r = (n as i32 + sts_delta).clamp(1, MAX_ORDINAL as i32) as u32;
                let members = (n as i32 + cfg_delta).clamp(1, MAX_ORDINAL as i32) as u32;
                let lead = lead % members;
                let mut f = observed()
                    .sts_with(r, if stale_template { OLD } else { &target }, OLD, spec.update_strategy.partition)
                    .committed(0..members, 2)
                    .volumes((0..=MAX_ORDINAL).filter(|&o| o < r.max(members) || extra_volumes & (1 << o) != 0));
                if let Some(p) = probe {
                    f = f.probe_ok(p);
                }
                for o in 0..r {
                    let state: PodState = match (o < members, o == lead) {
                        (true, true) => leader(),
                        (true, false) => follower(),
                        (false, _) => observer(),
                    };
                    f = f.pod(o, &rev(o), state.config(2));
                }
                if let Some((o, kind)) = broken {
                    let state = [booting(), not_serving(), lagging(), not_serving().config(2), leader()][kind].clone();
                    f = f.pod(o, &rev(o), state);
                }
                (spec, f.build())
            },
        )
}

proptest! {
    #![proptest_config(Config { cases: 2000, ..Config::default() })]

    #[test]
    fn random_observations_never_break_an_invariant((spec, obs) in random_world()) {
        let p = plan(&spec, &obs);
        if let Err(v) = check(&spec, &obs, &p) {
            prop_assert!(false, "{v}\nspec: {spec:?}\nobserved: {obs:#?}\nplan: {p:#?}");
        }
    }

    #[test]
    fn near_healthy_observations_never_break_an_invariant((spec, obs) in near_healthy_world()) {
        let p = plan(&spec, &obs);
        if let Err(v) = check(&spec, &obs, &p) {
            prop_assert!(false, "{v}\nspec: {spec:?}\nobserved: {obs:#?}\nplan: {p:#?}");
        }
    }

    #[test]
    fn plans_depend_only_on_their_inputs((spec, obs) in near_healthy_world()) {
        // Deterministic, and a restarted operator that reads the same world back
        // (here: through JSON) plans the same step.
        let p = plan(&spec, &obs);
        prop_assert_eq!(&p, &plan(&spec, &obs));
        let reread: Observed = serde_json::from_str(&serde_json::to_string(&obs).unwrap()).unwrap();
        prop_assert_eq!(&p, &plan(&spec, &reread));
    }

    #[test]
    fn publishing_the_status_is_a_fixed_point((spec, obs) in near_healthy_world()) {
        let p = plan(&spec, &obs);
        let mut next = obs.clone();
        next.status = Some(p.status.clone());
        let again = plan(&spec, &next);
        prop_assert!(!again.actions.iter().any(|a| matches!(a, Action::UpdateStatus(_))));
        prop_assert_eq!(again.steps().collect::<Vec<_>>(), p.steps().collect::<Vec<_>>());
    }
}

/// The generators reach every kind of action, so the properties above are
/// not vacuous.
#[test]
fn generators_exercise_every_action() {
    let mut runner = TestRunner::new(Config { cases: 1, ..Config::default() });
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    let strategy = near_healthy_world();
    for _ in 0..4000 {
        let (spec, obs) = strategy.new_tree(&mut runner).unwrap().current();
        for a in plan(&spec, &obs).actions {
            let kind = match a {
                Action::EnsureStatefulSet { replicas, .. } if replicas > obs.replicas() => "ScaleUp",
                Action::EnsureStatefulSet { replicas, .. } if replicas < obs.replicas() => "ScaleDown",
                Action::EnsureStatefulSet { .. } => "Template",
                Action::DeletePod { .. } => "DeletePod",
                Action::ReconfigAdd { .. } => "ReconfigAdd",
                Action::ReconfigRemove { .. } => "ReconfigRemove",
                Action::ProbeWrite => "ProbeWrite",
                Action::ReleaseVolume { .. } => "ReleaseVolume",
                Action::UpdateStatus(_) => "UpdateStatus",
                Action::Wait { .. } => "Wait",
            };
            *seen.entry(kind).or_default() += 1;
        }
    }
    for kind in [
        "ScaleUp",
        "ScaleDown",
        "Template",
        "DeletePod",
        "ReconfigAdd",
        "ReconfigRemove",
        "ProbeWrite",
        "ReleaseVolume",
        "UpdateStatus",
        "Wait",
    ] {
        assert!(seen.get(kind).copied().unwrap_or(0) > 10, "{kind} rarely generated: {seen:?}");
    }
}
