//! `zk-chaos run --repeat N [--until-fail]`: rerun the selected scenarios
//! with per-attempt seeds, keep every failure with its replay command, and
//! shrink each failing random schedule to the fewest faults that still
//! fail (bounded by runs and time).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use zk_chaos::hunt::{Failure, ShrinkBound, Shrinker, Tally, attempt_seed, show_fault_list};
use zk_chaos::report::artifacts;
use zk_chaos::steps::output;
use zk_chaos::steps::runner::{self, RunOptions, RunOutcome};
use zk_chaos::steps::writer::{LiveRun, ScenarioOutcome, Status};

use super::{InterruptedBy, interrupted};

/// The text that starts a random schedule step.
const SCHEDULE_STEP: &str = "I run a random schedule of ";

/// How a hunt runs.
pub struct HuntOptions {
    /// The template of every attempt (its seed is the run's).
    pub base: RunOptions,
    /// Attempts.
    pub repeat: u32,
    /// Stop at the first failing attempt.
    pub until_fail: bool,
    /// Shrink bound: reruns per failing schedule.
    pub shrink_runs: u32,
    /// Shrink bound: time per failing schedule.
    pub shrink_time: Duration,
    /// The backend's label, for the reports.
    pub label: &'static str,
}

/// Run the hunt; returns whether every attempt passed.
pub async fn run(opts: HuntOptions) -> anyhow::Result<bool> {
    let seed = opts.base.seed;
    let root = opts.base.out_dir.clone();
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let seeds: Vec<String> = (0..opts.repeat.min(5)).map(|k| attempt_seed(seed, k).to_string()).collect();
    eprintln!(
        "zk-chaos hunt: {} attempt(s){}, seeds derived from {seed} ({}{}), output {}",
        opts.repeat,
        if opts.until_fail { " until the first failure" } else { "" },
        seeds.join(", "),
        if opts.repeat > 5 { ", ..." } else { "" },
        root.display()
    );
    let mut tally = Tally::default();
    let mut stopped_early = false;
    let mut shrunk = Vec::new();
    for k in 0..opts.repeat {
        let s = attempt_seed(seed, k);
        eprintln!("attempt {}/{}: seed {s}", k + 1, opts.repeat);
        let dir = root.join(format!("attempt-{:03}", k + 1));
        let outcome = run_once(&opts, s, dir, opts.base.schedule_subset.clone()).await?;
        let mut failed_now = false;
        for (i, sc) in outcome.scenarios.iter().enumerate() {
            let kept = outcome.out_dir.join(artifacts::scenario_dir(i + 1, &sc.name));
            let failure = (sc.status != Status::Passed).then(|| {
                failed_now = true;
                Failure { attempt: k, seed: s, step: failing_step(sc), dir: Some(kept.display().to_string()) }
            });
            if failure.is_none() && opts.repeat > 1 {
                // Only failures are kept in a hunt: a passing scenario's
                // bundle and logs would fill the disk over many attempts.
                let _ = std::fs::remove_dir_all(&kept);
            }
            let schedule = failure.is_some() && has_schedule(sc);
            tally.record(&sc.key, &format!("{}: {}", sc.feature, sc.name), failure);
            if schedule {
                let r = shrink(&opts, sc, s, &kept).await?;
                println!("{}", r.render());
                shrunk.push(r);
            }
        }
        if failed_now && opts.until_fail {
            stopped_early = k + 1 < opts.repeat;
            break;
        }
    }
    let summary = tally.render(seed, opts.repeat, stopped_early);
    print!("{summary}");
    let mut text = summary.clone();
    for r in &shrunk {
        text.push_str(&r.render());
        text.push('\n');
    }
    let _ = std::fs::write(root.join("hunt.txt"), text);
    let _ = std::fs::write(
        root.join("hunt.json"),
        serde_json::to_vec_pretty(&serde_json::json!({ "seed": seed, "tally": tally })).unwrap_or_default(),
    );
    println!("hunt: {}", root.join("hunt.txt").display());
    Ok(!tally.any_failed())
}

/// One run of the selected scenarios (or of `paths` when given) at `seed`.
async fn run_once(
    opts: &HuntOptions,
    seed: u64,
    out_dir: PathBuf,
    subset: Option<Vec<usize>>,
) -> anyhow::Result<RunOutcome> {
    let mut o = opts.base.clone();
    o.seed = seed;
    o.out_dir = out_dir;
    o.schedule_subset = subset;
    run_options(o, opts.label).await
}

async fn run_options(o: RunOptions, label: &str) -> anyhow::Result<RunOutcome> {
    let out_dir = o.out_dir.clone();
    let live = std::sync::Arc::new(LiveRun::default());
    let outcome = tokio::select! {
        r = runner::run_live(o.clone(), live.clone()) => r?,
        sig = interrupted() => {
            // Dropping the run removed the ensembles; what finished is kept.
            let outcome = runner::interrupted_outcome(&o, &live, sig.name());
            output::write(&outcome, label).with_context(|| format!("writing {}", out_dir.display()))?;
            eprintln!("interrupted ({}); the scenarios' ensembles were removed", sig.name());
            return Err(InterruptedBy(sig).into());
        }
    };
    output::write(&outcome, label).with_context(|| format!("writing {}", out_dir.display()))?;
    Ok(outcome)
}

fn failing_step(sc: &ScenarioOutcome) -> String {
    match sc.steps.iter().find(|st| st.status == Status::Failed) {
        Some(st) => {
            let first = st.error.as_deref().unwrap_or("").lines().next().unwrap_or("").to_string();
            format!("line {}: {} {}: {first}", st.line, st.keyword.trim(), st.text)
        }
        None => "failed outside its steps (teardown)".to_string(),
    }
}

fn failing_line(sc: &ScenarioOutcome) -> Option<usize> {
    sc.steps.iter().find(|st| st.status == Status::Failed).map(|st| st.line)
}

fn has_schedule(sc: &ScenarioOutcome) -> bool {
    schedule_size(sc).is_some()
}

/// How many faults the scenario's random schedule has (from its step text).
fn schedule_size(sc: &ScenarioOutcome) -> Option<usize> {
    let st = sc.steps.iter().find(|st| st.text.starts_with(SCHEDULE_STEP))?;
    st.text[SCHEDULE_STEP.len()..].split_whitespace().next()?.parse().ok()
}

/// What shrinking one failure found.
struct Shrunk {
    key: String,
    seed: u64,
    full: usize,
    smallest: Vec<usize>,
    tests: u32,
    minimal: bool,
    elapsed: Duration,
    bound: String,
    detail: Option<String>,
    file: PathBuf,
}

impl Shrunk {
    fn render(&self) -> String {
        let how = if self.minimal {
            "minimal: removing any one of them makes it pass".to_string()
        } else {
            format!("stopped by its bound ({})", self.bound)
        };
        let mut s = format!(
            "shrink {} (seed {}): {} of {} faults still fail: positions {} ({} reruns, {:.0}s; {how})\n  replay: zk-chaos run {} --seed {} --schedule-faults {}\n  written: {}",
            self.key,
            self.seed,
            self.smallest.len(),
            self.full,
            show_fault_list(&self.smallest),
            self.tests,
            self.elapsed.as_secs_f64(),
            self.key,
            self.seed,
            show_fault_list(&self.smallest),
            self.file.display()
        );
        if let Some(d) = &self.detail {
            s.push_str(&format!("\n  schedule: {d}"));
        }
        s
    }
}

/// Shrink the random schedule of failing scenario `sc` (attempt seed
/// `seed`): rerun it alone with subsets of its faults, ddmin order, until
/// minimal or out of runs or time. A subset "still fails" when the same
/// step fails again.
async fn shrink(opts: &HuntOptions, sc: &ScenarioOutcome, seed: u64, kept: &Path) -> anyhow::Result<Shrunk> {
    let full = schedule_size(sc).unwrap_or(0);
    let bound = ShrinkBound { max_tests: opts.shrink_runs };
    let bound_text = format!("{} reruns, {:.0}s", opts.shrink_runs, opts.shrink_time.as_secs_f64());
    let all: Vec<usize> = opts.base.schedule_subset.clone().unwrap_or_else(|| (0..full).collect());
    let mut shrinker = Shrinker::new(all, bound);
    let line = failing_line(sc);
    let start = Instant::now();
    let mut detail = schedule_detail(sc);
    eprintln!("shrinking the schedule of {} ({full} faults; bound {bound_text})", sc.key);
    let shrink_root = kept.join("shrink");
    while let Some(candidate) = shrinker.next_candidate() {
        if start.elapsed() >= opts.shrink_time {
            break;
        }
        let n = shrinker.tests() + 1;
        eprintln!("  shrink run {n}: faults {}", show_fault_list(&candidate));
        let mut o = opts.base.clone();
        o.paths = vec![PathBuf::from(&sc.key)];
        o.seed = seed;
        o.concurrency = 1;
        o.out_dir = shrink_root.join(format!("run-{n:02}-faults-{}", show_fault_list(&candidate).replace(',', "-")));
        o.schedule_subset = Some(candidate.clone());
        let outcome = run_options(o, opts.label).await?;
        let again = outcome.scenarios.iter().find(|s| s.key == sc.key);
        let still = again.is_some_and(|s| s.status != Status::Passed && failing_line(s) == line);
        eprintln!("  shrink run {n}: {}", if still { "still fails" } else { "passes (or fails elsewhere)" });
        if still {
            detail = again.and_then(schedule_detail).or(detail);
        } else {
            let _ = std::fs::remove_dir_all(&outcome.out_dir);
        }
        shrinker.record(still);
    }
    let smallest = shrinker.smallest().to_vec();
    let file = kept.join("shrunk.txt");
    let r = Shrunk {
        key: sc.key.clone(),
        seed,
        full,
        smallest,
        tests: shrinker.tests(),
        minimal: shrinker.is_minimal(),
        elapsed: start.elapsed(),
        bound: bound_text,
        detail,
        file: file.clone(),
    };
    std::fs::create_dir_all(kept).ok();
    std::fs::write(&file, r.render() + "\n").with_context(|| format!("writing {}", file.display()))?;
    Ok(r)
}

/// The detail line of the scenario's random schedule step (which faults
/// were planned, at which offsets, and how they resolved).
fn schedule_detail(sc: &ScenarioOutcome) -> Option<String> {
    sc.steps.iter().find(|st| st.text.starts_with(SCHEDULE_STEP)).and_then(|st| st.detail.clone())
}
