//! Session guarantees for plain reads (`Get`, `Exists`).
//!
//! ZooKeeper reads are sequentially consistent, not linearizable: a plain
//! read may be stale, and a read in one session may miss a write another
//! session already saw. That is legal and never flagged here. What a
//! *session* (one ZooKeeper session id; a reconnecting client gets a new
//! one) is promised is:
//!
//! * **Monotonic reads.** Once a session has observed a state of a key, its
//!   later reads of the key never show an older state: the `mzxid` never
//!   decreases, and the value read is never one whose every possible writer
//!   definitely precedes the writer of the value seen before.
//! * **Read your writes.** After a session's acknowledged write to a key
//!   completes, its later reads of that key show that value or a later one
//!   (later by zxid, or by being written by an op that does not definitely
//!   precede the session's write; an absent znode needs a delete that does
//!   not definitely precede it).
//! * **Monotonic zxid across keys.** Once a session has seen zxid `H` (an
//!   acknowledged write's zxid or a read's `mzxid`), its server has applied
//!   everything up to `H`: a later read of any key must reflect every
//!   acknowledged write to that key with a known zxid `<= H`.
//! * **FIFO.** A session's acknowledged writes with known zxids have zxids
//!   increasing in invoke order.
//!
//! "Definitely precedes" is [`super::durability`]'s rule: completed before
//! the other was invoked, smaller zxid, or earlier in the same session.
//! Operations with an unknown outcome impose no obligation (they set no
//! floor) but may explain any value they carried. `SyncGet` observations
//! raise the session's floors like plain reads but are not themselves
//! judged here (the linearizability checker does that). Ops with session
//! id 0 (not connected) are ignored.

use std::collections::{BTreeMap, HashMap};

use super::Verdict;
use super::durability::{Effect, describe, effects, may_apply, op_zxid, precedes};
use crate::history::{Call, Operation, Ret, Value};

/// Facts the session checker computed, with its verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionReport {
    /// The verdict.
    pub verdict: Verdict,
    /// Distinct sessions seen.
    pub sessions: usize,
    /// Plain reads judged.
    pub reads_checked: usize,
}

/// What a read saw.
#[derive(Debug, Clone, Copy)]
enum Seen {
    Present { value: Option<Value>, mzxid: Option<i64> },
    Absent,
}

/// The oldest state of a key a session may still observe.
#[derive(Debug, Clone)]
struct Floor<'a> {
    /// `None`: the znode was deleted.
    value: Option<Value>,
    /// The ops that may have produced that state (one of them did).
    ops: Vec<&'a Operation>,
    zxid: Option<i64>,
    why: String,
}

/// Acknowledged effects with a known zxid on one key: (zxid, op, value; `None` for a delete).
type ZxidEvents<'a> = Vec<(i64, &'a Operation, Option<Value>)>;

struct Index<'a> {
    puts: HashMap<(&'a str, Value), Vec<&'a Operation>>,
    dels: HashMap<&'a str, Vec<&'a Operation>>,
    /// Acknowledged effects with a known zxid, per key, sorted by zxid.
    by_zxid: HashMap<&'a str, ZxidEvents<'a>>,
}

impl<'a> Index<'a> {
    fn new(ops: &'a [Operation]) -> Self {
        let mut idx = Index { puts: HashMap::new(), dels: HashMap::new(), by_zxid: HashMap::new() };
        for op in ops.iter().filter(|o| may_apply(o)) {
            for e in effects(&op.call) {
                let (path, value) = match e {
                    Effect::Put { path, value } => {
                        idx.puts.entry((path, value)).or_default().push(op);
                        (path, Some(value))
                    }
                    Effect::Del { path } => {
                        idx.dels.entry(path).or_default().push(op);
                        (path, None)
                    }
                    Effect::Seq { .. } => continue,
                };
                if let (true, Some(z)) = (op.is_ok(), op_zxid(op)) {
                    idx.by_zxid.entry(path).or_default().push((z, op, value));
                }
            }
        }
        for v in idx.by_zxid.values_mut() {
            v.sort_by_key(|(z, o, _)| (*z, o.id));
        }
        idx
    }

    /// The floor implied by the session having seen zxid `high`.
    fn implied(&self, key: &str, high: i64) -> Option<Floor<'a>> {
        let list = self.by_zxid.get(key)?;
        let n = list.partition_point(|(z, _, _)| *z <= high);
        let (z, op, value) = *list.get(n.checked_sub(1)?)?;
        Some(Floor {
            value,
            ops: vec![op],
            zxid: Some(z),
            why: format!("the session had seen zxid {high:#x} >= {z:#x} of acknowledged {}", describe(op)),
        })
    }

    /// Why `seen` is older than `floor`, if it is.
    fn violation(&self, key: &str, floor: &Floor<'a>, seen: Seen) -> Option<String> {
        let all_precede =
            |cands: &[&Operation]| !cands.is_empty() && cands.iter().all(|c| floor.ops.iter().all(|f| precedes(c, f)));
        match (floor.value, seen) {
            (Some(fv), Seen::Present { value, mzxid }) => {
                if let (Some(m), Some(z)) = (mzxid, floor.zxid)
                    && m < z
                {
                    return Some(format!("mzxid {m:#x} < {z:#x}"));
                }
                let v = value.filter(|v| *v != fv)?;
                let cands = self.puts.get(&(key, v)).map(Vec::as_slice).unwrap_or_default();
                all_precede(cands).then(|| format!("{v} was written before {fv}"))
            }
            (Some(fv), Seen::Absent) => {
                let dels = self.dels.get(key).map(Vec::as_slice).unwrap_or_default();
                (dels.is_empty() || all_precede(dels)).then(|| format!("absent, but no delete could follow {fv}"))
            }
            (None, Seen::Absent) => None,
            (None, Seen::Present { value, mzxid }) => {
                if let (Some(m), Some(z)) = (mzxid, floor.zxid)
                    && m <= z
                {
                    return Some(format!("mzxid {m:#x} <= {z:#x} of the delete"));
                }
                let v = value?;
                let cands = self.puts.get(&(key, v)).map(Vec::as_slice).unwrap_or_default();
                all_precede(cands).then(|| format!("{v} was written before the delete"))
            }
        }
    }
}

fn seen_of(op: &Operation) -> Option<(&str, Seen)> {
    let path = op.call.path()?;
    let seen = match op.ret()? {
        Ret::Read { data: Some(text), stat } => {
            Seen::Present { value: Value::parse(text).ok(), mzxid: stat.map(|s| s.mzxid) }
        }
        Ret::Read { data: None, .. } | Ret::Exists { stat: None } => Seen::Absent,
        Ret::Exists { stat: Some(s) } => Seen::Present { value: None, mzxid: Some(s.mzxid) },
        _ => return None,
    };
    Some((path, seen))
}

fn show(seen: Seen) -> String {
    match seen {
        Seen::Absent => "absent".into(),
        Seen::Present { value: Some(v), .. } => v.to_string(),
        Seen::Present { value: None, mzxid: Some(m) } => format!("present (mzxid {m:#x})"),
        Seen::Present { value: None, mzxid: None } => "present".into(),
    }
}

/// Judge session guarantees; see the module docs.
pub fn check(ops: &[Operation]) -> Verdict {
    report(ops).verdict
}

/// [`check`], with the facts it computed.
pub fn report(ops: &[Operation]) -> SessionReport {
    let idx = Index::new(ops);
    let mut sessions: BTreeMap<i64, Vec<&Operation>> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.session != 0) {
        sessions.entry(op.session).or_default().push(op);
    }
    let mut evidence = Vec::new();
    let mut reads_checked = 0;
    for (session, list) in &sessions {
        let who = |op: &Operation| format!("session {session:#x} (client {})", op.client);

        // FIFO: acknowledged writes' zxids increase in invoke order.
        let mut writes: Vec<&Operation> = list.iter().copied().filter(|o| o.is_ok() && o.call.is_write()).collect();
        writes.sort_by_key(|o| (o.invoke_ns, o.id));
        let mut last: Option<(i64, &Operation)> = None;
        for w in writes {
            let Some(z) = op_zxid(w) else { continue };
            if let Some((lz, lo)) = last
                && z <= lz
            {
                evidence.push(format!(
                    "FIFO violated in {}: {} (zxid {z:#x}) was invoked after {} (zxid {lz:#x})",
                    who(w),
                    describe(w),
                    describe(lo)
                ));
            }
            if last.is_none_or(|(lz, _)| z > lz) {
                last = Some((z, w));
            }
        }

        // Replay the session: a completion raises floors, an invoke of a plain read is judged.
        // (time, 0 = completion / 1 = invoke, op)
        let mut steps: Vec<(u64, u8, &Operation)> = Vec::new();
        for op in list {
            if let (true, Some(c)) = (op.is_ok(), op.complete_ns) {
                steps.push((c, 0, op));
            }
            if op.is_ok() && matches!(op.call, Call::Get { .. } | Call::Exists { .. }) {
                steps.push((op.invoke_ns, 1, op));
            }
        }
        steps.sort_by_key(|(t, k, o)| (*t, *k, o.id));
        let mut floors: HashMap<&str, Floor<'_>> = HashMap::new();
        let mut high: Option<i64> = None;
        for (_, kind, op) in steps {
            if kind == 1 {
                let Some((key, seen)) = seen_of(op) else { continue };
                reads_checked += 1;
                let own = floors.get(key).cloned();
                let implied = high.and_then(|h| idx.implied(key, h));
                for floor in own.iter().chain(implied.iter()) {
                    if let Some(why) = idx.violation(key, floor, seen) {
                        let kind = if floor.why.starts_with("its own") {
                            "read-your-writes"
                        } else if floor.why.starts_with("it read") {
                            "monotonic reads"
                        } else {
                            "monotonic zxid"
                        };
                        evidence.push(format!(
                            "{kind} violated in {}: {} saw {} at {key} after {}: {why}",
                            who(op),
                            describe(op),
                            show(seen),
                            floor.why
                        ));
                        break;
                    }
                }
                continue;
            }
            // A completion.
            if op.call.is_write() {
                let z = op_zxid(op);
                high = high.max(z);
                for e in effects(&op.call) {
                    let (key, value) = match e {
                        Effect::Put { path, value } => (path, Some(value)),
                        Effect::Del { path } => (path, None),
                        Effect::Seq { .. } => continue,
                    };
                    let why = format!("its own acknowledged {}", describe(op));
                    floors.insert(key, Floor { value, ops: vec![op], zxid: z, why });
                }
            } else if let Some((key, Seen::Present { value, mzxid })) = seen_of(op) {
                high = high.max(mzxid);
                let cands = value.and_then(|v| idx.puts.get(&(key, v)));
                if let (Some(v), Some(cands)) = (value, cands) {
                    let why = format!("it read {v} in {}", describe(op));
                    match floors.get_mut(key) {
                        Some(f) if f.value == Some(v) => f.zxid = f.zxid.max(mzxid),
                        _ => {
                            floors.insert(key, Floor { value, ops: cands.clone(), zxid: mzxid, why });
                        }
                    }
                } else if let (Some(m), Some(f)) = (mzxid, floors.get_mut(key))
                    && f.value.is_some()
                    && f.zxid.is_none_or(|z| z < m)
                {
                    // A newer state of unknown value: keep the floor's ops, raise its zxid.
                    f.zxid = Some(m);
                }
            }
        }
    }
    let verdict = if evidence.is_empty() { Verdict::Valid } else { Verdict::Invalid { evidence } };
    SessionReport { verdict, sessions: sessions.len(), reads_checked }
}
