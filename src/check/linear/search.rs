//! Wing & Gong's linearizability search with Lowe's memoization, as in
//! Porcupine: call/return events of one partition in a doubly linked list,
//! depth-first linearization with backtracking, and a cache of
//! (set of linearized ops, model state) already explored.
//!
//! Operations with an unknown outcome have no return event (it is at +inf):
//! they never force a backtrack and need not be linearized at all. They are
//! kept off the main list and tried only when the search is stuck at a
//! return (all definite candidates failed), which keeps valid histories with
//! many pending unknown writes close to linear time. The order in which
//! successors are tried changes nothing about completeness.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use super::model::{Kind, Reg, rollback, splitmix64, step};

/// One operation as the search sees it.
pub(crate) struct SOp {
    pub invoke: u64,
    /// `None` for unknown outcomes (return at +inf).
    pub complete: Option<u64>,
    pub kind: Kind,
}

/// Limits for one search.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub max_states: usize,
    pub max_memory_bytes: usize,
    pub deadline: Option<Instant>,
}

pub(crate) enum Outcome {
    Linearizable,
    /// No linearization: the longest prefix found (partition op indices, in
    /// order), the op that could not be linearized after it, and the state.
    NotLinearizable {
        prefix: Vec<u32>,
        blocked: u32,
        state: Vec<Reg>,
    },
    /// A limit was hit.
    GaveUp {
        reason: String,
    },
}

pub(crate) struct Stats {
    pub states: usize,
    pub memo_bytes: usize,
}

/// Identity hasher: keys are already well-mixed 64-bit hashes.
#[derive(Default)]
struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The memo: (bitset, state) records in flat arenas, chained by hash.
struct Memo {
    words: usize,
    slots: usize,
    heads: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    next: Vec<u32>,
    bits: Vec<u64>,
    regs: Vec<Reg>,
}

const NIL: u32 = u32::MAX;

impl Memo {
    fn new(words: usize, slots: usize) -> Self {
        Self { words, slots, heads: HashMap::default(), next: Vec::new(), bits: Vec::new(), regs: Vec::new() }
    }
    /// Insert; false if already present.
    fn insert(&mut self, hash: u64, bits: &[u64], regs: &[Reg]) -> bool {
        let mut i = self.heads.get(&hash).copied().unwrap_or(NIL);
        let head = i;
        while i != NIL {
            let k = i as usize;
            if self.bits[k * self.words..(k + 1) * self.words] == *bits
                && self.regs[k * self.slots..(k + 1) * self.slots] == *regs
            {
                return false;
            }
            i = self.next[k];
        }
        let idx = self.next.len() as u32;
        self.next.push(head);
        self.bits.extend_from_slice(bits);
        self.regs.extend_from_slice(regs);
        self.heads.insert(hash, idx);
        true
    }
    fn len(&self) -> usize {
        self.next.len()
    }
    fn bytes(&self) -> usize {
        self.bits.capacity() * 8
            + self.regs.capacity() * std::mem::size_of::<Reg>()
            + self.next.capacity() * 4
            + self.heads.capacity() * 16
    }
}

enum Frame {
    /// A definite op lifted from the list at `node` (its call node).
    /// `forced` when the op changes no state: then linearizing it at once
    /// loses nothing (any linearization placing it later can move it here),
    /// so when this branch fails the state before it fails too.
    Def { node: u32, mark: usize, forced: bool },
    /// The `ui`-th unknown op, linearized while stuck at the return event
    /// at position `stuck_pos`.
    /// `pass` and `blocked` say where to resume trying the others.
    Unk { ui: u32, pass: u8, stuck_pos: u32, blocked: u32, mark: usize },
}

/// Check one partition starting from `init`.
pub(crate) fn search(ops: &[SOp], init: Vec<Reg>, limits: Limits) -> (Outcome, Stats) {
    let n = ops.len();
    // Events: (time, 0 = call / 1 = return, op). Calls sort before returns at
    // equal times, so touching intervals count as concurrent (permissive).
    let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(2 * n);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.invoke, 0, i as u32));
        if let Some(c) = op.complete {
            events.push((c.max(op.invoke), 1, i as u32));
        }
    }
    events.sort_unstable();
    // Definite ops live in a linked list of nodes; unknown ops in `unk`,
    // sorted by position. `pos` is the event's rank, for availability.
    let mut node_op: Vec<u32> = Vec::new();
    let mut node_is_call: Vec<bool> = Vec::new();
    let mut node_pos: Vec<u32> = Vec::new();
    let mut call_node = vec![NIL; n];
    let mut ret_node = vec![NIL; n];
    let mut unk: Vec<(u32, u32)> = Vec::new(); // (pos, op)
    for (pos, &(_, kind, op)) in events.iter().enumerate() {
        if ops[op as usize].complete.is_none() {
            unk.push((pos as u32, op));
            continue;
        }
        let node = node_op.len() as u32;
        node_op.push(op);
        node_is_call.push(kind == 0);
        node_pos.push(pos as u32);
        if kind == 0 {
            call_node[op as usize] = node;
        } else {
            ret_node[op as usize] = node;
        }
    }
    let m = node_op.len();
    let head = m as u32; // sentinel
    let mut next: Vec<u32> = (1..=m as u32).map(|i| if i as usize == m { NIL } else { i }).collect();
    next.push(if m == 0 { NIL } else { 0 });
    let mut prev: Vec<u32> = (0..m as u32).map(|i| if i == 0 { head } else { i - 1 }).collect();
    prev.push(NIL);

    let words = n.div_ceil(64).max(1);
    let zob: Vec<u64> = (0..n as u64).map(|i| splitmix64(i ^ 0x5EED_0000_0000_0000)).collect();
    let mut bits = vec![0u64; words];
    let mut bits_hash = 0u64;
    let mut regs = init;
    let mut undo: Vec<(u32, Reg)> = Vec::new();
    let mut memo = Memo::new(words, regs.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut remaining = ops.iter().filter(|o| o.complete.is_some()).count();
    let mut best: Vec<u32> = Vec::new();
    let mut best_blocked = NIL;
    let mut best_state: Vec<Reg> = regs.clone();
    let mut iterations: u64 = 0;

    let state_hash = |regs: &[Reg]| regs.iter().enumerate().fold(0u64, |h, (s, r)| h ^ r.hash64(s));
    let stats = |memo: &Memo| Stats { states: memo.len(), memo_bytes: memo.bytes() };
    macro_rules! lift {
        ($c:expr) => {{
            let c = $c as usize;
            let (p, nx) = (prev[c], next[c]);
            next[p as usize] = nx;
            if nx != NIL {
                prev[nx as usize] = p;
            }
            let r = ret_node[node_op[c] as usize] as usize;
            let (p, nx) = (prev[r], next[r]);
            next[p as usize] = nx;
            if nx != NIL {
                prev[nx as usize] = p;
            }
        }};
    }
    macro_rules! unlift {
        ($c:expr) => {{
            let c = $c as usize;
            let r = ret_node[node_op[c] as usize] as usize;
            let (p, nx) = (prev[r], next[r]);
            next[p as usize] = r as u32;
            if nx != NIL {
                prev[nx as usize] = r as u32;
            }
            let (p, nx) = (prev[c], next[c]);
            next[p as usize] = c as u32;
            if nx != NIL {
                prev[nx as usize] = c as u32;
            }
        }};
    }

    let mut entry = next[head as usize];
    loop {
        if remaining == 0 {
            return (Outcome::Linearizable, stats(&memo));
        }
        iterations += 1;
        if iterations & 0xFFF == 0 {
            if limits.deadline.is_some_and(|d| Instant::now() >= d) {
                return (Outcome::GaveUp { reason: "time budget exhausted".into() }, stats(&memo));
            }
            if memo.bytes() > limits.max_memory_bytes {
                return (
                    Outcome::GaveUp { reason: format!("memory budget exhausted ({} bytes of memo)", memo.bytes()) },
                    stats(&memo),
                );
            }
        }
        if memo.len() > limits.max_states {
            return (
                Outcome::GaveUp { reason: format!("state budget exhausted ({} states)", limits.max_states) },
                stats(&memo),
            );
        }
        if entry != NIL && node_is_call[entry as usize] {
            let op = node_op[entry as usize];
            let mark = undo.len();
            if step(&ops[op as usize].kind, &mut regs, &mut undo) {
                let (w, b) = (op as usize / 64, 1u64 << (op % 64));
                bits[w] |= b;
                let h = bits_hash ^ zob[op as usize];
                if memo.insert(h ^ splitmix64(state_hash(&regs)), &bits, &regs) {
                    bits_hash = h;
                    let forced = ops[op as usize].kind.is_read_only();
                    stack.push(Frame::Def { node: entry, mark, forced });
                    lift!(entry);
                    remaining -= 1;
                    entry = next[head as usize];
                    continue;
                }
                bits[w] &= !b;
                rollback(&mut regs, &mut undo, mark);
            }
            entry = next[entry as usize];
            continue;
        }
        // Stuck at a return node (or, defensively, at the end of the list).
        let stuck = entry;
        if stack.len() > best.len() || best_blocked == NIL {
            best = stack
                .iter()
                .map(|f| match f {
                    Frame::Def { node, .. } => node_op[*node as usize],
                    Frame::Unk { ui, .. } => unk[*ui as usize].1,
                })
                .collect();
            best_blocked = if stuck == NIL { NIL } else { node_op[stuck as usize] };
            best_state = regs.clone();
        }
        let mut stuck_pos = if stuck == NIL { u32::MAX } else { node_pos[stuck as usize] };
        let mut blocked = if stuck == NIL { NIL } else { node_op[stuck as usize] };
        // Try unknown ops available before the stuck return: first (pass 0)
        // those after which the blocked op can be linearized at once, then
        // (pass 1) the others. Only the order differs from plain DFS; in a
        // valid history the write that explains the blocked op is usually
        // found first. When none fits, backtrack one frame.
        let mut pass = 0u8;
        // Candidates are tried from the most recently invoked down: the write
        // that explains a blocked op is usually recent, while lost writes
        // pile up at the bottom.
        let mut from = unk.partition_point(|u| u.0 < stuck_pos) as u32;
        let mut resume = true;
        loop {
            let mut pushed = false;
            while resume && pass < 2 {
                let mut ui = from;
                while ui > 0 {
                    ui -= 1;
                    let op = unk[ui as usize].1;
                    let (w, b) = (op as usize / 64, 1u64 << (op % 64));
                    if bits[w] & b == 0 {
                        let mark = undo.len();
                        if step(&ops[op as usize].kind, &mut regs, &mut undo) {
                            let helps = blocked == NIL || {
                                let m2 = undo.len();
                                let ok = step(&ops[blocked as usize].kind, &mut regs, &mut undo);
                                rollback(&mut regs, &mut undo, m2);
                                ok
                            };
                            if helps == (pass == 0) {
                                bits[w] |= b;
                                let h = bits_hash ^ zob[op as usize];
                                if memo.insert(h ^ splitmix64(state_hash(&regs)), &bits, &regs) {
                                    bits_hash = h;
                                    stack.push(Frame::Unk { ui, pass, stuck_pos, blocked, mark });
                                    pushed = true;
                                    break;
                                }
                                bits[w] &= !b;
                            }
                            rollback(&mut regs, &mut undo, mark);
                        }
                    }
                }
                if pushed {
                    break;
                }
                pass += 1;
                from = unk.partition_point(|u| u.0 < stuck_pos) as u32;
            }
            if pushed {
                entry = next[head as usize];
                break;
            }
            match stack.pop() {
                None => {
                    let blocked = if best_blocked == NIL { 0 } else { best_blocked };
                    return (Outcome::NotLinearizable { prefix: best, blocked, state: best_state }, stats(&memo));
                }
                Some(Frame::Def { node, mark, forced }) => {
                    let op = node_op[node as usize];
                    bits[op as usize / 64] &= !(1u64 << (op % 64));
                    bits_hash ^= zob[op as usize];
                    rollback(&mut regs, &mut undo, mark);
                    unlift!(node);
                    remaining += 1;
                    if forced {
                        // No alternative to explore here: keep backtracking.
                        resume = false;
                        continue;
                    }
                    entry = next[node as usize];
                    break;
                }
                Some(Frame::Unk { ui, pass: p, stuck_pos: sp, blocked: bl, mark }) => {
                    let op = unk[ui as usize].1;
                    bits[op as usize / 64] &= !(1u64 << (op % 64));
                    bits_hash ^= zob[op as usize];
                    rollback(&mut regs, &mut undo, mark);
                    // Go on with the later unknown ops at that frame's stuck point.
                    from = ui;
                    resume = true;
                    pass = p;
                    stuck_pos = sp;
                    blocked = bl;
                }
            }
        }
    }
}
