//! What a run leaves in its output directory besides the histories: the
//! outcome as JSON (`outcome.json`) and the printed summary
//! (`summary.txt`).

use std::path::PathBuf;

use super::runner::RunOutcome;

/// Write the outcome files; returns their paths.
pub fn write(outcome: &RunOutcome) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&outcome.out_dir)?;
    let json = outcome.out_dir.join("outcome.json");
    std::fs::write(&json, serde_json::to_vec_pretty(outcome).map_err(std::io::Error::other)?)?;
    let summary = outcome.out_dir.join("summary.txt");
    std::fs::write(&summary, outcome.render_summary())?;
    Ok(vec![json, summary])
}
