//! Synthetic recorded runs for the report's tests and benchmark: a seeded
//! simulation of clients on a three-member ensemble whose leader is killed
//! part-way. Every operation takes effect at its invoke instant, in invoke
//! order, so the history is linearizable by construction (the real
//! checkers judge it); [`stale_sync_read`] then breaks that on purpose.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zk_chaos::check::suite::{Bundle, RunFacts};
use zk_chaos::history::{Call, Event, Operation, Outcome, Ret, StatLite, Value};
use zk_chaos::probe::parse::{Mode, Srvr};
use zk_chaos::probe::{EnsembleStatus, MemberStatus};
use zk_chaos::zkconfig::{DynamicConfig, EnsembleNames};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Clients (sessions).
    pub clients: u32,
    /// Keys written and read.
    pub keys: usize,
    /// Operations in all.
    pub ops: usize,
    /// Mean think time between a client's operations, µs.
    pub think_us: u64,
    /// The leader (member 0) is killed at this time and restarted at `heal`.
    pub kill_at: u64,
    /// When it comes back.
    pub heal_at: u64,
    /// Seed.
    pub seed: u64,
}

impl Spec {
    /// About `ops` operations by 8 clients over about `seconds`, the
    /// leader killed from 30% to 45% of the way.
    pub fn new(ops: usize, seconds: u64, seed: u64) -> Self {
        let clients = 8;
        let think_us = (seconds * 1_000_000 * u64::from(clients) / ops.max(1) as u64).max(50);
        Self { clients, keys: 8, ops, think_us, kill_at: seconds * S * 30 / 100, heal_at: seconds * S * 45 / 100, seed }
    }
}

#[derive(Clone, Copy)]
struct Reg {
    value: Value,
    version: i32,
    czxid: i64,
    mzxid: i64,
}

/// Simulate `spec`: events, final state, probes, facts.
pub fn bundle(spec: &Spec) -> Bundle {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let keys: Vec<String> = (0..spec.keys).map(|k| format!("/syn/k{k}")).collect();
    let mut regs: Vec<Option<Reg>> = vec![None; spec.keys];
    let mut zxid: i64 = 0x1_0000_0000;
    let mut seq: Vec<u64> = vec![0; spec.clients as usize];
    let mut session: Vec<i64> = (0..spec.clients).map(|c| 0x100 + i64::from(c)).collect();
    // Unavailable from the kill until an election 1.6 s later.
    let elected = spec.kill_at + 1600 * MS;
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> =
        (0..spec.clients).map(|c| Reverse((u64::from(c) * 37_000, c))).collect();
    let mut events: Vec<(u64, u8, Event)> = Vec::with_capacity(spec.ops * 2);
    let mut id = 0u64;
    while (id as usize) < spec.ops {
        let Reverse((t, c)) = heap.pop().expect("clients");
        id += 1;
        let k = rng.random_range(0..spec.keys);
        let path = keys[k].clone();
        let ci = c as usize;
        let outage = t >= spec.kill_at && t < elected;
        let (call, outcome, latency, complete_zxid) = if outage {
            seq[ci] += 1;
            let call = Call::Set { path: path.clone(), value: Value::new(c, seq[ci]) };
            // Requests to the dead leader's followers hang until the session times out.
            let done = elected + rng.random_range(0..400) * MS;
            let out = if rng.random_bool(0.6) {
                Outcome::Unknown { error: "connection_loss".into() }
            } else {
                Outcome::Fail { error: "session_expired".into() }
            };
            if matches!(out, Outcome::Fail { .. }) {
                session[ci] += 0x1000;
            }
            (call, out, done.saturating_sub(t).max(MS), None)
        } else {
            let latency = rng.random_range(800..4_000) * 1000 + if rng.random_bool(0.01) { 40 * MS } else { 0 };
            let roll: f64 = rng.random();
            match regs[k] {
                None => {
                    seq[ci] += 1;
                    let value = Value::new(c, seq[ci]);
                    zxid += 1;
                    regs[k] = Some(Reg { value, version: 0, czxid: zxid, mzxid: zxid });
                    let ret = Ret::Created {
                        path: path.clone(),
                        stat: Some(StatLite { czxid: zxid, mzxid: zxid, version: 0 }),
                    };
                    (Call::Create { path, value }, Outcome::Ok { ret }, latency, Some(zxid))
                }
                Some(r) if roll < 0.45 => {
                    seq[ci] += 1;
                    let value = Value::new(c, seq[ci]);
                    zxid += 1;
                    let n = Reg { value, version: r.version + 1, czxid: r.czxid, mzxid: zxid };
                    regs[k] = Some(n);
                    let stat = StatLite { czxid: n.czxid, mzxid: n.mzxid, version: n.version };
                    (Call::Set { path, value }, Outcome::Ok { ret: Ret::Written { stat } }, latency, Some(zxid))
                }
                Some(r) if roll < 0.65 => {
                    seq[ci] += 1;
                    let value = Value::new(c, seq[ci]);
                    let expected = if rng.random_bool(0.7) { r.version } else { (r.version - 1).max(0) };
                    let call = Call::Cas { path, value, expected_version: expected };
                    if expected == r.version {
                        zxid += 1;
                        let n = Reg { value, version: r.version + 1, czxid: r.czxid, mzxid: zxid };
                        regs[k] = Some(n);
                        let stat = StatLite { czxid: n.czxid, mzxid: n.mzxid, version: n.version };
                        (call, Outcome::Ok { ret: Ret::Written { stat } }, latency, Some(zxid))
                    } else {
                        (call, Outcome::Fail { error: "bad_version".into() }, latency, None)
                    }
                }
                Some(r) => {
                    let stat = StatLite { czxid: r.czxid, mzxid: r.mzxid, version: r.version };
                    let ret = Ret::Read { data: Some(r.value.to_string()), stat: Some(stat) };
                    let call = if roll < 0.9 { Call::SyncGet { path } } else { Call::Get { path } };
                    (call, Outcome::Ok { ret }, latency, Some(zxid))
                }
            }
        };
        let done = t + latency;
        events.push((t, 0, Event::Invoke { id, client: c, session: session[ci], time_ns: t, call, intended_ns: None }));
        let never = matches!(outcome, Outcome::Unknown { .. }) && rng.random_bool(0.2);
        if !never {
            events.push((done, 1, Event::Complete { id, time_ns: done, outcome, zxid: complete_zxid }));
        }
        let think = rng.random_range(spec.think_us / 2..=spec.think_us * 3 / 2).max(1) * 1000;
        heap.push(Reverse((done + think, c)));
    }
    events.sort_by_key(|(t, kind, e)| {
        let id = match e {
            Event::Invoke { id, .. } | Event::Complete { id, .. } => *id,
        };
        (*t, *kind, id)
    });
    let end = events.last().map_or(0, |e| e.0);
    let final_state: BTreeMap<String, Option<String>> =
        keys.iter().zip(&regs).map(|(k, r)| (k.clone(), r.map(|r| r.value.to_string()))).collect();
    Bundle {
        events: events.into_iter().map(|(_, _, e)| e).collect(),
        final_state: Some(final_state),
        probes: Some(probes(spec, end + S)),
        facts: RunFacts {
            settle_after_ns: end,
            faults: vec![("SIGKILL leader zk-0".to_string(), spec.kill_at, Some(spec.heal_at))],
            settle_bound_ns: None,
            workload: None,
            operator_down: None,
        },
        ..Bundle::default()
    }
}

fn member(ordinal: u32, mode: Option<Mode>, leader: u32, version: &str) -> MemberStatus {
    let mut membership = DynamicConfig::for_replicas(&EnsembleNames::new("zk", "default"), 3);
    membership.version = Some(0x1_0000_0000);
    let mut m = MemberStatus::unprobed(ordinal, std::net::Ipv4Addr::new(10, 213, 0, 10 + ordinal as u8));
    m.srvr =
        mode.map(|mode| Srvr { version: version.into(), zxid: 0x1_0000_0000, mode, node_count: 12, connections: 3 });
    m.not_serving = false;
    m.config_version = mode.map(|_| 0x1_0000_0000);
    m.membership = mode.map(|_| membership);
    m.peer_state = mode.map(|m| if m == Mode::Leader { "leading - broadcast" } else { "following - broadcast" }.into());
    m.leader_id = mode.map(|_| u64::from(leader) + 1);
    if mode.is_none() {
        m.error = Some("connection refused".into());
    }
    m
}

/// Probe rounds every 250 ms: member 0 leads until killed, nobody leads
/// for 1.6 s, member 1 leads from then on, member 0 follows after its restart.
fn probes(spec: &Spec, until: u64) -> Vec<(u64, EnsembleStatus)> {
    let elected = spec.kill_at + 1600 * MS;
    (0..)
        .map(|i| i * 250 * MS)
        .take_while(|t| *t <= until)
        .map(|t| {
            let members = if t < spec.kill_at {
                vec![
                    member(0, Some(Mode::Leader), 0, "3.8.0"),
                    member(1, Some(Mode::Follower), 0, "3.8.0"),
                    member(2, Some(Mode::Follower), 0, "3.8.0"),
                ]
            } else if t < elected {
                vec![member(0, None, 0, "3.8.0"), member(1, None, 1, "3.8.0"), member(2, None, 1, "3.8.0")]
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut m)| {
                        m.not_serving = i != 0;
                        m.error = if i == 0 { m.error } else { None };
                        m
                    })
                    .collect()
            } else if t < spec.heal_at {
                vec![
                    member(0, None, 1, "3.8.0"),
                    member(1, Some(Mode::Leader), 1, "3.8.0"),
                    member(2, Some(Mode::Follower), 1, "3.8.0"),
                ]
            } else {
                vec![
                    member(0, Some(Mode::Follower), 1, "3.8.0"),
                    member(1, Some(Mode::Leader), 1, "3.8.0"),
                    member(2, Some(Mode::Follower), 1, "3.8.0"),
                ]
            };
            (t, EnsembleStatus::judge(members))
        })
        .collect()
}

/// Break linearizability: the last acknowledged `sync`+`get` of a key that
/// was written before it returns the value that key had before that write.
/// Returns the id of the altered operation.
pub fn stale_sync_read(b: &mut Bundle) -> u64 {
    let ops: Vec<Operation> = zk_chaos::history::pair(&b.events, "h").unwrap();
    // For each key, the values written by acknowledged writes in order.
    let mut written: BTreeMap<&str, Vec<(u64, String, i32)>> = BTreeMap::new();
    for o in &ops {
        if let (
            Call::Set { path, value } | Call::Create { path, value } | Call::Cas { path, value, .. },
            Outcome::Ok { ret },
        ) = (&o.call, &o.outcome)
        {
            let version = match ret {
                Ret::Written { stat } => stat.version,
                _ => 0,
            };
            written.entry(path).or_default().push((o.complete_ns.unwrap(), value.to_string(), version));
        }
    }
    let target = ops
        .iter()
        .rev()
        .find(|o| {
            matches!(o.call, Call::SyncGet { .. })
                && o.is_ok()
                && written
                    .get(o.call.path().unwrap())
                    .is_some_and(|w| w.iter().filter(|(t, ..)| *t < o.invoke_ns).count() >= 2)
        })
        .expect("a sync+get after two writes");
    let w = &written[target.call.path().unwrap()];
    let before: Vec<&(u64, String, i32)> = w.iter().filter(|(t, ..)| *t < target.invoke_ns).collect();
    let (_, stale, version) = before[before.len() - 2].clone();
    let id = target.id;
    for e in &mut b.events {
        if let Event::Complete { id: eid, outcome: Outcome::Ok { ret: Ret::Read { data, stat } }, .. } = e
            && *eid == id
        {
            *data = Some(stale.clone());
            if let Some(s) = stat {
                s.version = version;
            }
        }
    }
    id
}

/// Ops of a bundle, paired.
pub fn ops(b: &Bundle) -> Vec<Operation> {
    zk_chaos::history::pair(&b.events, "history.jsonl").unwrap()
}

/// Lose an acknowledged write: the final state of the first key shows the
/// value its last acknowledged write replaced.
pub fn lose_last_write(b: &mut Bundle) {
    let ops = ops(b);
    let key = "/syn/k0";
    let values: Vec<String> = ops
        .iter()
        .filter(|o| o.is_ok() && o.call.path() == Some(key))
        .filter_map(|o| match &o.call {
            Call::Set { value, .. } | Call::Create { value, .. } | Call::Cas { value, .. } => Some(value.to_string()),
            _ => None,
        })
        .collect();
    let previous = values[values.len() - 2].clone();
    b.final_state.as_mut().unwrap().insert(key.to_string(), Some(previous));
}
