//! The reliability score of a run: one number from 0 to 100 that a person
//! can recompute from the figures on the page.
//!
//! ```text
//! score = 100 × (0.6 × P + 0.4 × A) × 0.5^V
//! ```
//!
//! * `P`, the pass rate: passed scenarios / (passed + failed); skipped
//!   and interrupted scenarios do not count.
//! * `A`, write availability: 1 − (time without any acknowledged write, in
//!   windows longer than the threshold) / (time the workloads ran), over
//!   every scenario that recorded a workload. Without any workload the
//!   availability term is left out: `score = 100 × P × 0.5^V`.
//! * `V`, safety violations: checker verdicts that are invalid
//!   (linearizability, session guarantees, durability, quorum). Each one
//!   halves the score: a lost write is never made up for by availability.
//!
//! A run that failed outside any scenario, or ran none, scores 0. Verdicts
//! that could not decide do not change the score; the page counts them.

use serde::{Deserialize, Serialize};

use super::record::RunRecord;

/// The formula, as shown on the page.
pub const FORMULA: &str = "score = 100 × (0.6 × P + 0.4 × A) × 0.5^V";

/// Weight of the pass rate.
pub const W_PASS: f64 = 0.6;
/// Weight of write availability.
pub const W_AVAILABILITY: f64 = 0.4;

/// A run's score and the terms it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// 0 to 100.
    pub value: f64,
    /// `P`: pass rate (0 to 1), `None` when no scenario passed or failed.
    pub pass_rate: Option<f64>,
    /// `A`: write availability (0 to 1), `None` without any workload.
    pub availability: Option<f64>,
    /// `V`: invalid checker verdicts.
    pub safety_violations: usize,
    /// Checker verdicts that could not decide (not scored).
    pub undecided: usize,
    /// Total write unavailability, ns.
    pub unavailable_ns: u64,
    /// Total workload time, ns.
    pub workload_ns: u64,
    /// The formula with this run's numbers filled in.
    pub computation: String,
}

/// Score a run (see the module docs).
pub fn score(record: &RunRecord) -> Score {
    // An interrupted scenario neither passed nor failed: it does not count.
    let c = record.counts();
    let (passed, failed) = (c.passed, c.failed);
    let pass_rate = (passed + failed > 0).then(|| passed as f64 / (passed + failed) as f64);
    let (mut unavailable_ns, mut workload_ns, mut violations, mut undecided) = (0u64, 0u64, 0usize, 0usize);
    for (_, s) in record.scenarios() {
        let Some(ev) = &s.evidence else { continue };
        unavailable_ns += ev.unavailable_ns().min(ev.span_ns);
        workload_ns += ev.span_ns;
        violations += ev.invalid_checks();
        undecided += ev.undecided_checks();
    }
    let availability = (workload_ns > 0).then(|| 1.0 - unavailable_ns as f64 / workload_ns as f64);
    let penalty = 0.5f64.powi(i32::try_from(violations).unwrap_or(i32::MAX));
    let (value, computation) = match (record.error.as_deref(), pass_rate, availability) {
        (Some(_), _, _) => (0.0, "the run failed outside its scenarios: score = 0".to_string()),
        (None, None, _) => (0.0, "no scenario passed or failed: score = 0".to_string()),
        (None, Some(p), Some(a)) => {
            let v = 100.0 * (W_PASS * p + W_AVAILABILITY * a) * penalty;
            (v, format!("100 × (0.6 × {p:.3} + 0.4 × {a:.4}) × 0.5^{violations} = {v:.1}"))
        }
        (None, Some(p), None) => {
            let v = 100.0 * p * penalty;
            (v, format!("no workload recorded: 100 × {p:.3} × 0.5^{violations} = {v:.1}"))
        }
    };
    Score {
        value,
        pass_rate,
        availability,
        safety_violations: violations,
        undecided,
        unavailable_ns,
        workload_ns,
        computation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::availability::{Availability, Window};
    use crate::check::{CheckResult, Verdict};
    use crate::report::evidence::Evidence;
    use crate::report::record::{Environment, FeatureRecord, Outcome, ScenarioRecord};

    fn evidence(span_s: u64, unavailable_s: &[u64], verdicts: &[Verdict]) -> Evidence {
        let windows = unavailable_s
            .iter()
            .map(|d| Window {
                start_ns: 0,
                end_ns: d * 1_000_000_000,
                duration_ns: d * 1_000_000_000,
                until_end: false,
            })
            .collect();
        Evidence {
            span_ns: span_s * 1_000_000_000,
            availability: Availability {
                threshold_ns: 1_000_000_000,
                writes: 0,
                ok_writes: 0,
                failed_writes: 0,
                unknown_writes: 0,
                windows,
                longest_window: None,
                faults: vec![],
            },
            checks: verdicts.iter().map(|v| CheckResult { checker: "c".into(), verdict: v.clone() }).collect(),
            ..Evidence::default()
        }
    }

    fn run(scenarios: Vec<(Outcome, Option<Evidence>)>) -> RunRecord {
        let mut r = RunRecord::start(Environment::default());
        r.features.push(FeatureRecord {
            name: "f".into(),
            scenarios: scenarios
                .into_iter()
                .map(|(outcome, evidence)| ScenarioRecord { name: "s".into(), outcome, evidence, ..Default::default() })
                .collect(),
            ..FeatureRecord::default()
        });
        r
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn pass_rate_and_availability_are_weighted() {
        // 3 of 4 pass (skipped do not count); 5 s of 100 s unavailable.
        let r = run(vec![
            (Outcome::Passed, Some(evidence(60, &[2, 3], &[Verdict::Valid]))),
            (Outcome::Passed, Some(evidence(40, &[], &[Verdict::Unknown { reason: "budget".into() }]))),
            (Outcome::Passed, None),
            (Outcome::Failed, None),
            (Outcome::Skipped, None),
        ]);
        let s = score(&r);
        assert!(close(s.pass_rate.unwrap(), 0.75));
        assert!(close(s.availability.unwrap(), 0.95));
        assert!(close(s.value, 100.0 * (0.6 * 0.75 + 0.4 * 0.95)), "{}", s.value);
        assert_eq!((s.safety_violations, s.undecided), (0, 1));
        assert!(s.computation.ends_with("= 83.0"), "{}", s.computation);
    }

    #[test]
    fn each_safety_violation_halves_the_score() {
        let bad = || Verdict::Invalid { evidence: vec!["lost write on /k".into()] };
        let one = score(&run(vec![(Outcome::Failed, Some(evidence(10, &[], &[bad()])))]));
        assert!(close(one.value, 100.0 * (0.6 * 0.0 + 0.4 * 1.0) * 0.5), "{}", one.value);
        let two = score(&run(vec![
            (Outcome::Passed, Some(evidence(10, &[], &[bad()]))),
            (Outcome::Passed, Some(evidence(10, &[], &[bad()]))),
        ]));
        assert!(close(two.value, 25.0), "{}", two.value);
        assert_eq!(two.safety_violations, 2);
    }

    #[test]
    fn no_workload_no_scenarios_and_early_failures() {
        let s = score(&run(vec![(Outcome::Passed, None), (Outcome::Failed, None)]));
        assert!(s.availability.is_none() && close(s.value, 50.0), "{s:?}");
        assert!(s.computation.starts_with("no workload"));
        assert_eq!(score(&run(vec![(Outcome::Skipped, None)])).value, 0.0);
        let mut r = run(vec![(Outcome::Passed, None)]);
        r.error = Some("provisioning failed".into());
        assert_eq!(score(&r).value, 0.0);
    }
}
