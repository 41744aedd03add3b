//! `zk-chaos steps`: the step catalogue.

use std::process::ExitCode;

pub fn steps() -> anyhow::Result<ExitCode> {
    print!("{}", zk_chaos::steps::render::markdown());
    Ok(ExitCode::SUCCESS)
}
