//! Linearizability of writes (and `sync`+read) per znode.
//!
//! ZooKeeper promises linearizable writes; a read is linearizable only after
//! a `sync`. This checker models every znode as a register — absent, or
//! present with data and a data version — and searches, per partition of
//! keys, for a linearization of the history (Wing & Gong's algorithm with
//! Lowe's memoization, the way Porcupine does it).
//!
//! What is checked, and how:
//! - `create`, `setData`, CAS (`setData` with a version) and `delete`
//!   (conditional or not), and `multi` of those, when acknowledged: they
//!   take effect atomically between invoke and completion; the data version a
//!   write returns (`stat.version`) must match the model.
//! - `sync`+`getData` (`Call::SyncGet`): returns exactly the current data
//!   (and version, when the stat is recorded), or `data: None` / a `no_node`
//!   failure when absent.
//! - Failed ops (`Outcome::Fail`) took no effect but their error proves a
//!   precondition at their linearization point, so they are checked as reads
//!   of it: `node_exists` ⇒ present; `no_node` ⇒ absent (not for `create`,
//!   whose `no_node` is about the parent); `bad_version` ⇒ present with
//!   another version; `not_empty` ⇒ present. A failed `multi` with
//!   `bad_version`/`node_exists` (or `no_node` without creates) means its
//!   sub-ops applied in order must fail somewhere. Other errors say nothing
//!   this model knows, so those ops are excluded (and counted).
//! - Unknown outcomes (connection loss, ...) may take effect at any point
//!   after their invoke, or never: their completion is at +infinity and the
//!   search may linearize them (as a successful application of the call) or
//!   leave them out. An unknown read is excluded.
//! - `multi`: every key a multi touches is put in the same partition (union
//!   find), and the multi steps all its sub-ops atomically.
//! - Plain `get`/`exists` are sequentially consistent, not linearizable: they
//!   are the session checker's. Sequential creates are the durability
//!   checker's. Both are excluded here and counted.
//!
//! Every key is assumed absent before the history starts.
//!
//! Partitions are checked independently (P-compositionality) on a few
//! threads. A partition whose search runs out of budget is `Unknown`, and so
//! is the overall verdict then, unless some partition is `Invalid`: a
//! budget never turns into `Valid`.

mod model;
mod search;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::history::{Call, ClientId, Operation, Outcome, Ret};
use model::{Excluded, Interner, Reg};
use search::{Limits, SOp};

/// The checker's name in reports.
pub const CHECKER: &str = "linearizable-writes";

/// How much the search may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Explored (linearized-set, state) pairs allowed per partition.
    pub max_states: usize,
    /// Wall-clock limit for the whole check; `None` for none.
    pub time_limit: Option<Duration>,
    /// Memory for the search memo, over all worker threads together.
    pub max_memory_bytes: usize,
    /// Worker threads (at least 1).
    pub threads: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_states: 20_000_000,
            time_limit: Some(Duration::from_secs(300)),
            max_memory_bytes: 4 << 30,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()).min(8),
        }
    }
}

/// An operation as shown in evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpSummary {
    /// Operation id.
    pub id: u64,
    /// The client.
    pub client: ClientId,
    /// What it asked.
    pub call: Call,
    /// How it ended.
    pub outcome: Outcome,
    /// Invoke time.
    pub invoke_ns: u64,
    /// Completion time (`None`: never completed).
    pub complete_ns: Option<u64>,
}

impl OpSummary {
    fn of(op: &Operation) -> Self {
        Self {
            id: op.id,
            client: op.client,
            call: op.call.clone(),
            outcome: op.outcome.clone(),
            invoke_ns: op.invoke_ns,
            complete_ns: op.complete_ns,
        }
    }

    /// One line for evidence.
    pub fn line(&self) -> String {
        let call = serde_json::to_string(&self.call).unwrap_or_default();
        let outcome = serde_json::to_string(&self.outcome).unwrap_or_default();
        let end = self.complete_ns.map_or("never".to_string(), |c| c.to_string());
        format!("op {} (client {}) [{} .. {}] {} -> {}", self.id, self.client, self.invoke_ns, end, call, outcome)
    }
}

/// Why a partition has no linearization, as small as the search can say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The keys of the partition (one unless a `multi` tied several).
    pub keys: Vec<String>,
    /// Operations of the partition that were checked.
    pub ops_in_partition: usize,
    /// Ids of the longest linearizable prefix found, in linearization order.
    pub longest_prefix: Vec<u64>,
    /// The model state after that prefix, per key.
    pub state_after_prefix: Vec<String>,
    /// The operation that could not be linearized after the prefix.
    pub blocked: OpSummary,
    /// Operations (in the prefix or not) that overlap the blocked one in time.
    pub concurrent: Vec<OpSummary>,
    /// The last few operations of the prefix (most recent last).
    pub prefix_tail: Vec<OpSummary>,
    /// When the blocked operation is a read after `sync` that returned an
    /// older version than a write acknowledged before the read began: the
    /// pattern named in the evidence (see [`StaleSyncRead`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_sync_read: Option<StaleSyncRead>,
}

/// A read after `sync` that went back in time: it returned a znode's data
/// at an older zxid than a write to that znode acknowledged (to any client)
/// before the read was invoked. ZooKeeper documents that a client that
/// calls `sync` before reading sees every write acknowledged before it, so
/// this is a ZooKeeper finding, not a modelling artefact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleSyncRead {
    /// The znode.
    pub path: String,
    /// The read after `sync`.
    pub read: OpSummary,
    /// The zxid of the data it returned (`mzxid`).
    pub read_mzxid: i64,
    /// The acknowledged write it missed (the newest one before the read).
    pub write: OpSummary,
    /// The zxid that write was given.
    pub write_zxid: i64,
    /// How long before the read's invoke the write was acknowledged.
    pub acknowledged_before_ns: u64,
}

impl StaleSyncRead {
    /// Find the pattern: `blocked` is an acknowledged `sync`+read of a present
    /// znode, and among `ops` an acknowledged write to that znode completed
    /// before it was invoked with a higher zxid than the data it returned.
    pub fn find(blocked: &Operation, ops: &[&Operation]) -> Option<Self> {
        let Call::SyncGet { path } = &blocked.call else { return None };
        let Some(Ret::Read { stat: Some(read), .. }) = blocked.ret() else { return None };
        let write = ops
            .iter()
            .filter(|w| w.is_ok() && w.complete_ns.is_some_and(|c| c < blocked.invoke_ns))
            .filter_map(|w| Some((*w, written_zxid(w, path)?)))
            .filter(|(_, z)| *z > read.mzxid)
            .max_by_key(|(w, _)| w.complete_ns)?;
        Some(Self {
            path: path.clone(),
            read: OpSummary::of(blocked),
            read_mzxid: read.mzxid,
            write: OpSummary::of(write.0),
            write_zxid: write.1,
            acknowledged_before_ns: blocked.invoke_ns - write.0.complete_ns.unwrap_or(0),
        })
    }

    /// The evidence line: what happened and what is known to cause it.
    pub fn line(&self) -> String {
        format!(
            "a read after sync went back in time: op {} (client {}) read {} at zxid {} after its sync, but op {} \
             (client {}) had been acknowledged {:.1} ms before that read began, writing zxid {}. ZooKeeper documents \
             that a read after sync sees every write acknowledged before it; this one did not. Known gaps that \
             allow it (no released version fixes either): a leader answers a sync at once, without waiting until \
             it has applied what it committed, so a sync+read through the leader can miss a write a follower has \
             already applied and acknowledged; and sync is not a quorum operation (ZOOKEEPER-1675, open)",
            self.read.id,
            self.read.client,
            self.path,
            crate::diagnose::explain::zxid_hex(self.read_mzxid),
            self.write.id,
            self.write.client,
            self.acknowledged_before_ns as f64 / 1e6,
            crate::diagnose::explain::zxid_hex(self.write_zxid),
        )
    }
}

/// The zxid an acknowledged write gave `path`, when the history knows it.
fn written_zxid(op: &Operation, path: &str) -> Option<i64> {
    match (&op.call, op.ret()?) {
        (Call::Set { path: p, .. } | Call::Cas { path: p, .. }, Ret::Written { stat }) if p == path => Some(stat.mzxid),
        (Call::Create { path: p, .. }, Ret::Created { stat: Some(stat), .. }) if p == path => Some(stat.mzxid),
        _ => None,
    }
}

impl Violation {
    /// Evidence lines for a verdict.
    pub fn evidence(&self) -> Vec<String> {
        let mut out: Vec<String> = self.stale_sync_read.iter().map(StaleSyncRead::line).collect();
        out.extend([
            format!(
                "keys {:?}: no linearization of {} operations; longest linearizable prefix has {} ops",
                self.keys,
                self.ops_in_partition,
                self.longest_prefix.len()
            ),
            format!("state after that prefix: {}", self.state_after_prefix.join(", ")),
            format!("cannot linearize next: {}", self.blocked.line()),
        ]);
        out.extend(self.prefix_tail.iter().map(|o| format!("prefix tail: {}", o.line())));
        out.extend(self.concurrent.iter().map(|o| format!("concurrent: {}", o.line())));
        out
    }

    fn size(&self) -> (usize, usize) {
        (self.concurrent.len() + 1, self.ops_in_partition)
    }
}

/// The verdict for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyReport {
    /// Its keys (sorted).
    pub keys: Vec<String>,
    /// Operations checked.
    pub ops: usize,
    /// Of which with an unknown outcome.
    pub unknown_ops: usize,
    /// The verdict.
    pub verdict: Verdict,
    /// Search states explored.
    pub states: usize,
    /// Bytes the search memo held at the end.
    pub memo_bytes: usize,
}

/// What the checker looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Operations in the history.
    pub ops_total: usize,
    /// Operations checked (writes, sync-reads, informative failures, unknowns).
    pub ops_checked: usize,
    /// Checked operations with an unknown outcome.
    pub ops_unknown: usize,
    /// Plain reads excluded (sequentially consistent only).
    pub excluded_plain_reads: usize,
    /// Sequential creates excluded (durability checker).
    pub excluded_sequential: usize,
    /// Reads with an unknown or uninformative failed outcome.
    pub excluded_uninformative_reads: usize,
    /// Failed writes whose error tells nothing about the modelled state.
    pub excluded_uninformative_fails: usize,
    /// Distinct keys checked.
    pub keys: usize,
    /// Partitions (keys tied by multis share one).
    pub partitions: usize,
    /// Search states explored, in total.
    pub states: usize,
}

/// The checker's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearReport {
    /// The overall verdict.
    pub verdict: Verdict,
    /// Per partition, sorted by first key.
    pub partitions: Vec<KeyReport>,
    /// Counts.
    pub counts: Counts,
    /// The smallest violation found, if any.
    pub violation: Option<Violation>,
    /// Wall-clock time of the check.
    pub elapsed: Duration,
}

impl LinearReport {
    /// The verdict of the partition holding `key`, if it was checked.
    pub fn verdict_for(&self, key: &str) -> Option<&Verdict> {
        self.partitions.iter().find(|p| p.keys.iter().any(|k| k == key)).map(|p| &p.verdict)
    }

    /// As a named result for the run report.
    pub fn result(&self) -> super::CheckResult {
        super::CheckResult { checker: CHECKER.to_string(), verdict: self.verdict.clone() }
    }
}

struct Partition {
    keys: Vec<String>,
    ops: Vec<usize>,
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

struct PartOutcome {
    report: KeyReport,
    violation: Option<Violation>,
}

/// Check that the writes and sync-reads of `ops` are linearizable per znode.
pub fn check(ops: &[Operation], budget: Budget) -> LinearReport {
    let started = Instant::now();
    let deadline = budget.time_limit.map(|t| started + t);
    let mut counts = Counts { ops_total: ops.len(), ..Counts::default() };

    // Keys, and the union of keys a multi touches.
    let mut key_ids: HashMap<&str, usize> = HashMap::new();
    let mut key_names: Vec<&str> = Vec::new();
    let mut parent: Vec<usize> = Vec::new();
    let mut op_key: Vec<Option<usize>> = Vec::with_capacity(ops.len());
    for op in ops {
        match model::keys_of(op) {
            Ok(keys) => {
                let ids: Vec<usize> = keys
                    .iter()
                    .map(|k| {
                        *key_ids.entry(k).or_insert_with(|| {
                            key_names.push(k);
                            parent.push(parent.len());
                            parent.len() - 1
                        })
                    })
                    .collect();
                for w in ids.windows(2) {
                    let (a, b) = (find(&mut parent, w[0]), find(&mut parent, w[1]));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
                op_key.push(Some(ids[0]));
            }
            Err(e) => {
                bump(&mut counts, e);
                op_key.push(None);
            }
        }
    }
    let mut part_of_root: HashMap<usize, usize> = HashMap::new();
    let mut parts: Vec<Partition> = Vec::new();
    for (k, name) in key_names.iter().enumerate() {
        let r = find(&mut parent, k);
        let p = *part_of_root.entry(r).or_insert_with(|| {
            parts.push(Partition { keys: Vec::new(), ops: Vec::new() });
            parts.len() - 1
        });
        parts[p].keys.push(name.to_string());
    }
    for (i, k) in op_key.iter().enumerate() {
        if let Some(k) = k {
            let p = part_of_root[&find(&mut parent, *k)];
            parts[p].ops.push(i);
        }
    }
    for p in &mut parts {
        p.keys.sort();
    }
    counts.keys = key_names.len();
    counts.partitions = parts.len();

    // Biggest partitions first, pulled by the workers.
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&p| std::cmp::Reverse(parts[p].ops.len()));
    let threads = budget.threads.max(1).min(parts.len().max(1));
    let limits =
        Limits { max_states: budget.max_states, max_memory_bytes: budget.max_memory_bytes / threads, deadline };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<(PartOutcome, Counts)>>> = Mutex::new((0..parts.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&p) = order.get(i) else { break };
                    let r = check_partition(ops, &parts[p], limits);
                    results.lock().expect("results lock")[p] = Some(r);
                }
            });
        }
    });

    let mut partitions = Vec::with_capacity(parts.len());
    let mut violation: Option<Violation> = None;
    for (out, c) in results.into_inner().expect("results lock").into_iter().flatten() {
        counts.ops_checked += c.ops_checked;
        counts.ops_unknown += c.ops_unknown;
        counts.excluded_plain_reads += c.excluded_plain_reads;
        counts.excluded_sequential += c.excluded_sequential;
        counts.excluded_uninformative_reads += c.excluded_uninformative_reads;
        counts.excluded_uninformative_fails += c.excluded_uninformative_fails;
        counts.states += out.report.states;
        if let Some(v) = out.violation
            && violation.as_ref().is_none_or(|best| v.size() < best.size())
        {
            violation = Some(v);
        }
        partitions.push(out.report);
    }
    partitions.sort_by(|a, b| a.keys.cmp(&b.keys));

    let verdict = if let Some(v) = &violation {
        let mut evidence = v.evidence();
        let others = partitions.iter().filter(|p| p.verdict.is_invalid()).count();
        if others > 1 {
            evidence.push(format!("{} partitions are not linearizable in all", others));
        }
        Verdict::Invalid { evidence }
    } else if partitions.iter().any(|p| matches!(p.verdict, Verdict::Unknown { .. })) {
        let unknown: Vec<String> = partitions
            .iter()
            .filter_map(|p| match &p.verdict {
                Verdict::Unknown { reason } => Some(format!("{:?}: {reason}", p.keys)),
                _ => None,
            })
            .collect();
        Verdict::Unknown {
            reason: format!(
                "{} of {} partitions undecided: {}",
                unknown.len(),
                partitions.len(),
                unknown.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            ),
        }
    } else if counts.ops_checked == 0 {
        Verdict::Unknown { reason: "no write or sync-read operation to check".into() }
    } else {
        Verdict::Valid
    };
    LinearReport { verdict, partitions, counts, violation, elapsed: started.elapsed() }
}

fn bump(counts: &mut Counts, e: Excluded) {
    match e {
        Excluded::PlainRead => counts.excluded_plain_reads += 1,
        Excluded::Sequential => counts.excluded_sequential += 1,
        Excluded::UninformativeRead => counts.excluded_uninformative_reads += 1,
        Excluded::UninformativeFail => counts.excluded_uninformative_fails += 1,
    }
}

fn check_partition(all: &[Operation], part: &Partition, limits: Limits) -> (PartOutcome, Counts) {
    let mut counts = Counts::default();
    let mut it = Interner::default();
    for (i, k) in part.keys.iter().enumerate() {
        it.slots.insert(k.clone(), i as u32);
    }
    let mut sops = Vec::with_capacity(part.ops.len());
    let mut origin = Vec::with_capacity(part.ops.len());
    for &i in &part.ops {
        let op = &all[i];
        match model::compile(op, &mut it) {
            Ok(kind) => {
                // Unknown outcomes complete at +inf: no return event at all.
                let complete = if kind.is_maybe() { None } else { Some(op.complete_ns.unwrap_or(u64::MAX)) };
                if complete.is_none() {
                    counts.ops_unknown += 1;
                }
                sops.push(SOp { invoke: op.invoke_ns, complete, kind });
                origin.push(i);
            }
            Err(e) => bump(&mut counts, e),
        }
    }
    counts.ops_checked = sops.len();
    let mut report = KeyReport {
        keys: part.keys.clone(),
        ops: sops.len(),
        unknown_ops: counts.ops_unknown,
        verdict: Verdict::Valid,
        states: 0,
        memo_bytes: 0,
    };
    if limits.deadline.is_some_and(|d| Instant::now() >= d) {
        report.verdict = Verdict::Unknown { reason: "time budget exhausted before this partition was checked".into() };
        return (PartOutcome { report, violation: None }, counts);
    }
    let init = vec![Reg::ABSENT; part.keys.len()];
    let (outcome, stats) = search::search(&sops, init, limits);
    report.states = stats.states;
    report.memo_bytes = stats.memo_bytes;
    let violation = match outcome {
        search::Outcome::Linearizable => None,
        search::Outcome::GaveUp { reason } => {
            report.verdict = Verdict::Unknown { reason };
            None
        }
        search::Outcome::NotLinearizable { prefix, blocked, state } => {
            let b = &sops[blocked as usize];
            let b_end = b.complete.unwrap_or(u64::MAX);
            let concurrent: Vec<OpSummary> = (0..sops.len() as u32)
                .filter(|&j| j != blocked)
                .filter(|&j| {
                    let o = &sops[j as usize];
                    o.invoke <= b_end && o.complete.unwrap_or(u64::MAX) >= b.invoke
                })
                .map(|j| OpSummary::of(&all[origin[j as usize]]))
                .collect();
            let state_after_prefix = part
                .keys
                .iter()
                .zip(&state)
                .map(|(k, r)| {
                    if r.present {
                        format!("{k} = {:?} (version {})", it.data_names[r.data as usize], r.version)
                    } else {
                        format!("{k} absent")
                    }
                })
                .collect();
            let blocked_op = &all[origin[blocked as usize]];
            let part_ops: Vec<&Operation> = part.ops.iter().map(|&i| &all[i]).collect();
            let v = Violation {
                stale_sync_read: StaleSyncRead::find(blocked_op, &part_ops),
                keys: part.keys.clone(),
                ops_in_partition: sops.len(),
                longest_prefix: prefix.iter().map(|&j| all[origin[j as usize]].id).collect(),
                state_after_prefix,
                blocked: OpSummary::of(&all[origin[blocked as usize]]),
                concurrent,
                prefix_tail: prefix
                    .iter()
                    .rev()
                    .take(5)
                    .rev()
                    .map(|&j| OpSummary::of(&all[origin[j as usize]]))
                    .collect(),
            };
            report.verdict = Verdict::Invalid { evidence: v.evidence() };
            Some(v)
        }
    };
    (PartOutcome { report, violation }, counts)
}
