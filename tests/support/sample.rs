//! A sample run record built the way the runner builds one: synthetic
//! recorded bundles judged by the real checkers, summarised by
//! `Evidence::from_bundle`, with steps, fault targets, operator actions and
//! log excerpts, and hostile text (markup in a step, a fault and a log
//! line) to prove it is escaped.

#![allow(dead_code)]

use std::time::Duration;

use zk_chaos::check::linear::Budget;
use zk_chaos::check::suite::{self, Bundle, SuiteReport};
use zk_chaos::check::{CheckResult, Verdict, availability, quorum};
use zk_chaos::report::{
    Environment, Evidence, FeatureRecord, LogExcerpt, OperatorAction, Outcome, RunRecord, ScenarioRecord, StepRecord,
};
use zk_chaos::workload::stats;

use super::synthetic::{self, Spec};

/// Markup that must never reach a page unescaped.
pub const HOSTILE_STEP: &str = "the leader is killed <script>alert('step')</script>";
/// A log line with markup.
pub const HOSTILE_LOG: &str =
    "2025-01-01 00:00:01,000 [myid:2] - WARN  [QuorumPeer] - <img src=x onerror=alert('log')> lost";
/// A fault description with markup.
pub const HOSTILE_FAULT: &str = "SIGKILL leader <b>zk-0</b>";

fn step(keyword: &str, text: &str, ms: u64, outcome: Outcome, error: Option<&str>, line: u32) -> StepRecord {
    StepRecord {
        keyword: keyword.into(),
        text: text.into(),
        line,
        duration_ns: ms * 1_000_000,
        outcome,
        error: error.map(String::from),
    }
}

/// Every checker over a bundle, for real.
pub fn judge(b: &Bundle) -> SuiteReport {
    suite::check_all(b, Budget { time_limit: Some(Duration::from_secs(60)), ..Budget::default() }).unwrap()
}

/// Statistics, availability and quorum for real, without the
/// linearizability, session and durability searches (for measuring the
/// report on histories too large to check quickly): those say so.
pub fn summarise_only(b: &Bundle) -> SuiteReport {
    let ops = synthetic::ops(b);
    let q = quorum::check(b.probes.as_deref().unwrap_or(&[]), b.facts.settle_after_ns);
    let skipped = |name: &str| CheckResult {
        checker: name.into(),
        verdict: Verdict::Unknown { reason: "not checked in the report measurement".into() },
    };
    SuiteReport {
        results: vec![
            skipped("linearizable-writes"),
            skipped("session-guarantees"),
            skipped("durability-and-integrity"),
            CheckResult { checker: "quorum-and-convergence".into(), verdict: q.verdict.clone() },
        ],
        availability: availability::figures(&ops, &b.facts.faults),
        quorum: Some(q),
        stats: stats::stats(&ops),
        linear_elapsed: Duration::ZERO,
        linear_violation: None,
        lost_writes: 0,
        pace: None,
        history_cut: None,
    }
}

fn evidence(b: &Bundle, report: &SuiteReport, actions: bool) -> Evidence {
    let mut ev = Evidence::from_bundle(b, report).unwrap();
    ev.faults[0].targets = vec![0];
    ev.faults[0].description = HOSTILE_FAULT.into();
    if actions {
        let at = ev.faults[0].heal_ns.unwrap();
        ev.operator_actions
            .push(OperatorAction { at_ns: at + 200_000_000, text: "restart pod zk-0 (revision 1)".into() });
        ev.operator_actions
            .push(OperatorAction { at_ns: at + 1_500_000_000, text: "status: Running, 3/3 ready".into() });
    }
    ev
}

/// The scenarios of the sample run: one that passes, one with a stale
/// sync read and a lost write (its failing step's message and a log line
/// carry markup), one skipped.
pub fn record(ops_per_scenario: usize, seconds: u64) -> RunRecord {
    let good = synthetic::bundle(&Spec::new(ops_per_scenario, seconds, 1));
    let mut bad = synthetic::bundle(&Spec::new(ops_per_scenario, seconds, 2));
    synthetic::stale_sync_read(&mut bad);
    synthetic::lose_last_write(&mut bad);
    let good_ev = evidence(&good, &judge(&good), true);
    let bad_report = judge(&bad);
    let bad_ev = evidence(&bad, &bad_report, false);
    assemble(good_ev, bad_ev)
}

/// The sample run from two evidences (a passing and a failing scenario).
pub fn assemble(good_ev: Evidence, bad_ev: Evidence) -> RunRecord {
    let mut r = RunRecord::start(Environment::detect("local", vec!["3.8.0".into(), "3.9.3".into()], Some(42)));
    let good_steps = vec![
        step("Given", "a 3-member ensemble of ZooKeeper 3.8.0", 4200, Outcome::Passed, None, 6),
        step("And", "8 clients writing and reading", 120, Outcome::Passed, None, 7),
        step("When", "the leader is killed and restarted", 9800, Outcome::Passed, None, 8),
        step("Then", "every acknowledged write survives", 800, Outcome::Passed, None, 9),
        step("And", "the history is linearizable", 1400, Outcome::Passed, None, 10),
    ];
    let bad_steps = vec![
        step("Given", "a 3-member ensemble of ZooKeeper 3.8.0", 4100, Outcome::Passed, None, 13),
        step("When", HOSTILE_STEP, 9700, Outcome::Passed, None, 14),
        step(
            "Then",
            "the history is linearizable",
            1500,
            Outcome::Failed,
            Some("linearizable-writes: INVALID <script>alert('error')</script>\nsee the lane view"),
            15,
        ),
        step("And", "every acknowledged write survives", 0, Outcome::Skipped, None, 16),
    ];
    let good_span = good_ev.span_ns;
    r.features.push(FeatureRecord {
        name: "Leader loss".into(),
        path: "features/leader_loss.feature".into(),
        line: 1,
        description: "The ensemble keeps its promises when the leader dies.".into(),
        tags: vec!["@faults".into()],
        scenarios: vec![
            ScenarioRecord {
                name: "Kill the leader under load".into(),
                keyword: "Scenario".into(),
                line: 5,
                tags: vec!["@kill".into()],
                start_offset_ns: 2_000_000_000,
                duration_ns: good_span + 4_000_000_000,
                outcome: Outcome::of_steps(&good_steps),
                steps: good_steps,
                evidence: Some(good_ev),
                links: vec![zk_chaos::report::Link {
                    label: "history.jsonl".into(),
                    href: "scenarios/01-kill-the-leader-under-load/bundle/history.jsonl".into(),
                }],
                logs: vec![],
            },
            ScenarioRecord {
                name: "Kill the leader <again>".into(),
                keyword: "Scenario".into(),
                line: 12,
                tags: vec![],
                start_offset_ns: 30_000_000_000,
                duration_ns: 16_000_000_000,
                outcome: Outcome::of_steps(&bad_steps),
                steps: bad_steps,
                evidence: Some(bad_ev),
                links: vec![zk_chaos::report::Link {
                    label: "evil link".into(),
                    href: "javascript:alert('link')".into(),
                }],
                logs: vec![LogExcerpt { pod: "zk-1".into(), lines: vec![HOSTILE_LOG.into()] }],
            },
        ],
    });
    r.features.push(FeatureRecord {
        name: "Scaling".into(),
        path: "features/scaling.feature".into(),
        line: 1,
        scenarios: vec![ScenarioRecord {
            name: "Scale 3 to 5 (needs 5 addresses)".into(),
            keyword: "Scenario".into(),
            line: 4,
            outcome: Outcome::Skipped,
            steps: vec![step("Given", "a 5-member ensemble", 0, Outcome::Skipped, Some("filtered by --tags"), 5)],
            ..ScenarioRecord::default()
        }],
        ..FeatureRecord::default()
    });
    r.finish(Duration::from_secs(60));
    r
}
