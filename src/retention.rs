//! Retention: what `zk-chaos prune` (and the prune at the end of every
//! `zk-chaos run`) removes, so runs do not pile up.
//!
//! - `reports/<run-id>/`: the newest [`DEFAULT_KEEP_RUNS`] runs (by run id,
//!   which starts with the date) are kept whole. Older runs that passed are
//!   removed; older runs that failed (or whose record cannot be read) are
//!   kept, because their failing scenarios' bundles and logs are what a
//!   user needs, unless `--failed-too` is given.
//! - `<work dir>/runs/<run>/` (the local backend's per-ensemble state and
//!   server logs, copied into the report when a scenario ends): removed once
//!   the run is not registered live and is older than [`STATE_MIN_AGE`].
//!   A live run (a detached `up`, another process's scenario) is never
//!   touched.
//!
//! The decisions are pure ([`plan_reports`], [`plan_state`]); [`apply`]
//! carries them out.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Report runs kept whole by default.
pub const DEFAULT_KEEP_RUNS: usize = 20;

/// A local run dir younger than this is never pruned (its process may
/// still be copying its logs into the report).
pub const STATE_MIN_AGE: Duration = Duration::from_secs(3600);

/// The environment variable overriding [`DEFAULT_KEEP_RUNS`] (`0` keeps
/// every run).
pub const KEEP_RUNS_ENV: &str = "ZK_CHAOS_KEEP_RUNS";

/// One run under `reports/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRun {
    /// Its directory.
    pub dir: PathBuf,
    /// Its run id (the directory's name; sorts by date).
    pub id: String,
    /// Whether its record says it passed (`None`: no readable record).
    pub passed: Option<bool>,
}

/// One local run dir under `<work dir>/runs/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRun {
    /// Its directory.
    pub dir: PathBuf,
    /// Whether it is registered live.
    pub live: bool,
    /// How long since it was last modified.
    pub age: Duration,
}

/// What to remove, with the reason for each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Directories to remove, each with why.
    pub remove: Vec<(PathBuf, String)>,
    /// Directories kept that a user might have expected removed, with why.
    pub kept: Vec<(PathBuf, String)>,
}

/// Which report runs to remove: every run but the newest `keep` that
/// passed, and with `failed_too` the failed ones as well. `keep == 0`
/// keeps everything.
pub fn plan_reports(runs: &[ReportRun], keep: usize, failed_too: bool) -> Plan {
    let mut plan = Plan::default();
    if keep == 0 {
        return plan;
    }
    let mut sorted: Vec<&ReportRun> = runs.iter().collect();
    sorted.sort_by(|a, b| b.id.cmp(&a.id));
    for r in sorted.into_iter().skip(keep) {
        match r.passed {
            Some(true) => plan.remove.push((r.dir.clone(), format!("passed, older than the newest {keep} runs"))),
            _ if failed_too => {
                plan.remove.push((r.dir.clone(), format!("failed, older than the newest {keep} runs (--failed-too)")))
            }
            Some(false) => plan.kept.push((r.dir.clone(), "failed: kept with its failing scenarios' data".into())),
            None => plan.kept.push((r.dir.clone(), "no readable record.json: kept".into())),
        }
    }
    plan
}

/// Which local run dirs to remove: those not live and older than `min_age`.
pub fn plan_state(runs: &[StateRun], min_age: Duration) -> Plan {
    let mut plan = Plan::default();
    for r in runs {
        if r.live {
            plan.kept.push((r.dir.clone(), "registered live".into()));
        } else if r.age >= min_age {
            plan.remove.push((r.dir.clone(), "torn down (its logs are in the report)".into()));
        }
    }
    plan
}

/// The runs under a reports root: every directory holding `record.json`
/// or `hunt.json` (a `--repeat` run).
pub fn report_runs(root: &Path) -> Vec<ReportRun> {
    let Ok(dir) = std::fs::read_dir(root) else { return Vec::new() };
    let mut out: Vec<ReportRun> = dir
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter(|e| e.path().join("record.json").is_file() || e.path().join("hunt.json").is_file())
        .map(|e| {
            let dir = e.path();
            let passed = crate::report::RunRecord::load(&dir).ok().map(|r| r.passed());
            ReportRun { id: e.file_name().to_string_lossy().into_owned(), dir, passed }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The local run dirs under `<work>/runs/`, with whether each is live
/// (registered, or holding a mount).
pub fn state_runs(work: &Path, now: SystemTime) -> Vec<StateRun> {
    let live: Vec<String> =
        crate::backend::local::state::registered_runs().into_iter().map(|(id, _)| id.as_str().to_string()).collect();
    // A run dir holding a mount (a data disk a crash left) counts as live:
    // `zk-chaos down --all` unmounts it first.
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mounted = |dir: &Path| {
        let prefix = format!("{}/", dir.display());
        mounts.lines().filter_map(|l| l.split_whitespace().nth(1)).any(|m| m.starts_with(&prefix))
    };
    let Ok(dir) = std::fs::read_dir(work.join("runs")) else { return Vec::new() };
    dir.filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let modified = e.metadata().and_then(|m| m.modified()).unwrap_or(now);
            StateRun {
                dir: e.path(),
                live: live.contains(&name) || mounted(&e.path()),
                age: now.duration_since(modified).unwrap_or(Duration::ZERO),
            }
        })
        .collect()
}

/// Bytes under `path` (files only; symlinks not followed).
pub fn size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map_or(0, |d| d.filter_map(Result::ok).map(|e| size(&e.path())).sum())
}

/// Remove what `plan` says; returns the bytes freed and the failures.
pub fn apply(plan: &Plan) -> (u64, Vec<String>) {
    let (mut freed, mut failed) = (0, Vec::new());
    for (dir, _) in &plan.remove {
        let bytes = size(dir);
        match std::fs::remove_dir_all(dir) {
            Ok(()) => freed += bytes,
            Err(e) => failed.push(format!("{}: {e}", dir.display())),
        }
    }
    (freed, failed)
}

/// The number of report runs to keep: `$ZK_CHAOS_KEEP_RUNS`, else
/// [`DEFAULT_KEEP_RUNS`].
pub fn keep_runs_from_env() -> usize {
    std::env::var(KEEP_RUNS_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_KEEP_RUNS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, passed: Option<bool>) -> ReportRun {
        ReportRun { dir: PathBuf::from("/r").join(id), id: id.into(), passed }
    }

    #[test]
    fn the_newest_runs_are_kept_and_older_passing_ones_removed() {
        let runs = vec![
            run("20260101-000000-1", Some(true)),
            run("20260102-000000-1", Some(false)),
            run("20260103-000000-1", None),
            run("20260104-000000-1", Some(true)),
            run("20260105-000000-1", Some(true)),
        ];
        let plan = plan_reports(&runs, 2, false);
        let removed: Vec<_> = plan.remove.iter().map(|(d, _)| d.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(removed, ["20260101-000000-1"]);
        let kept: Vec<_> = plan.kept.iter().map(|(d, _)| d.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(kept, ["20260103-000000-1", "20260102-000000-1"], "failed and unreadable runs are kept");
        assert_eq!(plan_reports(&runs, 2, true).remove.len(), 3);
        assert_eq!(plan_reports(&runs, 0, true), Plan::default(), "0 keeps everything");
        assert_eq!(plan_reports(&runs, 10, true), Plan::default());
    }

    #[test]
    fn a_live_or_recent_local_run_is_never_removed() {
        let old = STATE_MIN_AGE + Duration::from_secs(1);
        let s = |n: &str, live, age| StateRun { dir: PathBuf::from(n), live, age };
        let plan =
            plan_state(&[s("a", true, old), s("b", false, Duration::from_secs(5)), s("c", false, old)], STATE_MIN_AGE);
        assert_eq!(plan.remove.iter().map(|(d, _)| d.to_str().unwrap()).collect::<Vec<_>>(), ["c"]);
        assert_eq!(plan.kept.len(), 1);
    }

    #[test]
    fn apply_removes_only_what_the_plan_says_and_counts_the_bytes() {
        let root = tempfile::tempdir().unwrap();
        let (gone, stays) = (root.path().join("gone"), root.path().join("stays"));
        for d in [&gone, &stays] {
            std::fs::create_dir_all(d.join("sub")).unwrap();
            std::fs::write(d.join("sub/f"), [0u8; 100]).unwrap();
        }
        let plan = Plan { remove: vec![(gone.clone(), "test".into())], kept: Vec::new() };
        let (freed, failed) = apply(&plan);
        assert_eq!((freed, failed.len()), (100, 0));
        assert!(!gone.exists() && stays.join("sub/f").is_file());
    }

    #[test]
    fn report_runs_reads_each_runs_verdict() {
        let root = tempfile::tempdir().unwrap();
        let unreadable = root.path().join("20260101-000000-1");
        std::fs::create_dir_all(&unreadable).unwrap();
        std::fs::write(unreadable.join("record.json"), "{").unwrap();
        std::fs::create_dir_all(root.path().join("not-a-run")).unwrap();
        let runs = report_runs(root.path());
        assert_eq!(runs, vec![ReportRun { dir: unreadable, id: "20260101-000000-1".into(), passed: None }]);
    }
}
