//! The `main` of a live docker test binary (`harness = false`): answers
//! `--list`, honours a name filter, and runs `body` with a connection to
//! the engine and the images of `versions` built; without an engine it
//! prints `<name>: NOT RUN: <why>` and succeeds (never "passed").

use std::process::ExitCode;

use testcontainers::bollard::Docker;
use zk_chaos::backend::docker::{engine, image};
use zk_chaos::dist::{DistConfig, NoProgress};

/// Run the live test `name`.
pub fn main(name: &str, versions: &[&str], body: impl AsyncFnOnce(Docker) -> ExitCode) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{name}: test");
        return ExitCode::SUCCESS;
    }
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-'))
        && !name.contains(filter.as_str())
    {
        return ExitCode::SUCCESS;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let docker = match engine::connect().await {
            Ok(d) => d,
            Err(e) => {
                println!("{name}: NOT RUN: {e}");
                return ExitCode::SUCCESS;
            }
        };
        if let Err(e) = image::prepare(None, versions, &DistConfig::from_env(), &NoProgress).await {
            eprintln!("{name}: FAILED: cannot build the images: {e}");
            return ExitCode::FAILURE;
        }
        body(docker).await
    })
}
