//! JUnit XML: a `<testsuite>` per feature, a `<testcase>` per scenario; a
//! failed scenario's `<failure>` names the failing step and carries its
//! message and the invalid checker verdicts; a run that failed outside its
//! scenarios gets a `zk-chaos run` suite with an `<error>`, so CI sees it.

use std::fmt::Write as _;

use super::format::xml_escape as x;
use super::record::{FeatureRecord, Outcome, RunRecord, ScenarioRecord};
use crate::check::Verdict;

fn secs(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e9)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The failure message (one line) and text of a failed scenario.
fn failure(s: &ScenarioRecord) -> (String, String) {
    let mut text = String::new();
    let step = s.steps.iter().find(|st| st.outcome == Outcome::Failed);
    let message = match step {
        Some(st) => {
            let err = st.error.as_deref().unwrap_or("failed");
            let _ = writeln!(text, "Step failed: {} {} (line {})\n{err}", st.keyword, st.text, st.line);
            format!("{} {}: {}", st.keyword, st.text, first_line(err))
        }
        None => "scenario failed".to_string(),
    };
    if let Some(ev) = &s.evidence {
        for c in &ev.checks {
            if let Verdict::Invalid { evidence } = &c.verdict {
                let _ = writeln!(text, "\nchecker {}: INVALID", c.checker);
                for e in evidence.iter().take(20) {
                    let _ = writeln!(text, "  {e}");
                }
            }
        }
    }
    (message, text)
}

fn steps_text(s: &ScenarioRecord) -> String {
    let mut out = String::new();
    for st in &s.steps {
        let _ = writeln!(out, "{} {} ... {} ({} s)", st.keyword, st.text, st.outcome.as_str(), secs(st.duration_ns));
    }
    out
}

fn properties(out: &mut String, r: &RunRecord) {
    let e = &r.environment;
    let mut props: Vec<(&str, String)> = vec![
        ("run_id", r.run_id.clone()),
        ("backend", e.backend.clone()),
        ("zookeeper_versions", e.zookeeper_versions.join(",")),
        ("host", e.host.clone()),
        ("kernel", e.kernel.clone()),
        ("zk_chaos_version", e.zk_chaos_version.clone()),
    ];
    if let Some(seed) = e.seed {
        props.push(("seed", seed.to_string()));
    }
    if let Some(g) = &e.git_revision {
        props.push(("git_revision", g.clone()));
    }
    out.push_str("    <properties>\n");
    for (k, v) in props {
        let _ = writeln!(out, r#"      <property name="{k}" value="{}"/>"#, x(&v));
    }
    out.push_str("    </properties>\n");
}

fn suite(out: &mut String, r: &RunRecord, f: &FeatureRecord) {
    let failures = f.scenarios.iter().filter(|s| s.outcome == Outcome::Failed).count();
    let skipped = f.scenarios.iter().filter(|s| matches!(s.outcome, Outcome::Skipped | Outcome::Interrupted)).count();
    let time: u64 = f.scenarios.iter().map(|s| s.duration_ns).sum();
    let _ = writeln!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="0" skipped="{skipped}" time="{}" timestamp="{}" hostname="{}" file="{}">"#,
        x(&f.name),
        f.scenarios.len(),
        secs(time),
        x(&r.started),
        x(&r.environment.host),
        x(&f.path)
    );
    properties(out, r);
    for s in &f.scenarios {
        let _ = write!(
            out,
            r#"    <testcase name="{}" classname="{}" file="{}" line="{}" time="{}">"#,
            x(&s.name),
            x(&f.name),
            x(&f.path),
            s.line,
            secs(s.duration_ns)
        );
        match s.outcome {
            Outcome::Failed => {
                let (message, text) = failure(s);
                let _ =
                    write!(out, "\n      <failure message=\"{}\" type=\"failed\">{}</failure>", x(&message), x(&text));
            }
            Outcome::Skipped => {
                let why = s.steps.iter().find_map(|st| st.error.as_deref()).unwrap_or("skipped");
                let _ = write!(out, "\n      <skipped message=\"{}\"/>", x(first_line(why)));
            }
            Outcome::Interrupted => {
                let why = s
                    .steps
                    .iter()
                    .rev()
                    .find(|st| st.outcome == Outcome::Interrupted)
                    .and_then(|st| st.error.as_deref())
                    .unwrap_or("the run was interrupted");
                let _ = write!(out, "\n      <skipped message=\"interrupted: {}\"/>", x(first_line(why)));
            }
            Outcome::Passed => {}
        }
        if !s.steps.is_empty() {
            let _ = write!(out, "\n      <system-out>{}</system-out>", x(&steps_text(s)));
        }
        out.push_str("\n    </testcase>\n");
    }
    out.push_str("  </testsuite>\n");
}

/// The JUnit XML of a run.
pub fn render(r: &RunRecord) -> String {
    // An interrupted scenario is skipped in JUnit's terms (with why); the
    // interrupted run itself is the `zk-chaos run` suite's error.
    let c = r.counts();
    let (failed, skipped) = (c.failed, c.skipped + c.interrupted);
    let errors = usize::from(r.error.is_some());
    let mut out = String::with_capacity(4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        r#"<testsuites name="zk-chaos {}" tests="{}" failures="{failed}" errors="{errors}" skipped="{skipped}" time="{}" timestamp="{}">"#,
        x(&r.run_id),
        c.total() + errors,
        secs(r.duration_ns),
        x(&r.started)
    );
    if let Some(err) = &r.error {
        let _ = writeln!(
            out,
            r#"  <testsuite name="zk-chaos run" tests="1" failures="0" errors="1" skipped="0" time="{}" timestamp="{}" hostname="{}">"#,
            secs(r.duration_ns),
            x(&r.started),
            x(&r.environment.host)
        );
        properties(&mut out, r);
        let _ = writeln!(
            out,
            "    <testcase name=\"run\" classname=\"zk-chaos\" time=\"{}\">\n      <error message=\"{}\" type=\"run-error\">{}</error>\n    </testcase>\n  </testsuite>",
            secs(r.duration_ns),
            x(first_line(err)),
            x(err)
        );
    }
    for f in &r.features {
        suite(&mut out, r, f);
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::CheckResult;
    use crate::report::evidence::Evidence;
    use crate::report::record::{Environment, StepRecord};

    fn step(keyword: &str, text: &str, outcome: Outcome, error: Option<&str>) -> StepRecord {
        StepRecord {
            keyword: keyword.into(),
            text: text.into(),
            line: 7,
            duration_ns: 1_500_000_000,
            outcome,
            error: error.map(String::from),
        }
    }

    pub(crate) fn sample() -> RunRecord {
        let mut r = RunRecord::start(Environment { host: "h<1>".into(), seed: Some(42), ..Environment::default() });
        r.features.push(FeatureRecord {
            name: "Leader loss & <recovery>".into(),
            path: "features/leader.feature".into(),
            line: 1,
            scenarios: vec![
                ScenarioRecord {
                    name: "kill the leader".into(),
                    line: 5,
                    duration_ns: 2_000_000_000,
                    outcome: Outcome::Passed,
                    steps: vec![step("Given", "a 3-member ensemble", Outcome::Passed, None)],
                    ..ScenarioRecord::default()
                },
                ScenarioRecord {
                    name: "partition <script>alert(1)</script>".into(),
                    line: 9,
                    duration_ns: 3_000_000_000,
                    outcome: Outcome::Failed,
                    steps: vec![
                        step("Given", "a 3-member ensemble", Outcome::Passed, None),
                        step("Then", "no write is lost", Outcome::Failed, Some("1 lost write\nat /k \u{1} \"x\"")),
                        step("And", "quorum", Outcome::Skipped, None),
                    ],
                    evidence: Some(Evidence {
                        checks: vec![CheckResult {
                            checker: "durability-and-integrity".into(),
                            verdict: Verdict::Invalid { evidence: vec!["lost write on /k: <gone>".into()] },
                        }],
                        ..Evidence::default()
                    }),
                    ..ScenarioRecord::default()
                },
                ScenarioRecord {
                    name: "skipped one".into(),
                    outcome: Outcome::Skipped,
                    steps: vec![step("Given", "x", Outcome::Skipped, Some("filtered by tag"))],
                    ..ScenarioRecord::default()
                },
            ],
            ..FeatureRecord::default()
        });
        r
    }

    #[test]
    fn a_testcase_per_scenario_with_the_failing_step_in_the_failure() {
        let xml = render(&sample());
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("tests"), Some("3"));
        assert_eq!(root.attribute("failures"), Some("1"));
        assert_eq!(root.attribute("skipped"), Some("1"));
        let suites: Vec<_> = root.children().filter(|n| n.has_tag_name("testsuite")).collect();
        assert_eq!(suites.len(), 1);
        assert_eq!(suites[0].attribute("name"), Some("Leader loss & <recovery>"));
        let props: Vec<_> = suites[0].descendants().filter(|n| n.has_tag_name("property")).collect();
        assert!(props.iter().any(|p| p.attribute("name") == Some("seed") && p.attribute("value") == Some("42")));
        let cases: Vec<_> = suites[0].children().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[1].attribute("name"), Some("partition <script>alert(1)</script>"));
        assert_eq!(cases[1].attribute("time"), Some("3.000"));
        let failure = cases[1].children().find(|n| n.has_tag_name("failure")).expect("a failure element");
        assert_eq!(failure.attribute("message"), Some("Then no write is lost: 1 lost write"));
        let text = failure.text().unwrap();
        assert!(text.contains("(line 7)") && text.contains("\u{fffd} \"x\""), "{text}");
        assert!(
            text.contains("checker durability-and-integrity: INVALID") && text.contains("lost write on /k: <gone>")
        );
        assert!(cases[0].children().all(|n| !n.has_tag_name("failure")));
        let skipped = cases[2].children().find(|n| n.has_tag_name("skipped")).unwrap();
        assert_eq!(skipped.attribute("message"), Some("filtered by tag"));
        let out = cases[1].children().find(|n| n.has_tag_name("system-out")).unwrap().text().unwrap();
        assert_eq!(out.lines().count(), 3);
    }

    #[test]
    fn a_run_that_failed_early_is_an_error() {
        let mut r = RunRecord::start(Environment::default());
        r.error = Some("cannot provision ZooKeeper 3.9.3: <network>".into());
        let xml = render(&r);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(doc.root_element().attribute("errors"), Some("1"));
        assert_eq!(doc.root_element().attribute("tests"), Some("1"));
        let e = doc.descendants().find(|n| n.has_tag_name("error")).unwrap();
        assert_eq!(e.attribute("message"), Some("cannot provision ZooKeeper 3.9.3: <network>"));
    }
}
