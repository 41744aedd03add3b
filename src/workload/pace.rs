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
    /// Whether it started fewer than [`BELOW_TARGET`] of the operations
    /// its target asked for.
    pub below_target: bool,
}

impl Pace {
    /// One line: target, achieved, ok rate, lag.
    pub fn summary(&self) -> String {
        format!(
            "target {:.0} ops/s, achieved {:.0} ops/s ({} of {} due operations started, {:.0} ok ops/s); \
             start lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} late by 100 ms or more",
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

    /// The warning for a run below its target, if it was.
    pub fn warning(&self) -> Option<String> {
        self.below_target.then(|| {
            format!(
                "the workload ran below its target: {:.0} of {:.0} ops/s ({:.0}%), {} operations still due at \
                 the stop, start lag up to {:.1}s: the ensemble saw less load than the scenario claims (every \
                 one of the {} clients was blocked: an outage stalls them all; a shortfall without one needs \
                 more clients or a lower rate)",
                self.achieved_per_second,
                self.target_per_second,
                100.0 * self.achieved_per_second / self.target_per_second.max(1e-9),
                self.backlog_at_stop,
                self.lag_max_us as f64 / 1e6,
                self.clients
            )
        })
    }
}

/// How a rated workload kept its schedule, from its events (invokes with
/// `intended_ns`, started before `target.stop_ns`). `None` for an empty
/// window.
pub fn pace(events: &[Event], target: &Target) -> Option<Pace> {
    let window_ns = target.stop_ns.checked_sub(target.start_ns).filter(|w| *w > 0)?;
    let mut lag = Histogram::<u64>::new(3).expect("valid sigfig");
    let mut response = Histogram::<u64>::new(3).expect("valid sigfig");
    let mut intended = std::collections::HashMap::new();
    let (mut started, mut late, mut ok) = (0u64, 0u64, 0u64);
    for e in events {
        match e {
            Event::Invoke { id, time_ns, intended_ns: Some(due), .. } if *time_ns < target.stop_ns => {
                started += 1;
                let l = time_ns.saturating_sub(*due);
                if l >= LATE_NS {
                    late += 1;
                }
                let _ = lag.record((l / 1000).max(1));
                intended.insert(*id, *due);
            }
            Event::Complete { id, time_ns, outcome, .. } => {
                if let Some(due) = intended.get(id) {
                    let _ = response.record((time_ns.saturating_sub(*due) / 1000).max(1));
                    if matches!(outcome, Outcome::Ok { .. }) && *time_ns <= target.stop_ns {
                        ok += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let secs = window_ns as f64 / 1e9;
    let due = due_before(target.start_ns, target.rate, target.stop_ns);
    let q = |h: &Histogram<u64>, q: f64| if h.is_empty() { 0 } else { h.value_at_quantile(q) };
    let achieved_per_second = started as f64 / secs;
    Some(Pace {
        below_target: achieved_per_second < BELOW_TARGET * target.rate,
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
    })
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
        let p = pace(&events, &t).unwrap();
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
        let p = pace(&events, &t).unwrap();
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
        let p = pace(&[closed, invoke(2, 1_000_000_001, 0)], &t).unwrap();
        assert_eq!(p.started, 0);
        assert_eq!(pace(&[], &Target { stop_ns: 0, ..t }), None, "an empty window");
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
            let p = pace(&events, &Target { rate, clients: 4, start_ns: 0, stop_ns: stop }).unwrap();
            prop_assert!(p.started <= p.due);
            prop_assert_eq!(p.backlog_at_stop, p.due - p.started);
            prop_assert!(p.achieved_per_second <= p.due as f64 / (stop as f64 / 1e9) + 1e-9);
        }
    }
}
