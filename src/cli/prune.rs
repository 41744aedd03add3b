//! `zk-chaos prune`: remove old runs' output and finished local run dirs
//! (see `zk_chaos::retention`); `zk-chaos run` does the same at its end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::Args;
use zk_chaos::retention::{self, Plan};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep this many newest runs under the reports dir whole; 0 keeps all
    /// [default: $ZK_CHAOS_KEEP_RUNS, else 20].
    #[arg(long)]
    keep: Option<usize>,
    /// Also remove failed runs older than the newest --keep (by default
    /// they are kept: their failing scenarios' bundles and logs).
    #[arg(long)]
    failed_too: bool,
    /// The reports dir.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// The local backend's work dir [default: $ZK_CHAOS_WORK_DIR or ~/.local/state/zk-chaos].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let keep = args.keep.unwrap_or_else(retention::keep_runs_from_env);
    let work = args.work_dir.unwrap_or_else(zk_chaos::backend::local::state::default_work_dir);
    let failed = run_prune(&args.reports, &work, keep, args.failed_too, args.dry_run, true);
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Plan and (unless `dry_run`) apply; print one line per removal when
/// `verbose`, and a one-line total. Returns whether any removal failed.
pub fn run_prune(reports: &Path, work: &Path, keep: usize, failed_too: bool, dry_run: bool, verbose: bool) -> bool {
    let mut plan = retention::plan_reports(&retention::report_runs(reports), keep, failed_too);
    let state = retention::plan_state(&retention::state_runs(work, SystemTime::now()), retention::STATE_MIN_AGE);
    plan.remove.extend(state.remove);
    if verbose {
        for (dir, why) in &plan.remove {
            println!("{} {} ({why})", if dry_run { "would remove" } else { "remove" }, dir.display());
        }
        for (dir, why) in &plan.kept {
            println!("keep {} ({why})", dir.display());
        }
    }
    let bytes: u64 = plan.remove.iter().map(|(d, _)| retention::size(d)).sum();
    let n = plan.remove.len();
    if dry_run {
        println!("prune: would remove {n} dir(s), {:.1} MB (dry run)", bytes as f64 / 1e6);
        return false;
    }
    let (freed, failures) = retention::apply(&Plan { remove: plan.remove, kept: Vec::new() });
    if n > 0 {
        println!(
            "prune: removed {} dir(s), {:.1} MB (keeping the newest {keep} runs and every failed one; `zk-chaos prune --help`)",
            n - failures.len(),
            freed as f64 / 1e6
        );
        let _ = zk_chaos::report::index::write_index(reports);
    }
    for f in &failures {
        eprintln!("prune: could not remove {f}");
    }
    !failures.is_empty()
}
