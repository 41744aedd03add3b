//! Hand-written histories for the per-znode linearizability checker.

use zk_chaos::check::Verdict;
use zk_chaos::check::linear::{Budget, LinearReport, check};
use zk_chaos::history::{Call, Operation, Outcome, Ret, StatLite, Value};

/// A readable history builder. Times are plain numbers; values are
/// `Value::new(client, n)`; every write returns the data version.
#[derive(Default)]
struct H {
    ops: Vec<Operation>,
}

fn val(client: u32, n: u64) -> Value {
    Value::new(client, n)
}

fn stat(version: i32) -> StatLite {
    StatLite { czxid: 0, mzxid: 0, version }
}

impl H {
    fn push(&mut self, client: u32, at: (u64, Option<u64>), call: Call, outcome: Outcome) -> u64 {
        let id = self.ops.len() as u64 + 1;
        self.ops.push(Operation {
            id,
            client,
            session: i64::from(client) + 100,
            invoke_ns: at.0,
            complete_ns: at.1,
            call,
            outcome,
            zxid: None,
        });
        id
    }
    fn ok(ret: Ret) -> Outcome {
        Outcome::Ok { ret }
    }
    fn fail(e: &str) -> Outcome {
        Outcome::Fail { error: e.into() }
    }
    fn unknown() -> Outcome {
        Outcome::Unknown { error: "connection_loss".into() }
    }
    fn create(&mut self, c: u32, t: (u64, u64), key: &str, n: u64) -> u64 {
        let call = Call::Create { path: key.into(), value: val(c, n) };
        self.push(c, (t.0, Some(t.1)), call, Self::ok(Ret::Created { path: key.into(), stat: Some(stat(0)) }))
    }
    fn create_fail(&mut self, c: u32, t: (u64, u64), key: &str, n: u64) -> u64 {
        let call = Call::Create { path: key.into(), value: val(c, n) };
        self.push(c, (t.0, Some(t.1)), call, Self::fail("node_exists"))
    }
    fn set(&mut self, c: u32, t: (u64, u64), key: &str, n: u64, version: i32) -> u64 {
        let call = Call::Set { path: key.into(), value: val(c, n) };
        self.push(c, (t.0, Some(t.1)), call, Self::ok(Ret::Written { stat: stat(version) }))
    }
    fn set_unknown(&mut self, c: u32, t0: u64, key: &str, n: u64) -> u64 {
        let call = Call::Set { path: key.into(), value: val(c, n) };
        self.push(c, (t0, None), call, Self::unknown())
    }
    fn cas(&mut self, c: u32, t: (u64, u64), key: &str, n: u64, expected: i32) -> u64 {
        let call = Call::Cas { path: key.into(), value: val(c, n), expected_version: expected };
        self.push(c, (t.0, Some(t.1)), call, Self::ok(Ret::Written { stat: stat(expected + 1) }))
    }
    fn cas_fail(&mut self, c: u32, t: (u64, u64), key: &str, n: u64, expected: i32) -> u64 {
        let call = Call::Cas { path: key.into(), value: val(c, n), expected_version: expected };
        self.push(c, (t.0, Some(t.1)), call, Self::fail("bad_version"))
    }
    fn delete(&mut self, c: u32, t: (u64, u64), key: &str) -> u64 {
        let call = Call::Delete { path: key.into(), expected_version: None };
        self.push(c, (t.0, Some(t.1)), call, Self::ok(Ret::Deleted))
    }
    /// A sync+read that saw `(writer, n)` at `version`, or nothing.
    fn read(&mut self, c: u32, t: (u64, u64), key: &str, seen: Option<(u32, u64, i32)>) -> u64 {
        let ret = Ret::Read { data: seen.map(|(w, n, _)| val(w, n).to_string()), stat: seen.map(|(_, _, v)| stat(v)) };
        self.push(c, (t.0, Some(t.1)), Call::SyncGet { path: key.into() }, Self::ok(ret))
    }
    fn plain_get(&mut self, c: u32, t: (u64, u64), key: &str, seen: Option<(u32, u64)>) -> u64 {
        let ret = Ret::Read { data: seen.map(|(w, n)| val(w, n).to_string()), stat: None };
        self.push(c, (t.0, Some(t.1)), Call::Get { path: key.into() }, Self::ok(ret))
    }
    fn check(&self) -> LinearReport {
        check(&self.ops, Budget::default())
    }
}

#[track_caller]
fn assert_valid(r: &LinearReport) {
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
}

#[track_caller]
fn assert_invalid(r: &LinearReport, blocked: u64) -> &zk_chaos::check::linear::Violation {
    assert!(r.verdict.is_invalid(), "{r:#?}");
    let v = r.violation.as_ref().expect("violation");
    assert_eq!(v.blocked.id, blocked, "{v:#?}");
    v
}

#[test]
fn sequential_writes_and_reads_are_valid() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.set(2, (20, 30), "/a", 2, 1);
    h.read(3, (40, 50), "/a", Some((2, 2, 1)));
    h.cas(1, (60, 70), "/a", 3, 1);
    h.delete(2, (80, 90), "/a");
    h.read(3, (100, 110), "/a", None);
    let r = h.check();
    assert_valid(&r);
    assert_eq!(r.counts.ops_checked, 6);
    assert_eq!(r.counts.keys, 1);
}

#[test]
fn stale_sync_read_after_a_completed_write_is_invalid() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.set(1, (20, 30), "/a", 2, 1);
    let stale = h.read(2, (40, 50), "/a", Some((1, 1, 0)));
    let r = h.check();
    let v = assert_invalid(&r, stale);
    assert_eq!(v.keys, vec!["/a".to_string()]);
    assert_eq!(v.longest_prefix, vec![1, 2]);
    assert!(v.state_after_prefix[0].contains("version 1"), "{v:#?}");
}

#[test]
fn a_sync_read_older_than_an_acknowledged_write_is_named_with_the_write_it_missed() {
    let mut h = H::default();
    let zxid = |z: i64, version: i32| StatLite { czxid: 0x1_0000_0001, mzxid: z, version };
    h.push(
        1,
        (0, Some(10)),
        Call::Create { path: "/a".into(), value: val(1, 1) },
        H::ok(Ret::Created { path: "/a".into(), stat: Some(zxid(0x1_0000_0001, 0)) }),
    );
    let write = h.push(
        1,
        (20, Some(1_000_030)),
        Call::Set { path: "/a".into(), value: val(1, 2) },
        H::ok(Ret::Written { stat: zxid(0x1_0000_0002, 1) }),
    );
    let read = h.push(
        2,
        (1_500_030, Some(1_600_000)),
        Call::SyncGet { path: "/a".into() },
        H::ok(Ret::Read { data: Some(val(1, 1).to_string()), stat: Some(zxid(0x1_0000_0001, 0)) }),
    );
    let r = h.check();
    let v = assert_invalid(&r, read);
    let stale = v.stale_sync_read.as_ref().expect("the pattern is named");
    assert_eq!((stale.read.id, stale.write.id), (read, write));
    assert_eq!(
        (stale.read_mzxid, stale.write_zxid, stale.acknowledged_before_ns),
        (0x1_0000_0001, 0x1_0000_0002, 500_000)
    );
    let first = &v.evidence()[0];
    assert!(first.starts_with("a read after sync went back in time: op 3 (client 2) read /a at zxid 0x100000001 after its sync, but op 2 (client 1) had been acknowledged 0.5 ms before that read began, writing zxid 0x100000002"), "{first}");
    assert!(first.contains("ZOOKEEPER-1675"), "{first}");
}

#[test]
fn a_violation_without_zxids_to_compare_names_no_stale_sync_read() {
    // The stats of `stale_sync_read_after_a_completed_write_is_invalid` carry no zxids.
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.set(1, (20, 30), "/a", 2, 1);
    let stale = h.read(2, (40, 50), "/a", Some((1, 1, 0)));
    let r = h.check();
    assert_eq!(assert_invalid(&r, stale).stale_sync_read, None);
}

#[test]
fn plain_reads_may_be_stale_and_are_not_judged_here() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.set(1, (20, 30), "/a", 2, 1);
    h.plain_get(2, (40, 50), "/a", Some((1, 1)));
    let r = h.check();
    assert_valid(&r);
    assert_eq!(r.counts.excluded_plain_reads, 1);
}

#[test]
fn lost_acknowledged_write_is_detected_by_a_later_sync_read() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.set(2, (20, 30), "/a", 7, 1); // acknowledged ...
    let lost = h.read(3, (1000, 1010), "/a", Some((1, 1, 0))); // ... but gone after a failover
    let r = h.check();
    assert_invalid(&r, lost);
}

#[test]
fn cas_applied_twice_with_the_same_expected_version_is_invalid() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.cas(1, (20, 40), "/a", 2, 0);
    h.cas(2, (25, 45), "/a", 3, 0);
    let r = h.check();
    assert!(r.verdict.is_invalid(), "{r:#?}");
    let v = r.violation.unwrap();
    assert_eq!(v.longest_prefix.len(), 2);
    assert_eq!(v.concurrent.len(), 1, "the other CAS overlaps: {v:#?}");
}

#[test]
fn failed_cas_constrains_the_version() {
    // The CAS failed with bad_version while the version was certainly 0.
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    let bad = h.cas_fail(2, (20, 30), "/a", 2, 0);
    let r = h.check();
    assert_invalid(&r, bad);
    // Concurrent with a set that moved the version: fine.
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.set(3, (15, 35), "/a", 5, 1);
    h.cas_fail(2, (20, 30), "/a", 2, 0);
    assert_valid(&h.check());
}

#[test]
fn create_twice_ok_is_invalid_and_create_fail_needs_the_node() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    let second = h.create(2, (20, 30), "/a", 2);
    assert_invalid(&h.check(), second);

    let mut h = H::default();
    let early = h.create_fail(2, (0, 5), "/a", 2);
    h.create(1, (10, 20), "/a", 1);
    assert_invalid(&h.check(), early);

    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.delete(1, (20, 30), "/a");
    h.create(2, (40, 50), "/a", 2);
    h.create_fail(3, (45, 60), "/a", 3);
    assert_valid(&h.check());
}

#[test]
fn an_unknown_write_may_have_happened() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.set_unknown(2, 20, "/a", 9);
    h.read(3, (100, 110), "/a", Some((2, 9, 1)));
    let r = h.check();
    assert_valid(&r);
    assert_eq!(r.counts.ops_unknown, 1);
}

#[test]
fn an_unknown_write_may_not_have_happened() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.set_unknown(2, 20, "/a", 9);
    h.read(3, (100, 110), "/a", Some((1, 1, 0)));
    assert_valid(&h.check());
}

#[test]
fn an_unknown_write_may_take_effect_long_after_its_client_gave_up() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    let call = Call::Set { path: "/a".into(), value: val(2, 9) };
    h.push(2, (20, Some(30)), call, H::unknown());
    h.read(3, (40, 50), "/a", Some((1, 1, 0)));
    h.read(3, (60, 70), "/a", Some((2, 9, 1)));
    assert_valid(&h.check());
    // But it cannot take effect before it was invoked.
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    let early = h.read(3, (12, 15), "/a", Some((2, 9, 1)));
    h.set_unknown(2, 20, "/a", 9);
    assert_invalid(&h.check(), early);
}

#[test]
fn an_unknown_write_cannot_explain_two_effects() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.set_unknown(2, 20, "/a", 9);
    h.read(3, (30, 40), "/a", Some((2, 9, 1)));
    h.set(1, (50, 60), "/a", 2, 2);
    let again = h.read(3, (70, 80), "/a", Some((2, 9, 3)));
    assert_invalid(&h.check(), again);
}

#[test]
fn a_phantom_read_is_invalid() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    let phantom = h.read(2, (20, 30), "/a", Some((7, 77, 0)));
    let r = h.check();
    let v = assert_invalid(&r, phantom);
    assert!(r.verdict != Verdict::Valid);
    assert!(v.evidence().iter().any(|l| l.contains("cannot linearize next: op 2")), "{:?}", v.evidence());
}

#[test]
fn concurrent_overlapping_ops_that_can_be_ordered_are_valid() {
    // Three writers overlap; the reads pin down one order (c2, c1, c3).
    let mut h = H::default();
    h.create(0, (0, 5), "/a", 0);
    h.set(1, (10, 50), "/a", 1, 2);
    h.set(2, (12, 40), "/a", 2, 1);
    h.set(3, (14, 60), "/a", 3, 3);
    h.read(4, (15, 45), "/a", Some((2, 2, 1)));
    h.read(5, (55, 58), "/a", Some((1, 1, 2)));
    h.read(4, (70, 80), "/a", Some((3, 3, 3)));
    assert_valid(&h.check());
}

#[test]
fn a_read_that_goes_back_in_time_is_invalid_even_when_overlapping() {
    let mut h = H::default();
    h.create(0, (0, 5), "/a", 0);
    h.set(1, (10, 100), "/a", 1, 1);
    h.read(2, (20, 30), "/a", Some((1, 1, 1)));
    let back = h.read(3, (40, 50), "/a", Some((0, 0, 0)));
    assert_invalid(&h.check(), back);
}

#[test]
fn keys_are_independent_and_only_the_bad_one_is_invalid() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.create(1, (0, 10), "/b", 1);
    h.set(1, (20, 30), "/b", 2, 1);
    h.read(2, (40, 50), "/a", Some((1, 1, 0)));
    h.read(2, (40, 50), "/b", Some((1, 1, 0)));
    let r = h.check();
    assert!(r.verdict.is_invalid());
    assert_eq!(r.verdict_for("/a"), Some(&Verdict::Valid));
    assert!(r.verdict_for("/b").unwrap().is_invalid());
    assert_eq!(r.counts.partitions, 2);
}

#[test]
fn a_multi_is_atomic_across_keys() {
    let multi = |h: &mut H, c: u32, t: (u64, u64), n: u64| {
        let call = Call::Multi {
            ops: vec![
                Call::Set { path: "/a".into(), value: val(c, n) },
                Call::Set { path: "/b".into(), value: val(c, n) },
            ],
        };
        let ret = Ret::Multi { results: vec![Ret::Written { stat: stat(1) }, Ret::Written { stat: stat(1) }] };
        h.push(c, (t.0, Some(t.1)), call, H::ok(ret))
    };
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.create(1, (0, 10), "/b", 1);
    multi(&mut h, 2, (20, 60), 5);
    h.read(3, (30, 40), "/a", Some((2, 5, 1)));
    h.read(3, (41, 50), "/b", Some((2, 5, 1)));
    let r = h.check();
    assert_valid(&r);
    assert_eq!(r.counts.partitions, 1);

    // Seeing the multi on /a, then not on /b later, is torn: invalid.
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.create(1, (0, 10), "/b", 1);
    multi(&mut h, 2, (20, 60), 5);
    h.read(3, (30, 40), "/a", Some((2, 5, 1)));
    let torn = h.read(3, (41, 50), "/b", Some((1, 1, 0)));
    let r = h.check();
    assert_invalid(&r, torn);
    assert_eq!(r.violation.unwrap().keys, vec!["/a".to_string(), "/b".to_string()]);
}

#[test]
fn failed_ops_with_uninformative_errors_and_sequential_creates_are_excluded() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    h.push(2, (20, Some(30)), Call::Set { path: "/a".into(), value: val(2, 1) }, H::fail("session_expired"));
    h.push(
        2,
        (20, Some(30)),
        Call::CreateSequential { prefix: "/q/e-".into(), value: val(2, 2) },
        H::ok(Ret::Created { path: "/q/e-0000000001".into(), stat: None }),
    );
    h.push(2, (20, None), Call::SyncGet { path: "/a".into() }, H::unknown());
    let r = h.check();
    assert_valid(&r);
    assert_eq!(r.counts.ops_checked, 1);
    assert_eq!(r.counts.excluded_uninformative_fails, 1);
    assert_eq!(r.counts.excluded_sequential, 1);
    assert_eq!(r.counts.excluded_uninformative_reads, 1);
}

#[test]
fn an_empty_history_is_not_declared_valid() {
    let r = H::default().check();
    assert!(matches!(r.verdict, Verdict::Unknown { .. }), "{r:#?}");
}

#[test]
fn an_exhausted_budget_is_unknown_never_valid() {
    let mut h = H::default();
    h.create(0, (0, 5), "/a", 0);
    for c in 1..=12u32 {
        h.set_unknown(c, 10 + u64::from(c), "/a", 1);
    }
    // A read no unknown write explains forces the search through their subsets.
    h.read(20, (100, 110), "/a", Some((99, 1, 3)));
    let budget = Budget { max_states: 50, ..Budget::default() };
    let r = check(&h.ops, budget);
    assert!(matches!(r.verdict, Verdict::Unknown { .. }), "{r:#?}");
    // With room, it is decided: nobody wrote that value.
    assert!(h.check().verdict.is_invalid());
}

#[test]
fn a_write_version_that_disagrees_with_the_model_is_invalid() {
    let mut h = H::default();
    h.create(1, (0, 10), "/a", 1);
    let skipped = h.set(1, (20, 30), "/a", 2, 2); // version should be 1
    assert_invalid(&h.check(), skipped);
}
