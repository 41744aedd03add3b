//! What a finished scenario hands to the run record: its faults, what the
//! operator did, the probe timeline, the checkers' report and where its
//! files are. Times are nanoseconds since the scenario started.

use std::path::PathBuf;

use serde::Serialize;

use crate::check::suite::SuiteReport;
use crate::probe::EnsembleStatus;
use crate::workload::stats::Stats;

/// A fault (or an operation such as an upgrade) on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultEntry {
    /// Short name: `kill`, `pause`, `split`, `operator`, `change`...
    pub name: String,
    /// What was done, with how selectors resolved.
    pub description: String,
    /// The members hit.
    pub targets: Vec<u32>,
    /// When it started.
    pub start_ns: u64,
    /// When it was healed (equal to the start for instantaneous ones; `None`
    /// for a change that has no end).
    pub heal_ns: Option<u64>,
}

/// Everything recorded about one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioEvidence {
    /// The scenario's key (`<feature path>:<line>`).
    pub name: String,
    /// Its seed.
    pub seed: u64,
    /// The cluster's (unique) name.
    pub cluster: Option<String>,
    /// Faults and operations, in order.
    pub faults: Vec<FaultEntry>,
    /// What the operator did: `(time, text)`.
    pub operator: Vec<(u64, String)>,
    /// Probe rounds every 250 ms: `(time, status)`.
    pub probes: Vec<(u64, EnsembleStatus)>,
    /// The checkers' report, when a workload was judged.
    pub report: Option<SuiteReport>,
    /// Workload statistics, when a workload ran.
    pub stats: Option<Stats>,
    /// Target versus achieved rate, when a rated workload ran.
    pub pace: Option<crate::workload::pace::Pace>,
    /// Where the history, final state and probes were saved.
    pub history_dir: PathBuf,
    /// When the workload started, on the scenario's clock (the history's
    /// clock starts there).
    pub workload_offset_ns: Option<u64>,
    /// Server logs per pod.
    pub logs: Vec<(String, PathBuf)>,
    /// What the servers logged, for the members' lanes: `(ordinal, time on
    /// the scenario's clock, text, dropped committed history)`.
    pub server_marks: Vec<(u32, u64, String, bool)>,
    /// What each step found: `(line, detail)`.
    pub steps: Vec<(usize, String)>,
    /// Anything that went wrong outside the steps (heal or teardown).
    pub notes: Vec<String>,
}
