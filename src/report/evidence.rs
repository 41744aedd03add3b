//! What a scenario's recorded workload and checkers showed, summarised for
//! the report: per-second series instead of raw operations (a history of
//! a million operations becomes a few hundred buckets), the probe timeline
//! as state changes, checker verdicts with their evidence, availability and
//! recovery figures, and, on a linearizability failure, the offending
//! key's operations around the violation.

use serde::{Deserialize, Serialize};

use super::ReportError;
use super::linear_view::LinearFailure;
use super::probes::{self, LeaderChange, ProbeTimeline, Recovery};
use super::record::{FaultEntry, OperatorAction};
use crate::check::availability::Availability;
use crate::check::quorum::QuorumReport;
use crate::check::suite::{Bundle, SuiteReport};
use crate::check::{CheckResult, Verdict};
use crate::history::{self, Operation, Outcome};

/// Width of one series bucket: one second.
pub const BUCKET_NS: u64 = 1_000_000_000;

/// The name of the durability checker, whose `lost write` evidence is counted.
pub const DURABILITY_CHECKER: &str = "durability-and-integrity";

/// Operations by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCounts {
    /// All operations.
    pub total: u64,
    /// Acknowledged.
    pub ok: u64,
    /// Definitely not applied.
    pub failed: u64,
    /// May or may not have been applied.
    pub unknown: u64,
}

/// One bucket of the workload series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Operations that completed ok in the bucket.
    pub ok: u32,
    /// Operations that failed in the bucket.
    pub failed: u32,
    /// Operations that ended unknown in the bucket (or, never completing,
    /// were invoked in it).
    pub unknown: u32,
    /// Median latency of the operations completed in the bucket, µs (0: none).
    pub p50_us: u64,
    /// 99th percentile latency, µs (0: none).
    pub p99_us: u64,
}

/// The workload over time: bucket `i` covers `[i, i+1) * bucket_ns` on the
/// history clock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    /// Bucket width, ns.
    pub bucket_ns: u64,
    /// The buckets, from time 0.
    pub buckets: Vec<Bucket>,
}

/// Latency of one kind of operation over the whole scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindLatency {
    /// The kind: create, set, cas, delete, get, sync_get, exists, multi, append.
    pub kind: String,
    /// Completed operations of this kind.
    pub count: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Maximum, µs.
    pub max_us: u64,
}

/// Everything a scenario's workload and checkers produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// From the first invoke to the last event of the history, ns.
    pub span_ns: u64,
    /// First invoke on the history clock, ns.
    pub first_ns: u64,
    /// Operations by outcome.
    pub ops: OpCounts,
    /// Per-second throughput and latency.
    pub series: Series,
    /// Latency per operation kind.
    pub latency: Vec<KindLatency>,
    /// Mean acknowledged operations per second.
    pub mean_ok_per_second: f64,
    /// Target versus achieved rate, for a rated (open-loop) workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace: Option<crate::workload::pace::Pace>,
    /// How the history was cut short (its writer killed), when it was:
    /// what its missing tail could explain was judged unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_cut: Option<String>,
    /// Faults as injected (from the bundle; the runner may add targets).
    pub faults: Vec<FaultEntry>,
    /// What the operator did (filled by the runner).
    #[serde(default)]
    pub operator_actions: Vec<OperatorAction>,
    /// What the members' servers logged (filled by the runner).
    #[serde(default)]
    pub server_marks: Vec<super::record::ServerMark>,
    /// Member roles and config versions over time, when probes were recorded.
    pub probes: Option<ProbeTimeline>,
    /// Leader changes seen by the probes.
    pub leader_changes: Vec<LeaderChange>,
    /// Per fault: time to a new leader, to the first write after start and heal.
    pub recovery: Vec<Recovery>,
    /// Write-unavailability windows and per-fault first writes.
    pub availability: Availability,
    /// The quorum checker's facts, when probes were recorded.
    pub quorum: Option<QuorumReport>,
    /// Every checker's verdict with its evidence.
    pub checks: Vec<CheckResult>,
    /// Writes the durability checker's evidence shows lost (acknowledged
    /// writes whose effect is gone, committed sequence numbers missing),
    /// through the final read or any member's own: the same evidence as
    /// its verdict ([`crate::check::suite::SuiteReport::lost_writes`]).
    pub lost_writes: usize,
    /// The offending key's operations, on a linearizability failure.
    pub linearizability_failure: Option<LinearFailure>,
    /// How long the linearizability search took, ms.
    pub linear_check_ms: u64,
}

impl Default for Evidence {
    /// Empty evidence: no operations, no faults, no checker results.
    fn default() -> Self {
        Self {
            span_ns: 0,
            first_ns: 0,
            ops: OpCounts::default(),
            series: Series { bucket_ns: BUCKET_NS, buckets: Vec::new() },
            latency: Vec::new(),
            mean_ok_per_second: 0.0,
            pace: None,
            history_cut: None,
            faults: Vec::new(),
            operator_actions: Vec::new(),
            server_marks: Vec::new(),
            probes: None,
            leader_changes: Vec::new(),
            recovery: Vec::new(),
            availability: crate::check::availability::figures(&[], &[]),
            quorum: None,
            checks: Vec::new(),
            lost_writes: 0,
            linearizability_failure: None,
            linear_check_ms: 0,
        }
    }
}

impl Evidence {
    /// Summarise a recorded bundle and its checkers' report. Fault targets
    /// and operator actions are not in a bundle: the runner adds them to
    /// [`Evidence::faults`] and [`Evidence::operator_actions`] afterwards.
    pub fn from_bundle(bundle: &Bundle, report: &SuiteReport) -> Result<Self, ReportError> {
        let ops = history::pair(&bundle.events, "history.jsonl")?;
        let first_ns = ops.iter().map(|o| o.invoke_ns).min().unwrap_or(0);
        let last_ns = ops.iter().map(|o| o.complete_ns.unwrap_or(o.invoke_ns)).max().unwrap_or(0);
        let faults: Vec<FaultEntry> = bundle
            .facts
            .faults
            .iter()
            .map(|(description, start_ns, heal_ns)| FaultEntry {
                name: description.split_whitespace().next().unwrap_or("fault").to_string(),
                description: description.clone(),
                targets: Vec::new(),
                start_ns: *start_ns,
                heal_ns: *heal_ns,
            })
            .collect();
        let probes = bundle.probes.as_deref().map(ProbeTimeline::summarise);
        let leader_changes = probes.as_ref().map(probes::leader_changes).unwrap_or_default();
        let recovery = probes::recovery(&faults, probes.as_ref(), &report.availability);
        let lost_writes = report.lost_writes;
        Ok(Self {
            span_ns: last_ns.saturating_sub(first_ns),
            first_ns,
            ops: counts(&ops),
            series: series(&ops, BUCKET_NS),
            latency: report
                .stats
                .latency
                .iter()
                .map(|(k, l)| KindLatency {
                    kind: k.clone(),
                    count: l.count,
                    p50_us: l.p50_us,
                    p99_us: l.p99_us,
                    max_us: l.max_us,
                })
                .collect(),
            mean_ok_per_second: report.stats.mean_ok_per_second,
            pace: report.pace.clone(),
            history_cut: report.history_cut.map(|c| c.to_string()),
            faults,
            operator_actions: Vec::new(),
            server_marks: Vec::new(),
            probes,
            leader_changes,
            recovery,
            availability: report.availability.clone(),
            quorum: report.quorum.clone(),
            checks: report.results.clone(),
            lost_writes,
            linearizability_failure: report.linear_violation.as_ref().map(|v| LinearFailure::build(&ops, v)),
            linear_check_ms: u64::try_from(report.linear_elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Total time without a successful write in windows over the threshold, ns.
    pub fn unavailable_ns(&self) -> u64 {
        self.availability.windows.iter().map(|w| w.duration_ns).sum()
    }

    /// Checker verdicts that are invalid.
    pub fn invalid_checks(&self) -> usize {
        self.checks.iter().filter(|c| c.verdict.is_invalid()).count()
    }

    /// Checker verdicts that could not decide.
    pub fn undecided_checks(&self) -> usize {
        self.checks.iter().filter(|c| matches!(c.verdict, Verdict::Unknown { .. })).count()
    }
}

fn counts(ops: &[Operation]) -> OpCounts {
    let mut c = OpCounts { total: ops.len() as u64, ..OpCounts::default() };
    for op in ops {
        match op.outcome {
            Outcome::Ok { .. } => c.ok += 1,
            Outcome::Fail { .. } => c.failed += 1,
            Outcome::Unknown { .. } => c.unknown += 1,
        }
    }
    c
}

/// Per-bucket outcome counts and latency percentiles (exact, by selection
/// over each bucket's latencies). An operation counts in the bucket of its
/// completion; one that never completed, in the bucket of its invoke.
pub fn series(ops: &[Operation], bucket_ns: u64) -> Series {
    let bucket_ns = bucket_ns.max(1);
    let mut buckets: Vec<Bucket> = Vec::new();
    let mut lat: Vec<Vec<u64>> = Vec::new();
    for op in ops {
        let at = op.complete_ns.unwrap_or(op.invoke_ns);
        let i = usize::try_from(at / bucket_ns).unwrap_or(usize::MAX);
        if i >= buckets.len() {
            buckets.resize(i + 1, Bucket::default());
            lat.resize_with(i + 1, Vec::new);
        }
        let b = &mut buckets[i];
        match op.outcome {
            Outcome::Ok { .. } => b.ok += 1,
            Outcome::Fail { .. } => b.failed += 1,
            Outcome::Unknown { .. } => b.unknown += 1,
        }
        if let Some(c) = op.complete_ns {
            lat[i].push(c.saturating_sub(op.invoke_ns) / 1000);
        }
    }
    for (b, l) in buckets.iter_mut().zip(&mut lat) {
        b.p50_us = percentile(l, 0.50);
        b.p99_us = percentile(l, 0.99);
    }
    Series { bucket_ns, buckets }
}

/// The nearest-rank percentile `q` of `v` (reordered in place); 0 when empty.
fn percentile(v: &mut [u64], q: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    *v.select_nth_unstable(rank).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Call, Ret, Value};

    fn op(id: u64, invoke_ms: u64, complete_ms: Option<u64>, outcome: Outcome) -> Operation {
        Operation {
            id,
            client: 0,
            session: 1,
            invoke_ns: invoke_ms * 1_000_000,
            complete_ns: complete_ms.map(|c| c * 1_000_000),
            call: Call::Set { path: "/k".into(), value: Value::new(0, id) },
            outcome,
            zxid: None,
        }
    }

    fn ok() -> Outcome {
        Outcome::Ok { ret: Ret::Deleted }
    }

    #[test]
    fn series_counts_by_completion_second_with_exact_percentiles() {
        let mut ops: Vec<Operation> = (0..100).map(|i| op(i, 0, Some(i + 1), ok())).collect();
        ops.push(op(200, 1500, Some(1510), Outcome::Fail { error: "bad_version".into() }));
        ops.push(op(201, 2100, None, Outcome::Unknown { error: "never completed".into() }));
        ops.push(op(202, 2900, Some(3200), Outcome::Unknown { error: "connection_loss".into() }));
        let s = series(&ops, BUCKET_NS);
        assert_eq!(s.buckets.len(), 4);
        let b0 = s.buckets[0];
        assert_eq!((b0.ok, b0.failed, b0.unknown), (100, 0, 0));
        // Latencies 1..=100 ms: nearest-rank p50 = 50 ms, p99 = 99 ms.
        assert_eq!((b0.p50_us, b0.p99_us), (50_000, 99_000));
        assert_eq!((s.buckets[1].failed, s.buckets[1].p50_us), (1, 10_000));
        assert_eq!((s.buckets[2].unknown, s.buckets[2].p50_us), (1, 0), "never completed: no latency");
        assert_eq!((s.buckets[3].unknown, s.buckets[3].p99_us), (1, 300_000));
        let c = counts(&ops);
        assert_eq!((c.total, c.ok, c.failed, c.unknown), (103, 100, 1, 2));
    }
}
