//! `zk-chaos apply -f`: change a running ensemble's spec and watch the
//! embedded operator converge it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use zk_chaos::backend::local::state::RunState;
use zk_chaos::backend::local::{LocalEnsemble, ensemble};
use zk_chaos::dist::{DistConfig, Progress as _};
use zk_chaos::operator::load::load_cluster;
use zk_chaos::operator::supervisor::handoff::{self, SupervisorLock};
use zk_chaos::operator::supervisor::{OperatorState, Supervisor};

use super::progress::Spinner;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The ZookeeperCluster manifest with the new spec (metadata.name picks the ensemble).
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

pub async fn apply(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let (cluster, warnings) = load_cluster(&args.file)?;
    for w in &warnings {
        eprintln!("warning: {} ({})", w.message, w.reason);
    }
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let Some((_, entry)) = ensemble::live_run_named(&name) else {
        bail!("no ensemble named `{name}` is up; start it with `zk-chaos up -f {}`", args.file.display());
    };
    // The host's firewall may have changed since `up`: new pods need the
    // same paths.
    let st = RunState::load(&entry.run_dir)?;
    zk_chaos::backend::local::hostnet::check(st.subnet, st.admin_port)?;
    let spinner = Spinner::new();
    let timeout = Duration::from_secs(args.timeout);
    let start = Instant::now();
    match SupervisorLock::try_acquire(&entry.run_dir)? {
        Some(_lock) => {
            // Nobody supervises the run: do it here until converged.
            let ens = LocalEnsemble::attach(&entry.run_dir, &DistConfig::from_env(), &spinner).await?;
            let mut sup = Supervisor::resume(ens, DistConfig::from_env())?;
            sup.apply(cluster.spec)?;
            sup.converge(timeout, |r| spinner.stage(&r.plan.reason)).await?;
        }
        None => {
            // A foreground `up -f` supervises it: hand the spec over and watch.
            handoff::offer_spec(&entry.run_dir, &cluster.spec)?;
            loop {
                let state = RunState::load(&entry.run_dir)?;
                let op: OperatorState =
                    serde_json::from_value(state.operator.context("the run is not operator-managed")?)?;
                if op.cluster.spec == cluster.spec && Supervisor::converged_on(op.status.as_ref(), &cluster.spec) {
                    break;
                }
                if let Some(msg) = op.status.as_ref().and_then(|s| s.message.clone()) {
                    spinner.stage(&msg);
                }
                if start.elapsed() > timeout {
                    bail!("not converged after {timeout:?}");
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    spinner.finish();
    println!("converged in {:.1}s", start.elapsed().as_secs_f64());
    let st = RunState::load(&entry.run_dir)?;
    super::status::print_table(&st, &ensemble::probe_run(&st).await);
    Ok(ExitCode::SUCCESS)
}
