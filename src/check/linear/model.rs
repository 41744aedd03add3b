//! The per-znode register model and the compiled form of the operations the
//! linearizability search steps through.
//!
//! A znode is a register whose state is *absent* or *present with data and a
//! data version*. Data is interned per partition (a `u32` per distinct
//! string), so a state is a few machine words and hashes cheaply.

use std::collections::HashMap;

use crate::history::{Call, Operation, Outcome, Ret};

/// One znode's state. `present == false` means absent (data and version 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Reg {
    pub present: bool,
    pub data: u32,
    pub version: i32,
}

impl Reg {
    pub const ABSENT: Reg = Reg { present: false, data: 0, version: 0 };

    pub fn hash64(&self, slot: usize) -> u64 {
        let packed = (u64::from(self.present) << 63)
            ^ (u64::from(self.data) << 32)
            ^ u64::from(self.version as u32)
            ^ ((slot as u64) << 48);
        splitmix64(packed)
    }
}

/// A state-changing sub-operation on one slot (a key of the partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sub {
    Create {
        slot: u32,
        data: u32,
    },
    Set {
        slot: u32,
        data: u32,
    },
    /// `expected == -1` is ZooKeeper's "any version".
    Cas {
        slot: u32,
        data: u32,
        expected: i32,
    },
    /// `None` or `Some(-1)`: unconditional.
    Delete {
        slot: u32,
        expected: Option<i32>,
    },
}

/// A precondition a failed operation proves held at its linearization point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cond {
    Present,
    Absent,
    PresentVersionNot(i32),
}

/// What the search does with an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Acknowledged write(s), applied atomically; each may carry the data
    /// version the server returned after it.
    Write(Vec<(Sub, Option<i32>)>),
    /// Writes whose outcome is unknown: applied atomically and successfully,
    /// or not at all (the search just never linearizes it).
    MaybeWrite(Vec<Sub>),
    /// A linearizable read (`sync` + `getData`): `data == None` means absent.
    Read { slot: u32, data: Option<u32>, version: Option<i32> },
    /// A failed single-key op: no effect, but its precondition failed.
    FailPre { slot: u32, cond: Cond },
    /// A failed multi: no effect, and applying its sub-ops in order must fail
    /// at one of them.
    MultiFail(Vec<Sub>),
}

impl Kind {
    /// Whether linearizing it never changes the state.
    pub fn is_read_only(&self) -> bool {
        matches!(self, Kind::Read { .. } | Kind::FailPre { .. } | Kind::MultiFail(_))
    }

    pub fn is_maybe(&self) -> bool {
        matches!(self, Kind::MaybeWrite(_))
    }
}

fn apply_sub(sub: &Sub, regs: &mut [Reg], undo: &mut Vec<(u32, Reg)>) -> bool {
    let slot = match sub {
        Sub::Create { slot, .. } | Sub::Set { slot, .. } | Sub::Cas { slot, .. } | Sub::Delete { slot, .. } => *slot,
    };
    let cur = regs[slot as usize];
    let next = match *sub {
        Sub::Create { data, .. } => {
            if cur.present {
                return false;
            }
            Reg { present: true, data, version: 0 }
        }
        Sub::Set { data, .. } => {
            if !cur.present {
                return false;
            }
            Reg { present: true, data, version: cur.version.wrapping_add(1) }
        }
        Sub::Cas { data, expected, .. } => {
            if !cur.present || (expected != -1 && cur.version != expected) {
                return false;
            }
            Reg { present: true, data, version: cur.version.wrapping_add(1) }
        }
        Sub::Delete { expected, .. } => {
            if !cur.present || expected.is_some_and(|e| e != -1 && e != cur.version) {
                return false;
            }
            Reg::ABSENT
        }
    };
    undo.push((slot, cur));
    regs[slot as usize] = next;
    true
}

fn sub_slot(sub: &Sub) -> u32 {
    match sub {
        Sub::Create { slot, .. } | Sub::Set { slot, .. } | Sub::Cas { slot, .. } | Sub::Delete { slot, .. } => *slot,
    }
}

/// Undo every change recorded after `mark`.
pub(crate) fn rollback(regs: &mut [Reg], undo: &mut Vec<(u32, Reg)>, mark: usize) {
    while undo.len() > mark {
        let (slot, old) = undo.pop().expect("undo entry");
        regs[slot as usize] = old;
    }
}

/// Try to linearize `kind` in state `regs`. On success the state is updated
/// (changes recorded in `undo`); on failure the state is left as it was.
pub(crate) fn step(kind: &Kind, regs: &mut [Reg], undo: &mut Vec<(u32, Reg)>) -> bool {
    let mark = undo.len();
    let ok = match kind {
        Kind::Write(subs) => subs.iter().all(|(sub, ret_version)| {
            apply_sub(sub, regs, undo) && ret_version.is_none_or(|v| regs[sub_slot(sub) as usize].version == v)
        }),
        Kind::MaybeWrite(subs) => subs.iter().all(|sub| apply_sub(sub, regs, undo)),
        Kind::Read { slot, data, version } => {
            let cur = regs[*slot as usize];
            match data {
                None => !cur.present,
                Some(d) => cur.present && cur.data == *d && version.is_none_or(|v| v == cur.version),
            }
        }
        Kind::FailPre { slot, cond } => {
            let cur = regs[*slot as usize];
            match cond {
                Cond::Present => cur.present,
                Cond::Absent => !cur.present,
                Cond::PresentVersionNot(v) => cur.present && cur.version != *v,
            }
        }
        Kind::MultiFail(subs) => {
            let all_applied = subs.iter().all(|sub| apply_sub(sub, regs, undo));
            rollback(regs, undo, mark);
            !all_applied
        }
    };
    if !ok {
        rollback(regs, undo, mark);
    }
    ok
}

/// Why an operation is not part of the linearizability check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Excluded {
    /// Plain `get`/`exists`: sequentially consistent, not linearizable.
    PlainRead,
    /// Sequential creates belong to the durability checker.
    Sequential,
    /// A read (sync or not) whose outcome is unknown or failed without
    /// telling anything about the state.
    UninformativeRead,
    /// A failed write whose error says nothing this model can check.
    UninformativeFail,
}

/// Normalize a ZooKeeper error name: `BadVersion`, `bad_version` and
/// `bad-version` are all `badversion`.
pub(crate) fn norm_error(e: &str) -> String {
    e.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// The keys an operation touches in this checker (empty when excluded).
pub(crate) fn keys_of(op: &Operation) -> Result<Vec<&str>, Excluded> {
    fn writes<'a>(call: &'a Call, out: &mut Vec<&'a str>) {
        match call {
            Call::Create { path, .. } | Call::Set { path, .. } | Call::Cas { path, .. } | Call::Delete { path, .. } => {
                out.push(path)
            }
            Call::Multi { ops } => ops.iter().for_each(|c| writes(c, out)),
            // Not modelled inside a multi: a sequential create makes a fresh
            // node; reads inside a multi do not exist in ZooKeeper 3.8 writes.
            Call::CreateSequential { .. } | Call::Get { .. } | Call::SyncGet { .. } | Call::Exists { .. } => {}
        }
    }
    match &op.call {
        Call::Get { .. } | Call::Exists { .. } => Err(Excluded::PlainRead),
        Call::CreateSequential { .. } => Err(Excluded::Sequential),
        Call::SyncGet { path } => match &op.outcome {
            Outcome::Ok { .. } => Ok(vec![path]),
            Outcome::Fail { error } if norm_error(error) == "nonode" => Ok(vec![path]),
            _ => Err(Excluded::UninformativeRead),
        },
        call => {
            let mut out = Vec::new();
            writes(call, &mut out);
            out.sort_unstable();
            out.dedup();
            if out.is_empty() { Err(Excluded::UninformativeFail) } else { Ok(out) }
        }
    }
}

/// Per-partition interning of keys and data strings.
#[derive(Default)]
pub(crate) struct Interner {
    pub slots: HashMap<String, u32>,
    pub data: HashMap<String, u32>,
    pub data_names: Vec<String>,
}

impl Interner {
    pub fn data(&mut self, s: &str) -> u32 {
        if let Some(&d) = self.data.get(s) {
            return d;
        }
        let d = self.data_names.len() as u32;
        self.data.insert(s.to_string(), d);
        self.data_names.push(s.to_string());
        d
    }
    fn slot(&self, path: &str) -> u32 {
        self.slots[path]
    }
}

fn flatten<'a>(call: &'a Call, out: &mut Vec<&'a Call>) {
    match call {
        Call::Multi { ops } => ops.iter().for_each(|c| flatten(c, out)),
        Call::Create { .. } | Call::Set { .. } | Call::Cas { .. } | Call::Delete { .. } => out.push(call),
        _ => {}
    }
}

fn sub_of(call: &Call, it: &mut Interner) -> Option<Sub> {
    Some(match call {
        Call::Create { path, value } => Sub::Create { slot: it.slot(path), data: it.data(&value.to_string()) },
        Call::Set { path, value } => Sub::Set { slot: it.slot(path), data: it.data(&value.to_string()) },
        Call::Cas { path, value, expected_version } => {
            Sub::Cas { slot: it.slot(path), data: it.data(&value.to_string()), expected: *expected_version }
        }
        Call::Delete { path, expected_version } => Sub::Delete { slot: it.slot(path), expected: *expected_version },
        _ => return None,
    })
}

fn ret_version(ret: Option<&Ret>) -> Option<i32> {
    match ret? {
        Ret::Created { stat, .. } => stat.map(|s| s.version),
        Ret::Written { stat } => Some(stat.version),
        _ => None,
    }
}

/// Compile an operation (whose keys are all interned) into what the search
/// steps through, or say why it is not checked.
pub(crate) fn compile(op: &Operation, it: &mut Interner) -> Result<Kind, Excluded> {
    let mut calls = Vec::new();
    flatten(&op.call, &mut calls);
    match (&op.call, &op.outcome) {
        (Call::Get { .. } | Call::Exists { .. }, _) => Err(Excluded::PlainRead),
        (Call::CreateSequential { .. }, _) => Err(Excluded::Sequential),
        (Call::SyncGet { path }, Outcome::Ok { ret }) => {
            let slot = it.slot(path);
            match ret {
                Ret::Read { data, stat } => Ok(Kind::Read {
                    slot,
                    data: data.as_deref().map(|d| it.data(d)),
                    version: if data.is_some() { stat.map(|s| s.version) } else { None },
                }),
                // A sync-get answering something other than a read: only
                // "absent" can be made of an `exists`-shaped answer.
                Ret::Exists { stat: None } => Ok(Kind::Read { slot, data: None, version: None }),
                _ => Err(Excluded::UninformativeRead),
            }
        }
        (Call::SyncGet { path }, Outcome::Fail { error }) if norm_error(error) == "nonode" => {
            Ok(Kind::FailPre { slot: it.slot(path), cond: Cond::Absent })
        }
        (Call::SyncGet { .. }, _) => Err(Excluded::UninformativeRead),
        (_, Outcome::Ok { ret }) => {
            let rets: Vec<Option<&Ret>> = match (&op.call, ret) {
                (Call::Multi { .. }, Ret::Multi { results }) => {
                    // Sub-results are positional over the multi's own ops;
                    // only keep those of the sub-ops we model.
                    let Call::Multi { ops } = &op.call else { unreachable!() };
                    ops.iter()
                        .zip(results.iter().map(Some).chain(std::iter::repeat(None)))
                        .filter(|(c, _)| {
                            matches!(c, Call::Create { .. } | Call::Set { .. } | Call::Cas { .. } | Call::Delete { .. })
                        })
                        .map(|(_, r)| r)
                        .collect()
                }
                (Call::Multi { .. }, _) => vec![None; calls.len()],
                _ => vec![Some(ret)],
            };
            let subs = calls
                .iter()
                .zip(rets.into_iter().chain(std::iter::repeat(None)))
                .filter_map(|(c, r)| sub_of(c, it).map(|s| (s, ret_version(r))))
                .collect::<Vec<_>>();
            if subs.is_empty() { Err(Excluded::UninformativeFail) } else { Ok(Kind::Write(subs)) }
        }
        (_, Outcome::Unknown { .. }) => {
            let subs = calls.iter().filter_map(|c| sub_of(c, it)).collect::<Vec<_>>();
            if subs.is_empty() { Err(Excluded::UninformativeFail) } else { Ok(Kind::MaybeWrite(subs)) }
        }
        (call, Outcome::Fail { error }) => {
            let e = norm_error(error);
            let cond = match (call, e.as_str()) {
                (Call::Create { .. }, "nodeexists") => Cond::Present,
                (Call::Set { .. } | Call::Cas { .. } | Call::Delete { .. }, "nonode") => Cond::Absent,
                (Call::Cas { expected_version, .. }, "badversion") => Cond::PresentVersionNot(*expected_version),
                (Call::Delete { expected_version: Some(v), .. }, "badversion") => Cond::PresentVersionNot(*v),
                (Call::Delete { .. }, "notempty") => Cond::Present,
                (Call::Multi { ops }, _) => {
                    // The first failing sub-op raised `error`. Only errors
                    // this model can produce are checked; a `nonode` may come
                    // from a create whose parent is missing, which it cannot.
                    let has_unmodelled_create = ops
                        .iter()
                        .any(|c| matches!(c, Call::Create { .. } | Call::CreateSequential { .. } | Call::Multi { .. }));
                    let checkable = e == "badversion" || e == "nodeexists" || (e == "nonode" && !has_unmodelled_create);
                    if !checkable {
                        return Err(Excluded::UninformativeFail);
                    }
                    let subs = calls.iter().filter_map(|c| sub_of(c, it)).collect::<Vec<_>>();
                    return Ok(Kind::MultiFail(subs));
                }
                _ => return Err(Excluded::UninformativeFail),
            };
            let path = call.path().expect("single-key call");
            Ok(Kind::FailPre { slot: it.slot(path), cond })
        }
    }
}

/// A fast 64-bit mixer (SplitMix64's finalizer).
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
