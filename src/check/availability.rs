//! Availability figures: facts for the report, not a verdict.
//!
//! Computed from the completion times of acknowledged writes:
//! * unavailability windows: spans with no successful write completion
//!   longer than a threshold ([`DEFAULT_WINDOW_NS`] unless given), from the
//!   first invoke of the history to its last event, so a leading or
//!   trailing outage counts too (`until_end` marks the trailing one);
//! * per fault, the time from its start (and from its heal) to the first
//!   successful write *invoked* at or after that instant, measured to that
//!   write's completion (a write already in flight does not count: it says
//!   nothing about whether a new client request gets through).

use serde::{Deserialize, Serialize};

use crate::history::Operation;

/// Default threshold for an unavailability window: one second.
pub const DEFAULT_WINDOW_NS: u64 = 1_000_000_000;

/// A span without any successful write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start (the previous successful write's completion, or the history start).
    pub start_ns: u64,
    /// End (the next successful write's completion, or the history end).
    pub end_ns: u64,
    /// `end_ns - start_ns`.
    pub duration_ns: u64,
    /// Whether the window runs to the end of the history (writes never came back).
    pub until_end: bool,
}

/// Recovery figures for one fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecovery {
    /// The fault's name.
    pub name: String,
    /// When it started.
    pub start_ns: u64,
    /// When it was healed, if it was.
    pub heal_ns: Option<u64>,
    /// Time from the start to the first successful write invoked after it.
    pub first_write_after_start_ns: Option<u64>,
    /// Time from the heal to the first successful write invoked after it.
    pub first_write_after_heal_ns: Option<u64>,
}

/// The availability facts of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// The window threshold used.
    pub threshold_ns: u64,
    /// Writes attempted.
    pub writes: usize,
    /// Writes acknowledged.
    pub ok_writes: usize,
    /// Writes that failed definitely.
    pub failed_writes: usize,
    /// Writes with an unknown outcome.
    pub unknown_writes: usize,
    /// Windows longer than the threshold, in time order.
    pub windows: Vec<Window>,
    /// The longest span without a successful write (even if under the threshold).
    pub longest_window: Option<Window>,
    /// Per fault, in the order given.
    pub faults: Vec<FaultRecovery>,
}

/// [`figures_with`] at [`DEFAULT_WINDOW_NS`].
pub fn figures(ops: &[Operation], faults: &[(String, u64, Option<u64>)]) -> Availability {
    figures_with(ops, faults, DEFAULT_WINDOW_NS)
}

/// Availability figures with an explicit window threshold.
pub fn figures_with(ops: &[Operation], faults: &[(String, u64, Option<u64>)], threshold_ns: u64) -> Availability {
    let writes: Vec<&Operation> = ops.iter().filter(|o| o.call.is_write()).collect();
    let ok: Vec<&Operation> = writes.iter().copied().filter(|o| o.is_ok() && o.complete_ns.is_some()).collect();
    let mut done: Vec<u64> = ok.iter().filter_map(|o| o.complete_ns).collect();
    done.sort_unstable();

    let start = ops.iter().map(|o| o.invoke_ns).min();
    let end = ops.iter().map(|o| o.complete_ns.unwrap_or(o.invoke_ns)).max();
    let mut spans: Vec<Window> = Vec::new();
    if let (Some(start), Some(end)) = (start, end) {
        let mut prev = start;
        for &t in &done {
            spans.push(Window { start_ns: prev, end_ns: t, duration_ns: t.saturating_sub(prev), until_end: false });
            prev = t;
        }
        if end > prev {
            spans.push(Window { start_ns: prev, end_ns: end, duration_ns: end - prev, until_end: true });
        }
    }
    let longest_window = spans.iter().max_by_key(|w| (w.duration_ns, std::cmp::Reverse(w.start_ns))).cloned();
    let windows: Vec<Window> = spans.into_iter().filter(|w| w.duration_ns > threshold_ns).collect();

    let first_after = |t: u64| {
        ok.iter().filter(|o| o.invoke_ns >= t).filter_map(|o| o.complete_ns).min().map(|c| c.saturating_sub(t))
    };
    let faults = faults
        .iter()
        .map(|(name, start_ns, heal_ns)| FaultRecovery {
            name: name.clone(),
            start_ns: *start_ns,
            heal_ns: *heal_ns,
            first_write_after_start_ns: first_after(*start_ns),
            first_write_after_heal_ns: heal_ns.and_then(first_after),
        })
        .collect();
    Availability {
        threshold_ns,
        writes: writes.len(),
        ok_writes: ok.len(),
        failed_writes: writes.iter().filter(|o| !o.is_ok() && !o.is_unknown()).count(),
        unknown_writes: writes.iter().filter(|o| o.is_unknown()).count(),
        windows,
        longest_window,
        faults,
    }
}
