//! The bundled features and plans, run by `cargo test` (`harness = false`):
//! every scenario family on the local backend, two scenarios at a time,
//! with the output under `reports/`. `ZK_CHAOS_TAGS`, `ZK_CHAOS_SEED` and
//! `ZK_CHAOS_CONCURRENCY` override the defaults (`not @slow and not
//! @kind`, seed 1, 2). Needs root and Java. Older passing runs under
//! `reports/` are pruned as `zk-chaos run` does (`ZK_CHAOS_KEEP_RUNS`).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use zk_chaos::backend::local::EnsembleSpec;
use zk_chaos::dist::{self, DistConfig, NoProgress};
use zk_chaos::steps::runner::{self, RunOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("features: test");
        return ExitCode::SUCCESS;
    }
    // `cargo test some_filter` runs this binary too: only run the features
    // when no filter or a filter matching "features" was given.
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-'))
        && !"features".contains(filter.as_str())
    {
        return ExitCode::SUCCESS;
    }
    if !zk_chaos::sys::has_net_admin() {
        eprintln!("features: needs root (CAP_NET_ADMIN) to create network namespaces");
        return ExitCode::FAILURE;
    }
    let env = |k: &str| std::env::var(k).ok();
    let seed = env("ZK_CHAOS_SEED").and_then(|s| s.parse().ok()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let cfg = DistConfig::from_env();
        for v in dist::supported_versions() {
            if let Err(e) = dist::resolve(v, &cfg, &NoProgress).await {
                eprintln!("features: cannot provision ZooKeeper {v}: {e}");
                return ExitCode::FAILURE;
            }
        }
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let opts = RunOptions {
            paths: vec![root.join("features"), root.join("scenarios")],
            tags: env("ZK_CHAOS_TAGS"),
            seed,
            concurrency: env("ZK_CHAOS_CONCURRENCY").and_then(|s| s.parse().ok()).unwrap_or(2),
            out_dir: runner::claim_run_dir(&root.join("reports"), seed).expect("a run directory under reports/"),
            base: EnsembleSpec::new("zk", 3, "3.9.6"),
            backend: Default::default(),
            live: std::io::stderr().is_terminal(),
            schedule_subset: None,
        };
        match runner::run(opts).await {
            Ok(outcome) => {
                print!("{}", outcome.render_summary());
                match zk_chaos::steps::output::write(&outcome, "local") {
                    Ok(index) => {
                        println!("report: {}", index.display());
                        // Retention, as `zk-chaos run`: the newest runs and every failed one stay.
                        let reports = root.join("reports");
                        let keep = zk_chaos::retention::keep_runs_from_env();
                        let plan =
                            zk_chaos::retention::plan_reports(&zk_chaos::retention::report_runs(&reports), keep, false);
                        let (freed, _) = zk_chaos::retention::apply(&plan);
                        if !plan.remove.is_empty() {
                            println!("pruned {} older passing run(s), {:.1} MB", plan.remove.len(), freed as f64 / 1e6);
                        }
                    }
                    Err(e) => {
                        eprintln!("features: writing the report: {e}");
                        return ExitCode::FAILURE;
                    }
                }
                if outcome.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
            }
            Err(e) => {
                eprintln!("features: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
