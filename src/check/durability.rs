//! Durability and integrity: acknowledged writes survive, nothing is read
//! that nobody wrote, nothing is corrupted, and the sequential log has
//! neither gaps nor duplicates.
//!
//! Rules (all judged against the history's invokes and outcomes, and the
//! final state read after `sync` at the end of the scenario):
//!
//! * **Lost write.** For each key, the final state must be the effect of
//!   some operation `c` that could be the last one on that key: `c` is ok or
//!   unknown (never failed), and `c` does not definitely precede any
//!   *acknowledged* operation on the key. "Definitely precedes" means `c`
//!   completed before the other was invoked, or both have known zxids and
//!   `c`'s is smaller, or both ran in the same session and `c` was invoked
//!   first (ZooKeeper applies a session's requests in order). An absent
//!   final znode needs such a delete (or no acknowledged op at all). An
//!   unknown op therefore may explain the final state, or not: both are fine.
//! * **Phantom.** Every value read (any read, and the final state) must
//!   have been the value of some invoke at that path (for sequential
//!   creates, under that prefix); a value only ever written by failed
//!   operations is also flagged (a failed op definitely did not apply).
//! * **Corruption.** Every value read must parse with a valid checksum.
//! * **Sequential log.** Every acknowledged `CreateSequential` is present
//!   at the path it returned with its exact value (unless some delete of
//!   that path may have run); no two acknowledged creates returned the same
//!   path; no sequence number between the smallest and the largest
//!   acknowledged one under a parent is missing from the final listing
//!   (ZooKeeper's counter only advances when a create or delete under the
//!   parent is applied, and an applied create must survive), unless the
//!   history deletes or plainly creates children of that parent.
//! * **Duplicates.** A value may appear at most once per *attempt*: if the
//!   same value appears at `k` sequential paths, at least `k` invokes that
//!   did not fail must have carried it. So a retried create whose first
//!   attempt was unknown may legally leave two nodes; a single attempt (or
//!   an acknowledged one plus a failed one) leaving two nodes is a
//!   duplicate.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Verdict;
use crate::history::{Call, Operation, Outcome, Ret, Value, ValueError};

/// The effect of a call on one znode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect<'a> {
    /// Create, set or CAS of `path` to `value`.
    Put {
        /// The znode.
        path: &'a str,
        /// The value.
        value: Value,
    },
    /// Delete of `path`.
    Del {
        /// The znode.
        path: &'a str,
    },
    /// Sequential create under `prefix`.
    Seq {
        /// The prefix.
        prefix: &'a str,
        /// The value.
        value: Value,
    },
}

impl Effect<'_> {
    /// The znode (or prefix) it is about.
    pub(crate) fn path(&self) -> &str {
        match self {
            Effect::Put { path, .. } | Effect::Del { path } => path,
            Effect::Seq { prefix, .. } => prefix,
        }
    }
}

/// The effects of a call; for a `multi`, the last sub-operation on each
/// path (earlier ones are never visible).
pub(crate) fn effects(call: &Call) -> Vec<Effect<'_>> {
    fn walk<'a>(call: &'a Call, out: &mut Vec<Effect<'a>>) {
        let e = match call {
            Call::Create { path, value } | Call::Set { path, value } | Call::Cas { path, value, .. } => {
                Effect::Put { path, value: *value }
            }
            Call::Delete { path, .. } => Effect::Del { path },
            Call::CreateSequential { prefix, value } => Effect::Seq { prefix, value: *value },
            Call::Multi { ops } => return ops.iter().for_each(|o| walk(o, out)),
            Call::Get { .. } | Call::SyncGet { .. } | Call::Exists { .. } => return,
        };
        if !matches!(e, Effect::Seq { .. }) {
            out.retain(|o| o.path() != e.path() || matches!(o, Effect::Seq { .. }));
        }
        out.push(e);
    }
    let mut out = Vec::new();
    walk(call, &mut out);
    out
}

/// Every value a call carries (including every sub-operation of a multi).
pub(crate) fn values(call: &Call) -> Vec<(&str, Value)> {
    match call {
        Call::Create { path, value } | Call::Set { path, value } | Call::Cas { path, value, .. } => {
            vec![(path, *value)]
        }
        Call::CreateSequential { prefix, value } => vec![(prefix, *value)],
        Call::Multi { ops } => ops.iter().flat_map(values).collect(),
        _ => Vec::new(),
    }
}

/// The zxid of a write, when known: the reply zxid, else from the returned stat.
pub(crate) fn op_zxid(op: &Operation) -> Option<i64> {
    fn from_ret(r: &Ret) -> Option<i64> {
        match r {
            Ret::Written { stat } => Some(stat.mzxid),
            Ret::Created { stat: Some(s), .. } => Some(s.czxid),
            Ret::Multi { results } => results.iter().find_map(from_ret),
            _ => None,
        }
    }
    if !op.call.is_write() {
        return None;
    }
    op.zxid.filter(|z| *z > 0).or_else(|| op.ret().and_then(from_ret)).filter(|z| *z > 0)
}

/// Whether `a` definitely took effect before `b` (when both took effect):
/// real time, zxid order, or session order.
pub(crate) fn precedes(a: &Operation, b: &Operation) -> bool {
    if a.id == b.id {
        return false;
    }
    if a.complete_ns.is_some_and(|c| c < b.invoke_ns) {
        return true;
    }
    if let (Some(za), Some(zb)) = (op_zxid(a), op_zxid(b)) {
        return za < zb;
    }
    a.session != 0 && a.session == b.session && (a.invoke_ns, a.id) < (b.invoke_ns, b.id)
}

/// Whether the op may have taken effect (ok or unknown).
pub(crate) fn may_apply(op: &Operation) -> bool {
    !matches!(op.outcome, Outcome::Fail { .. })
}

/// A short description of an op for evidence.
pub(crate) fn describe(op: &Operation) -> String {
    let outcome = match &op.outcome {
        Outcome::Ok { .. } => "ok",
        Outcome::Fail { .. } => "fail",
        Outcome::Unknown { .. } => "unknown",
    };
    let what = match &op.call {
        Call::Create { path, value } => format!("create {path} {value}"),
        Call::CreateSequential { prefix, value } => format!("create -s {prefix} {value}"),
        Call::Set { path, value } => format!("set {path} {value}"),
        Call::Cas { path, value, expected_version } => format!("cas {path} {value} @v{expected_version}"),
        Call::Delete { path, .. } => format!("delete {path}"),
        Call::Get { path } => format!("get {path}"),
        Call::SyncGet { path } => format!("sync+get {path}"),
        Call::Exists { path } => format!("exists {path}"),
        Call::Multi { ops } => format!("multi of {}", ops.len()),
    };
    format!("op {} (client {}, session {:#x}, {what}, {outcome})", op.id, op.client, op.session, what = what)
}

/// The sequence number of a sequential znode `path` created under `prefix`.
pub(crate) fn seq_number(prefix: &str, path: &str) -> Option<i64> {
    let suffix = path.strip_prefix(prefix)?;
    let digits = suffix.strip_prefix('-').unwrap_or(suffix);
    if digits.len() < 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    suffix.parse().ok()
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// Facts the durability checker computed, with its verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DurabilityReport {
    /// The verdict.
    pub verdict: Verdict,
    /// Keys whose final state was judged.
    pub keys_checked: usize,
    /// Acknowledged writes (including sequential creates and deletes).
    pub acknowledged_writes: usize,
    /// Writes with an unknown outcome.
    pub unknown_writes: usize,
    /// Values read (reads and final state) that were checked for phantoms and corruption.
    pub values_checked: usize,
    /// Sequential znodes in the final listing.
    pub sequential_nodes: usize,
    /// The writes the evidence shows lost, one entry per write: `op <id>`
    /// for an acknowledged write whose effect is gone (overwritten by an
    /// older value, absent, or its sequence number reused), `seq <path>`
    /// for a committed sequence number missing from the log. The report's
    /// "lost writes" figure is its size, so it agrees with the verdict.
    #[serde(default)]
    pub lost: BTreeSet<String>,
}

impl DurabilityReport {
    /// How many writes the evidence shows lost.
    pub fn lost_writes(&self) -> usize {
        self.lost.len()
    }
}

/// Judge durability and integrity; see the module docs.
pub fn check(ops: &[Operation], final_state: &BTreeMap<String, Option<String>>) -> Verdict {
    report(ops, final_state).verdict
}

/// [`check`], with the facts it computed.
pub fn report(ops: &[Operation], final_state: &BTreeMap<String, Option<String>>) -> DurabilityReport {
    let mut evidence: Vec<String> = Vec::new();
    let mut undecided: Vec<String> = Vec::new();
    let mut lost: BTreeSet<String> = BTreeSet::new();
    let lost_op = |op: &Operation| format!("op {}", op.id);

    // Index: which ops carried which value at which path; per-key effects.
    let mut carried: HashMap<Value, Vec<(&str, &Operation)>> = HashMap::new();
    let mut key_ops: BTreeMap<&str, Vec<(&Operation, Effect<'_>)>> = BTreeMap::new();
    let mut seq_prefixes: BTreeSet<&str> = BTreeSet::new();
    let mut seq_attempts: HashMap<(&str, Value), usize> = HashMap::new();
    let (mut acknowledged_writes, mut unknown_writes) = (0, 0);
    for op in ops {
        for (path, v) in values(&op.call) {
            carried.entry(v).or_default().push((path, op));
        }
        if op.call.is_write() {
            if op.is_ok() {
                acknowledged_writes += 1;
            } else if op.is_unknown() {
                unknown_writes += 1;
            }
        }
        for e in effects(&op.call) {
            match e {
                Effect::Put { path, .. } | Effect::Del { path } => key_ops.entry(path).or_default().push((op, e)),
                Effect::Seq { prefix, value } => {
                    seq_prefixes.insert(prefix);
                    if may_apply(op) {
                        *seq_attempts.entry((prefix, value)).or_default() += 1;
                    }
                }
            }
        }
    }
    let seq_prefix_of = |path: &str| seq_prefixes.iter().copied().find(|p| seq_number(p, path).is_some());

    // Phantoms and corruption, in every read and in the final state.
    let mut values_checked = 0;
    let mut judge_value = |where_: String, path: &str, text: &str, evidence: &mut Vec<String>| -> Option<Value> {
        values_checked += 1;
        match Value::parse(text) {
            Err(ValueError::Checksum(t)) => {
                evidence.push(format!("corrupted value at {path} ({where_}): checksum mismatch in `{t}`"));
                None
            }
            Err(ValueError::Malformed(t)) => {
                evidence.push(format!("phantom value at {path} ({where_}): `{t}` is not a value any client writes"));
                None
            }
            Ok(v) => {
                let writers = carried.get(&v).map(Vec::as_slice).unwrap_or_default();
                let here = |(p, _): &(&str, &Operation)| *p == path || seq_number(p, path).is_some();
                if writers.is_empty() {
                    evidence.push(format!("phantom value at {path} ({where_}): {v} was never written by any client"));
                } else if !writers.iter().any(here) {
                    evidence.push(format!(
                        "phantom value at {path} ({where_}): {v} was only written to {}",
                        writers
                            .iter()
                            .map(|(p, _)| *p)
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                } else if !writers.iter().filter(|w| here(w)).any(|(_, o)| may_apply(o)) {
                    let ids: Vec<String> = writers.iter().filter(|w| here(w)).map(|(_, o)| describe(o)).collect();
                    evidence.push(format!(
                        "value of a failed write at {path} ({where_}): {v} was only written by failed {}",
                        ids.join("; ")
                    ));
                }
                Some(v)
            }
        }
    };
    for op in ops {
        if let (Some(Ret::Read { data: Some(text), .. }), Some(path)) = (op.ret(), op.call.path()) {
            judge_value(format!("read by op {}", op.id), path, text, &mut evidence);
        }
    }
    let mut final_values: BTreeMap<&str, Option<Value>> = BTreeMap::new();
    for (path, data) in final_state {
        let v = data.as_deref().and_then(|t| judge_value("final state".into(), path, t, &mut evidence));
        final_values.insert(path, v);
    }

    // Lost writes on plain keys.
    let mut keys_checked = 0;
    for (key, list) in &key_ops {
        if seq_prefix_of(key).is_some() {
            continue; // deletes of sequential nodes are judged with the log
        }
        let acked: Vec<&(&Operation, Effect<'_>)> = list.iter().filter(|(o, _)| o.is_ok()).collect();
        let Some(fin) = final_state.get(*key) else {
            if !acked.is_empty() {
                undecided.push(format!("{key} is not in the final state"));
            }
            continue;
        };
        keys_checked += 1;
        // The ops whose effect the final state shows.
        let candidates: Vec<&Operation> = match (fin, final_values.get(key).copied().flatten()) {
            (Some(_), None) => continue, // corrupted or malformed: already flagged
            (Some(_), Some(v)) => list
                .iter()
                .filter(|(o, e)| may_apply(o) && matches!(e, Effect::Put { value, .. } if *value == v))
                .map(|(o, _)| *o)
                .collect(),
            (None, _) => {
                if acked.is_empty() {
                    continue; // the initial absent state is possible
                }
                list.iter().filter(|(o, e)| may_apply(o) && matches!(e, Effect::Del { .. })).map(|(o, _)| *o).collect()
            }
        };
        if fin.is_some() && candidates.is_empty() {
            continue; // phantom: already flagged
        }
        let possible = candidates.iter().any(|c| acked.iter().all(|(a, _)| !precedes(c, a)));
        if !possible {
            let shown = match fin {
                Some(t) => format!("`{t}`"),
                None => "absent".to_string(),
            };
            let overwritten: Vec<String> = acked
                .iter()
                .filter(|(a, _)| candidates.iter().any(|c| precedes(c, a)))
                .map(|(a, _)| describe(a))
                .collect();
            let why = if candidates.is_empty() {
                "no delete could have removed it".to_string()
            } else {
                format!(
                    "it was last set by {} which definitely precedes acknowledged {}",
                    candidates.iter().map(|c| describe(c)).collect::<Vec<_>>().join(" or "),
                    overwritten.join(", ")
                )
            };
            evidence.push(format!("lost write on {key}: final state is {shown}, but {why}"));
            let gone: Vec<&Operation> =
                acked.iter().filter(|(a, _)| candidates.iter().any(|c| precedes(c, a))).map(|(a, _)| *a).collect();
            match (gone.is_empty(), acked.last()) {
                (false, _) => lost.extend(gone.into_iter().map(lost_op)),
                (true, Some((last, _))) => {
                    lost.insert(lost_op(last));
                }
                (true, None) => {}
            }
        }
    }

    // The sequential log.
    let mut sequential_nodes = 0;
    let mut returned: HashMap<&str, &Operation> = HashMap::new();
    let mut acked_numbers: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for op in ops {
        let (Call::CreateSequential { prefix, value }, Some(Ret::Created { path, .. })) = (&op.call, op.ret()) else {
            continue;
        };
        if let Some(first) = returned.insert(path, op) {
            lost.insert(lost_op(first));
            evidence.push(format!(
                "duplicate sequence number: {} and {} both created {path}",
                describe(first),
                describe(op)
            ));
        }
        if let Some(n) = seq_number(prefix, path) {
            acked_numbers.entry(parent(path)).or_default().insert(n);
        }
        let deletable = key_ops
            .get(path.as_str())
            .is_some_and(|l| l.iter().any(|(o, e)| may_apply(o) && matches!(e, Effect::Del { .. })));
        match final_state.get(path) {
            Some(Some(text)) if text == &value.to_string() || deletable => {}
            Some(Some(text)) => {
                lost.insert(lost_op(op));
                evidence.push(format!(
                    "sequential node {path} holds `{text}` but acknowledged {} wrote {value} there",
                    describe(op)
                ));
            }
            Some(None) | None if deletable => {}
            _ => {
                lost.insert(lost_op(op));
                evidence.push(format!("lost write: acknowledged {} created {path}, absent at the end", describe(op)));
            }
        }
    }
    let mut present: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    let mut appearances: HashMap<(&str, Value), Vec<&str>> = HashMap::new();
    for (path, data) in final_state {
        let Some(prefix) = seq_prefix_of(path) else { continue };
        if data.is_none() {
            continue;
        }
        sequential_nodes += 1;
        if let Some(n) = seq_number(prefix, path) {
            present.entry(parent(path)).or_default().insert(n);
        }
        if let Some(Some(v)) = final_values.get(path.as_str()) {
            appearances.entry((prefix, *v)).or_default().push(path);
        }
    }
    let mut dups: Vec<_> = appearances.iter().collect();
    dups.sort();
    for ((prefix, v), paths) in dups {
        let attempts = seq_attempts.get(&(*prefix, *v)).copied().unwrap_or(0);
        if paths.len() > attempts && attempts > 0 {
            evidence.push(format!(
                "duplicated sequential node: {v} appears at {} but only {attempts} create attempt(s) carried it",
                paths.join(", ")
            ));
        }
    }
    for (dir, acked) in &acked_numbers {
        let touched = key_ops.keys().any(|k| parent(k) == *dir);
        if touched {
            continue; // plain creates or deletes under the log dir move the counter too
        }
        let (Some(lo), Some(hi)) = (acked.first(), acked.last()) else { continue };
        let have = present.get(dir).cloned().unwrap_or_default();
        let missing: Vec<i64> = (*lo..=*hi).filter(|n| !have.contains(n)).collect();
        if !missing.is_empty() {
            // An acknowledged number already counts as its create's loss.
            lost.extend(missing.iter().filter(|n| !acked.contains(n)).map(|n| format!("seq {dir}/{n:010}")));
            let shown: Vec<String> = missing.iter().take(10).map(|n| format!("{n:010}")).collect();
            evidence.push(format!(
                "gap in the sequential log under {dir}: {} missing between acknowledged {lo:010} and {hi:010}: {}{}",
                missing.len(),
                shown.join(", "),
                if missing.len() > 10 { ", ..." } else { "" }
            ));
        }
    }

    let verdict = if !evidence.is_empty() {
        Verdict::Invalid { evidence }
    } else if !undecided.is_empty() {
        Verdict::Unknown { reason: undecided.join("; ") }
    } else {
        Verdict::Valid
    };
    DurabilityReport {
        verdict,
        keys_checked,
        acknowledged_writes,
        unknown_writes,
        values_checked,
        sequential_nodes,
        lost,
    }
}
