//! Running features and plans: load and check them, run the scenarios on
//! cucumber-rs (in parallel up to `concurrency`, each with its own
//! ensemble), collect what each recorded, and summarise.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{gherkin, parser};
use futures::stream;
use regex::Regex;

use super::load::{self, LoadError};
use super::writer::{Collector, LiveRun, ScenarioOutcome, Status};
use super::{ZkWorld, after, before, dispatch, quiet_step_failures, set_context};
use crate::backend::BackendConfig;
use crate::backend::local::EnsembleSpec;
use crate::scenario::RunContext;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Feature files, plan files or directories of them.
    pub paths: Vec<PathBuf>,
    /// A tag expression; the backend's default when `None` (see
    /// [`load::backend_tags`]: on Kubernetes `@local-only` is always out).
    pub tags: Option<String>,
    /// The run's seed.
    pub seed: u64,
    /// Scenarios at once.
    pub concurrency: usize,
    /// Where the run's output goes (`reports/<run-id>`).
    pub out_dir: PathBuf,
    /// The template of local ensembles (and the heap and tick of every ensemble).
    pub base: EnsembleSpec,
    /// Where ensembles are stood up.
    pub backend: BackendConfig,
    /// Live progress bars (a TTY) rather than plain lines.
    pub live: bool,
    /// Random schedules run only the faults at these positions (shrinking
    /// and replaying a shrunk schedule); every fault when `None`.
    pub schedule_subset: Option<Vec<usize>>,
}

/// Why a run could not be made (failing scenarios are not errors).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The features or plans are malformed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The tags select nothing.
    #[error("no scenario in {paths} matches the tags `{tags}`")]
    Empty {
        /// The paths.
        paths: String,
        /// The tag expression.
        tags: String,
    },
}

/// A finished run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    /// The run's id (its directory name).
    pub run_id: String,
    /// The seed.
    pub seed: u64,
    /// The tag expression used.
    pub tags: String,
    /// Every scenario.
    pub scenarios: Vec<ScenarioOutcome>,
    /// Parse errors cucumber reported.
    pub parse_errors: Vec<String>,
    /// Scenarios in the given paths the tags left out, as
    /// `<key>: <name> (<tags>)`: shown in the summary, never silently dropped.
    pub not_selected: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
    /// The output directory.
    pub out_dir: PathBuf,
    /// Why the run stopped before every scenario finished (`None`: it ran
    /// to the end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
}

impl RunOutcome {
    /// Whether every scenario passed (and at least one ran).
    pub fn passed(&self) -> bool {
        !self.scenarios.is_empty()
            && self.interrupted.is_none()
            && self.parse_errors.is_empty()
            && self.scenarios.iter().all(|s| s.status == Status::Passed)
    }

    /// The summary printed at the end of a run.
    pub fn render_summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\nzk-chaos run {} (seed {}, tags `{}`)", self.run_id, self.seed, self.tags);
        let mut busy = 0u64;
        for s in &self.scenarios {
            let mark = match s.status {
                Status::Passed => "PASS",
                Status::Interrupted => "INTR",
                Status::Failed | Status::Skipped => "FAIL",
            };
            let waited: u64 = s.steps.iter().filter(|st| is_waiting(&st.text)).map(|st| st.millis).sum();
            busy += s.millis;
            let _ = writeln!(
                out,
                "  {mark}  {:<58} {:>6.1}s  (waiting {:>5.1}s)  {}",
                format!("{}: {}", s.feature, s.name),
                s.millis as f64 / 1000.0,
                waited as f64 / 1000.0,
                s.key
            );
            if let Some(failed) = s.steps.iter().find(|st| st.status == Status::Failed) {
                let msg = failed.error.clone().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "        line {}: {} {}\n        {}",
                    failed.line,
                    failed.keyword,
                    failed.text,
                    msg.replace('\n', "\n        ")
                );
            }
            if let Some(ev) = &s.evidence {
                if let Some(p) = &ev.pace {
                    let _ = writeln!(out, "        rate: {}", p.summary());
                }
                for n in &ev.notes {
                    let _ = writeln!(out, "        note: {n}");
                }
            }
        }
        for e in &self.parse_errors {
            let _ = writeln!(out, "  ERROR {e}");
        }
        if !self.not_selected.is_empty() {
            let _ = writeln!(
                out,
                "  NOT RUN  {} scenario(s) left out by the tags `{}`:",
                self.not_selected.len(),
                self.tags
            );
            for n in &self.not_selected {
                let _ = writeln!(out, "        {n}");
            }
        }
        if let Some(why) = &self.interrupted {
            let done = self.scenarios.iter().filter(|s| s.status != Status::Interrupted).count();
            let _ = writeln!(out, "  INTERRUPTED ({why}) after {done} finished scenario(s)");
        }
        let passed = self.scenarios.iter().filter(|s| s.status == Status::Passed).count();
        let _ = writeln!(
            out,
            "{passed} of {} scenarios passed in {:.1}s wall ({:.1}s of scenario time)",
            self.scenarios.len(),
            self.elapsed.as_secs_f64(),
            busy as f64 / 1000.0
        );
        let _ = writeln!(out, "output: {}", self.out_dir.display());
        out
    }
}

/// Steps that only wait (time-bounded expectations and sleeps), for the
/// "how much of it is waiting" figure.
fn is_waiting(text: &str) -> bool {
    text.starts_with("within ") || text.starts_with("I wait") || text.starts_with("a ") && text.contains("-member")
}

/// A parser that hands cucumber the features we loaded and checked.
struct Loaded(Vec<gherkin::Feature>);

impl parser::Parser<()> for Loaded {
    type Cli = cucumber::cli::Empty;
    type Output = stream::Iter<std::vec::IntoIter<parser::Result<gherkin::Feature>>>;

    fn parse(self, _input: (), _cli: Self::Cli) -> Self::Output {
        stream::iter(self.0.into_iter().map(Ok).collect::<Vec<_>>())
    }
}

/// A run id: UTC time plus the seed, sortable.
pub fn run_id(seed: u64) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days as i64);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:x}", rem / 3600, rem % 3600 / 60, rem % 60, seed & 0xffff)
}

/// Claim a fresh run directory under `parent` for a run with `seed`: the
/// [`run_id`] when that directory does not exist yet, else the id with
/// `-2`, `-3`... appended. The directory is created with `mkdir` (never
/// reused), so two runs started in the same second with the same seed (the
/// default seed of `cargo test` is 1) never write into one directory.
pub fn claim_run_dir(parent: &std::path::Path, seed: u64) -> std::io::Result<PathBuf> {
    claim_dir_as(parent, &run_id(seed))
}

/// [`claim_run_dir`] with the id given.
fn claim_dir_as(parent: &std::path::Path, id: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    for n in 1u32..10_000 {
        let dir = if n == 1 { parent.join(id) } else { parent.join(format!("{id}-{n}")) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("every run directory {id}-N exists")))
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Load, check and run; returns the outcome of every scenario.
pub async fn run(opts: RunOptions) -> Result<RunOutcome, RunError> {
    run_live(opts, Arc::new(LiveRun::default())).await
}

/// [`run`], mirroring every scenario into `live` as it goes: when the
/// returned future is dropped (the run interrupted), [`interrupted_outcome`]
/// still has every finished scenario.
pub async fn run_live(opts: RunOptions, live: Arc<LiveRun>) -> Result<RunOutcome, RunError> {
    let tags = load::backend_tags(opts.backend.label(), opts.tags.as_deref());
    let filter = load::tags(&tags)?;
    let features = load::load(&opts.paths, &filter)?;
    let not_selected = load::left_out(&load::load(&opts.paths, &load::tags("not @zk-chaos-no-such-tag")?)?, &features);
    if load::count(&features) == 0 {
        let paths = opts.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        return Err(RunError::Empty { paths, tags });
    }
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(|e| LoadError::Path { path: opts.out_dir.clone(), reason: e.to_string() })?;
    let ctx = Arc::new(
        RunContext::new(opts.seed, opts.base.clone(), opts.out_dir.clone())
            .with_backend(opts.backend.clone())
            .with_schedule_subset(opts.schedule_subset.clone()),
    );
    set_context(ctx.clone());
    live.start(ctx.clone());
    quiet_step_failures();
    let start = Instant::now();
    let any = Regex::new("^(.*)$").expect("valid");
    let collector = cucumber::Cucumber::<_, _, _, _, _, cucumber::cli::Empty>::custom(
        Loaded(features),
        cucumber::runner::Basic::<ZkWorld>::default(),
        Collector::new(ctx.clone(), opts.live).with_live_run(live.clone()),
    )
    .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
    .max_concurrent_scenarios(opts.concurrency.max(1))
    .given(any.clone(), dispatch)
    .when(any.clone(), dispatch)
    .then(any, dispatch)
    .before(before)
    .after(after)
    .run(())
    .await;
    let mut scenarios = collector.scenarios;
    attach_evidence(&mut scenarios, &ctx);
    let run_id = opts.out_dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let outcome = RunOutcome {
        run_id,
        seed: opts.seed,
        tags,
        scenarios,
        parse_errors: collector.parse_errors,
        not_selected,
        elapsed: start.elapsed(),
        out_dir: opts.out_dir.clone(),
        interrupted: None,
    };
    Ok(outcome)
}

/// The outcome of a run that was interrupted (its [`run_live`] future
/// dropped, `why` says by what): every scenario that finished as it ended,
/// with its evidence, the ones that were running marked
/// [`Status::Interrupted`], and the real wall time.
pub fn interrupted_outcome(opts: &RunOptions, live: &LiveRun, why: &str) -> RunOutcome {
    let elapsed = live.elapsed();
    let mut scenarios = live.snapshot(elapsed.as_millis() as u64, why);
    if let Some(ctx) = live.context() {
        attach_evidence(&mut scenarios, &ctx);
    }
    RunOutcome {
        run_id: opts.out_dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        seed: opts.seed,
        tags: load::backend_tags(opts.backend.label(), opts.tags.as_deref()),
        scenarios,
        parse_errors: Vec::new(),
        not_selected: Vec::new(),
        elapsed,
        out_dir: opts.out_dir.clone(),
        interrupted: Some(why.to_string()),
    }
}

/// Give each scenario the evidence its world recorded (taken from `ctx`).
fn attach_evidence(scenarios: &mut [ScenarioOutcome], ctx: &RunContext) {
    let mut evidence = ctx.take_evidence();
    for s in scenarios.iter_mut() {
        if let Some(i) = evidence.iter().position(|e| e.name == s.key) {
            let e = evidence.swap_remove(i);
            for st in &mut s.steps {
                st.detail = e.steps.iter().find(|(l, _)| *l == st.line).map(|(_, d)| d.clone());
            }
            if !e.notes.is_empty() && s.status == Status::Passed {
                // A scenario whose teardown failed did not leave the machine clean.
                if e.notes.iter().any(|n| n.starts_with("teardown")) {
                    s.status = Status::Failed;
                }
            }
            s.evidence = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_413), (2025, 11, 21));
        assert_eq!(civil(11_016), (2000, 2, 29));
        let id = run_id(0xbeef);
        assert!(Regex::new(r"^\d{8}-\d{6}-beef$").unwrap().is_match(&id), "{id}");
    }

    #[test]
    fn two_runs_with_one_id_get_two_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let a = claim_dir_as(tmp.path(), "20261129-170000-1").unwrap();
        let b = claim_dir_as(tmp.path(), "20261129-170000-1").unwrap();
        let c = claim_dir_as(tmp.path(), "20261129-170000-1").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.file_name().unwrap(), "20261129-170000-1");
        assert_eq!(b.file_name().unwrap(), "20261129-170000-1-2");
        assert_eq!(c.file_name().unwrap(), "20261129-170000-1-3");
        assert!(a.is_dir() && b.is_dir() && c.is_dir());
    }

    #[test]
    fn concurrent_claims_never_share_a_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let root = root.clone();
                std::thread::spawn(move || claim_run_dir(&root, 1).unwrap())
            })
            .collect();
        let dirs: std::collections::BTreeSet<PathBuf> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(dirs.len(), 8);
    }
}
