//! Property tests for the per-znode linearizability checker: histories
//! simulated from a sequential register with random concurrency are valid;
//! one illegal mutation makes them invalid; and on small histories the
//! checker agrees with a brute-force oracle.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use zk_chaos::check::Verdict;
use zk_chaos::check::linear::{Budget, check};
use zk_chaos::history::{Call, Operation, Outcome, Ret, StatLite, Value};

type State = HashMap<String, (String, i32)>;

fn stat(version: i32) -> StatLite {
    StatLite { czxid: 0, mzxid: 0, version }
}

/// The sequential specification, written independently of the checker:
/// `Some(new state)` when `op` with its recorded outcome is legal in `s`.
fn apply(s: &State, op: &Operation) -> Option<State> {
    let mut s = s.clone();
    let ok = op.is_ok();
    let err = match &op.outcome {
        Outcome::Fail { error } => Some(error.as_str()),
        _ => None,
    };
    let ret_version = match op.ret() {
        Some(Ret::Written { stat }) => Some(stat.version),
        Some(Ret::Created { stat, .. }) => stat.map(|s| s.version),
        _ => None,
    };
    match &op.call {
        Call::Create { path, value } => match (s.contains_key(path), ok, err) {
            (false, true, _) if ret_version.is_none_or(|v| v == 0) => {
                s.insert(path.clone(), (value.to_string(), 0));
            }
            (false, false, None) => {
                s.insert(path.clone(), (value.to_string(), 0));
            }
            (true, false, Some("node_exists")) => {}
            _ => return None,
        },
        Call::Set { path, value } | Call::Cas { path, value, .. } => {
            let expected = match &op.call {
                Call::Cas { expected_version, .. } => Some(*expected_version),
                _ => None,
            };
            match (s.get(path).cloned(), ok, err) {
                (None, false, Some("no_node")) => {}
                (Some((_, v)), false, Some("bad_version")) if expected.is_some_and(|e| e != v) => {}
                (Some((_, v)), true, _) | (Some((_, v)), false, None)
                    if expected.is_none_or(|e| e == v) && (!ok || ret_version.is_none_or(|r| r == v + 1)) =>
                {
                    s.insert(path.clone(), (value.to_string(), v + 1));
                }
                _ => return None,
            }
        }
        Call::Delete { path, expected_version } => match (s.get(path).cloned(), ok, err) {
            (None, false, Some("no_node")) => {}
            (Some((_, v)), false, Some("bad_version")) if expected_version.is_some_and(|e| e != v) => {}
            (Some((_, v)), _, None) if expected_version.is_none_or(|e| e == v) => {
                s.remove(path);
            }
            _ => return None,
        },
        Call::SyncGet { path } => {
            let Some(Ret::Read { data, stat }) = op.ret() else { return None };
            match (s.get(path), data) {
                (None, None) => {}
                (Some((d, v)), Some(read)) if d == read && stat.is_none_or(|st| st.version == *v) => {}
                _ => return None,
            }
        }
        _ => return None,
    }
    Some(s)
}

/// Exhaustive search over orders consistent with real time; unknown ops may
/// be dropped. For small histories only.
fn oracle(ops: &[Operation]) -> bool {
    fn go(ops: &[&Operation], done: &mut Vec<bool>, s: &State) -> bool {
        let pending: Vec<usize> = (0..ops.len()).filter(|&i| !done[i]).collect();
        if pending.iter().all(|&i| ops[i].is_unknown()) {
            return true;
        }
        // The earliest completion among pending definite ops bounds who may go next.
        let horizon = pending.iter().filter(|&&i| !ops[i].is_unknown()).filter_map(|&i| ops[i].complete_ns).min();
        for &i in &pending {
            if horizon.is_some_and(|h| ops[i].invoke_ns > h) {
                continue;
            }
            done[i] = true;
            if let Some(next) = apply(s, ops[i])
                && go(ops, done, &next)
            {
                done[i] = false;
                return true;
            }
            // An unknown op may also never take effect.
            if ops[i].is_unknown() && go(ops, done, s) {
                done[i] = false;
                return true;
            }
            done[i] = false;
        }
        false
    }
    let checked: Vec<&Operation> = ops.iter().filter(|o| !matches!(o.call, Call::Get { .. })).collect();
    let mut done = vec![false; checked.len()];
    go(&checked, &mut done, &State::new())
}

/// A plan for one operation of the simulation.
#[derive(Debug, Clone)]
struct Step {
    kind: u8,
    key: u8,
    before: u64,
    after: u64,
    unknown: u8,
    wrong_version: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (0u8..6, 0u8..3, 0u64..40, 0u64..40, 0u8..10, any::<bool>()).prop_map(
        |(kind, key, before, after, unknown, wrong_version)| Step { kind, key, before, after, unknown, wrong_version },
    )
}

/// Simulate a register per key: op i takes effect at time 20*i + 100,
/// inside its (random, overlapping) interval. `keys` distinct keys.
fn simulate(steps: &[Step], keys: u8, unknown_rate: u8) -> Vec<Operation> {
    let mut s = State::new();
    let mut ops = Vec::new();
    for (i, st) in steps.iter().enumerate() {
        let path = format!("/k{}", st.key % keys);
        let value = Value::new(i as u32, i as u64);
        let cur = s.get(&path).cloned();
        let (call, outcome) = match st.kind {
            0 => (
                Call::Create { path: path.clone(), value },
                match cur {
                    None => Outcome::Ok { ret: Ret::Created { path: path.clone(), stat: Some(stat(0)) } },
                    Some(_) => Outcome::Fail { error: "node_exists".into() },
                },
            ),
            1 => (
                Call::Set { path: path.clone(), value },
                match cur {
                    None => Outcome::Fail { error: "no_node".into() },
                    Some((_, v)) => Outcome::Ok { ret: Ret::Written { stat: stat(v + 1) } },
                },
            ),
            2 => {
                let v = cur.as_ref().map_or(0, |c| c.1);
                let expected = if st.wrong_version { v + 1 } else { v };
                let outcome = match &cur {
                    None => Outcome::Fail { error: "no_node".into() },
                    Some((_, v)) if *v != expected => Outcome::Fail { error: "bad_version".into() },
                    Some((_, v)) => Outcome::Ok { ret: Ret::Written { stat: stat(v + 1) } },
                };
                (Call::Cas { path: path.clone(), value, expected_version: expected }, outcome)
            }
            3 => (
                Call::Delete { path: path.clone(), expected_version: None },
                match cur {
                    None => Outcome::Fail { error: "no_node".into() },
                    Some(_) => Outcome::Ok { ret: Ret::Deleted },
                },
            ),
            _ => (
                Call::SyncGet { path: path.clone() },
                Outcome::Ok {
                    ret: Ret::Read { data: cur.as_ref().map(|c| c.0.clone()), stat: cur.as_ref().map(|c| stat(c.1)) },
                },
            ),
        };
        let lin = 20 * i as u64 + 100;
        let mut op = Operation {
            id: i as u64 + 1,
            client: i as u32 % 7,
            session: 1,
            invoke_ns: lin - st.before * 2,
            complete_ns: Some(lin + st.after * 2),
            call,
            outcome,
            zxid: None,
        };
        let is_write = !matches!(op.call, Call::SyncGet { .. });
        let applied = op.is_ok();
        if is_write && st.unknown < unknown_rate {
            // Unknown: either it took effect (as simulated) or it was lost.
            let lost = st.unknown % 2 == 0;
            op.outcome = Outcome::Unknown { error: "connection_loss".into() };
            if st.after % 2 == 0 {
                op.complete_ns = None;
            }
            if lost {
                ops.push(op);
                continue;
            }
        }
        // An unknown op that was not lost takes effect when it can.
        if (applied || op.is_unknown())
            && let Some(next) = apply(&s, &op)
        {
            s = next;
        }
        ops.push(op);
    }
    ops
}

/// One illegal change; `None` when the history offers no place for it.
fn mutate(ops: &mut [Operation], pick: usize, which: u8) -> Option<()> {
    let n = ops.len();
    let written: Vec<String> = ops
        .iter()
        .filter_map(|o| match &o.call {
            Call::Create { value, .. } | Call::Set { value, .. } | Call::Cas { value, .. } => Some(value.to_string()),
            _ => None,
        })
        .collect();
    for k in 0..n {
        let i = (pick % n + k) % n;
        let op = &mut ops[i];
        match (which % 3, &op.call, &op.outcome) {
            (0, Call::SyncGet { .. }, Outcome::Ok { ret: Ret::Read { data, .. } }) if !written.is_empty() => {
                let other = written.iter().find(|w| Some(*w) != data.as_ref())?.clone();
                op.outcome = Outcome::Ok { ret: Ret::Read { data: Some(other), stat: None } };
                return Some(());
            }
            (1, Call::Cas { expected_version, .. }, Outcome::Fail { .. }) => {
                op.outcome = Outcome::Ok { ret: Ret::Written { stat: stat(expected_version + 1) } };
                return Some(());
            }
            (2, Call::Create { path, .. }, Outcome::Fail { .. }) => {
                op.outcome = Outcome::Ok { ret: Ret::Created { path: path.clone(), stat: Some(stat(0)) } };
                return Some(());
            }
            (2, Call::Set { .. } | Call::Delete { .. }, Outcome::Ok { .. }) => {
                op.outcome = Outcome::Fail { error: "no_node".into() };
                return Some(());
            }
            _ => {}
        }
    }
    None
}

/// Bounded so one pathological case cannot stall the suite.
const BOUNDED: Budget = Budget {
    max_states: 2_000_000,
    time_limit: Some(Duration::from_secs(10)),
    max_memory_bytes: 512 << 20,
    threads: 2,
};

fn verdict(ops: &[Operation]) -> Verdict {
    check(ops, BOUNDED).verdict
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn simulated_histories_are_valid(steps in prop::collection::vec(step(), 1..80), keys in 1u8..4, rate in 0u8..4) {
        let ops = simulate(&steps, keys, rate);
        prop_assert!(oracle_if_small(&ops));
        // A bounded search: a rare pathological interleaving may exhaust the
        // budget (an honest `Unknown`), but a legal history is never judged
        // invalid, and small ones must always be decided.
        let r = check(&ops, BOUNDED);
        prop_assert!(!r.verdict.is_invalid(), "{:#?}", r);
        match &r.verdict {
            Verdict::Valid => {}
            Verdict::Unknown { reason } if reason.contains("no write or sync-read") => {}
            Verdict::Unknown { reason } => {
                prop_assert!(ops.len() > 20, "a small history must be decided: {reason}");
                prop_assert!(reason.contains("budget") || reason.contains("limit"), "{reason}");
            }
            Verdict::Invalid { .. } => unreachable!(),
        }
    }

    #[test]
    fn one_illegal_mutation_is_invalid(steps in prop::collection::vec(step(), 2..9), rate in 0u8..3, pick: usize, which: u8) {
        let mut ops = simulate(&steps, 1, rate);
        prop_assume!(mutate(&mut ops, pick, which).is_some());
        prop_assume!(!oracle(&ops));
        let r = check(&ops, BOUNDED);
        prop_assert!(r.verdict.is_invalid(), "{:#?}", r);
    }

    #[test]
    fn agrees_with_the_brute_force_oracle(
        steps in prop::collection::vec(step(), 1..9),
        keys in 1u8..3,
        rate in 0u8..5,
        mutated: bool,
        pick: usize,
        which: u8,
    ) {
        let mut ops = simulate(&steps, keys, rate);
        if mutated {
            let _ = mutate(&mut ops, pick, which);
        }
        let expected = oracle(&ops);
        let got = verdict(&ops);
        prop_assert_eq!(got.is_valid(), expected, "{:?} on {:#?}", got, ops);
        prop_assert!(got.is_valid() || got.is_invalid());
    }
}

fn oracle_if_small(ops: &[Operation]) -> bool {
    ops.len() > 8 || oracle(ops)
}
