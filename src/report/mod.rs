//! Run reports: the versioned run record and everything rendered from it.
//!
//! A run directory `reports/<run-id>/` holds:
//! - `record.json`: the [`RunRecord`] (the only input of every other file);
//! - `index.html`: one self-contained page (inline CSS and SVG, no script,
//!   no network access; a Content-Security-Policy forbids any);
//! - `junit.xml`: one testcase per scenario;
//! - `cucumber.json`: the Cucumber JSON format of cucumber-js/-jvm;
//! - `scenarios/<nn>-<name>/`: saved bundles and pod logs ([`artifacts`]).
//!
//! `reports/index.html` lists every run with its verdict and score and a
//! trend over runs ([`write_index`]).
//!
//! The runner's part: build a [`RunRecord`] with [`RunRecord::start`], push
//! features and scenarios (steps from the runner, evidence from
//! [`Evidence::from_bundle`], artifacts from
//! [`artifacts::save_scenario_artifacts`]), [`RunRecord::finish`] it, then
//! call [`write`] and [`write_index`] — also when the run failed early
//! (set [`RunRecord::error`]).

pub mod artifacts;
pub mod cucumber_json;
pub mod evidence;
mod format;
pub mod html;
pub mod index;
pub mod junit;
pub mod linear_view;
pub mod probes;
pub mod record;
pub mod score;
pub mod svg;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use evidence::Evidence;
pub use index::write_index;
pub use record::{
    Counts, Environment, FaultEntry, FeatureRecord, Link, LogExcerpt, OperatorAction, Outcome, RunRecord,
    ScenarioRecord, ServerMark, StepRecord,
};

use crate::check::suite::BundleError;
use crate::history::HistoryError;

/// Why a report could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file or directory that should be there is not.
    #[error("{path}: no such {what}")]
    Missing {
        /// What was looked for.
        path: PathBuf,
        /// What it should have been, e.g. `run record`.
        what: &'static str,
    },
    /// A record that is not valid JSON or not a run record.
    #[error("{path}:{line}:{column}: not a run record: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        source: serde_json::Error,
    },
    /// A record of another schema version.
    #[error("{path}: {}, this zk-chaos reads version {expected}", found.map_or("no schema_version".to_string(), |v| format!("schema version {v}")))]
    SchemaVersion {
        /// The file.
        path: PathBuf,
        /// The version it has.
        found: Option<u32>,
        /// The version this build reads.
        expected: u32,
    },
    /// The recorded history is inconsistent.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// A bundle could not be saved.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// A scenario's file (plain or `.gz`) could not be written.
    #[error(transparent)]
    Text(#[from] crate::textfile::TextError),
    /// A template failed to render (a bug, not bad input).
    #[error("rendering {template}: {message}")]
    Template {
        /// The template.
        template: String,
        /// The engine's message, with its causes.
        message: String,
    },
}

/// What [`write`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The run directory.
    pub dir: PathBuf,
    /// `record.json`.
    pub record: PathBuf,
    /// `index.html`.
    pub html: PathBuf,
    /// `junit.xml`.
    pub junit: PathBuf,
    /// `cucumber.json`.
    pub cucumber: PathBuf,
    /// Size of `index.html`, bytes.
    pub html_bytes: u64,
    /// Time spent rendering and writing everything.
    pub elapsed: Duration,
}

/// The run directory of `record` under a reports root: `<root>/<run-id>`.
pub fn run_dir(reports_root: &Path, record: &RunRecord) -> PathBuf {
    reports_root.join(&record.run_id)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|source| ReportError::Io { path: path.to_path_buf(), source })
}

/// Write `record.json`, `junit.xml`, `cucumber.json` and `index.html` into
/// `run_dir` (created if needed). Every file is attempted even when an
/// earlier one fails, so CI gets its JUnit XML whatever else went wrong;
/// the first error is returned.
pub fn write(record: &RunRecord, run_dir: &Path) -> Result<Written, ReportError> {
    render_into(record, run_dir, true)
}

/// Re-render a run directory from its `record.json` (which is left as it
/// is): `index.html`, `junit.xml`, `cucumber.json`.
pub fn rerender(run_dir: &Path) -> Result<Written, ReportError> {
    let record = RunRecord::load(run_dir)?;
    let dir = if run_dir.is_dir() { run_dir.to_path_buf() } else { run_dir.parent().unwrap_or(Path::new(".")).into() };
    render_into(&record, &dir, false)
}

fn render_into(record: &RunRecord, run_dir: &Path, with_record: bool) -> Result<Written, ReportError> {
    let started = Instant::now();
    std::fs::create_dir_all(run_dir).map_err(|source| ReportError::Io { path: run_dir.to_path_buf(), source })?;
    let out = Written {
        dir: run_dir.to_path_buf(),
        record: run_dir.join(record::RECORD_FILE),
        html: run_dir.join("index.html"),
        junit: run_dir.join("junit.xml"),
        cucumber: run_dir.join("cucumber.json"),
        html_bytes: 0,
        elapsed: Duration::ZERO,
    };
    let results = [
        if with_record { write_file(&out.record, record.to_json().as_bytes()) } else { Ok(()) },
        write_file(&out.junit, junit::render(record).as_bytes()),
        write_file(&out.cucumber, cucumber_json::render(record).as_bytes()),
        html::render(record).and_then(|page| write_file(&out.html, page.as_bytes())),
    ];
    let html_bytes = std::fs::metadata(&out.html).map(|m| m.len()).unwrap_or(0);
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(Written { html_bytes, elapsed: started.elapsed(), ..out })
}
