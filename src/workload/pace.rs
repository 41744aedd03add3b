//! The open-loop pacing of a rated workload, and what it achieved.
//!
//! A workload of `rate` ops/s has one shared schedule: operation slot `k`
//! is due at `start + k / rate`, an absolute time on the history clock
//! (never "sleep the interval after the reply", which lets every slow
//! operation lower the rate for good). The clients take the slots in
//! turn: a client takes the next slot, waits until it is due (or starts
//! it at once when it is already late: the backlog), runs it, and takes
//! the next. A client stuck on a slow or timed-out operation holds one
//! slot; the others keep taking theirs, so the ensemble sees the target
//! rate as long as some client is free, and the backlog drains when they
//! are. Each invoke records the slot's due time (`intended_ns`) beside
//! its actual start, so latency can be counted from the intended start
//! (no coordinated omission) and a run below its target says so.
//!
//! A shortfall has one of three causes, and [`Pace`] tells them apart:
//! the ensemble had no quorum (the probes say when: nothing can be served
//! then, and the backlog waits for it), the clients were the limit (each
//! has one operation in flight, so `clients` at a mean latency `L` start at
//! most `clients / L` ops/s: Little's law), or the clients sat idle while
//! late (connecting, the harness's own overhead). The rate is judged over
//! the time the ensemble had quorum: a run warns only when the clients
//! fell short while it could serve.

use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::history::{Event, Outcome};

/// A run reaching less than this share of its target rate ran below it.
pub const BELOW_TARGET: f64 = 0.9;

/// An operation starting this long after its slot was due counts as late.
pub const LATE_NS: u64 = 100_000_000;

/// When slot `k` of a schedule starting at `start_ns` at `rate` ops/s is
/// due, in ns. Computed from `k` alone, so no rounding error accumulates
/// over a long run.
pub fn due_ns(start_ns: u64, rate: f64, k: u64) -> u64 {
    start_ns + (k as f64 * 1e9 / rate.max(1e-9)).round() as u64
}

/// How many slots of a schedule starting at `start_ns` at `rate` ops/s
/// are due strictly before `end_ns`.
pub fn due_before(start_ns: u64, rate: f64, end_ns: u64) -> u64 {
    if end_ns <= start_ns {
        return 0;
    }
    // Estimate, then correct for rounding at the edge.
    let mut n = ((end_ns - start_ns) as f64 * rate / 1e9).floor() as u64;
    while n > 0 && due_ns(start_ns, rate, n - 1) >= end_ns {
        n -= 1;
    }
    while due_ns(start_ns, rate, n) < end_ns {
        n += 1;
    }
    n
}

/// The shared schedule of a rated workload: hands out slots in order.
#[derive(Debug)]
pub struct Schedule {
    start_ns: u64,
    rate: f64,
    next: AtomicU64,
}

impl Schedule {
    /// A schedule of `rate` ops/s whose slot 0 is due at `start_ns`.
    pub fn new(start_ns: u64, rate: f64) -> Self {
        Self { start_ns, rate, next: AtomicU64::new(0) }
    }

    /// Take the next slot: its number and when it is due (ns).
    pub fn take(&self) -> (u64, u64) {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        (k, due_ns(self.start_ns, self.rate, k))
    }

    /// When slot 0 was due.
    pub fn start_ns(&self) -> u64 {
        self.start_ns
    }

    /// The target rate, ops/s.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

/// What a rated workload was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Target rate, ops/s.
    pub rate: f64,
    /// Clients (sessions) sharing the schedule.
    pub clients: u32,
    /// When slot 0 was due, ns on the history clock.
    pub start_ns: u64,
    /// When the workload was told to stop, ns on the history clock.
    pub stop_ns: u64,
}

/// Target versus achieved: how well a rated workload kept its schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pace {
    /// Target rate, ops/s.
    pub target_per_second: f64,
    /// Clients sharing the schedule.
    pub clients: u32,
    /// From slot 0 to the stop, ns.
    pub window_ns: u64,
    /// Slots due in the window.
    pub due: u64,
    /// Operations started in the window.
    pub started: u64,
    /// Slots due but never started when the workload stopped.
    pub backlog_at_stop: u64,
    /// Operations started per second of the window.
    pub achieved_per_second: f64,
    /// Acknowledged operations per second of the window.
    pub ok_per_second: f64,
    /// Start lag (actual start minus intended start): median, µs.
    pub lag_p50_us: u64,
    /// Start lag, 99th percentile, µs.
    pub lag_p99_us: u64,
    /// Start lag, maximum, µs.
    pub lag_max_us: u64,
    /// Operations started at least [`LATE_NS`] after they were due.
    pub late: u64,
    /// Response time from the intended start to the completion (what a
    /// caller on this schedule waited, queueing included), 99th percentile, µs.
    pub response_p99_us: u64,
    /// Whether, over the time the ensemble had quorum, it started fewer
    /// than [`BELOW_TARGET`] of its target rate.
    pub below_target: bool,
    /// Time in the window when the probes showed no quorum, ns (0 when no
    /// probes were given).
    #[serde(default)]
    pub without_quorum_ns: u64,
    /// Slots due while there was no quorum.
    #[serde(default)]
    pub due_without_quorum: u64,
    /// Operations started per second of the time with quorum (the backlog
    /// of an outage drained after it counts here).
    #[serde(default)]
    pub with_quorum_per_second: f64,
    /// Share of the clients' time in the window with an operation in
    /// flight (each client has one at a time).
    #[serde(default)]
    pub busy_share: f64,
    /// Share of the clients' time spent idle while their next operation was
    /// already due (connecting, reconnecting: the harness's own time).
    #[serde(default)]
    pub idle_late_share: f64,
    /// Share of the clients' time spent on operations that got no answer
    /// (connection loss, timeout, never completed: an outage as the
    /// clients saw it, whether or not the probes saw quorum lost).
    #[serde(default)]
    pub unanswered_share: f64,
    /// Mean latency of the operations the ensemble answered (acknowledged
    /// or rejected) that neither started nor ended without quorum, µs:
    /// what one client's operation costs while the ensemble serves.
    #[serde(default)]
    pub answer_latency_mean_us: u64,
    /// What the shortfall was due to ([`Pace::shortfall_cause`]), for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<String>,
}

impl Pace {
    /// The most the clients could start, ops/s: each has one operation in
    /// flight, so `clients` at the mean answer latency (Little's law).
    /// `None` without an answered operation.
    pub fn client_capacity(&self) -> Option<f64> {
        (self.answer_latency_mean_us > 0).then(|| self.clients as f64 * 1e6 / self.answer_latency_mean_us as f64)
    }

    /// What the shortfall (slots due but started late or never) was due
    /// to, in one sentence; `None` when the run kept its schedule.
    pub fn shortfall_cause(&self) -> Option<String> {
        if self.backlog_at_stop == 0 && self.late == 0 {
            return None;
        }
        let mut causes = Vec::new();
        if self.without_quorum_ns > 0 {
            causes.push(format!(
                "{:.1}s without quorum ({} operations due then waited for it)",
                self.without_quorum_ns as f64 / 1e9,
                self.due_without_quorum
            ));
        }
        if self.unanswered_share >= 0.05 {
            causes.push(format!(
                "the clients spent {:.0}% of their time waiting on operations that got no answer (connection \
                 loss, timeout: the outage as they saw it)",
                100.0 * self.unanswered_share
            ));
        }
        if let Some(cap) = self.client_capacity()
            && cap < self.target_per_second / BELOW_TARGET.max(1e-9)
            && self.busy_share >= 0.9
        {
            let needed = (self.target_per_second * self.answer_latency_mean_us as f64 / 1e6).ceil() as u64;
            causes.push(format!(
                "the clients were the limit: busy {:.0}% of the time, {} of them at a mean latency of {:.1} ms \
                 start at most {cap:.0} ops/s ({} ops/s needs {} or more clients)",
                100.0 * self.busy_share,
                self.clients,
                self.answer_latency_mean_us as f64 / 1e3,
                self.target_per_second,
                needed.max(u64::from(self.clients) + 1)
            ));
        }
        if self.idle_late_share >= 0.05 {
            causes.push(format!(
                "the clients sat idle {:.0}% of their time with an operation already due (connecting or \
                 reconnecting: the harness)",
                100.0 * self.idle_late_share
            ));
        }
        (!causes.is_empty()).then(|| causes.join("; "))
    }

    /// One line: target, achieved, ok rate, lag.
    pub fn summary(&self) -> String {
        let quorum = if self.without_quorum_ns > 0 {
            format!(
                "; {:.0} ops/s over the {:.1}s with quorum",
                self.with_quorum_per_second,
                self.window_ns.saturating_sub(self.without_quorum_ns) as f64 / 1e9
            )
        } else {
            String::new()
        };
        let cause = self.shortfall_cause().map(|c| format!("; behind schedule because {c}")).unwrap_or_default();
        format!(
            "target {:.0} ops/s, achieved {:.0} ops/s ({} of {} due operations started, {:.0} ok ops/s{quorum}); \
             start lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} late by 100 ms or more{cause}",
            self.target_per_second,
            self.achieved_per_second,
            self.started,
            self.due,
            self.ok_per_second,
            self.lag_p50_us as f64 / 1e3,
            self.lag_p99_us as f64 / 1e3,
            self.lag_max_us as f64 / 1e3,
            self.late
        )
    }

    /// The warning for a run below its target while the ensemble had
    /// quorum, if it was, with what the shortfall was due to. It leads with
    /// the figure judged: the rate over the time with quorum, beside the
    /// rate over the whole run when an outage makes them differ.
    pub fn warning(&self) -> Option<String> {
        self.below_target.then(|| {
            let (judged, over) = if self.without_quorum_ns > 0 {
                (
                    self.with_quorum_per_second,
                    format!(
                        " while the ensemble had quorum, over those {:.1}s ({:.0} ops/s over the whole {:.1}s)",
                        self.window_ns.saturating_sub(self.without_quorum_ns) as f64 / 1e9,
                        self.achieved_per_second,
                        self.window_ns as f64 / 1e9
                    ),
                )
            } else {
                (self.achieved_per_second, String::new())
            };
            format!(
                "the workload ran below its target: {judged:.0} of {:.0} ops/s ({:.0}%){over}, {} operations still \
                 due at the stop, start lag up to {:.1}s: the ensemble saw less load than the scenario claims; \
                 due to: {}",
                self.target_per_second,
                100.0 * judged / self.target_per_second.max(1e-9),
                self.backlog_at_stop,
                self.lag_max_us as f64 / 1e6,
                self.shortfall_cause().unwrap_or_else(|| "no cause the history shows".into())
            )
        })
    }
}

/// The windows `(from, to)` without quorum, from probe rounds `(time,
/// quorum)` in time order: from the first round without it to the next
/// round with it (to the last round when it never came back).
pub fn no_quorum_windows(rounds: impl IntoIterator<Item = (u64, bool)>) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut from, mut last) = (None, 0);
    for (t, quorum) in rounds {
        match (quorum, from) {
            (false, None) => from = Some(t),
            (true, Some(f)) => {
                out.push((f, t));
                from = None;
            }
            _ => {}
        }
        last = t;
    }
    if let Some(f) = from {
        out.push((f, last));
    }
    out
}

/// The part of `[from, to)` inside `windows`, ns.
fn overlap(windows: &[(u64, u64)], from: u64, to: u64) -> u64 {
    windows.iter().map(|&(a, b)| b.min(to).saturating_sub(a.max(from))).sum()
}

/// How a rated workload kept its schedule, from its events (invokes with
/// `intended_ns`, started before `target.stop_ns`) and the windows without
/// quorum (`no_quorum`, same clock; empty when no probes were recorded).
/// `None` for an empty window.
pub fn pace(events: &[Event], target: &Target, no_quorum: &[(u64, u64)]) -> Option<Pace> {
    let window_ns = target.stop_ns.checked_sub(target.start_ns).filter(|w| *w > 0)?;
    let (start, stop) = (target.start_ns, target.stop_ns);
    let mut lag = Histogram::<u64>::new(3).expect("valid sigfig");
    let mut response = Histogram::<u64>::new(3).expect("valid sigfig");
    // id -> (intended, invoked)
    let mut intended = std::collections::HashMap::new();
    let (mut started, mut started_with_quorum, mut late, mut ok) = (0u64, 0u64, 0u64, 0u64);
    let (mut busy_ns, mut unanswered_ns, mut answer_ns, mut answered) = (0u64, 0u64, 0u64, 0u64);
    let in_outage = |t: u64| no_quorum.iter().any(|&(a, b)| t >= a && t < b);
    // Per client: when its last operation completed.
    let mut free_since: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    let mut client_of = std::collections::HashMap::new();
    let mut idle_late_ns = 0u64;
    for e in events {
        match e {
            Event::Invoke { id, client, time_ns, intended_ns: Some(due), .. } if *time_ns < stop => {
                // Free since `f` with this slot due at `due`: idle while late from max(f, due).
                if let Some(f) = free_since.get(client) {
                    idle_late_ns += time_ns.saturating_sub((*f).max(*due).max(start));
                }
                client_of.insert(*id, *client);
                started += 1;
                if !in_outage(*time_ns) {
                    started_with_quorum += 1;
                }
                let l = time_ns.saturating_sub(*due);
                if l >= LATE_NS {
                    late += 1;
                }
                let _ = lag.record((l / 1000).max(1));
                intended.insert(*id, (*due, *time_ns));
            }
            Event::Complete { id, time_ns, outcome, .. } => {
                if let Some(c) = client_of.remove(id) {
                    free_since.insert(c, *time_ns);
                }
                if let Some((due, invoked)) = intended.remove(id) {
                    let _ = response.record((time_ns.saturating_sub(due) / 1000).max(1));
                    let busy = (*time_ns).min(stop).saturating_sub(invoked.max(start));
                    busy_ns += busy;
                    if matches!(outcome, Outcome::Ok { .. }) && *time_ns <= stop {
                        ok += 1;
                    }
                    if matches!(outcome, Outcome::Unknown { .. }) {
                        unanswered_ns += busy;
                    } else if overlap(no_quorum, invoked, *time_ns) == 0 && !in_outage(invoked) {
                        answer_ns += time_ns.saturating_sub(invoked);
                        answered += 1;
                    }
                }
            }
            _ => {}
        }
    }
    // Operations that never completed were in flight to the stop.
    for (_, invoked) in intended.values() {
        let busy = stop.saturating_sub((*invoked).max(start));
        busy_ns += busy;
        unanswered_ns += busy;
    }
    let secs = window_ns as f64 / 1e9;
    let due = due_before(start, target.rate, stop);
    let q = |h: &Histogram<u64>, q: f64| if h.is_empty() { 0 } else { h.value_at_quantile(q) };
    let achieved_per_second = started as f64 / secs;
    let without_quorum_ns = overlap(no_quorum, start, stop);
    let due_without_quorum: u64 = no_quorum
        .iter()
        .map(|&(a, b)| {
            let (a, b) = (a.clamp(start, stop), b.clamp(start, stop));
            due_before(start, target.rate, b) - due_before(start, target.rate, a)
        })
        .sum();
    let with_quorum_s = window_ns.saturating_sub(without_quorum_ns) as f64 / 1e9;
    let with_quorum_per_second = if with_quorum_s > 0.0 { started_with_quorum as f64 / with_quorum_s } else { 0.0 };
    let client_ns = (window_ns as f64 * f64::from(target.clients.max(1))).max(1.0);
    let mut p = Pace {
        // Judged over the time the ensemble could serve; never below
        // target when it could not serve at all (nothing to judge).
        below_target: with_quorum_s > 0.0 && with_quorum_per_second < BELOW_TARGET * target.rate,
        without_quorum_ns,
        due_without_quorum,
        with_quorum_per_second,
        busy_share: (busy_ns as f64 / client_ns).min(1.0),
        idle_late_share: (idle_late_ns as f64 / client_ns).min(1.0),
        unanswered_share: (unanswered_ns as f64 / client_ns).min(1.0),
        answer_latency_mean_us: answer_ns.checked_div(answered).map_or(0, |l| l / 1000),
        target_per_second: target.rate,
        clients: target.clients,
        window_ns,
        due,
        started,
        backlog_at_stop: due.saturating_sub(started),
        achieved_per_second,
        ok_per_second: ok as f64 / secs,
        lag_p50_us: q(&lag, 0.5),
        lag_p99_us: q(&lag, 0.99),
        lag_max_us: if lag.is_empty() { 0 } else { lag.max() },
        late,
        response_p99_us: q(&response, 0.99),
        shortfall: None,
    };
    p.shortfall = p.shortfall_cause();
    Some(p)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::history::{Call, Ret};

    fn invoke(id: u64, time_ns: u64, intended_ns: u64) -> Event {
        Event::Invoke {
            id,
            client: (id % 4) as u32,
            session: 1,
            time_ns,
            call: Call::Get { path: "/k".into() },
            intended_ns: Some(intended_ns),
        }
    }

    fn ok(id: u64, time_ns: u64) -> Event {
        Event::Complete { id, time_ns, outcome: Outcome::Ok { ret: Ret::Deleted }, zxid: None }
    }

    #[test]
    fn slots_are_due_on_absolute_times_without_drift() {
        assert_eq!(due_ns(0, 300.0, 0), 0);
        assert_eq!(due_ns(5, 1000.0, 3), 3_000_005);
        // A day at 300 ops/s: slot 300 * 86400 is due exactly 86400 s later.
        assert_eq!(due_ns(0, 300.0, 300 * 86_400), 86_400_000_000_000);
        let s = Schedule::new(1_000, 4.0);
        assert_eq!(s.take(), (0, 1_000));
        assert_eq!(s.take(), (1, 250_001_000));
        assert_eq!(s.take(), (2, 500_001_000));
    }

    #[test]
    fn a_run_that_kept_its_schedule_has_no_warning() {
        // 10 ops/s for 1 s: slots at 0, 100, ..., 900 ms, each started 1 ms late.
        let mut events = Vec::new();
        for k in 0..10u64 {
            let due = k * 100_000_000;
            events.push(invoke(k, due + 1_000_000, due));
            events.push(ok(k, due + 5_000_000));
        }
        let t = Target { rate: 10.0, clients: 4, start_ns: 0, stop_ns: 1_000_000_000 };
        let p = pace(&events, &t, &[]).unwrap();
        assert_eq!((p.due, p.started, p.backlog_at_stop, p.late), (10, 10, 0, 0));
        assert!((p.achieved_per_second - 10.0).abs() < 1e-9, "{p:?}");
        assert!((p.ok_per_second - 10.0).abs() < 1e-9, "{p:?}");
        assert!(p.lag_p99_us >= 999 && p.lag_p99_us <= 1_001, "{p:?}");
        assert!(p.response_p99_us >= 4_990 && p.response_p99_us <= 5_010, "{p:?}");
        assert!(!p.below_target);
        assert_eq!(p.warning(), None);
    }

    #[test]
    fn a_stall_shows_as_lag_backlog_and_a_warning() {
        // 10 ops/s for 2 s; the first 5 slots on time, then the clients
        // stall: slots 5..9 start at 1.5 s, slots 10..19 never start.
        let mut events = Vec::new();
        for k in 0..10u64 {
            let due = k * 100_000_000;
            let start = if k < 5 { due } else { 1_500_000_000 };
            events.push(invoke(k, start, due));
            events.push(ok(k, start + 1_000_000));
        }
        let t = Target { rate: 10.0, clients: 4, start_ns: 0, stop_ns: 2_000_000_000 };
        let p = pace(&events, &t, &[]).unwrap();
        assert_eq!((p.due, p.started, p.backlog_at_stop, p.late), (20, 10, 10, 5));
        assert!((p.achieved_per_second - 5.0).abs() < 1e-9);
        assert!(p.lag_max_us >= 1_000_000 && p.lag_max_us <= 1_001_000, "{p:?}");
        assert!(p.response_p99_us >= 1_000_000, "counted from the intended start: {p:?}");
        assert!(p.below_target);
        let w = p.warning().unwrap();
        assert!(w.contains("below its target: 5 of 10 ops/s (50%)"), "{w}");
        assert!(w.contains("10 operations still due"), "{w}");
    }

    #[test]
    fn closed_loop_operations_and_late_starts_after_the_stop_are_not_counted() {
        let closed = Event::Invoke {
            id: 1,
            client: 0,
            session: 1,
            time_ns: 10,
            call: Call::Get { path: "/k".into() },
            intended_ns: None,
        };
        let t = Target { rate: 10.0, clients: 1, start_ns: 0, stop_ns: 1_000_000_000 };
        let p = pace(&[closed, invoke(2, 1_000_000_001, 0)], &t, &[]).unwrap();
        assert_eq!(p.started, 0);
        assert_eq!(pace(&[], &Target { stop_ns: 0, ..t }, &[]), None, "an empty window");
    }

    #[test]
    fn quorum_windows_run_from_the_first_round_without_it_to_the_next_with_it() {
        let rounds = [(0, true), (10, false), (20, false), (30, true), (40, false)];
        assert_eq!(no_quorum_windows(rounds), vec![(10, 30), (40, 40)]);
        assert_eq!(no_quorum_windows([(0, true), (5, true)]), vec![]);
    }

    #[test]
    fn a_shortfall_the_ensemble_caused_without_quorum_is_not_a_warning_and_says_so() {
        // 10 ops/s for 4 s, no quorum from 1 s to 3 s: slots 0..9 on time,
        // slots 10..29 (due in the outage) start after it, 30..39 never.
        let ms = 1_000_000u64;
        let mut events = Vec::new();
        for k in 0..30u64 {
            let due = k * 100 * ms;
            let start = if k < 10 { due } else { 3_000 * ms + (k - 10) * 50 * ms };
            events.push(invoke(k, start, due));
            events.push(ok(k, start + 5 * ms));
        }
        let t = Target { rate: 10.0, clients: 4, start_ns: 0, stop_ns: 4_000 * ms };
        // Without the probes it looks like the clients fell short.
        assert!(pace(&events, &t, &[]).unwrap().below_target);
        let p = pace(&events, &t, &[(1_000 * ms, 3_000 * ms)]).unwrap();
        assert_eq!((p.without_quorum_ns, p.due_without_quorum), (2_000 * ms, 20));
        assert!((p.with_quorum_per_second - 15.0).abs() < 1e-9, "{p:?}");
        assert!(!p.below_target, "{p:?}");
        assert_eq!(p.warning(), None);
        let cause = p.shortfall_cause().unwrap();
        assert!(cause.starts_with("2.0s without quorum (20 operations due then waited for it)"), "{cause}");
        assert!(!cause.contains("the clients were the limit"), "{cause}");
        assert!(p.summary().contains("15 ops/s over the 2.0s with quorum"), "{}", p.summary());
    }

    #[test]
    fn a_warning_leads_with_the_rate_it_judged_over_the_time_with_quorum() {
        // 10 ops/s for 4 s, no quorum from 1 s to 3 s. Slots 0..29 start on
        // time (those in the outage hang until it ends); after it only 6 of
        // the last 10 start. 36 of 40 over the run (90%), but 16 in the 2 s
        // with quorum: 8 ops/s (80%), below target.
        let ms = 1_000_000u64;
        let mut events = Vec::new();
        for k in 0..36u64 {
            let due = k * 100 * ms;
            events.push(invoke(k, due, due));
            events.push(ok(k, due.max(3_000 * ms) + 5 * ms));
        }
        let t = Target { rate: 10.0, clients: 4, start_ns: 0, stop_ns: 4_000 * ms };
        let p = pace(&events, &t, &[(1_000 * ms, 3_000 * ms)]).unwrap();
        assert!(p.achieved_per_second >= 9.0 && p.with_quorum_per_second < 9.0, "{p:?}");
        assert!(p.below_target);
        let w = p.warning().unwrap();
        assert!(
            w.starts_with(
                "the workload ran below its target: 8 of 10 ops/s (80%) while the ensemble had quorum, over those \
                 2.0s (9 ops/s over the whole 4.0s)"
            ),
            "{w}"
        );
    }

    #[test]
    fn clients_that_cannot_keep_up_are_named_as_the_limit_with_the_clients_needed() {
        // 100 ops/s asked of 4 clients whose every operation takes 100 ms:
        // at most 40 ops/s (Little's law), 10 clients needed.
        let ms = 1_000_000u64;
        let mut events = Vec::new();
        let mut id = 0;
        for c in 0..4u64 {
            for i in 0..20u64 {
                let start = i * 100 * ms;
                let due = (i * 4 + c) * 10 * ms;
                events.push(Event::Invoke {
                    id,
                    client: c as u32,
                    session: 1,
                    time_ns: start,
                    call: Call::Get { path: "/k".into() },
                    intended_ns: Some(due),
                });
                events.push(ok(id, start + 100 * ms));
                id += 1;
            }
        }
        let t = Target { rate: 100.0, clients: 4, start_ns: 0, stop_ns: 2_000 * ms };
        let p = pace(&events, &t, &[]).unwrap();
        assert!(p.below_target);
        assert_eq!(p.answer_latency_mean_us, 100_000);
        assert!((p.client_capacity().unwrap() - 40.0).abs() < 1e-9);
        assert!(p.busy_share > 0.99 && p.idle_late_share < 0.01, "{p:?}");
        let w = p.warning().unwrap();
        assert!(
            w.contains(
                "due to: the clients were the limit: busy 100% of the time, 4 of them at a mean latency of 100.0 ms start at most 40 ops/s (100 ops/s needs 10 or more clients)"
            ),
            "{w}"
        );
    }

    #[test]
    fn clients_idle_while_late_are_named_as_the_harness() {
        // 1 client at 10 ops/s, 1 ms operations, but 150 ms between one
        // operation's end and the next start although the next was due.
        let ms = 1_000_000u64;
        let mut events = Vec::new();
        let mut at = 0;
        for k in 0..13u64 {
            events.push(Event::Invoke {
                id: k,
                client: 0,
                session: 1,
                time_ns: at,
                call: Call::Get { path: "/k".into() },
                intended_ns: Some(k * 100 * ms),
            });
            events.push(ok(k, at + ms));
            at += 151 * ms;
        }
        let t = Target { rate: 10.0, clients: 1, start_ns: 0, stop_ns: 2_000 * ms };
        let p = pace(&events, &t, &[]).unwrap();
        assert!(p.below_target, "{p:?}");
        assert!(p.idle_late_share > 0.5, "{p:?}");
        let cause = p.shortfall_cause().unwrap();
        assert!(cause.contains("idle") && cause.contains("the harness"), "{cause}");
        assert!(!cause.contains("the clients were the limit"), "{cause}");
    }

    proptest! {
        #[test]
        fn due_before_counts_exactly_the_slots_before_the_end(
            start in 0u64..1_000_000_000,
            rate in 0.5f64..5000.0,
            len in 0u64..30_000_000_000,
        ) {
            let end = start + len;
            let n = due_before(start, rate, end);
            prop_assert!(n == 0 || due_ns(start, rate, n - 1) < end);
            prop_assert!(due_ns(start, rate, n) >= end);
        }

        #[test]
        fn slots_are_increasing_and_evenly_spaced(start in 0u64..1_000_000, rate in 0.5f64..5000.0, k in 0u64..10_000_000) {
            let (a, b) = (due_ns(start, rate, k), due_ns(start, rate, k + 1));
            prop_assert!(b > a);
            let gap = 1e9 / rate;
            prop_assert!(((b - a) as f64 - gap).abs() <= 1.0);
        }

        #[test]
        fn never_more_started_than_due_when_no_slot_starts_early(
            rate in 1.0f64..1000.0,
            lags in proptest::collection::vec(0u64..3_000_000_000, 0..200),
            stop in 1u64..5_000_000_000,
        ) {
            // Slot k starts `lags[k]` after it is due; starts at or after the stop do not count.
            let events: Vec<Event> =
                lags.iter().enumerate().map(|(k, l)| { let d = due_ns(0, rate, k as u64); invoke(k as u64, d + l, d) }).collect();
            let p = pace(&events, &Target { rate, clients: 4, start_ns: 0, stop_ns: stop }, &[]).unwrap();
            prop_assert!(p.started <= p.due);
            prop_assert_eq!(p.backlog_at_stop, p.due - p.started);
            prop_assert!(p.achieved_per_second <= p.due as f64 / (stop as f64 / 1e9) + 1e-9);
        }
    }
}
