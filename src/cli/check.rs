//! `zk-chaos check`: run every checker over a saved history or bundle.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use zk_chaos::check::linear::Budget;
use zk_chaos::check::suite::{self, Bundle};
use zk_chaos::diagnose::{self, Finding};
use zk_chaos::textfile;

/// `(pod, logs/<pod>/zookeeper.log)` for every pod directory under `dir`
/// holding that log (plain or as `.gz`).
fn pod_logs(dir: &std::path::Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path().join("zookeeper.log"))))
        .filter(|(_, p)| textfile::exists(p))
        .collect();
    out.sort();
    out
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A scenario directory of a run (`reports/<run>/scenarios/<nn>-<name>`: its bundle and its pods' server
    /// logs, which are diagnosed too), a bundle directory (history.jsonl, final.json, probes.jsonl, status.jsonl, run.json) or a
    /// history.jsonl file; each file is read plain, else from its `.gz` (a passing scenario's are kept compressed).
    path: PathBuf,
    /// Time budget of the linearizability search, seconds (past it: unknown, never valid).
    #[arg(long, default_value_t = 60)]
    budget_secs: u64,
    /// Print the full report as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit status of `check` for input it cannot read (apart from 1: invalid).
pub const EXIT_UNREADABLE: u8 = 4;

/// Exit status of `check` when nothing is invalid but something could not
/// be decided (a checker's `unknown`, or a history cut short).
pub const EXIT_UNDECIDED: u8 = 3;

/// Exit 0 when every checker says valid over a whole history, 1 when one
/// says invalid, 3 when none is invalid but some could not decide or the
/// history was cut short, 4 when the input cannot be read.
pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    // A scenario directory holds `bundle/` and `logs/<pod>/zookeeper.log`.
    let scenario = args.path.join("bundle").is_dir();
    let bundle_path = if scenario { args.path.join("bundle") } else { args.path.clone() };
    let bundle = match Bundle::load(&bundle_path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", bundle_path.display());
            return Ok(ExitCode::from(EXIT_UNREADABLE));
        }
    };
    if let Some(cut) = bundle.history_cut {
        eprintln!(
            "note: {}: {cut}; checked the {} complete event(s) before the cut, and what its missing tail could explain is UNKNOWN, never INVALID",
            bundle_path.display(),
            bundle.events.len()
        );
    }
    let budget = Budget { time_limit: Some(Duration::from_secs(args.budget_secs)), ..Budget::default() };
    let report = suite::check_all(&bundle, budget)?;
    let finding = if scenario {
        let ops = zk_chaos::history::pair(&bundle.events, "history.jsonl").unwrap_or_default();
        let events = match diagnose::read_saved_logs(&pod_logs(&args.path.join("logs"))) {
            Ok(events) => events,
            Err(e) => {
                eprintln!("error: cannot read the server logs: {e}");
                return Ok(ExitCode::from(EXIT_UNREADABLE));
            }
        };
        Some(Finding::new(&events, &ops, &[], report.any_invalid()))
    } else {
        None
    };
    if args.json {
        let out = serde_json::json!({ "report": report, "finding": finding });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", suite::render(&report));
        if let Some(f) = &finding {
            println!("{}", f.explain());
        }
    }
    // A history cut short is never all valid: its missing tail was not judged.
    Ok(if report.any_invalid() {
        ExitCode::FAILURE
    } else if report.all_valid() && report.history_cut.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_UNDECIDED)
    })
}
