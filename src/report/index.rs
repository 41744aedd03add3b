//! `reports/index.html`: every run directory with a `record.json`, newest
//! first, with its date, verdict, scenarios, score, unavailability and lost
//! writes, and the score's trend over runs. A record that cannot be read is
//! listed with the reason, never dropped silently.

use std::path::{Path, PathBuf};

use minijinja::context;
use serde::Serialize;

use super::ReportError;
use super::html::{render_template, safe_href};
use super::record::{Counts, RECORD_FILE, RunRecord};
use super::score;
use super::svg::{self, TrendPoint};

/// One run as the index lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunEntry {
    /// The run directory's name.
    pub dir: String,
    /// The link to its page, when the name is safe to link.
    pub href: Option<String>,
    /// The run id.
    pub run_id: String,
    /// When it started (RFC 3339), empty when unreadable.
    pub started: String,
    /// `passed`, `failed`, or `unreadable`.
    pub verdict: String,
    /// Scenarios by outcome.
    pub counts: Counts,
    /// The reliability score.
    pub score: f64,
    /// Total write unavailability, ns.
    pub unavailable_ns: u64,
    /// Lost writes.
    pub lost_writes: usize,
    /// ZooKeeper versions.
    pub versions: String,
    /// Why the record could not be read, or why the run failed early.
    pub problem: Option<String>,
}

fn href(dir: &str) -> Option<String> {
    let h = format!("{dir}/index.html");
    safe_href(&h).is_some().then_some(h)
}

fn entry(dir: &Path) -> RunEntry {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match RunRecord::load(dir) {
        Ok(r) => {
            let s = score::score(&r);
            RunEntry {
                href: href(&name),
                dir: name,
                run_id: r.run_id.clone(),
                started: r.started.clone(),
                verdict: if r.passed() { "passed" } else { "failed" }.into(),
                counts: r.counts(),
                score: s.value,
                unavailable_ns: s.unavailable_ns,
                lost_writes: r.scenarios().filter_map(|(_, s)| s.evidence.as_ref()).map(|e| e.lost_writes).sum(),
                versions: r.environment.zookeeper_versions.join(", "),
                problem: r.error.clone(),
            }
        }
        Err(e) => RunEntry {
            href: href(&name),
            dir: name.clone(),
            run_id: name,
            started: String::new(),
            verdict: "unreadable".into(),
            counts: Counts::default(),
            score: 0.0,
            unavailable_ns: 0,
            lost_writes: 0,
            versions: String::new(),
            problem: Some(e.to_string()),
        },
    }
}

/// Every run directory under `reports_root` (those holding a `record.json`),
/// oldest first.
pub fn runs(reports_root: &Path) -> Result<Vec<RunEntry>, ReportError> {
    let rd = std::fs::read_dir(reports_root).map_err(|source| ReportError::Io { path: reports_root.into(), source })?;
    let mut out: Vec<RunEntry> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join(RECORD_FILE).is_file())
        .map(|p| entry(&p))
        .collect();
    out.sort_by(|a, b| (&a.started, &a.run_id).cmp(&(&b.started, &b.run_id)));
    Ok(out)
}

/// Render the index page of `entries` (oldest first).
pub fn render(entries: &[RunEntry]) -> Result<String, ReportError> {
    let points: Vec<TrendPoint> = entries
        .iter()
        .filter(|e| e.verdict != "unreadable")
        .map(|e| TrendPoint { label: e.run_id.clone(), score: e.score, passed: e.verdict == "passed" })
        .collect();
    let newest_first: Vec<&RunEntry> = entries.iter().rev().collect();
    render_template(
        "index.html",
        context! {
            runs => newest_first,
            trend_svg => svg::trend(&points),
            passed => entries.iter().filter(|e| e.verdict == "passed").count(),
            total => entries.len(),
            formula => score::FORMULA,
        },
    )
}

/// Write `<reports_root>/index.html` listing every run; returns its path.
pub fn write_index(reports_root: &Path) -> Result<PathBuf, ReportError> {
    if !reports_root.is_dir() {
        return Err(ReportError::Missing { path: reports_root.to_path_buf(), what: "reports directory" });
    }
    let page = render(&runs(reports_root)?)?;
    let path = reports_root.join("index.html");
    std::fs::write(&path, page).map_err(|source| ReportError::Io { path: path.clone(), source })?;
    Ok(path)
}
