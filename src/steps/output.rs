//! What a run leaves in its output directory: the run record and the
//! reports rendered from it (`record.json`, `index.html`, `junit.xml`,
//! `cucumber.json`, see [`crate::report`]), each scenario's bundle and log
//! excerpts under `scenarios/<nn>-<name>/`, the outcome as JSON
//! (`outcome.json`) and the printed summary (`summary.txt`). Also written
//! for a run that failed before any scenario ran.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::runner::RunOutcome;
use super::writer::{ScenarioOutcome, Status};
use crate::check::suite::Bundle;
use crate::report::{self, artifacts, probes};
use crate::report::{
    Environment, Evidence, FaultEntry, FeatureRecord, OperatorAction, Outcome, ReportError, RunRecord, ScenarioRecord,
    ServerMark, StepRecord,
};
use crate::scenario::ScenarioEvidence;
use crate::textfile::Storage;

fn outcome(s: Status) -> Outcome {
    match s {
        Status::Passed => Outcome::Passed,
        Status::Failed => Outcome::Failed,
        Status::Skipped => Outcome::Skipped,
        // Its own outcome: neither a pass nor a failure (the run, which
        // was interrupted, is not a pass either).
        Status::Interrupted => Outcome::Interrupted,
    }
}

/// A record with the environment filled in, for run `run_id`.
pub fn new_record(run_id: &str, backend: &str, seed: u64) -> RunRecord {
    let versions = crate::dist::supported_versions().iter().map(|v| v.to_string()).collect();
    let mut r = RunRecord::start(Environment::detect(backend, versions, Some(seed)));
    r.run_id = run_id.to_string();
    r
}

/// The evidence of one scenario for the report: from its judged bundle
/// when a workload ran (times on the history clock), else from its probes
/// alone (times on the scenario clock).
fn evidence_of(ev: &ScenarioEvidence) -> (Option<Evidence>, Option<Bundle>) {
    let shift = ev.workload_offset_ns.unwrap_or(0);
    let on_clock = |t: u64| t.saturating_sub(shift);
    let bundle = ev.report.as_ref().and_then(|_| Bundle::load(&ev.history_dir).ok());
    let mut e = match (&bundle, &ev.report) {
        (Some(b), Some(r)) => match Evidence::from_bundle(b, r) {
            Ok(e) => e,
            Err(_) => return (None, bundle),
        },
        _ => {
            let timeline = probes::ProbeTimeline::summarise(&ev.probes);
            Evidence {
                leader_changes: probes::leader_changes(&timeline),
                probes: Some(timeline),
                faults: ev
                    .faults
                    .iter()
                    .map(|f| FaultEntry {
                        name: f.name.clone(),
                        description: f.description.clone(),
                        targets: f.targets.clone(),
                        start_ns: f.start_ns,
                        heal_ns: f.heal_ns,
                    })
                    .collect(),
                ..Evidence::default()
            }
        }
    };
    if bundle.is_some() {
        // The bundle knows descriptions and times; targets come from the scenario.
        for f in &mut e.faults {
            if let Some(src) =
                ev.faults.iter().find(|s| s.description == f.description && on_clock(s.start_ns) == f.start_ns)
            {
                f.targets = src.targets.clone();
                f.name = src.name.clone();
            }
        }
    }
    e.operator_actions = ev
        .operator
        .iter()
        .filter(|(t, _)| *t >= shift)
        .map(|(t, text)| OperatorAction { at_ns: on_clock(*t), text: text.clone() })
        .collect();
    e.server_marks = ev
        .server_marks
        .iter()
        .filter(|(_, t, _, _)| *t >= shift)
        .map(|(o, t, text, severe)| ServerMark {
            ordinal: *o,
            at_ns: on_clock(*t),
            text: text.clone(),
            severe: *severe,
        })
        .collect();
    (Some(e), bundle)
}

fn scenario_record(run_dir: &Path, number: usize, s: &ScenarioOutcome) -> Result<ScenarioRecord, ReportError> {
    let steps: Vec<StepRecord> = s
        .steps
        .iter()
        .map(|st| StepRecord {
            keyword: st.keyword.clone(),
            text: st.text.clone(),
            line: st.line as u32,
            duration_ns: st.millis * 1_000_000,
            outcome: outcome(st.status),
            error: st.error.clone(),
        })
        .collect();
    let mut rec = ScenarioRecord {
        name: s.name.clone(),
        keyword: "Scenario".into(),
        line: s.line as u32,
        tags: s.tags.clone(),
        start_offset_ns: s.started_ms * 1_000_000,
        duration_ns: s.millis * 1_000_000,
        outcome: outcome(s.status),
        steps,
        ..ScenarioRecord::default()
    };
    if let Some(ev) = &s.evidence {
        let (evidence, bundle) = evidence_of(ev);
        let logs: Vec<artifacts::PodLog> = ev
            .logs
            .iter()
            .filter_map(|(pod, file)| {
                file.parent().map(|d| artifacts::PodLog { pod: pod.clone(), dir: d.to_path_buf() })
            })
            .collect();
        let diagnosis = ev.history_dir.join("diagnosis.json");
        let diagnosis = diagnosis.is_file().then_some(diagnosis.as_path());
        // A passing scenario's bulky files are kept compressed; a failing
        // (or undecided) one's stay plain: they are what a user opens first.
        let storage = if s.status == Status::Passed { Storage::Gzip } else { Storage::Plain };
        let a =
            artifacts::save_scenario_artifacts(run_dir, number, &s.name, bundle.as_ref(), diagnosis, &logs, storage)?;
        rec.links = a.links;
        rec.logs = a.logs;
        rec.evidence = evidence;
    }
    Ok(rec)
}

/// The record of a finished run.
pub fn record(outcome: &RunOutcome, backend: &str) -> Result<RunRecord, ReportError> {
    let mut r = new_record(&outcome.run_id, backend, outcome.seed);
    r.started = report::record::rfc3339(SystemTime::now() - outcome.elapsed);
    let mut features: BTreeMap<String, FeatureRecord> = BTreeMap::new();
    let mut order = Vec::new();
    for (i, s) in outcome.scenarios.iter().enumerate() {
        let f = features.entry(s.path.clone()).or_insert_with(|| {
            order.push(s.path.clone());
            FeatureRecord { name: s.feature.clone(), path: s.path.clone(), line: 1, ..FeatureRecord::default() }
        });
        f.scenarios.push(scenario_record(&outcome.out_dir, i + 1, s)?);
    }
    r.features = order.into_iter().filter_map(|p| features.remove(&p)).collect();
    let mut errors = outcome.parse_errors.clone();
    if let Some(why) = &outcome.interrupted {
        let done = outcome.scenarios.iter().filter(|s| s.status != Status::Interrupted).count();
        errors.push(format!("interrupted ({why}) after {done} finished scenario(s)"));
    }
    if !errors.is_empty() {
        r.error = Some(errors.join("\n"));
    }
    r.finish(outcome.elapsed);
    Ok(r)
}

/// Write everything for a finished run; returns the report's index file.
pub fn write(outcome: &RunOutcome, backend: &str) -> Result<PathBuf, ReportError> {
    let dir = &outcome.out_dir;
    let io = |path: PathBuf| move |source| ReportError::Io { path, source };
    std::fs::create_dir_all(dir).map_err(io(dir.clone()))?;
    // Compact: pretty-printed, the bundled features' outcome was 12 MB, compact 5 MB.
    let json = dir.join("outcome.json");
    let bytes = serde_json::to_vec(outcome).map_err(|e| ReportError::Io { path: json.clone(), source: e.into() })?;
    std::fs::write(&json, bytes).map_err(io(json.clone()))?;
    let summary = dir.join("summary.txt");
    std::fs::write(&summary, outcome.render_summary()).map_err(io(summary.clone()))?;
    let record = record(outcome, backend)?;
    let written = report::write(&record, dir)?;
    // The bundles now live under scenarios/<nn>-<name>/bundle.
    let _ = std::fs::remove_dir_all(dir.join("work"));
    if let Some(root) = dir.parent() {
        report::write_index(root)?;
    }
    Ok(written.dir.join("index.html"))
}

/// Write the record and reports of a run that failed before its scenarios
/// ran (bad input, no root, provisioning): JUnit and Cucumber JSON still
/// say so to CI.
pub fn write_failed(
    run_dir: &Path,
    backend: &str,
    seed: u64,
    error: &str,
    elapsed: Duration,
) -> Result<PathBuf, ReportError> {
    let run_id = run_dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut r = new_record(&run_id, backend, seed);
    // The run started `elapsed` ago, not now.
    r.started = report::record::rfc3339(SystemTime::now() - elapsed);
    r.error = Some(error.to_string());
    r.finish(elapsed);
    let written = report::write(&r, run_dir)?;
    if let Some(root) = run_dir.parent() {
        report::write_index(root)?;
    }
    Ok(written.dir.join("index.html"))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::probe::{EnsembleStatus, MemberStatus};
    use crate::scenario::FaultEntry as Fault;
    use crate::steps::writer::StepOutcome;

    fn step(text: &str, line: usize, status: Status, error: Option<&str>) -> StepOutcome {
        StepOutcome {
            keyword: "When".into(),
            text: text.into(),
            line,
            status,
            millis: 1500,
            error: error.map(String::from),
            detail: None,
        }
    }

    fn scenario(
        path: &str,
        name: &str,
        line: usize,
        steps: Vec<StepOutcome>,
        ev: Option<ScenarioEvidence>,
    ) -> ScenarioOutcome {
        let status = if steps.iter().any(|s| s.status == Status::Failed) { Status::Failed } else { Status::Passed };
        ScenarioOutcome {
            key: format!("{path}:{line}"),
            feature: format!("feature of {path}"),
            path: path.into(),
            name: name.into(),
            line,
            tags: vec!["leader".into()],
            status,
            started_ms: 10,
            millis: 4000,
            steps,
            evidence: ev,
        }
    }

    fn evidence(dir: &Path) -> ScenarioEvidence {
        let st = EnsembleStatus::judge(vec![MemberStatus::unprobed(0, Ipv4Addr::LOCALHOST)]);
        ScenarioEvidence {
            name: "a.feature:3".into(),
            seed: 7,
            cluster: Some("zk-1".into()),
            faults: vec![Fault {
                name: "kill".into(),
                description: "SIGKILL the leader = pod 1".into(),
                targets: vec![1],
                start_ns: 2_000_000_000,
                heal_ns: Some(2_000_000_000),
            }],
            operator: vec![(3_000_000_000, "delete pod 2 (upgrade)".into())],
            probes: vec![(0, st.clone()), (250_000_000, st)],
            report: None,
            stats: None,
            pace: None,
            history_dir: dir.join("work").join("x"),
            workload_offset_ns: None,
            logs: Vec::new(),
            server_marks: vec![(2, 2_500_000_000, "TRUNC: dropped its log after 0x10000001c".into(), true)],
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_run_becomes_a_record_grouped_by_feature_with_its_evidence_and_reports() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("20261121-000000-7");
        std::fs::create_dir_all(dir.join("work").join("x")).unwrap();
        let outcome = RunOutcome {
            run_id: "20261121-000000-7".into(),
            seed: 7,
            tags: "not @slow".into(),
            not_selected: vec!["a.feature:9: a soak (@slow)".into()],
            scenarios: vec![
                scenario(
                    "a.feature",
                    "kill",
                    3,
                    vec![step("I kill the leader", 4, Status::Passed, None)],
                    Some(evidence(&dir)),
                ),
                scenario(
                    "b.feature",
                    "typo",
                    5,
                    vec![step("I kill pod 9", 6, Status::Failed, Some("no such member"))],
                    None,
                ),
                scenario("a.feature", "again", 9, vec![step("I wait 1s", 10, Status::Passed, None)], None),
            ],
            parse_errors: Vec::new(),
            elapsed: Duration::from_secs(12),
            out_dir: dir.clone(),
            interrupted: None,
        };
        let r = record(&outcome, "local").unwrap();
        assert_eq!(r.run_id, outcome.run_id);
        assert_eq!(r.environment.seed, Some(7));
        let paths: Vec<&str> = r.features.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a.feature", "b.feature"], "grouped by feature, in order of first appearance");
        assert_eq!(r.features[0].scenarios.len(), 2);
        let failed = &r.features[1].scenarios[0];
        assert_eq!(failed.outcome, Outcome::Failed);
        assert_eq!(failed.steps[0].error.as_deref(), Some("no such member"));
        assert_eq!(failed.steps[0].duration_ns, 1_500_000_000);
        // Without a workload the evidence is the probe timeline, on the scenario clock.
        let ev = r.features[0].scenarios[0].evidence.as_ref().unwrap();
        assert_eq!(ev.faults[0].targets, [1]);
        assert_eq!(ev.faults[0].start_ns, 2_000_000_000);
        assert_eq!(ev.operator_actions[0].at_ns, 3_000_000_000);
        assert_eq!(ev.server_marks.len(), 1, "the servers' marks reach the evidence");
        assert!(ev.server_marks[0].severe);
        assert!(ev.probes.is_some());
        let index = write(&outcome, "local").unwrap();
        for f in ["index.html", "junit.xml", "cucumber.json", "record.json", "outcome.json", "summary.txt"] {
            assert!(dir.join(f).is_file(), "{f}");
        }
        assert_eq!(index, dir.join("index.html"));
        assert!(root.path().join("index.html").is_file(), "the reports index");
        assert!(!dir.join("work").exists(), "the scratch histories are filed away");
        let summary = std::fs::read_to_string(dir.join("summary.txt")).unwrap();
        assert!(
            summary.contains(
                "NOT RUN  1 scenario(s) left out by the tags `not @slow`:\n        a.feature:9: a soak (@slow)"
            ),
            "{summary}"
        );
        let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
        assert!(junit.contains("no such member"), "{junit}");
    }

    /// A passing scenario's logs are kept compressed and linked so (in the
    /// record too); a failing or interrupted one's stay plain; the
    /// excerpts come from the logs either way.
    #[test]
    fn only_a_passing_scenarios_logs_are_kept_compressed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("20261121-000000-8");
        let pod_dir = root.path().join("pods").join("zk-1-0");
        std::fs::create_dir_all(&pod_dir).unwrap();
        let log = "2026-11-21 00:00:01,000 [myid:1] - WARN  [q] - lost the leader\n".repeat(50);
        std::fs::write(pod_dir.join("zookeeper.log"), &log).unwrap();
        std::fs::write(pod_dir.join("console.log"), "started\n").unwrap();
        let with_logs = || {
            let mut ev = evidence(&dir);
            ev.logs = vec![("zk-1-0".into(), pod_dir.join("zookeeper.log"))];
            Some(ev)
        };
        let mut interrupted =
            scenario("a.feature", "cut", 7, vec![step("I wait", 8, Status::Passed, None)], with_logs());
        interrupted.status = Status::Interrupted;
        let outcome = RunOutcome {
            run_id: "20261121-000000-8".into(),
            seed: 8,
            tags: String::new(),
            not_selected: Vec::new(),
            scenarios: vec![
                scenario("a.feature", "pass", 3, vec![step("I wait", 4, Status::Passed, None)], with_logs()),
                scenario("a.feature", "fail", 5, vec![step("I wait", 6, Status::Failed, Some("no"))], with_logs()),
                interrupted,
            ],
            parse_errors: Vec::new(),
            elapsed: Duration::from_secs(3),
            out_dir: dir.clone(),
            interrupted: Some("SIGTERM".into()),
        };
        write(&outcome, "local").unwrap();
        let r = RunRecord::load(&dir).unwrap();
        let scenarios: Vec<&ScenarioRecord> = r.features[0].scenarios.iter().collect();
        let hrefs = |s: &ScenarioRecord| s.links.iter().map(|l| l.href.clone()).collect::<Vec<_>>();
        assert_eq!(
            hrefs(scenarios[0]),
            ["scenarios/01-pass/logs/zk-1-0/zookeeper.log.gz", "scenarios/01-pass/logs/zk-1-0/console.log.gz"]
        );
        assert_eq!(
            hrefs(scenarios[1]),
            ["scenarios/02-fail/logs/zk-1-0/zookeeper.log", "scenarios/02-fail/logs/zk-1-0/console.log"]
        );
        assert_eq!(
            hrefs(scenarios[2]),
            ["scenarios/03-cut/logs/zk-1-0/zookeeper.log", "scenarios/03-cut/logs/zk-1-0/console.log"]
        );
        for s in &scenarios {
            for h in hrefs(s) {
                assert!(dir.join(&h).is_file(), "{h}");
                let other = h.strip_suffix(".gz").map_or_else(|| format!("{h}.gz"), String::from);
                assert!(!dir.join(&other).exists(), "only one form of {h} is kept");
            }
            assert_eq!(s.logs.len(), 1, "an excerpt from the log, compressed or not");
            assert_eq!(s.logs[0].lines.len(), artifacts::EXCERPT_LINES);
        }
        let compressed = dir.join("scenarios/01-pass/logs/zk-1-0/zookeeper.log");
        assert_eq!(crate::textfile::read_text(&compressed).unwrap(), log.as_bytes());
    }

    #[test]
    fn a_run_that_failed_early_still_writes_its_reports() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("20261121-000000-1");
        write_failed(&dir, "local", 1, "features/x.feature:4: no step matches", Duration::from_millis(5)).unwrap();
        let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
        assert!(junit.contains("no step matches"), "{junit}");
        let record = RunRecord::load(&dir).unwrap();
        assert_eq!(record.error.as_deref(), Some("features/x.feature:4: no step matches"));
        assert!(dir.join("cucumber.json").is_file());
    }

    #[test]
    fn a_report_written_after_a_long_wait_starts_when_the_run_started() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("20261121-000000-2");
        write_failed(&dir, "local", 1, "interrupted", Duration::from_secs(600)).unwrap();
        let record = RunRecord::load(&dir).unwrap();
        let started = humantime::parse_rfc3339(&record.started).unwrap();
        let finished = humantime::parse_rfc3339(record.finished.as_deref().unwrap()).unwrap();
        assert_eq!(finished.duration_since(started).unwrap().as_secs() / 60, 10, "{record:?}");
    }

    #[test]
    fn an_interrupted_run_keeps_its_finished_scenarios_and_marks_the_rest() {
        use crate::steps::runner::{RunOptions, interrupted_outcome};
        use crate::steps::writer::LiveRun;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("20261121-000000-3");
        let live = LiveRun::default();
        let done = scenario("a.feature", "kill", 3, vec![step("I kill the leader", 4, Status::Passed, None)], None);
        let running = scenario("b.feature", "wait", 5, vec![step("I wait 1s", 6, Status::Passed, None)], None);
        live.set(0, &done, false);
        live.set(1, &running, false);
        live.set(0, &done, true);
        let opts = RunOptions {
            paths: Vec::new(),
            tags: None,
            seed: 3,
            concurrency: 1,
            out_dir: dir.clone(),
            base: crate::backend::local::EnsembleSpec::new("zk", 3, "3.9.6"),
            backend: Default::default(),
            live: false,
            schedule_subset: None,
        };
        let outcome = interrupted_outcome(&opts, &live, "SIGTERM");
        assert!(!outcome.passed());
        let statuses: Vec<Status> = outcome.scenarios.iter().map(|s| s.status).collect();
        assert_eq!(statuses, [Status::Passed, Status::Interrupted]);
        assert_eq!(outcome.scenarios[1].steps.last().unwrap().error.as_deref(), Some("SIGTERM"));
        assert!(outcome.render_summary().contains("INTERRUPTED (SIGTERM) after 1 finished scenario(s)"));
        std::fs::create_dir_all(&dir).unwrap();
        write(&outcome, "local").unwrap();
        let record = RunRecord::load(&dir).unwrap();
        let outcomes: Vec<Outcome> = record.scenarios().map(|(_, s)| s.outcome).collect();
        assert_eq!(outcomes, [Outcome::Passed, Outcome::Interrupted], "the finished scenario is kept");
        assert!(record.error.as_deref().unwrap().contains("interrupted (SIGTERM)"), "{:?}", record.error);
        let c = record.counts();
        assert_eq!((c.passed, c.failed, c.skipped, c.interrupted), (1, 0, 0, 1), "interrupted is not failed");
        assert!(!record.passed());
        // JUnit: skipped with why (the run's error is the failure CI sees).
        let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
        assert!(junit.contains(r#"<skipped message="interrupted: SIGTERM"/>"#), "{junit}");
        assert!(junit.contains(r#"failures="0" errors="1" skipped="1""#), "{junit}");
        let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
        assert!(html.contains("1 interrupted") && html.contains(r#"<span class="badge interrupted">"#), "the page");
        let cucumber = std::fs::read_to_string(dir.join("cucumber.json")).unwrap();
        assert!(!cucumber.contains("\"interrupted\""), "Cucumber has no such status: {cucumber}");
    }
}
