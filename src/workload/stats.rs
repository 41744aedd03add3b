//! Latency and throughput of a recorded history, for the report: a latency
//! histogram (hdrhistogram) per operation kind and completed ops per second.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::history::{Call, Operation, Outcome};

/// Latency summary of one operation kind, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Completed operations of this kind.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Maximum.
    pub max_us: u64,
}

/// Throughput and latency of a history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Operations by outcome: ok, fail, unknown.
    pub outcomes: BTreeMap<String, u64>,
    /// Latency per kind (completed operations only).
    pub latency: BTreeMap<String, Latency>,
    /// Ok operations completed in each second since the start.
    pub ok_per_second: Vec<u64>,
    /// Mean ok operations per second over the history's span.
    pub mean_ok_per_second: f64,
}

/// The kind name of a call.
pub fn kind(call: &Call) -> &'static str {
    match call {
        Call::Create { .. } => "create",
        Call::CreateSequential { .. } => "append",
        Call::Set { .. } => "set",
        Call::Cas { .. } => "cas",
        Call::Delete { .. } => "delete",
        Call::Get { .. } => "get",
        Call::SyncGet { .. } => "sync_get",
        Call::Exists { .. } => "exists",
        Call::Multi { .. } => "multi",
    }
}

/// Compute the statistics of `ops`.
pub fn stats(ops: &[Operation]) -> Stats {
    let mut outcomes = BTreeMap::new();
    let mut hist: BTreeMap<&'static str, Histogram<u64>> = BTreeMap::new();
    let mut per_second: Vec<u64> = Vec::new();
    let (mut first, mut last) = (u64::MAX, 0u64);
    for op in ops {
        let o = match op.outcome {
            Outcome::Ok { .. } => "ok",
            Outcome::Fail { .. } => "fail",
            Outcome::Unknown { .. } => "unknown",
        };
        *outcomes.entry(o.to_string()).or_insert(0) += 1;
        first = first.min(op.invoke_ns);
        let Some(done) = op.complete_ns else { continue };
        last = last.max(done);
        let h = hist.entry(kind(&op.call)).or_insert_with(|| Histogram::new(3).expect("valid sigfig"));
        let _ = h.record(((done - op.invoke_ns) / 1000).max(1));
        if op.is_ok() {
            let s = (done / 1_000_000_000) as usize;
            if per_second.len() <= s {
                per_second.resize(s + 1, 0);
            }
            per_second[s] += 1;
        }
    }
    let latency = hist
        .into_iter()
        .map(|(k, h)| {
            let l = Latency {
                count: h.len(),
                p50_us: h.value_at_quantile(0.5),
                p99_us: h.value_at_quantile(0.99),
                max_us: h.max(),
            };
            (k.to_string(), l)
        })
        .collect();
    let span = if last > first { (last - first) as f64 / 1e9 } else { 0.0 };
    let ok = outcomes.get("ok").copied().unwrap_or(0) as f64;
    Stats { outcomes, latency, ok_per_second: per_second, mean_ok_per_second: if span > 0.0 { ok / span } else { 0.0 } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Ret, Value};

    fn op(id: u64, start_ms: u64, end_ms: Option<u64>, outcome: Outcome) -> Operation {
        Operation {
            id,
            client: 0,
            session: 1,
            invoke_ns: start_ms * 1_000_000,
            complete_ns: end_ms.map(|e| e * 1_000_000),
            call: Call::Set { path: "/k".into(), value: Value::new(0, id) },
            outcome,
            zxid: None,
        }
    }

    #[test]
    fn latency_and_throughput() {
        let ok = || Outcome::Ok { ret: Ret::Deleted };
        let ops = vec![
            op(1, 0, Some(10), ok()),
            op(2, 100, Some(120), ok()),
            op(3, 1500, Some(1510), ok()),
            op(4, 1600, None, Outcome::Unknown { error: "timeout".into() }),
            op(5, 1700, Some(1705), Outcome::Fail { error: "BadVersion".into() }),
        ];
        let s = stats(&ops);
        assert_eq!(s.outcomes["ok"], 3);
        assert_eq!(s.outcomes["unknown"], 1);
        assert_eq!(s.ok_per_second, vec![2, 1]);
        let set = &s.latency["set"];
        assert_eq!(set.count, 4);
        assert!(set.max_us >= 19_000 && set.max_us <= 20_100, "{set:?}");
        assert!(s.mean_ok_per_second > 1.5 && s.mean_ok_per_second < 2.0, "{}", s.mean_ok_per_second);
    }
}
