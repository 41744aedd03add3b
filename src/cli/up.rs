//! `zk-chaos up`: stand an ensemble up and keep it until Ctrl-C, either
//! from flags or from a `ZookeeperCluster` manifest (`-f`), in which case
//! the embedded operator supervises it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use zk_chaos::backend::local::LocalEnsemble;
use zk_chaos::dist::Progress as _;
use zk_chaos::operator::load::load_cluster;
use zk_chaos::operator::supervisor::handoff::{self, SupervisorLock};
use zk_chaos::operator::supervisor::{LocalOptions, Supervisor};

use super::progress::Spinner;
use super::{EnsembleArgs, interrupted, status};

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    ensemble: EnsembleArgs,
    /// A ZookeeperCluster manifest; the embedded operator builds and keeps
    /// the ensemble (name, replicas and version then come from the file).
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Leave the ensemble running and return (state in the run dir; `down` removes it).
    #[arg(long)]
    detach: bool,
}

pub async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    match args.file.clone() {
        Some(file) => up_managed(args, file).await,
        None => up_plain(args).await,
    }
}

async fn up_plain(args: UpArgs) -> anyhow::Result<ExitCode> {
    let spec = args.ensemble.spec(args.detach);
    let spinner = Spinner::new();
    let timeout = Duration::from_secs(args.ensemble.quorum_timeout);
    let work = async {
        spinner.stage("checking prerequisites");
        let mut e = LocalEnsemble::up(&spec, &spinner).await?;
        let t0 = Instant::now();
        spinner.stage("waiting for quorum");
        e.wait_for_startup(timeout).await?;
        anyhow::Ok((e, t0.elapsed()))
    };
    let (ensemble, took) = tokio::select! {
        r = work => r?,
        sig = interrupted() => return Ok(interrupted_exit(&spinner, sig)),
    };
    spinner.finish();
    println!("quorum in {:.1}s after the servers started\n", took.as_secs_f64());
    describe(&ensemble).await;
    if args.detach {
        let name = ensemble.detach().names.name;
        println!("\ndetached; remove with: sudo zk-chaos down --name {name}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nrunning; press Ctrl-C to tear down");
    interrupted().await;
    tear_down(ensemble).await
}

async fn up_managed(args: UpArgs, file: PathBuf) -> anyhow::Result<ExitCode> {
    let (cluster, warnings) = load_cluster(&file)?;
    for w in &warnings {
        eprintln!("warning: {} ({})", w.message, w.reason);
    }
    let opts = LocalOptions { base: args.ensemble.spec(args.detach) };
    let spinner = Spinner::new();
    let timeout = Duration::from_secs(args.ensemble.quorum_timeout.max(120));
    let work = async {
        spinner.stage("checking prerequisites");
        let mut sup = Supervisor::create(cluster, &opts, &spinner).await?;
        let t0 = Instant::now();
        sup.converge(timeout, |r| spinner.stage(&r.plan.reason)).await?;
        anyhow::Ok((sup, t0.elapsed()))
    };
    let (mut sup, took) = tokio::select! {
        r = work => r?,
        sig = interrupted() => return Ok(interrupted_exit(&spinner, sig)),
    };
    spinner.finish();
    println!("the operator converged in {:.1}s\n", took.as_secs_f64());
    describe(sup.ensemble()).await;
    let run_dir = sup.ensemble().state().run_dir.clone();
    if args.detach {
        let name = sup.into_ensemble().detach().names.name;
        println!("\ndetached; change it with `zk-chaos apply -f`, remove with: sudo zk-chaos down --name {name}");
        return Ok(ExitCode::SUCCESS);
    }
    let _lock = SupervisorLock::try_acquire(&run_dir)?.context("another process supervises this run")?;
    println!("\nsupervising; change it with `zk-chaos apply -f {}`; Ctrl-C tears down", file.display());
    let mut last_reason = String::new();
    loop {
        tokio::select! {
            _ = interrupted() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        if let Some(spec) = handoff::take_offered_spec(&run_dir)? {
            sup.apply(spec)?;
            eprintln!("applied a new spec (generation {})", sup.generation());
        }
        match sup.reconcile_once().await {
            Ok(round) if round.plan.reason != last_reason => {
                eprintln!("operator: {}", round.plan.reason);
                last_reason = round.plan.reason;
            }
            Ok(_) => {}
            Err(e) => eprintln!("operator: {e}"),
        }
    }
    tear_down(sup.into_ensemble()).await
}

fn interrupted_exit(spinner: &Spinner, sig: super::Interrupt) -> ExitCode {
    spinner.finish();
    eprintln!("interrupted ({}); everything created so far was removed", sig.name());
    sig.exit_code()
}

async fn tear_down(ensemble: LocalEnsemble) -> anyhow::Result<ExitCode> {
    let logs = ensemble.state().run_dir.join("logs");
    eprintln!("tearing down...");
    ensemble.teardown(false).await?;
    eprintln!("done; logs kept in {}", logs.display());
    Ok(ExitCode::SUCCESS)
}

/// Print the member table, connect string and how to reach pods and logs.
pub async fn describe(ensemble: &LocalEnsemble) {
    let state = ensemble.state();
    status::print_table(state, &ensemble.status().await);
    println!("\nconnect string: {}", state.connect_string());
    println!("pods (peer names resolve inside each namespace):");
    for (o, p) in &state.pods {
        println!(
            "  {:<8} {}:2181  admin http://{}:{}/commands/stat  sudo ip netns exec {} <command>",
            state.names.pod(*o),
            p.addr,
            p.addr,
            state.admin_port,
            state.run.netns(*o)
        );
    }
    println!("logs:           {}", state.run_dir.join("logs").display());
}
