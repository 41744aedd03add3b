//! Benchmark of the per-znode linearizability checker on generated valid
//! histories: 10k / 100k / 1M operations over 100 and 1,000 keys with 10-50
//! concurrent clients, and a hard case (few keys, high concurrency, many
//! unknown outcomes).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zk_chaos::check::linear::{Budget, check};
use zk_chaos::history::{Call, Operation, Outcome, Ret, StatLite, Value};

/// A valid history: each client runs ops back to back; each op takes effect
/// at a random point of its interval, and outcomes follow a sequential
/// register per key in that order. `unknown` is the share of writes whose
/// outcome is unknown (half of them lost, half applied; half never complete).
fn generate(n: usize, keys: usize, clients: usize, unknown: f64, seed: u64) -> Vec<Operation> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Intervals first: (invoke, lin, complete, client).
    let mut slots: Vec<(u64, u64, u64, u32)> = Vec::with_capacity(n);
    let per_client = n.div_ceil(clients);
    for c in 0..clients {
        let mut t: u64 = rng.random_range(0..1_000);
        for _ in 0..per_client {
            if slots.len() == n {
                break;
            }
            let lin = t + rng.random_range(1..2_000);
            let complete = lin + rng.random_range(1..2_000);
            slots.push((t, lin, complete, c as u32));
            t = complete + rng.random_range(0..500);
        }
    }
    slots.sort_by_key(|s| s.1);
    let stat = |version| StatLite { czxid: 0, mzxid: 0, version };
    let mut state: Vec<Option<(Value, i32)>> = vec![None; keys];
    let mut seq = vec![0u64; clients];
    let mut ops = Vec::with_capacity(n);
    for (i, &(invoke, _, complete, client)) in slots.iter().enumerate() {
        let k = rng.random_range(0..keys);
        let path = format!("/bench/k{k:05}");
        seq[client as usize] += 1;
        let value = Value::new(client, seq[client as usize]);
        let cur = state[k];
        let roll = rng.random_range(0..100);
        let (call, outcome, next) = match (cur, roll) {
            (None, _) | (Some(_), 0..3) => {
                let call = Call::Create { path: path.clone(), value };
                match cur {
                    None => {
                        (call, Outcome::Ok { ret: Ret::Created { path, stat: Some(stat(0)) } }, Some(Some((value, 0))))
                    }
                    Some(_) => (call, Outcome::Fail { error: "node_exists".into() }, None),
                }
            }
            (Some(_), 3..5) => {
                (Call::Delete { path, expected_version: None }, Outcome::Ok { ret: Ret::Deleted }, Some(None))
            }
            (Some((_, v)), 5..40) => (
                Call::Set { path, value },
                Outcome::Ok { ret: Ret::Written { stat: stat(v + 1) } },
                Some(Some((value, v + 1))),
            ),
            (Some((_, v)), 40..60) => {
                let expected = if rng.random_bool(0.8) { v } else { v - 1 };
                let call = Call::Cas { path, value, expected_version: expected };
                if expected == v {
                    (call, Outcome::Ok { ret: Ret::Written { stat: stat(v + 1) } }, Some(Some((value, v + 1))))
                } else {
                    (call, Outcome::Fail { error: "bad_version".into() }, None)
                }
            }
            (Some((d, v)), _) => (
                Call::SyncGet { path },
                Outcome::Ok { ret: Ret::Read { data: Some(d.to_string()), stat: Some(stat(v)) } },
                None,
            ),
        };
        let mut op = Operation {
            id: i as u64,
            client,
            session: i64::from(client),
            invoke_ns: invoke,
            complete_ns: Some(complete),
            call,
            outcome,
            zxid: None,
        };
        let mut applies = next.is_some();
        if op.call.is_write() && rng.random_bool(unknown) {
            op.outcome = Outcome::Unknown { error: "connection_loss".into() };
            if rng.random_bool(0.5) {
                op.complete_ns = None;
            }
            if rng.random_bool(0.5) {
                applies = false; // lost
            }
        }
        if applies && let Some(next) = next {
            state[k] = next;
        }
        ops.push(op);
    }
    ops
}

fn budget() -> Budget {
    Budget { threads: 2, time_limit: Some(Duration::from_secs(120)), ..Budget::default() }
}

fn report_once(name: &str, ops: &[Operation], budget: Budget) {
    let r = check(ops, budget);
    let memo: usize = r.partitions.iter().map(|p| p.memo_bytes).max().unwrap_or(0);
    eprintln!(
        "{name}: {:?} in {:.3?}; {} ops checked ({} unknown), {} partitions, {} states, largest memo {} KiB",
        match &r.verdict {
            zk_chaos::check::Verdict::Valid => "valid".to_string(),
            v => format!("{v:?}").chars().take(200).collect(),
        },
        r.elapsed,
        r.counts.ops_checked,
        r.counts.ops_unknown,
        r.counts.partitions,
        r.counts.states,
        memo / 1024
    );
    // Generated histories are valid: anything else is a budget running out.
    assert!(!r.verdict.is_invalid(), "a generated history was judged invalid");
}

fn sizes(c: &mut Criterion) {
    let mut g = c.benchmark_group("linearizability");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    // (ops, keys, clients, share of unknown writes). 1M ops over 100 keys
    // (10k ops per key) runs without unknowns: with 1% it exhausts the
    // memory budget (see the checker's notes on unknown writes).
    for &(n, keys, clients, unknown) in &[
        (10_000, 100, 10, 0.01),
        (10_000, 1_000, 50, 0.01),
        (100_000, 100, 20, 0.01),
        (100_000, 1_000, 50, 0.01),
        (1_000_000, 100, 50, 0.0),
        (1_000_000, 1_000, 50, 0.01),
    ] {
        let ops = generate(n, keys, clients, unknown, 42);
        let name = format!("{n}ops/{keys}keys/{clients}clients/{}%unknown", (unknown * 100.0) as u32);
        report_once(&name, &ops, budget());
        g.throughput(Throughput::Elements(n as u64));
        g.measurement_time(Duration::from_secs(if n >= 1_000_000 { 10 } else { 3 }));
        g.warm_up_time(Duration::from_secs(1));
        g.bench_with_input(BenchmarkId::from_parameter(&name), &ops, |b, ops| {
            b.iter(|| black_box(check(black_box(ops), budget())))
        });
    }
    g.finish();
}

fn hard(c: &mut Criterion) {
    let mut g = c.benchmark_group("linearizability-hard");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(10));
    g.warm_up_time(Duration::from_secs(1));
    // High concurrency on one key decides slowly; with many unknowns it
    // runs into its (here small) state budget and says Unknown: the bench
    // measures the time to that answer.
    let small = Budget { max_states: 1_000_000, ..budget() };
    for &(n, keys, clients, unknown) in &[(1_000, 1, 50, 0.0), (4_000, 4, 50, 0.2)] {
        let ops = generate(n, keys, clients, unknown, 7);
        let name = format!("{n}ops/{keys}keys/{clients}clients/{}%unknown", (unknown * 100.0) as u32);
        report_once(&name, &ops, small);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(&name), &ops, |b, ops| {
            b.iter(|| black_box(check(black_box(ops), small)))
        });
    }
    g.finish();
}

criterion_group!(benches, sizes, hard);
criterion_main!(benches);
