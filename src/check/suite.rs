//! A recorded run on disk (a *bundle*) and every checker over it.
//!
//! A bundle is a directory:
//! - `history.jsonl`: the workload's events (required);
//! - `final.json`: each key's value read after `sync` at the end (for the
//!   durability checker);
//! - `probes.jsonl`: `[time_ns, EnsembleStatus]` per line (for the quorum
//!   checker);
//! - `run.json`: the settle time and the faults with their start and heal;
//! - `status.jsonl`: the operator's published status and the spec, one
//!   [`StatusSample`] a line, read beside the probes (for the status-truth
//!   checker, when an operator ran the ensemble).
//!
//! A checker whose input is missing reports `Unknown` with that reason:
//! a missing file never turns into a pass.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::status_truth::{self, StatusSample};
use super::{CheckResult, Verdict, availability, durability, linear, quorum, session};
use crate::history::{self, Event, HistoryError, Operation};
use crate::probe::EnsembleStatus;
use crate::textfile::{self, Storage, TextWriter};
use crate::workload::pace::{self, Pace, Target};
use crate::workload::stats::{self, Stats};

/// Bundle I/O failures.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The history could not be read.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// A file (plain or `.gz`) could not be read or written.
    #[error(transparent)]
    Text(#[from] textfile::TextError),
    /// Another file could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// What `run.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunFacts {
    /// When the ensemble is expected to be stable again (ns on the history's clock).
    pub settle_after_ns: u64,
    /// Faults: name, start, heal (ns on the history's clock).
    pub faults: Vec<(String, u64, Option<u64>)>,
    /// How long after the settle point members may take to agree (see
    /// [`super::converge`]); [`super::converge::SETTLE_BOUND`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_bound_ns: Option<u64>,
    /// A rated workload's schedule (target rate, clients, start and stop),
    /// for target versus achieved rate; absent for a closed loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Target>,
    /// When an operator ran the ensemble (its status is judged): the
    /// windows `(from, to)` when it was down, whose status readings are
    /// not judged (nobody refreshed the status then). `None`: no operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_down: Option<Vec<(u64, u64)>>,
}

/// Everything a bundle holds.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    /// The events.
    pub events: Vec<Event>,
    /// The final state, when recorded.
    pub final_state: Option<BTreeMap<String, Option<String>>>,
    /// The final state read through each member after its own `sync`
    /// (`final-by-member.json`), when recorded: every member must hold
    /// every acknowledged write, not only the one the final read reached.
    pub final_by_member: Option<BTreeMap<u32, BTreeMap<String, Option<String>>>>,
    /// The probe samples, when recorded.
    pub probes: Option<Vec<(u64, EnsembleStatus)>>,
    /// The operator's status read beside the probes (same clock), when an
    /// operator ran the ensemble.
    pub statuses: Option<Vec<StatusSample>>,
    /// Settle time and faults.
    pub facts: RunFacts,
    /// Where `history.jsonl` was cut short (its writer was killed: a torn
    /// last line, or no end-of-history marker): the events after it are
    /// missing, and the final state may hold what they wrote.
    pub history_cut: Option<history::Cut>,
}

fn file_err(path: &Path, reason: impl ToString) -> BundleError {
    BundleError::File { path: path.to_path_buf(), reason: reason.to_string() }
}

/// Write `items` to `path` (or `path.gz`), one JSON value a line.
fn write_lines<T: Serialize>(path: &Path, items: &[T], storage: Storage) -> Result<(), BundleError> {
    let mut f = TextWriter::create(path, storage)?;
    for s in items {
        serde_json::to_writer(&mut f, s).map_err(|e| file_err(path, e))?;
        f.write_all(b"\n").map_err(|e| file_err(path, e))?;
    }
    f.finish()?;
    Ok(())
}

/// Read a file (or its `.gz`) of one JSON value a line (blank lines skipped).
fn read_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, BundleError> {
    let bytes = textfile::read_text(path)?;
    let shown = textfile::stored(path).unwrap_or_else(|| path.to_path_buf());
    String::from_utf8_lossy(&bytes)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| file_err(&shown, format!("line {}: {e}", i + 1))))
        .collect()
}

/// Read a JSON file (or its `.gz`).
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, BundleError> {
    let bytes = textfile::read_text(path)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| file_err(&textfile::stored(path).unwrap_or_else(|| path.to_path_buf()), e))
}

/// Write `value` as pretty JSON to `path` (or `path.gz`).
fn write_json<T: Serialize>(path: &Path, value: &T, storage: Storage) -> Result<(), BundleError> {
    let bytes = serde_json::to_vec_pretty(value).expect("serialises");
    textfile::write_text(path, &bytes, storage)?;
    Ok(())
}

impl Bundle {
    /// The files that grow with the run (the history, probe and status
    /// samples, each member's final state): what
    /// [`Bundle::save_as`] compresses. `final.json` and `run.json` stay
    /// plain (a few KiB, and what a reader opens first).
    pub const BULKY_FILES: [&'static str; 4] =
        ["history.jsonl", "probes.jsonl", "status.jsonl", "final-by-member.json"];

    /// Write the bundle into `dir`, every file plain.
    pub fn save(&self, dir: &Path) -> Result<(), BundleError> {
        self.save_as(dir, Storage::Plain)
    }

    /// Write the bundle into `dir`, its [`Bundle::BULKY_FILES`] stored as
    /// `storage` says (the others plain).
    pub fn save_as(&self, dir: &Path, storage: Storage) -> Result<(), BundleError> {
        std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
        let h = dir.join("history.jsonl");
        let mut w = history::HistoryWriter::new(TextWriter::create(&h, storage)?).map_err(|e| file_err(&h, e))?;
        for e in &self.events {
            w.append(e).map_err(|e| file_err(&h, e))?;
        }
        w.close().map_err(|e| file_err(&h, e))?.finish()?;
        if let Some(fs) = &self.final_state {
            write_json(&dir.join("final.json"), fs, Storage::Plain)?;
        }
        if let Some(fs) = &self.final_by_member {
            write_json(&dir.join("final-by-member.json"), fs, storage)?;
        }
        if let Some(probes) = &self.probes {
            write_lines(&dir.join("probes.jsonl"), probes, storage)?;
        }
        if let Some(statuses) = &self.statuses {
            write_lines(&dir.join("status.jsonl"), statuses, storage)?;
        }
        write_json(&dir.join("run.json"), &self.facts, Storage::Plain)
    }

    /// Load a bundle directory, or a bare `history.jsonl` file (or its `.gz`). Each file
    /// is read plain, else from its `.gz` (see [`crate::textfile`]).
    pub fn load(path: &Path) -> Result<Self, BundleError> {
        // A history cut short (a killed run) is read up to its last
        // complete event; `history::read_events_tolerant` says where.
        if !path.is_dir() && textfile::exists(path) {
            let (events, history_cut) = history::read_events_tolerant(path)?;
            return Ok(Self { events, history_cut, ..Self::default() });
        }
        let (events, history_cut) = history::read_events_tolerant(&path.join("history.jsonl"))?;
        let mut b = Self { events, history_cut, ..Self::default() };
        let p = path.join("final.json");
        if textfile::exists(&p) {
            b.final_state = Some(read_json(&p)?);
        }
        let p = path.join("final-by-member.json");
        if textfile::exists(&p) {
            b.final_by_member = Some(read_json(&p)?);
        }
        let p = path.join("probes.jsonl");
        if textfile::exists(&p) {
            b.probes = Some(read_lines(&p)?);
        }
        let p = path.join("status.jsonl");
        if textfile::exists(&p) {
            b.statuses = Some(read_lines(&p)?);
        }
        let p = path.join("run.json");
        if textfile::exists(&p) {
            b.facts = read_json(&p)?;
        }
        Ok(b)
    }
}

/// Every checker's result over one bundle, plus the facts for a report.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// One result per checker, in a fixed order.
    pub results: Vec<CheckResult>,
    /// Unavailability windows and recovery times.
    pub availability: availability::Availability,
    /// Leader changes and stability, when probes were recorded.
    pub quorum: Option<quorum::QuorumReport>,
    /// Latency and throughput.
    pub stats: Stats,
    /// How long the linearizability search took.
    pub linear_elapsed: Duration,
    /// The smallest linearizability violation, for the report's lane view.
    pub linear_violation: Option<linear::Violation>,
    /// Writes the durability checker's evidence shows lost, through the
    /// final read or any member's own (see [`durability::DurabilityReport::lost`]).
    pub lost_writes: usize,
    /// Target versus achieved rate, for a rated workload.
    pub pace: Option<Pace>,
    /// What the status-truth checker judged, when it found no lie.
    pub status_truth: Option<String>,
    /// Where the history was cut short, when it was: what its missing tail
    /// could explain is `unknown`, and nothing after the cut was judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_cut: Option<history::Cut>,
}

impl SuiteReport {
    /// Whether every checker said `Valid`.
    pub fn all_valid(&self) -> bool {
        self.results.iter().all(|r| r.verdict.is_valid())
    }
    /// Whether any checker said `Invalid`.
    pub fn any_invalid(&self) -> bool {
        self.results.iter().any(|r| r.verdict.is_invalid())
    }
}

/// Durability judged also against each member's own final state: a member
/// that serves without an acknowledged write (it truncated it, or synced
/// from a leader that lacked it) is a loss for every client connected to
/// it, even when the member the final read reached has it. Returns the
/// verdict and the writes lost as seen through any member (the union of
/// [`durability::DurabilityReport::lost`]), from the same evidence.
fn per_member(
    overall: durability::DurabilityReport,
    ops: &[Operation],
    by_member: Option<&BTreeMap<u32, BTreeMap<String, Option<String>>>>,
) -> (Verdict, BTreeSet<String>) {
    let mut lost = overall.lost;
    let mut evidence = match overall.verdict {
        Verdict::Invalid { evidence } => evidence,
        Verdict::Valid => Vec::new(),
        unknown => return (unknown, lost),
    };
    for (ordinal, state) in by_member.into_iter().flatten() {
        let member = durability::report(ops, state);
        if let Verdict::Invalid { evidence: e } = member.verdict {
            evidence.push(format!("read through pod {ordinal} (after its own sync):"));
            evidence.extend(e.into_iter().take(10).map(|l| format!("  {l}")));
        }
        lost.extend(member.lost);
    }
    let verdict = if evidence.is_empty() { Verdict::Valid } else { Verdict::Invalid { evidence } };
    (verdict, lost)
}

/// A durability verdict over a history that was cut short: what the final
/// state shows may have been written (or overwritten, or deleted) by the
/// missing tail, so only evidence from reads inside the history stays
/// invalid; evidence from the final state alone makes the verdict unknown,
/// never invalid.
fn cut_short(verdict: Verdict, cut: Option<history::Cut>) -> Verdict {
    let (Some(cut), Verdict::Invalid { evidence }) = (cut, &verdict) else { return verdict };
    let from_reads: Vec<String> = evidence.iter().filter(|e| e.contains("(read by op ")).cloned().collect();
    if !from_reads.is_empty() {
        return Verdict::Invalid { evidence: from_reads };
    }
    Verdict::Unknown {
        reason: format!(
            "{cut}, so the final state may hold writes of its missing tail; the final state alone showed: {}",
            evidence.first().map_or("", String::as_str)
        ),
    }
}

/// Run every checker over `bundle`.
pub fn check_all(bundle: &Bundle, budget: linear::Budget) -> Result<SuiteReport, BundleError> {
    let ops: Vec<Operation> = history::pair(&bundle.events, "history.jsonl")?;
    let lin = linear::check(&ops, budget);
    let mut results = vec![
        CheckResult { checker: "linearizable-writes".into(), verdict: lin.verdict.clone() },
        CheckResult { checker: "session-guarantees".into(), verdict: session::check(&ops) },
    ];
    let (durable, lost) = match &bundle.final_state {
        Some(fs) => per_member(durability::report(&ops, fs), &ops, bundle.final_by_member.as_ref()),
        None => (Verdict::Unknown { reason: "no final state was recorded (final.json)".into() }, BTreeSet::new()),
    };
    let durable = cut_short(durable, bundle.history_cut);
    // Writes counted lost only while the verdict stands on them.
    let lost = if durable.is_invalid() { lost } else { BTreeSet::new() };
    results.push(CheckResult { checker: "durability-and-integrity".into(), verdict: durable });
    let bound = bundle.facts.settle_bound_ns.unwrap_or(super::converge::SETTLE_BOUND.as_nanos() as u64);
    let quorum = bundle.probes.as_ref().map(|p| quorum::check_within(p, bundle.facts.settle_after_ns, bound));
    results.push(CheckResult {
        checker: "quorum-and-convergence".into(),
        verdict: match &quorum {
            Some(q) => q.verdict.clone(),
            None => Verdict::Unknown { reason: "no probe samples were recorded (probes.jsonl)".into() },
        },
    });
    let mut status_summary = None;
    if bundle.statuses.is_some() || bundle.facts.operator_down.is_some() {
        let down = bundle.facts.operator_down.as_deref().unwrap_or(&[]);
        let verdict = match (&bundle.statuses, &bundle.probes) {
            (Some(statuses), Some(probes)) => {
                let (verdict, summary) = status_truth::verdict(probes, statuses, down);
                status_summary = summary;
                verdict
            }
            (None, _) => Verdict::Unknown { reason: "no status samples were recorded (status.jsonl)".into() },
            (_, None) => Verdict::Unknown { reason: "no probe samples were recorded (probes.jsonl)".into() },
        };
        results.push(CheckResult { checker: status_truth::CHECKER.into(), verdict });
    }
    Ok(SuiteReport {
        status_truth: status_summary,
        results,
        availability: availability::figures(&ops, &bundle.facts.faults),
        quorum,
        stats: stats::stats(&ops),
        linear_elapsed: lin.elapsed,
        linear_violation: lin.violation,
        lost_writes: lost.len(),
        pace: bundle.facts.workload.as_ref().and_then(|t| {
            let rounds = bundle.probes.iter().flatten().map(|(at, st)| (*at, st.quorum));
            pace::pace(&bundle.events, t, &pace::no_quorum_windows(rounds))
        }),
        history_cut: bundle.history_cut,
    })
}

/// A short text rendering: one line per checker, evidence indented.
pub fn render(report: &SuiteReport) -> String {
    let mut out = String::new();
    if let Some(cut) = &report.history_cut {
        out.push_str(&format!(
            "  WARNING: {cut}: what its missing tail could explain is UNKNOWN, and nothing after the cut was judged\n"
        ));
    }
    for r in &report.results {
        let (mark, detail) = match &r.verdict {
            Verdict::Valid => ("VALID  ", String::new()),
            Verdict::Invalid { evidence } => ("INVALID", evidence.iter().map(|e| format!("\n      {e}")).collect()),
            Verdict::Unknown { reason } => ("UNKNOWN", format!("  ({reason})")),
        };
        out.push_str(&format!("  {mark}  {}{detail}\n", r.checker));
    }
    let ok = report.stats.outcomes.get("ok").copied().unwrap_or(0);
    let total: u64 = report.stats.outcomes.values().sum();
    out.push_str(&format!(
        "  {total} ops ({ok} ok), {:.0} ok ops/s; longest write gap {:.2}s; linearizability checked in {:.2}s\n",
        report.stats.mean_ok_per_second,
        report.availability.longest_window.as_ref().map_or(0.0, |w| w.duration_ns as f64 / 1e9),
        report.linear_elapsed.as_secs_f64()
    ));
    if let Some(p) = &report.pace {
        out.push_str(&format!("  pace: {}\n", p.summary()));
        if let Some(w) = p.warning() {
            out.push_str(&format!("  WARNING: {w}\n"));
        }
    }
    if let Some(q) = &report.quorum {
        out.push_str(&format!("  leader changes: {}\n", q.leader_changes));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_history_turns_final_state_findings_unknown_and_keeps_read_findings() {
        let final_only =
            Verdict::Invalid { evidence: vec!["phantom value at /k (final state): w0#9 was never written".into()] };
        assert!(
            matches!(cut_short(final_only.clone(), None), Verdict::Invalid { .. }),
            "a whole history is judged as it is"
        );
        let torn = Some(history::Cut::Torn { line: 42 });
        let Verdict::Unknown { reason } = cut_short(final_only.clone(), torn) else { panic!("unknown expected") };
        assert!(reason.contains("line 42 is torn") && reason.contains("w0#9"), "{reason}");
        let unclosed = Some(history::Cut::Unclosed { line: 42 });
        let Verdict::Unknown { reason } = cut_short(final_only, unclosed) else { panic!("unknown expected") };
        assert!(reason.contains("cut short") && reason.contains("end-of-history marker"), "{reason}");
        let with_read = Verdict::Invalid {
            evidence: vec![
                "phantom value at /k (read by op 3): w0#9 was never written".into(),
                "phantom value at /k (final state): w0#9 was never written".into(),
            ],
        };
        let Verdict::Invalid { evidence } = cut_short(with_read, torn) else { panic!("invalid expected") };
        assert_eq!(evidence.len(), 1, "{evidence:?}");
        assert!(evidence[0].contains("read by op 3"));
        assert_eq!(cut_short(Verdict::Valid, torn), Verdict::Valid);
    }
}
