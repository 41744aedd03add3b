//! The operations behind a linearizability violation, for a lane view:
//! the offending key's operations around the one that could not be
//! linearized, each with its client, invoke and completion time, outcome,
//! and its place in the longest linearizable prefix the search found.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::check::linear::Violation;
use crate::history::{Call, Operation, Outcome, Ret, Value};

/// Operations shown before the blocked one (in invoke order).
pub const SHOWN_BEFORE: usize = 16;
/// Operations shown after the blocked one.
pub const SHOWN_AFTER: usize = 6;
/// Most operations concurrent with the blocked one shown beyond those.
pub const SHOWN_CONCURRENT: usize = 16;

/// One operation in the lane view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneOp {
    /// Operation id.
    pub id: u64,
    /// The client (one lane each).
    pub client: u32,
    /// What it asked, short: `set w1-s3`, `cas w0-s2 @v1`, `sync+get`.
    pub call: String,
    /// `ok`, `fail` or `unknown`.
    pub outcome: String,
    /// What came back, short: `v3`, `w1-s3 v2`, `absent`, `bad_version`.
    pub result: String,
    /// Invoke time, ns on the history clock.
    pub invoke_ns: u64,
    /// Completion time; `None` when it never completed.
    pub complete_ns: Option<u64>,
    /// 1-based position in the longest linearizable prefix, when in it.
    pub prefix_pos: Option<u32>,
    /// Whether this is the operation that could not be linearized.
    pub blocked: bool,
}

/// A linearizability violation as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearFailure {
    /// The keys of the offending partition.
    pub keys: Vec<String>,
    /// Operations the checker considered in that partition.
    pub ops_in_partition: usize,
    /// Length of the longest linearizable prefix.
    pub longest_prefix_len: usize,
    /// The model state after that prefix.
    pub state_after_prefix: Vec<String>,
    /// The operation that could not be linearized after it.
    pub blocked_id: u64,
    /// Its description (as in the checker's evidence).
    pub blocked: String,
    /// The operations shown, in invoke order.
    pub ops: Vec<LaneOp>,
    /// Operations on those keys not shown.
    pub omitted: usize,
}

/// Every path a call touches (a `multi`'s sub-operations included).
fn paths(call: &Call) -> Vec<&str> {
    match call {
        Call::Multi { ops } => ops.iter().flat_map(paths).collect(),
        c => c.path().into_iter().collect(),
    }
}

/// Whether the linearizability checker considers the call (plain reads and
/// sequential creates belong to other checkers).
fn linear_kind(call: &Call) -> bool {
    !matches!(call, Call::Get { .. } | Call::Exists { .. } | Call::CreateSequential { .. })
}

fn short(v: &Value) -> String {
    format!("w{}-s{}", v.writer, v.seq)
}

fn short_data(text: &str) -> String {
    match Value::parse(text) {
        Ok(v) => short(&v),
        Err(_) => text.chars().take(24).collect(),
    }
}

/// A short text for a call.
pub fn call_text(call: &Call) -> String {
    match call {
        Call::Create { value, .. } => format!("create {}", short(value)),
        Call::CreateSequential { value, .. } => format!("create -s {}", short(value)),
        Call::Set { value, .. } => format!("set {}", short(value)),
        Call::Cas { value, expected_version, .. } => format!("cas {} @v{expected_version}", short(value)),
        Call::Delete { expected_version: Some(v), .. } => format!("delete @v{v}"),
        Call::Delete { .. } => "delete".into(),
        Call::Get { .. } => "get".into(),
        Call::SyncGet { .. } => "sync+get".into(),
        Call::Exists { .. } => "exists".into(),
        Call::Multi { ops } => format!("multi[{}]", ops.iter().map(call_text).collect::<Vec<_>>().join("; ")),
    }
}

fn ret_text(ret: &Ret) -> String {
    match ret {
        Ret::Created { stat: Some(s), .. } => format!("created v{}", s.version),
        Ret::Created { .. } => "created".into(),
        Ret::Written { stat } => format!("v{}", stat.version),
        Ret::Deleted => "deleted".into(),
        Ret::Read { data: Some(d), stat } => {
            stat.map_or_else(|| short_data(d), |s| format!("{} v{}", short_data(d), s.version))
        }
        Ret::Read { data: None, .. } | Ret::Exists { stat: None } => "absent".into(),
        Ret::Exists { stat: Some(s) } => format!("exists v{}", s.version),
        Ret::Multi { results } => format!("[{}]", results.iter().map(ret_text).collect::<Vec<_>>().join("; ")),
    }
}

impl LaneOp {
    fn of(op: &Operation, prefix: &HashMap<u64, u32>, blocked: u64) -> Self {
        let (outcome, result) = match &op.outcome {
            Outcome::Ok { ret } => ("ok", ret_text(ret)),
            Outcome::Fail { error } => ("fail", error.clone()),
            Outcome::Unknown { error } => ("unknown", error.clone()),
        };
        Self {
            id: op.id,
            client: op.client,
            call: call_text(&op.call),
            outcome: outcome.into(),
            result,
            invoke_ns: op.invoke_ns,
            complete_ns: op.complete_ns,
            prefix_pos: prefix.get(&op.id).copied(),
            blocked: op.id == blocked,
        }
    }
}

impl LinearFailure {
    /// The view of `v` over the history's operations: those on its keys,
    /// [`SHOWN_BEFORE`] before and [`SHOWN_AFTER`] after the blocked one in
    /// invoke order, plus up to [`SHOWN_CONCURRENT`] overlapping it in time.
    pub fn build(ops: &[Operation], v: &Violation) -> Self {
        let mut on_keys: Vec<&Operation> = ops
            .iter()
            .filter(|o| linear_kind(&o.call) && paths(&o.call).iter().any(|p| v.keys.iter().any(|k| k == p)))
            .collect();
        on_keys.sort_by_key(|o| (o.invoke_ns, o.id));
        let prefix: HashMap<u64, u32> =
            v.longest_prefix.iter().enumerate().map(|(i, id)| (*id, i as u32 + 1)).collect();
        let b = v.blocked.id;
        let bi = on_keys.iter().position(|o| o.id == b).unwrap_or(0);
        let (lo, hi) = (bi.saturating_sub(SHOWN_BEFORE), (bi + SHOWN_AFTER + 1).min(on_keys.len()));
        let b_start = v.blocked.invoke_ns;
        let b_end = v.blocked.complete_ns.unwrap_or(u64::MAX);
        let mut chosen: Vec<usize> = (lo..hi).collect();
        chosen.extend(
            (0..on_keys.len())
                .filter(|&i| !(lo..hi).contains(&i))
                .filter(|&i| {
                    let o = on_keys[i];
                    o.invoke_ns <= b_end && o.complete_ns.unwrap_or(u64::MAX) >= b_start
                })
                .take(SHOWN_CONCURRENT),
        );
        chosen.sort_unstable();
        let shown: Vec<LaneOp> = chosen.iter().map(|&i| LaneOp::of(on_keys[i], &prefix, b)).collect();
        Self {
            keys: v.keys.clone(),
            ops_in_partition: v.ops_in_partition,
            longest_prefix_len: v.longest_prefix.len(),
            state_after_prefix: v.state_after_prefix.clone(),
            blocked_id: b,
            blocked: v.blocked.line(),
            omitted: on_keys.len() - shown.len(),
            ops: shown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::linear::{self, Budget};
    use crate::history::StatLite;

    fn stat(version: i32) -> StatLite {
        StatLite { czxid: 1, mzxid: 1, version }
    }

    /// Two clients: client 0 creates /k and sets it, then client 1's
    /// sync+get, invoked after the set completed, still sees the create's
    /// value: not linearizable.
    fn stale_sync_read() -> Vec<Operation> {
        let v1 = Value::new(0, 1);
        let v2 = Value::new(0, 2);
        let op = |id, client, invoke_ns, complete_ns, call, outcome| Operation {
            id,
            client,
            session: i64::from(client) + 1,
            invoke_ns,
            complete_ns: Some(complete_ns),
            call,
            outcome,
            zxid: None,
        };
        vec![
            op(
                1,
                0,
                0,
                10,
                Call::Create { path: "/k".into(), value: v1 },
                Outcome::Ok { ret: Ret::Created { path: "/k".into(), stat: None } },
            ),
            op(
                2,
                0,
                20,
                30,
                Call::Set { path: "/k".into(), value: v2 },
                Outcome::Ok { ret: Ret::Written { stat: stat(1) } },
            ),
            op(
                3,
                1,
                25,
                26,
                Call::Get { path: "/k".into() },
                Outcome::Ok { ret: Ret::Read { data: Some(v1.to_string()), stat: Some(stat(0)) } },
            ),
            op(
                4,
                1,
                40,
                50,
                Call::SyncGet { path: "/k".into() },
                Outcome::Ok { ret: Ret::Read { data: Some(v1.to_string()), stat: Some(stat(0)) } },
            ),
            op(
                5,
                0,
                60,
                70,
                Call::Set { path: "/other".into(), value: Value::new(0, 3) },
                Outcome::Fail { error: "no_node".into() },
            ),
        ]
    }

    #[test]
    fn the_view_of_a_real_violation_marks_prefix_and_blocked_op() {
        let ops = stale_sync_read();
        let report = linear::check(&ops, Budget::default());
        let v = report.violation.expect("a stale sync+get is not linearizable");
        let f = LinearFailure::build(&ops, &v);
        assert_eq!(f.keys, vec!["/k".to_string()]);
        let ids: Vec<u64> = f.ops.iter().map(|o| o.id).collect();
        assert_eq!(ids, vec![1, 2, 4], "plain reads and other keys are not shown");
        assert_eq!(f.blocked_id, 4);
        let blocked = f.ops.iter().find(|o| o.blocked).unwrap();
        assert_eq!((blocked.call.as_str(), blocked.result.as_str()), ("sync+get", "w0-s1 v0"));
        assert!(blocked.prefix_pos.is_none());
        assert_eq!(f.ops[0].prefix_pos, Some(1));
        assert_eq!(f.ops[1].prefix_pos, Some(2));
        assert_eq!(f.ops[1].call, "set w0-s2");
        assert_eq!(f.longest_prefix_len, 2);
        assert_eq!(f.omitted, 0);
    }

    #[test]
    fn call_texts_are_short() {
        let v = Value::sized(3, 9, 200);
        assert_eq!(call_text(&Call::Cas { path: "/k".into(), value: v, expected_version: 2 }), "cas w3-s9 @v2");
        assert_eq!(
            call_text(&Call::Multi {
                ops: vec![
                    Call::Delete { path: "/a".into(), expected_version: None },
                    Call::Set { path: "/b".into(), value: v }
                ]
            }),
            "multi[delete; set w3-s9]"
        );
        assert_eq!(short_data(&v.to_string()), "w3-s9");
    }
}
