//! Session and durability checkers on hand-written histories (known good and
//! known bad, one anomaly each) and on histories generated from a
//! sequential in-memory store.

use std::collections::BTreeMap;

use proptest::prelude::*;
use zk_chaos::check::{Verdict, durability, session};
use zk_chaos::history::{Call, Operation, Outcome, Ret, StatLite, Value};

// ---------------------------------------------------------------- builders

fn v(writer: u32, seq: u64) -> Value {
    Value::new(writer, seq)
}
fn create(path: &str, value: Value) -> Call {
    Call::Create { path: path.into(), value }
}
fn set(path: &str, value: Value) -> Call {
    Call::Set { path: path.into(), value }
}
fn del(path: &str) -> Call {
    Call::Delete { path: path.into(), expected_version: None }
}
fn get(path: &str) -> Call {
    Call::Get { path: path.into() }
}
fn exists(path: &str) -> Call {
    Call::Exists { path: path.into() }
}
fn seq(prefix: &str, value: Value) -> Call {
    Call::CreateSequential { prefix: prefix.into(), value }
}

fn stat(zxid: i64) -> StatLite {
    StatLite { czxid: zxid, mzxid: zxid, version: 0 }
}
/// A set/CAS acknowledged at `zxid`.
fn written(zxid: i64) -> Outcome {
    Outcome::Ok { ret: Ret::Written { stat: stat(zxid) } }
}
/// A create acknowledged at `path`, with the zxid when known.
fn created(path: &str, zxid: Option<i64>) -> Outcome {
    Outcome::Ok { ret: Ret::Created { path: path.into(), stat: zxid.map(stat) } }
}
/// A set/CAS acknowledged without a usable zxid (stat of zeros).
fn acked() -> Outcome {
    Outcome::Ok { ret: Ret::Written { stat: StatLite { czxid: 0, mzxid: 0, version: 0 } } }
}
fn deleted() -> Outcome {
    Outcome::Ok { ret: Ret::Deleted }
}
/// A read that saw `value` last modified at `mzxid` (when known).
fn read(value: Value, mzxid: Option<i64>) -> Outcome {
    Outcome::Ok { ret: Ret::Read { data: Some(value.to_string()), stat: mzxid.map(stat) } }
}
fn read_text(text: &str) -> Outcome {
    Outcome::Ok { ret: Ret::Read { data: Some(text.into()), stat: None } }
}
fn no_node() -> Outcome {
    Outcome::Ok { ret: Ret::Read { data: None, stat: None } }
}
fn exists_at(mzxid: i64) -> Outcome {
    Outcome::Ok { ret: Ret::Exists { stat: Some(stat(mzxid)) } }
}
fn unknown() -> Outcome {
    Outcome::Unknown { error: "connection_loss".into() }
}
fn fail() -> Outcome {
    Outcome::Fail { error: "BadVersion".into() }
}

/// A history under construction. Each client `c` uses session `100 + c`
/// unless `in_session` says otherwise.
#[derive(Default)]
struct H {
    ops: Vec<Operation>,
}

impl H {
    /// Client `client` (session 100 + client) ran `call` from `t0` to `t1`.
    fn op(&mut self, client: u32, (t0, t1): (u64, u64), call: Call, outcome: Outcome) -> &mut Self {
        self.in_session(client, 100 + i64::from(client), (t0, t1), call, outcome)
    }
    fn in_session(
        &mut self,
        client: u32,
        session: i64,
        (t0, t1): (u64, u64),
        call: Call,
        outcome: Outcome,
    ) -> &mut Self {
        let zxid = match &outcome {
            Outcome::Ok { ret: Ret::Written { stat } } => Some(stat.mzxid),
            Outcome::Ok { ret: Ret::Created { stat: Some(s), .. } } => Some(s.czxid),
            _ => None,
        };
        self.ops.push(Operation {
            id: self.ops.len() as u64 + 1,
            client,
            session,
            invoke_ns: t0,
            complete_ns: Some(t1),
            call,
            outcome,
            zxid,
        });
        self
    }
    /// An op the client never heard back from.
    fn lost(&mut self, client: u32, t0: u64, call: Call) -> &mut Self {
        self.ops.push(Operation {
            id: self.ops.len() as u64 + 1,
            client,
            session: 100 + i64::from(client),
            invoke_ns: t0,
            complete_ns: None,
            call,
            outcome: Outcome::Unknown { error: "never completed".into() },
            zxid: None,
        });
        self
    }
}

fn fin(entries: &[(&str, Option<Value>)]) -> BTreeMap<String, Option<String>> {
    entries.iter().map(|(k, v)| (k.to_string(), v.map(|v| v.to_string()))).collect()
}

#[track_caller]
fn assert_valid(v: &Verdict) {
    assert!(v.is_valid(), "expected valid: {v:?}");
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

const Z: i64 = 0x1_0000_0000;

// -------------------------------------------------------------- durability

/// create v1, then set v2, both acknowledged, one after the other.
fn two_writes() -> H {
    let mut h = H::default();
    h.op(0, (0, 10), create("/k", v(0, 1)), created("/k", Some(Z + 1))).op(
        0,
        (20, 30),
        set("/k", v(0, 2)),
        written(Z + 2),
    );
    h
}

#[test]
fn the_last_acknowledged_write_survives() {
    let h = two_writes();
    assert_valid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 2)))])));
}

#[test]
fn a_lost_acknowledged_write_is_invalid() {
    let h = two_writes();
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 1)))])), "lost write on /k");
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", None)])), "lost write on /k");
}

#[test]
fn a_lost_write_is_found_by_real_time_alone() {
    // No zxids and different sessions: only real time orders the writes.
    let mut h = H::default();
    h.op(0, (0, 10), set("/k", v(0, 1)), acked()).op(1, (20, 30), set("/k", v(1, 1)), acked());
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 1)))])), "lost write");
    assert_valid(&durability::check(&h.ops, &fin(&[("/k", Some(v(1, 1)))])));
}

#[test]
fn concurrent_acknowledged_writes_may_end_either_way() {
    let mut h = H::default();
    h.op(0, (0, 20), set("/k", v(0, 1)), acked()).op(1, (5, 25), set("/k", v(1, 1)), acked());
    assert_valid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 1)))])));
    assert_valid(&durability::check(&h.ops, &fin(&[("/k", Some(v(1, 1)))])));
    // With zxids, the order is known.
    h.ops[0].zxid = Some(Z + 2);
    h.ops[1].zxid = Some(Z + 1);
    assert_valid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 1)))])));
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(1, 1)))])), "lost write");
}

#[test]
fn an_unknown_write_may_or_may_not_have_happened() {
    let mut h = two_writes();
    h.op(1, (40, 50), set("/k", v(1, 1)), unknown()).lost(2, 60, del("/k"));
    for end in [Some(v(0, 2)), Some(v(1, 1)), None] {
        assert_valid(&durability::check(&h.ops, &fin(&[("/k", end)])));
    }
    // ...but it cannot resurrect the value it overwrote.
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 1)))])), "lost write");
}

#[test]
fn an_unknown_write_before_an_acknowledged_one_cannot_be_last() {
    let mut h = H::default();
    h.op(1, (0, 5), set("/k", v(1, 1)), unknown()).op(0, (10, 20), create("/k", v(0, 1)), created("/k", None));
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(1, 1)))])), "lost write");
}

#[test]
fn an_acknowledged_delete_must_stick() {
    let mut h = two_writes();
    h.op(1, (40, 50), del("/k"), deleted());
    assert_valid(&durability::check(&h.ops, &fin(&[("/k", None)])));
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 2)))])), "lost write");
}

#[test]
fn a_phantom_value_is_invalid() {
    let h = two_writes();
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(7, 7)))])), "never written");
    let mut h = two_writes();
    h.op(1, (40, 50), get("/k"), read(v(7, 7), None));
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 2)))])), "phantom value at /k (read by op 3)");
    let mut h = two_writes();
    h.op(1, (40, 50), get("/k"), read_text("hello"));
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 2)))])), "not a value");
}

#[test]
fn a_value_written_elsewhere_or_by_a_failed_op_is_invalid() {
    let mut h = two_writes();
    h.op(1, (40, 50), set("/other", v(1, 1)), written(Z + 3));
    h.op(1, (60, 70), get("/k"), read(v(1, 1), None));
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 2)))])), "was only written to /other");
    let mut h = two_writes();
    h.op(1, (40, 50), Call::Cas { path: "/k".into(), value: v(1, 1), expected_version: 0 }, fail());
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(1, 1)))])), "value of a failed write");
}

#[test]
fn a_corrupted_value_is_invalid() {
    let h = two_writes();
    let good = Value::sized(0, 2, 40).to_string();
    let mut bad = good.clone().into_bytes();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'a' { b'b' } else { b'a' };
    let bad = String::from_utf8(bad).unwrap();
    let mut state = BTreeMap::new();
    state.insert("/k".to_string(), Some(bad.clone()));
    assert_invalid(&durability::check(&h.ops, &state), "corrupted value at /k (final state)");
    let mut h = two_writes();
    h.op(1, (40, 50), get("/k"), read_text(&bad));
    assert_invalid(&durability::check(&h.ops, &fin(&[("/k", Some(v(0, 2)))])), "corrupted value at /k (read");
}

#[test]
fn a_key_missing_from_the_final_state_is_undecided() {
    let h = two_writes();
    assert!(matches!(durability::check(&h.ops, &BTreeMap::new()), Verdict::Unknown { .. }));
}

const LOG: &str = "/r/log/e-";
fn entry(n: u32) -> String {
    format!("{LOG}{n:010}")
}

#[test]
fn the_sequential_log_keeps_every_acknowledged_entry() {
    let mut h = H::default();
    h.op(0, (0, 10), seq(LOG, v(0, 1)), created(&entry(0), Some(Z + 1)))
        .op(1, (5, 15), seq(LOG, v(1, 1)), unknown())
        .op(0, (20, 30), seq(LOG, v(0, 2)), created(&entry(2), Some(Z + 3)));
    let e = |n| entry(n);
    let all = [(e(0), v(0, 1)), (e(1), v(1, 1)), (e(2), v(0, 2))];
    let state = |which: &[usize]| -> BTreeMap<String, Option<String>> {
        which.iter().map(|i| (all[*i].0.clone(), Some(all[*i].1.to_string()))).collect()
    };
    assert_valid(&durability::check(&h.ops, &state(&[0, 1, 2])));
    assert_invalid(&durability::check(&h.ops, &state(&[0, 1])), "lost write");
    // The unknown create took number 1 (the counter moved) but its node vanished.
    assert_invalid(&durability::check(&h.ops, &state(&[0, 2])), "gap in the sequential log under /r/log: 1 missing");
    // The value at an acknowledged path must be the one acknowledged.
    let mut swapped = state(&[0, 1, 2]);
    swapped.insert(e(2), Some(v(1, 1).to_string()));
    swapped.insert(e(1), Some(v(0, 2).to_string()));
    assert_invalid(&durability::check(&h.ops, &swapped), "holds");
}

#[test]
fn an_unknown_create_that_never_happened_leaves_no_gap() {
    let mut h = H::default();
    h.op(0, (0, 10), seq(LOG, v(0, 1)), created(&entry(0), None)).op(1, (5, 15), seq(LOG, v(1, 1)), unknown()).op(
        0,
        (20, 30),
        seq(LOG, v(0, 2)),
        created(&entry(1), None),
    );
    let state = fin(&[(&entry(0), Some(v(0, 1))), (&entry(1), Some(v(0, 2)))]);
    assert_valid(&durability::check(&h.ops, &state));
}

#[test]
fn a_duplicated_sequential_node_is_invalid() {
    let mut h = H::default();
    h.op(0, (0, 10), seq(LOG, v(0, 1)), created(&entry(0), None));
    let state = fin(&[(&entry(0), Some(v(0, 1))), (&entry(1), Some(v(0, 1)))]);
    assert_invalid(&durability::check(&h.ops, &state), "duplicated sequential node");
    // A failed attempt does not count as an attempt.
    h.op(0, (20, 30), seq(LOG, v(0, 1)), Outcome::Fail { error: "NoNode".into() });
    assert_invalid(&durability::check(&h.ops, &state), "only 1 create attempt");
}

#[test]
fn a_retried_create_whose_first_attempt_was_unknown_may_appear_twice() {
    let mut h = H::default();
    h.op(0, (0, 10), seq(LOG, v(0, 1)), unknown()).op(0, (20, 30), seq(LOG, v(0, 1)), created(&entry(1), None));
    let twice = fin(&[(&entry(0), Some(v(0, 1))), (&entry(1), Some(v(0, 1)))]);
    assert_valid(&durability::check(&h.ops, &twice));
    let once = fin(&[(&entry(1), Some(v(0, 1)))]);
    assert_valid(&durability::check(&h.ops, &once));
    // ...but not three times.
    let mut thrice = twice.clone();
    thrice.insert(entry(2), Some(v(0, 1).to_string()));
    assert_invalid(&durability::check(&h.ops, &thrice), "duplicated sequential node");
}

#[test]
fn two_acknowledged_creates_cannot_get_the_same_number() {
    let mut h = H::default();
    h.op(0, (0, 10), seq(LOG, v(0, 1)), created(&entry(0), None)).op(
        1,
        (0, 10),
        seq(LOG, v(1, 1)),
        created(&entry(0), None),
    );
    let state = fin(&[(&entry(0), Some(v(0, 1)))]);
    assert_invalid(&durability::check(&h.ops, &state), "duplicate sequence number");
}

/// The report's "lost writes" figure comes from the checker's own list of
/// lost writes, so it agrees with the verdict: every kind of loss counts
/// (overwritten, absent, a reused sequence number, a gap), integrity
/// problems that lose nothing do not.
#[test]
fn the_lost_writes_figure_agrees_with_the_verdict() {
    let lost = |h: &H, state: &BTreeMap<String, Option<String>>| {
        let r = durability::report(&h.ops, state);
        (r.verdict.is_invalid(), r.lost_writes(), r.lost.into_iter().collect::<Vec<_>>())
    };
    let h = two_writes();
    assert_eq!(lost(&h, &fin(&[("/k", Some(v(0, 2)))])), (false, 0, vec![]));
    // Overwritten by the older value: the later set (op 2) is lost.
    assert_eq!(lost(&h, &fin(&[("/k", Some(v(0, 1)))])), (true, 1, vec!["op 2".to_string()]));
    // Absent, and no delete could have removed it.
    assert_eq!(lost(&h, &fin(&[("/k", None)])).1, 1);

    let mut h = H::default();
    h.op(0, (0, 10), seq(LOG, v(0, 1)), created(&entry(0), Some(Z + 1)))
        .op(1, (5, 15), seq(LOG, v(1, 1)), unknown())
        .op(0, (20, 30), seq(LOG, v(0, 2)), created(&entry(2), Some(Z + 3)));
    let log = |which: &[(u32, Value)]| -> BTreeMap<String, Option<String>> {
        which.iter().map(|(n, v)| (entry(*n), Some(v.to_string()))).collect()
    };
    assert_eq!(lost(&h, &log(&[(0, v(0, 1)), (1, v(1, 1))])), (true, 1, vec!["op 3".to_string()]));
    let gap = lost(&h, &log(&[(0, v(0, 1)), (2, v(0, 2))]));
    assert_eq!(gap, (true, 1, vec![format!("seq /r/log/{:010}", 1)]));

    // Two acknowledged creates given the same number: one was rolled back.
    let mut h = H::default();
    h.op(0, (0, 10), seq(LOG, v(0, 1)), created(&entry(0), None)).op(
        1,
        (0, 10),
        seq(LOG, v(1, 1)),
        created(&entry(0), None),
    );
    let (invalid, n, _) = lost(&h, &fin(&[(&entry(0), Some(v(0, 1)))]));
    assert!(invalid && n >= 1, "a reused sequence number is a lost write: {n}");

    // A corrupted value is invalid, but no write is lost.
    let h = two_writes();
    let mut bad = v(0, 2).to_string();
    bad.push('x');
    let (invalid, n, _) = lost(&h, &[("/k".to_string(), Some(bad))].into_iter().collect());
    assert!(invalid);
    assert_eq!(n, 0);
}

// ----------------------------------------------------------------- session

#[test]
fn a_session_going_back_in_time_is_invalid() {
    let mut h = two_writes();
    h.op(1, (40, 41), get("/k"), read(v(0, 2), Some(Z + 2))).op(1, (42, 43), get("/k"), read(v(0, 1), Some(Z + 1)));
    assert_invalid(&session::check(&h.ops), "monotonic reads violated in session 0x65");
}

#[test]
fn going_back_in_time_is_found_without_stats_too() {
    let mut h = two_writes();
    h.op(1, (40, 41), get("/k"), read(v(0, 2), None)).op(1, (42, 43), get("/k"), read(v(0, 1), None));
    assert_invalid(&session::check(&h.ops), "monotonic reads");
    // And an `exists` that goes back by mzxid.
    let mut h = two_writes();
    h.op(1, (40, 41), exists("/k"), exists_at(Z + 2)).op(1, (42, 43), exists("/k"), exists_at(Z + 1));
    assert_invalid(&session::check(&h.ops), "monotonic");
}

#[test]
fn read_your_writes_violation_is_invalid() {
    let mut h = two_writes();
    h.op(1, (40, 50), set("/k", v(1, 1)), written(Z + 3)).op(1, (60, 61), get("/k"), read(v(0, 2), Some(Z + 2)));
    assert_invalid(&session::check(&h.ops), "read-your-writes violated");
    // Without zxids: v(0, 1)'s write completed before the session's own write began.
    let mut h = H::default();
    h.op(0, (0, 10), set("/k", v(0, 1)), acked()).op(1, (20, 30), set("/k", v(1, 1)), acked()).op(
        1,
        (40, 41),
        get("/k"),
        read(v(0, 1), None),
    );
    assert_invalid(&session::check(&h.ops), "read-your-writes violated");
    // Reading absent after one's own write with no delete anywhere.
    let mut h = two_writes();
    h.op(1, (40, 50), set("/k", v(1, 1)), written(Z + 3)).op(1, (60, 61), get("/k"), no_node());
    assert_invalid(&session::check(&h.ops), "no delete could follow");
}

#[test]
fn reading_an_old_value_after_ones_own_delete_is_invalid() {
    let mut h = two_writes();
    h.op(1, (40, 50), del("/k"), deleted()).op(1, (60, 61), get("/k"), read(v(0, 2), None));
    assert_invalid(&session::check(&h.ops), "read-your-writes");
    let mut h = two_writes();
    h.op(1, (40, 50), del("/k"), deleted()).op(1, (60, 61), get("/k"), no_node());
    assert_valid(&session::check(&h.ops));
}

#[test]
fn a_stale_read_across_sessions_is_valid() {
    let mut h = two_writes();
    // Client 1 reads the old value long after client 0's write was acknowledged.
    h.op(1, (100, 101), get("/k"), read(v(0, 1), Some(Z + 1)));
    // Client 2 first saw the new value, then reconnected (new session) and saw the old one.
    h.in_session(2, 7, (40, 41), get("/k"), read(v(0, 2), Some(Z + 2)));
    h.in_session(2, 8, (50, 51), get("/k"), read(v(0, 1), Some(Z + 1)));
    // Client 0 wrote v(0, 2) in session 100, reconnected as session 9 and read stale.
    h.in_session(0, 9, (60, 61), get("/k"), read(v(0, 1), Some(Z + 1)));
    assert_valid(&session::check(&h.ops));
}

#[test]
fn a_concurrent_writer_may_win_after_ones_own_write() {
    let mut h = H::default();
    h.op(0, (0, 20), set("/k", v(0, 1)), written(Z + 2)).op(1, (5, 25), set("/k", v(1, 1)), written(Z + 1));
    h.op(0, (30, 31), get("/k"), read(v(0, 1), Some(Z + 2)));
    h.op(1, (30, 31), get("/k"), read(v(0, 1), Some(Z + 2)));
    assert_valid(&session::check(&h.ops));
    // But the session that wrote last (by zxid) cannot read the earlier one.
    h.op(0, (40, 41), get("/k"), read(v(1, 1), Some(Z + 1)));
    assert_invalid(&session::check(&h.ops), "read-your-writes violated in session 0x64");
}

#[test]
fn unknown_ops_impose_no_obligation_either_way() {
    for read_back in [v(0, 1), v(1, 1)] {
        let mut h = H::default();
        h.op(0, (0, 10), create("/k", v(0, 1)), created("/k", Some(Z + 1)))
            .op(1, (20, 30), set("/k", v(1, 1)), unknown())
            .op(1, (40, 41), get("/k"), read(read_back, None))
            .op(1, (42, 43), get("/k"), read(read_back, None));
        assert_valid(&session::check(&h.ops));
        let end = fin(&[("/k", Some(read_back))]);
        assert_valid(&durability::check(&h.ops, &end));
    }
    // A lost (never completed) write, visible or not.
    for read_back in [v(0, 1), v(1, 1)] {
        let mut h = H::default();
        h.op(0, (0, 10), create("/k", v(0, 1)), created("/k", Some(Z + 1))).lost(1, 20, set("/k", v(1, 1))).op(
            2,
            (40, 41),
            get("/k"),
            read(read_back, None),
        );
        assert_valid(&session::check(&h.ops));
        assert_valid(&durability::check(&h.ops, &fin(&[("/k", Some(read_back))])));
    }
}

#[test]
fn fifo_write_order_is_checked() {
    let mut h = H::default();
    h.op(0, (0, 10), set("/a", v(0, 1)), written(Z + 9)).op(0, (20, 30), set("/b", v(0, 2)), written(Z + 7));
    assert_invalid(&session::check(&h.ops), "FIFO violated");
}

#[test]
fn a_session_that_saw_a_zxid_sees_every_earlier_acknowledged_write() {
    let mut h = H::default();
    h.op(0, (0, 10), create("/b", v(0, 1)), created("/b", Some(Z + 4)))
        .op(0, (20, 30), set("/b", v(0, 2)), written(Z + 8))
        .op(0, (32, 34), set("/a", v(0, 3)), written(Z + 10));
    // Stale on /b: legal, the session has seen nothing yet.
    h.op(1, (40, 41), get("/b"), read(v(0, 1), Some(Z + 4)));
    assert_valid(&session::check(&h.ops));
    // Having seen /a at zxid Z+10 (>= Z+8), the old /b is going back in time.
    h.op(1, (42, 43), get("/a"), read(v(0, 3), Some(Z + 10))).op(1, (44, 45), get("/b"), read(v(0, 1), Some(Z + 4)));
    assert_invalid(&session::check(&h.ops), "monotonic zxid violated");
}

// ------------------------------------------------------------- properties

#[derive(Debug, Clone)]
enum Step {
    Create(usize),
    Set(usize),
    Cas(usize, bool),
    Delete(usize),
    Get(usize),
    Exists(usize),
    Seq,
    Multi(usize, usize),
}

fn step() -> impl Strategy<Value = Step> {
    let k = 0usize..3;
    prop_oneof![
        k.clone().prop_map(Step::Create),
        k.clone().prop_map(Step::Set),
        (k.clone(), any::<bool>()).prop_map(|(k, b)| Step::Cas(k, b)),
        k.clone().prop_map(Step::Delete),
        k.clone().prop_map(Step::Get),
        k.clone().prop_map(Step::Exists),
        Just(Step::Seq),
        (k.clone(), k).prop_map(|(a, b)| Step::Multi(a, b)),
    ]
}

/// What happens to a write: acknowledged, applied but unknown, not applied but unknown.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Ok,
    AppliedUnknown,
    LostUnknown,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![6 => Just(Fate::Ok), 1 => Just(Fate::AppliedUnknown), 1 => Just(Fate::LostUnknown)]
}

/// Run steps against a sequential in-memory store: one op at a time, every
/// read fresh; clients reconnect (new session) after an unknown outcome.
fn simulate(steps: &[(u32, Step, Fate, bool)]) -> (Vec<Operation>, BTreeMap<String, Option<String>>) {
    let keys = ["/r/k0", "/r/k1", "/r/k2"];
    let mut store: BTreeMap<String, (Value, StatLite)> = BTreeMap::new();
    let mut zxid = Z;
    let mut counter = 0u32;
    let mut seqs = [0u64; 4];
    let mut sessions = [1i64, 2, 3, 4];
    let mut next_session = 5;
    let mut ops = Vec::new();
    for (i, (client, step, fate, with_stats)) in steps.iter().enumerate() {
        let c = *client as usize;
        let t = 10 * i as u64;
        let mut value = || {
            seqs[c] += 1;
            Value::new(*client, seqs[c])
        };
        let strip = |s: StatLite| if *with_stats { Some(s) } else { None };
        let (call, applied): (Call, Option<Ret>) = match step.clone() {
            Step::Create(k) => {
                let val = value();
                let call = create(keys[k], val);
                if store.contains_key(keys[k]) {
                    (call, None)
                } else {
                    zxid += 1;
                    let st = StatLite { czxid: zxid, mzxid: zxid, version: 0 };
                    store.insert(keys[k].into(), (val, st));
                    (call, Some(Ret::Created { path: keys[k].into(), stat: strip(st) }))
                }
            }
            Step::Set(k) | Step::Cas(k, _) => {
                let val = value();
                let cur = store.get(keys[k]).map(|(_, s)| s.version);
                let call = match step {
                    Step::Cas(_, right) => Call::Cas {
                        path: keys[k].into(),
                        value: val,
                        expected_version: if *right { cur.unwrap_or(0) } else { cur.unwrap_or(0) + 1 },
                    },
                    _ => set(keys[k], val),
                };
                let ok = match (&call, cur) {
                    (_, None) => false,
                    (Call::Cas { expected_version, .. }, Some(v)) => *expected_version == v,
                    _ => true,
                };
                if ok {
                    zxid += 1;
                    let e = store.get_mut(keys[k]).unwrap();
                    e.1 = StatLite { czxid: e.1.czxid, mzxid: zxid, version: e.1.version + 1 };
                    e.0 = val;
                    (call, Some(Ret::Written { stat: e.1 }))
                } else {
                    (call, None)
                }
            }
            Step::Delete(k) => {
                if store.remove(keys[k]).is_some() {
                    zxid += 1;
                    (del(keys[k]), Some(Ret::Deleted))
                } else {
                    (del(keys[k]), None)
                }
            }
            Step::Get(k) => {
                let ret = match store.get(keys[k]) {
                    Some((val, st)) => Ret::Read { data: Some(val.to_string()), stat: strip(*st) },
                    None => Ret::Read { data: None, stat: None },
                };
                (get(keys[k]), Some(ret))
            }
            Step::Exists(k) => (exists(keys[k]), Some(Ret::Exists { stat: store.get(keys[k]).map(|(_, s)| *s) })),
            Step::Seq => {
                let val = value();
                zxid += 1;
                let path = format!("/r/log/e-{counter:010}");
                counter += 1;
                let st = StatLite { czxid: zxid, mzxid: zxid, version: 0 };
                store.insert(path.clone(), (val, st));
                (seq("/r/log/e-", val), Some(Ret::Created { path, stat: strip(st) }))
            }
            Step::Multi(a, b) => {
                let (va, vb) = (value(), value());
                let call = Call::Multi { ops: vec![set(keys[a], va), set(keys[b], vb)] };
                if store.contains_key(keys[a]) && store.contains_key(keys[b]) {
                    zxid += 1;
                    let mut results = Vec::new();
                    for (k, val) in [(keys[a], va), (keys[b], vb)] {
                        let e = store.get_mut(k).unwrap();
                        e.1 = StatLite { czxid: e.1.czxid, mzxid: zxid, version: e.1.version + 1 };
                        e.0 = val;
                        results.push(Ret::Written { stat: e.1 });
                    }
                    (call, Some(Ret::Multi { results }))
                } else {
                    (call, None)
                }
            }
        };
        // A write's fate; a write the store refused fails (its fate is moot).
        let is_write = call.is_write();
        let (outcome, undo) = match (applied, fate) {
            (Some(ret), Fate::Ok) | (Some(ret), _) if !is_write => (Outcome::Ok { ret }, false),
            (Some(ret), Fate::Ok) => (Outcome::Ok { ret }, false),
            (Some(_), Fate::AppliedUnknown) => (unknown(), false),
            (Some(_), Fate::LostUnknown) => (unknown(), true),
            (None, _) => (Outcome::Fail { error: "refused".into() }, false),
        };
        if undo {
            // Not applied after all: roll the store back by replaying nothing —
            // simplest is to re-run the simulation without this step, so
            // instead such steps are only generated for sequential creates
            // and plain sets, undone here.
            undo_last(&mut store, &call, &ops, &mut counter);
        }
        let zx = match &outcome {
            Outcome::Ok { ret: Ret::Written { stat } } => Some(stat.mzxid),
            Outcome::Ok { ret: Ret::Created { stat: Some(s), .. } } => Some(s.czxid),
            Outcome::Ok { ret: Ret::Multi { .. } } => Some(zxid),
            _ => None,
        };
        ops.push(Operation {
            id: i as u64,
            client: *client,
            session: sessions[c],
            invoke_ns: t,
            complete_ns: Some(t + 5),
            call,
            outcome,
            zxid: zx.filter(|_| *with_stats),
        });
        if matches!(ops.last().map(|o: &Operation| &o.outcome), Some(Outcome::Unknown { .. })) {
            sessions[c] = next_session;
            next_session += 1;
        }
    }
    let end = store.into_iter().map(|(k, (v, _))| (k, Some(v.to_string()))).collect::<BTreeMap<_, _>>();
    let mut end = end;
    for k in keys {
        end.entry(k.to_string()).or_insert(None);
    }
    (ops, end)
}

/// Undo a write that was applied to the store but is to be "not applied":
/// the generator keeps this simple by only undoing what can be undone exactly.
fn undo_last(store: &mut BTreeMap<String, (Value, StatLite)>, call: &Call, _ops: &[Operation], counter: &mut u32) {
    match call {
        Call::CreateSequential { .. } => {
            // The counter is not rolled back in ZooKeeper only if the txn applied;
            // a create that never applied never took a number.
            *counter -= 1;
            let path = format!("/r/log/e-{:010}", *counter);
            store.remove(&path);
        }
        Call::Create { path, .. } => {
            store.remove(path);
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn histories_of_a_sequential_store_with_fresh_reads_are_valid(
        steps in prop::collection::vec((0u32..4, step(), fate(), any::<bool>()), 1..60)
    ) {
        // Only creates can be exactly undone; other "lost" writes stay applied-unknown.
        let steps: Vec<_> = steps
            .into_iter()
            .map(|(c, s, f, st)| match (&s, f) {
                (Step::Create(_) | Step::Seq, _) => (c, s, f, st),
                (_, Fate::LostUnknown) => (c, s, Fate::AppliedUnknown, st),
                _ => (c, s, f, st),
            })
            .collect();
        let (ops, end) = simulate(&steps);
        let s = session::check(&ops);
        prop_assert!(s.is_valid(), "session: {:?}\n{:#?}", s, ops);
        let d = durability::check(&ops, &end);
        prop_assert!(d.is_valid(), "durability: {:?}\n{:#?}\n{:#?}", d, ops, end);
    }

    #[test]
    fn dropping_the_last_acknowledged_write_of_a_key_is_caught(
        steps in prop::collection::vec((0u32..4, step(), Just(Fate::Ok), any::<bool>()), 1..60)
    ) {
        let (ops, mut end) = simulate(&steps);
        // The last op touching /r/k0, if it is an acknowledged set: replace the
        // final value with the one before it.
        let touching: Vec<&Operation> = ops
            .iter()
            .filter(|o| o.call.is_write() && o.is_ok())
            .filter(|o| match &o.call {
                Call::Multi { ops } => ops.iter().any(|s| s.path() == Some("/r/k0")),
                c => c.path() == Some("/r/k0"),
            })
            .collect();
        if let [.., before, last] = touching.as_slice()
            && let (Call::Set { value: old, .. } | Call::Create { value: old, .. } | Call::Cas { value: old, .. }, Call::Set { .. } | Call::Cas { .. }) = (&before.call, &last.call)
        {
            end.insert("/r/k0".into(), Some(old.to_string()));
            prop_assert!(durability::check(&ops, &end).is_invalid());
        }
    }
}

// ------------------------------------------------- a history cut short (CLI)

/// A bundle whose history acknowledges `/k = w0#1` and whose final state
/// shows `w0#2`, a write that only a later (missing) part of the history
/// could hold. `cut` drops the end-of-history marker: the file then ends
/// cleanly at a line boundary, as a SIGKILL between writes leaves it.
fn bundle_with_a_later_write(dir: &std::path::Path, cut: bool) {
    use zk_chaos::history::{Event, write_events};
    let events = [
        Event::Invoke { id: 1, client: 0, session: 100, time_ns: 0, call: create("/k", v(0, 1)), intended_ns: None },
        Event::Complete { id: 1, time_ns: 10, outcome: created("/k", Some(Z + 1)), zxid: Some(Z + 1) },
    ];
    let mut text = Vec::new();
    write_events(&mut text, &events).unwrap();
    let text = String::from_utf8(text).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    if cut {
        assert!(lines.pop().unwrap().contains("\"end\""), "the last line is the end marker");
    }
    std::fs::write(dir.join("history.jsonl"), lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    std::fs::write(dir.join("final.json"), serde_json::to_vec(&fin(&[("/k", Some(v(0, 2)))])).unwrap()).unwrap();
}

fn check_cli(dir: &std::path::Path) -> (Option<i32>, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zk-chaos")).arg("check").arg(dir).output().unwrap();
    (o.status.code(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn a_history_cut_at_a_line_boundary_is_unknown_not_invalid_in_check() {
    let whole = tempfile::tempdir().unwrap();
    bundle_with_a_later_write(whole.path(), false);
    let (code, out) = check_cli(whole.path());
    assert_eq!(code, Some(1), "a properly closed history is judged as it is: {out}");
    assert!(out.contains("INVALID  durability-and-integrity") && out.contains("never written"), "{out}");
    assert!(!out.contains("cut short"), "{out}");

    let cut = tempfile::tempdir().unwrap();
    bundle_with_a_later_write(cut.path(), true);
    let (code, out) = check_cli(cut.path());
    assert_eq!(code, Some(3), "cut short: undecided, never invalid: {out}");
    assert!(!out.contains("INVALID  "), "{out}");
    assert!(out.contains("UNKNOWN  durability-and-integrity"), "{out}");
    assert!(out.contains("the history was cut short: it ends after line 3 without its end-of-history marker"), "{out}");
    assert!(out.contains("WARNING: the history was cut short"), "{out}");
}

#[test]
fn a_history_of_the_first_format_without_a_marker_is_judged_whole() {
    let old = tempfile::tempdir().unwrap();
    bundle_with_a_later_write(old.path(), false);
    // The first format had neither header nor end marker.
    let h = old.path().join("history.jsonl");
    let text = std::fs::read_to_string(&h).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&h, format!("{}\n{}\n", lines[1], lines[2])).unwrap();
    let (code, out) = check_cli(old.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains("cut short"), "{out}");
}
