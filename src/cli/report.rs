//! `zk-chaos report`: re-render a run's report from its `record.json`, or
//! rebuild the index of all runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use zk_chaos::report;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory holding record.json (or, with --index, the reports directory).
    path: PathBuf,
    /// Rebuild <path>/index.html, the list of every run under <path>, instead.
    #[arg(long)]
    index: bool,
}

/// Re-render and say what was written.
pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    if args.index {
        let path = report::write_index(&args.path)?;
        println!("wrote {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let w = report::rerender(&args.path)?;
    println!(
        "wrote {} ({} KiB), {}, {} in {} ms",
        w.html.display(),
        w.html_bytes.div_ceil(1024),
        w.junit.display(),
        w.cucumber.display(),
        w.elapsed.as_millis()
    );
    Ok(ExitCode::SUCCESS)
}
