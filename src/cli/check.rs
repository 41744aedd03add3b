//! `zk-chaos check`: run every checker over a saved history or bundle.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use zk_chaos::check::linear::Budget;
use zk_chaos::check::suite::{self, Bundle};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A run bundle directory (history.jsonl, final.json, probes.jsonl, run.json) or a history.jsonl file.
    path: PathBuf,
    /// Time budget of the linearizability search, seconds (past it: unknown, never valid).
    #[arg(long, default_value_t = 60)]
    budget_secs: u64,
    /// Print the full report as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit 0 when every checker says valid, 1 when one says invalid, 3 when
/// none is invalid but some could not decide.
pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let bundle = Bundle::load(&args.path)?;
    let budget = Budget { time_limit: Some(Duration::from_secs(args.budget_secs)), ..Budget::default() };
    let report = suite::check_all(&bundle, budget)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", suite::render(&report));
    }
    Ok(if report.all_valid() {
        ExitCode::SUCCESS
    } else if report.any_invalid() {
        ExitCode::FAILURE
    } else {
        ExitCode::from(3)
    })
}
