//! `zk-chaos run`: run features and plans (the bundled `features/` by
//! default) with live progress, write the run's output under `reports/`,
//! and exit non-zero when anything failed.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use zk_chaos::dist::{self, DistConfig, Progress as _};
use zk_chaos::steps::runner::{self, RunOptions};
use zk_chaos::steps::{load, output};

use super::progress::Spinner;
use super::{EnsembleArgs, interrupted};

/// Where scenarios run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Real servers in network namespaces on this machine (root and Java).
    Local,
    /// A kind cluster (Docker and kind).
    Kind,
    /// Any cluster of the current kubeconfig.
    Kube,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Feature files (`file.feature:LINE` for one scenario), YAML plans, or
    /// directories of them.
    #[arg(default_values = ["features", "scenarios"])]
    paths: Vec<PathBuf>,
    /// Tag expression selecting scenarios [default: "not @slow and not @kind"].
    #[arg(long)]
    tags: Option<String>,
    /// Seed of every random choice (printed; reuse it to replay a run).
    #[arg(long)]
    seed: Option<u64>,
    /// Scenarios at once (each has its own ensemble: about 300 MiB and a
    /// fair share of a core per 3 members).
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    /// Where scenarios run.
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    backend: Backend,
    /// Parent directory of the run's output.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// JVM heap per member, MiB.
    #[arg(long, default_value_t = 96)]
    heap_mb: u32,
    /// Where run dirs (volumes, logs, state) go [default: $ZK_CHAOS_WORK_DIR or ~/.local/state/zk-chaos].
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let seed = args.seed.unwrap_or_else(rand::random);
    let out_dir = args.out.join(runner::run_id(seed));
    let backend = format!("{:?}", args.backend).to_lowercase();
    // Whatever fails before the scenarios run still leaves a record, JUnit
    // and Cucumber JSON saying so (for CI), then the error.
    let fail_early = |code: u8, msg: String| -> anyhow::Result<ExitCode> {
        eprintln!("error: {msg}");
        match output::write_failed(&out_dir, &backend, seed, &msg, started.elapsed()) {
            Ok(index) => eprintln!("report: {}", index.display()),
            Err(e) => eprintln!("could not write the report: {e}"),
        }
        Ok(ExitCode::from(code))
    };
    if args.backend != Backend::Local {
        return fail_early(
            2,
            format!(
                "the {backend} backend cannot run scenarios from this build yet; use --backend local (see the README's kind section)"
            ),
        );
    }
    // Bad input fails first, before anything needs root or a download.
    let tags = args.tags.clone().unwrap_or_else(|| load::DEFAULT_TAGS.to_string());
    match load::tags(&tags).and_then(|f| load::load(&args.paths, &f)) {
        Err(e) => return fail_early(2, e.to_string()),
        Ok(f) if load::count(&f) == 0 => {
            return fail_early(2, format!("no scenario in the given paths matches the tags `{tags}`"));
        }
        Ok(_) => {}
    }
    if !zk_chaos::sys::has_net_admin() {
        return fail_early(
            1,
            "the local backend needs root (CAP_NET_ADMIN) to create network namespaces: run with sudo".into(),
        );
    }
    if let Err(e) = zk_chaos::dist::find_java() {
        return fail_early(1, format!("the local backend needs Java: {e}"));
    }
    let ens = EnsembleArgs {
        name: "zk".into(),
        replicas: 3,
        zk_version: "3.8.0".into(),
        subnet: None,
        heap_mb: args.heap_mb,
        tick_ms: 500,
        namespace: "default".into(),
        work_dir: args.work_dir.clone(),
        quorum_timeout: 60,
        data_disk_mb: None,
    };
    let base = ens.spec(false);
    // Every supported version, once, with progress (the first run downloads).
    let spinner = Spinner::new();
    let cfg = DistConfig::from_env();
    for v in dist::supported_versions() {
        spinner.stage(&format!("resolving ZooKeeper {v}"));
        if let Err(e) = dist::resolve(v, &cfg, &spinner).await {
            spinner.finish();
            return fail_early(1, format!("provisioning ZooKeeper {v}: {e}"));
        }
    }
    spinner.finish();
    eprintln!("zk-chaos run: seed {seed}, output {}", out_dir.display());
    let opts = RunOptions {
        paths: args.paths,
        tags: args.tags,
        seed,
        concurrency: args.concurrency,
        out_dir: out_dir.clone(),
        base,
        live: std::io::stderr().is_terminal(),
    };
    let outcome = tokio::select! {
        r = runner::run(opts) => match r {
            Ok(o) => o,
            Err(e) => return fail_early(2, e.to_string()),
        },
        _ = interrupted() => {
            // Dropping the run drops every scenario's cluster, whose Drop
            // kills its servers and removes its namespaces.
            eprintln!("interrupted; the scenarios' ensembles were removed");
            let _ = output::write_failed(&out_dir, &backend, seed, "interrupted", started.elapsed());
            return Ok(ExitCode::from(130));
        }
    };
    print!("{}", outcome.render_summary());
    let index = output::write(&outcome, &backend).with_context(|| format!("writing {}", out_dir.display()))?;
    println!("report: {}", index.display());
    Ok(if outcome.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
