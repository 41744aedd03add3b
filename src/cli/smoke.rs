//! `zk-chaos smoke`: the built-in acceptance job on the local backend (no
//! feature files needed).

use std::process::ExitCode;

use clap::Args;
use zk_chaos::smoke::{self, SmokeOptions};

use super::progress::Spinner;
use super::{EnsembleArgs, interrupted};

#[derive(Debug, Args)]
pub struct SmokeArgs {
    #[command(flatten)]
    ensemble: EnsembleArgs,
    /// Write the run summary as JSON to this file too.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

pub async fn smoke(args: SmokeArgs) -> anyhow::Result<ExitCode> {
    let spec = args.ensemble.spec(false);
    let spinner = Spinner::new();
    let opts = SmokeOptions { quorum_timeout: std::time::Duration::from_secs(args.ensemble.quorum_timeout) };
    let summary = tokio::select! {
        s = smoke::run(&spec, &opts, &spinner) => s,
        sig = interrupted() => {
            spinner.finish();
            eprintln!("interrupted ({}); everything created so far was removed", sig.name());
            return Ok(sig.exit_code());
        }
    };
    spinner.finish();
    print!("{}", summary.render_text());
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_vec_pretty(&summary)?)?;
    }
    Ok(if summary.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
