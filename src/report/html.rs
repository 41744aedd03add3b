//! The run's HTML page: minijinja templates (`templates/`, compiled in)
//! with HTML auto-escaping for everything, the charts from [`super::svg`]
//! (which escape their own text) inserted as the only raw markup.

use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, context};
use serde::Serialize;

use super::ReportError;
use super::format;
use super::record::{Link, RunRecord};
use super::score::{self, FORMULA, Score};
use super::svg;

/// Most evidence lines shown per checker (the rest are in `record.json`).
pub const EVIDENCE_LINES: usize = 30;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.add_filter("duration", |ns: u64| format::duration(ns));
        env.add_filter("at", |ns: u64| format::at(ns));
        env.add_filter("at_ms", |ns: u64| format!("{:.3} ms", ns as f64 / 1e6));
        env.add_filter("hex", |v: u64| format!("{v:#x}"));
        env.add_filter("fixed1", |v: f64| format!("{v:.1}"));
        env.add_filter("pct", |v: f64| format!("{:.2} %", v * 100.0));
        for (name, source) in [
            ("style.css", include_str!("templates/style.css")),
            ("head.html", include_str!("templates/head.html")),
            ("run.html", include_str!("templates/run.html")),
            ("scenario.html", include_str!("templates/scenario.html")),
            ("index.html", include_str!("templates/index.html")),
        ] {
            env.add_template(name, source).expect("the report templates parse");
        }
        env
    })
}

/// Render a template of this module's environment.
pub(crate) fn render_template(name: &str, ctx: minijinja::Value) -> Result<String, ReportError> {
    let fail = |e: minijinja::Error| {
        let mut message = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            message.push_str(&format!(": {s}"));
            src = s.source();
        }
        ReportError::Template { template: name.to_string(), message }
    };
    env().get_template(name).map_err(fail)?.render(ctx).map_err(fail)
}

/// A link that is safe to put in an `href`: a relative path without a
/// scheme. Anything else is shown as text only.
pub fn safe_href(href: &str) -> Option<&str> {
    let before_slash = href.split('/').next().unwrap_or("");
    let ok = !href.is_empty()
        && !href.starts_with("//")
        && !href.starts_with('\\')
        && !before_slash.contains(':')
        && !href.chars().any(|c| c.is_control());
    ok.then_some(href)
}

#[derive(Serialize)]
struct LinkView<'a> {
    label: &'a str,
    href: Option<&'a str>,
    text: &'a str,
}

fn links(links: &[Link]) -> Vec<LinkView<'_>> {
    links.iter().map(|l| LinkView { label: &l.label, href: safe_href(&l.href), text: &l.href }).collect()
}

#[derive(Serialize)]
struct ScenarioView<'a> {
    anchor: String,
    number: usize,
    feature_name: &'a str,
    feature_path: &'a str,
    timeline_svg: Option<String>,
    roles_svg: Option<String>,
    lanes_svg: Option<String>,
    links: Vec<LinkView<'a>>,
    unavailable_ns: u64,
    invalid: usize,
}

#[derive(Serialize)]
struct Summary {
    passed: usize,
    failed: usize,
    skipped: usize,
    interrupted: usize,
    unavailable_ns: u64,
    workload_ns: u64,
    lost_writes: usize,
    /// Scenarios whose durability verdict is invalid: the "Lost writes"
    /// card is never green beside one, whatever the count says.
    durability_invalid: usize,
    longest_recovery_ns: Option<u64>,
    longest_recovery_fault: String,
    unrecovered: Vec<String>,
    faults: usize,
    verdict: &'static str,
}

fn summary(r: &RunRecord, s: &Score) -> Summary {
    let c = r.counts();
    let mut out = Summary {
        passed: c.passed,
        failed: c.failed,
        skipped: c.skipped,
        interrupted: c.interrupted,
        unavailable_ns: s.unavailable_ns,
        workload_ns: s.workload_ns,
        lost_writes: 0,
        durability_invalid: 0,
        longest_recovery_ns: None,
        longest_recovery_fault: String::new(),
        unrecovered: Vec::new(),
        faults: 0,
        verdict: if r.passed() { "passed" } else { "failed" },
    };
    for (_, sc) in r.scenarios() {
        let Some(ev) = &sc.evidence else { continue };
        out.lost_writes += ev.lost_writes;
        out.durability_invalid += usize::from(
            ev.checks.iter().any(|c| c.checker == super::evidence::DURABILITY_CHECKER && c.verdict.is_invalid()),
        );
        out.faults += ev.recovery.len();
        for rec in &ev.recovery {
            match rec.headline_ns() {
                Some(t) if out.longest_recovery_ns.is_none_or(|m| t > m) => {
                    out.longest_recovery_ns = Some(t);
                    out.longest_recovery_fault = format!("{}: {}", sc.name, rec.fault);
                }
                Some(_) => {}
                None if ev.ops.ok > 0 => out.unrecovered.push(format!("{}: {}", sc.name, rec.fault)),
                None => {}
            }
        }
    }
    out
}

/// Render the run's page.
pub fn render(r: &RunRecord) -> Result<String, ReportError> {
    let score = score::score(r);
    let summary = summary(r, &score);
    let mut scenarios = Vec::new();
    for (i, (f, s)) in r.scenarios().enumerate() {
        let ev = s.evidence.as_ref();
        scenarios.push(ScenarioView {
            anchor: format!("s{}-{}", i + 1, format::slug(&s.name)),
            number: i + 1,
            feature_name: &f.name,
            feature_path: &f.path,
            timeline_svg: ev.map(svg::timeline),
            roles_svg: ev.and_then(svg::roles),
            lanes_svg: ev.and_then(|e| e.linearizability_failure.as_ref()).map(svg::lanes),
            links: links(&s.links),
            unavailable_ns: ev.map_or(0, |e| e.unavailable_ns()),
            invalid: ev.map_or(0, |e| e.invalid_checks()),
        });
    }
    let records: Vec<_> = r.scenarios().map(|(_, s)| s).collect();
    render_template(
        "run.html",
        context! {
            run => r,
            score => score,
            formula => FORMULA,
            summary => summary,
            views => scenarios,
            scenarios => records,
            run_links => links(&r.links),
            evidence_lines => EVIDENCE_LINES,
            generated => super::record::rfc3339(std::time::SystemTime::now()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_relative_links_are_linked() {
        assert_eq!(safe_href("scenarios/01-x/bundle/history.jsonl"), Some("scenarios/01-x/bundle/history.jsonl"));
        assert_eq!(safe_href("../index.html"), Some("../index.html"));
        for bad in
            ["javascript:alert(1)", "https://example.org/x", "//evil/x", "", "a\nb", "JaVaScRiPt:x", "\\\\host\\x"]
        {
            assert_eq!(safe_href(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_templates_parse() {
        for t in ["run.html", "scenario.html", "index.html", "head.html", "style.css"] {
            assert!(env().get_template(t).is_ok(), "{t}");
        }
    }
}
