//! The quorum checker and the availability figures on hand-written samples.

use std::net::Ipv4Addr;

use zk_chaos::check::{Verdict, availability, quorum};
use zk_chaos::history::{Call, Operation, Outcome, Ret, StatLite, Value};
use zk_chaos::probe::parse::Srvr;
use zk_chaos::probe::{EnsembleStatus, MemberStatus, Mode};
use zk_chaos::zkconfig::{DynamicConfig, EnsembleNames, server_id};

const V: u64 = 0x1_0000_0000;
const S: u64 = 1_000_000_000;

/// A member in `mode` (None: not serving) following `leader` (an ordinal),
/// on config version `config`, at last zxid `zxid`.
fn member(ordinal: u32, mode: Option<Mode>, leader: u32, config: u64, zxid: u64) -> MemberStatus {
    let mut membership = DynamicConfig::for_replicas(&EnsembleNames::new("zk", "default"), 3);
    membership.version = Some(config);
    MemberStatus {
        ordinal,
        addr: Ipv4Addr::new(10, 0, 0, 10 + ordinal as u8),
        srvr: mode.map(|mode| Srvr { version: "3.8.4".into(), zxid, mode, node_count: 5, connections: 1 }),
        not_serving: mode.is_none(),
        config_version: mode.map(|_| config),
        membership: mode.map(|_| membership),
        uptime_ms: Some(1000),
        instance: None,
        synced_followers: None,
        peer_state: mode
            .map(|m| if m == Mode::Leader { "leading - broadcast" } else { "following - broadcast" }.into()),
        leader_id: mode.map(|_| server_id(leader)),
        error: None,
    }
}

/// A healthy round led by `leader` at epoch `epoch`.
fn healthy(leader: u32, epoch: u64) -> EnsembleStatus {
    let z = (epoch << 32) | 7;
    EnsembleStatus::judge(
        (0..3)
            .map(|o| member(o, Some(if o == leader { Mode::Leader } else { Mode::Follower }), leader, V, z))
            .collect(),
    )
}

#[track_caller]
fn assert_invalid(v: &Verdict, needle: &str) {
    match v {
        Verdict::Invalid { evidence } => {
            assert!(evidence.iter().any(|e| e.contains(needle)), "no evidence mentions `{needle}`: {evidence:#?}")
        }
        other => panic!("expected invalid ({needle}): {other:?}"),
    }
}

#[test]
fn a_steady_ensemble_is_valid_and_leader_changes_are_counted() {
    let no_leader = EnsembleStatus::judge(vec![
        member(0, None, 0, V, 0),
        member(1, Some(Mode::Follower), 1, V, 1 << 32),
        member(2, Some(Mode::Follower), 1, V, 1 << 32),
    ]);
    let samples = vec![
        (0, healthy(1, 1)),
        (S, no_leader.clone()),
        (2 * S, healthy(2, 2)),
        (3 * S, no_leader),
        (4 * S, healthy(2, 3)), // re-elected: same member, new epoch
        (5 * S, healthy(0, 4)),
        (6 * S, healthy(0, 4)),
    ];
    let r = quorum::check(&samples, 5 * S);
    assert!(r.verdict.is_valid(), "{:?}", r.verdict);
    assert_eq!(r.leader_changes, 2);
    assert_eq!(r.leaders_seen, vec![1, 2, 0]);
    assert_eq!(r.epoch_changes, 3);
    assert_eq!((r.samples, r.samples_after_settle, r.samples_with_quorum), (7, 2, 5));
    assert_eq!((r.stable_at_ns, r.settle_lag_ns, r.final_leader), (Some(5 * S), Some(0), Some(0)));
    assert_eq!(r.final_config_versions, vec![V]);
    // Order of the samples does not matter.
    let mut shuffled = samples.clone();
    shuffled.reverse();
    assert_eq!(quorum::check(&shuffled, 5 * S), r);
}

#[test]
fn two_leaders_after_settle_are_invalid_but_not_before() {
    let split = EnsembleStatus::judge(vec![
        member(0, Some(Mode::Leader), 0, V, V + 7),
        member(1, Some(Mode::Leader), 1, V, V + 7),
        member(2, Some(Mode::Follower), 1, V, V + 7),
    ]);
    let samples = vec![(0, healthy(0, 1)), (S, split.clone()), (2 * S, healthy(1, 1)), (3 * S, healthy(1, 1))];
    let r = quorum::check(&samples, 2 * S);
    assert!(r.verdict.is_valid(), "a fault may briefly leave two leaders: {:?}", r.verdict);
    let samples = vec![(0, healthy(0, 1)), (S, healthy(1, 1)), (2 * S, split), (3 * S, healthy(1, 1))];
    let r = quorum::check(&samples, S);
    assert_invalid(&r.verdict, "2 members claim to lead");
    assert_eq!(r.split_brain_samples, 1);
}

#[test]
fn losing_quorum_after_being_stable_or_never_regaining_it_is_invalid() {
    let minority = EnsembleStatus::judge(vec![
        member(0, None, 0, V, 0),
        member(1, Some(Mode::Leader), 1, V, V + 7),
        member(2, None, 0, V, 0),
    ]);
    let lagging = vec![(0, minority.clone()), (S, healthy(1, 1)), (2 * S, healthy(1, 1))];
    let r = quorum::check(&lagging, 0);
    assert!(r.verdict.is_valid(), "{:?}", r.verdict);
    assert_eq!(r.settle_lag_ns, Some(S));
    let lost = vec![(0, healthy(1, 1)), (S, minority.clone()), (2 * S, healthy(1, 1))];
    assert_invalid(&quorum::check(&lost, 0).verdict, "quorum lost at 1000000000 ns");
    let never = vec![(0, minority.clone()), (S, minority)];
    assert_invalid(&quorum::check(&never, 0).verdict, "no quorum in any of the 2 samples");
}

/// `round` from the settle point (0) through a 5 s settle bound, every 250 ms.
fn through_bound(round: &EnsembleStatus) -> Vec<(u64, EnsembleStatus)> {
    (0..=20).map(|i| (i * S / 4, round.clone())).collect()
}

#[test]
fn members_still_disagreeing_at_the_settle_bound_are_invalid() {
    let configs = EnsembleStatus::judge(vec![
        member(0, Some(Mode::Follower), 1, V, V + 7),
        member(1, Some(Mode::Leader), 1, V, V + 7),
        member(2, Some(Mode::Follower), 1, V + 3, V + 7),
    ]);
    let r = quorum::check_within(&through_bound(&configs), 0, 5 * S);
    assert_invalid(&r.verdict, "members disagree on the config version");
    assert_eq!(r.final_config_versions, vec![V, V + 3]);

    let zxids = EnsembleStatus::judge(vec![
        member(0, Some(Mode::Follower), 1, V, V + 7),
        member(1, Some(Mode::Leader), 1, V, V + 9),
        member(2, Some(Mode::Follower), 1, V, V + 9),
    ]);
    let r = quorum::check_within(&through_bound(&zxids), 0, 5 * S);
    assert_invalid(&r.verdict, "members disagree on the last zxid");
    // The same disagreement, caught once and then resolved within the
    // bound, is a commit in flight, not a divergence.
    let r = quorum::check_within(&[(0, zxids.clone()), (S / 4, healthy(1, 1))], 0, 5 * S);
    assert!(r.verdict.is_valid(), "{:?}", r.verdict);
    assert_eq!(r.converged_at_ns, Some(S / 4));
    // Caught once, with nothing after it: undecided, never a pass or a failure.
    let r = quorum::check_within(&[(0, healthy(1, 1)), (S, zxids)], S / 2, 5 * S);
    assert!(matches!(r.verdict, Verdict::Unknown { .. }), "{:?}", r.verdict);

    let down = EnsembleStatus::judge(vec![
        member(0, None, 1, V, 0),
        member(1, Some(Mode::Leader), 1, V, V + 7),
        member(2, Some(Mode::Follower), 1, V, V + 7),
    ]);
    let r = quorum::check_within(&through_bound(&down), 0, 5 * S);
    assert_invalid(&r.verdict, "member 0 is not-serving");
}

#[test]
fn no_sample_after_settle_is_unknown() {
    let r = quorum::check(&[(0, healthy(1, 1))], S);
    assert!(matches!(r.verdict, Verdict::Unknown { .. }), "{:?}", r.verdict);
    assert!(matches!(quorum::check(&[], 0).verdict, Verdict::Unknown { .. }));
}

// ------------------------------------------------------------ availability

fn write(id: u64, t0: u64, t1: Option<u64>, outcome: Outcome) -> Operation {
    Operation {
        id,
        client: 0,
        session: 1,
        invoke_ns: t0,
        complete_ns: t1,
        call: Call::Set { path: "/k".into(), value: Value::new(0, id) },
        outcome,
        zxid: None,
    }
}
fn ok() -> Outcome {
    Outcome::Ok { ret: Ret::Written { stat: StatLite { czxid: 1, mzxid: 1, version: 0 } } }
}

#[test]
fn availability_windows_and_recovery_times() {
    let ms = 1_000_000;
    let ops = vec![
        write(1, 0, Some(10 * ms), ok()),
        write(2, 20 * ms, Some(30 * ms), ok()),
        // Fault at 100 ms: writes time out until 2.5 s.
        write(3, 100 * ms, Some(1100 * ms), Outcome::Unknown { error: "timeout".into() }),
        write(4, 1200 * ms, Some(1300 * ms), Outcome::Fail { error: "NoNode".into() }),
        write(5, 2500 * ms, Some(2600 * ms), ok()),
        // Heal at 3 s; then nothing succeeds until the end (an in-flight write does not count).
        write(6, 2900 * ms, Some(3100 * ms), ok()),
        write(7, 3200 * ms, None, Outcome::Unknown { error: "never completed".into() }),
        write(8, 5000 * ms, Some(5500 * ms), Outcome::Unknown { error: "timeout".into() }),
    ];
    let faults = vec![("partition".to_string(), 100 * ms, Some(3000 * ms)), ("kill".to_string(), 6000 * ms, None)];
    let a = availability::figures(&ops, &faults);
    assert_eq!((a.writes, a.ok_writes, a.failed_writes, a.unknown_writes), (8, 4, 1, 3));
    assert_eq!(a.windows.len(), 2, "{:#?}", a.windows);
    assert_eq!((a.windows[0].start_ns, a.windows[0].end_ns), (30 * ms, 2600 * ms));
    assert!(!a.windows[0].until_end);
    assert_eq!((a.windows[1].start_ns, a.windows[1].end_ns, a.windows[1].until_end), (3100 * ms, 5500 * ms, true));
    assert_eq!(a.longest_window.as_ref().map(|w| w.duration_ns), Some(2570 * ms));
    assert_eq!(a.faults[0].first_write_after_start_ns, Some(2500 * ms));
    assert_eq!(a.faults[0].first_write_after_heal_ns, None);
    assert_eq!(a.faults[1].first_write_after_start_ns, None);
    // Serialisable for the report.
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<availability::Availability>(&json).unwrap(), a);
    // A lower threshold finds the short gaps too.
    assert_eq!(availability::figures_with(&ops, &faults, 5 * ms).windows.len(), 5);
    assert_eq!(availability::figures(&[], &faults).windows, vec![]);
}
