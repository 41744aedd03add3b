//! `zk-chaos up`: stand an ensemble up and keep it until Ctrl-C.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use zk_chaos::dist::Progress as _;
use zk_chaos::local::LocalEnsemble;

use super::progress::Spinner;
use super::{EnsembleArgs, interrupted, status};

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    ensemble: EnsembleArgs,
    /// Leave the ensemble running and return (state in the run dir; `down` removes it).
    #[arg(long)]
    detach: bool,
}

pub async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let spec = args.ensemble.spec(args.detach);
    let spinner = Spinner::new();
    let timeout = Duration::from_secs(args.ensemble.quorum_timeout);
    let work = async {
        spinner.stage("checking prerequisites");
        let mut e = LocalEnsemble::up(&spec, &spinner).await?;
        let t0 = Instant::now();
        spinner.stage("waiting for quorum");
        let st = e.wait_for_quorum(timeout).await?;
        anyhow::Ok((e, st, t0.elapsed()))
    };
    let (ensemble, st, took) = tokio::select! {
        r = work => r?,
        _ = interrupted() => {
            spinner.finish();
            eprintln!("interrupted; everything created so far was removed");
            return Ok(ExitCode::from(130));
        }
    };
    spinner.finish();
    let state = ensemble.state().clone();
    println!("quorum in {:.1}s after the servers started\n", took.as_secs_f64());
    status::print_table(&state, &st);
    println!("\nconnect string: {}", state.connect_string());
    println!("reach a pod:    sudo ip netns exec {} <command>   (peer names resolve there)", state.run.netns(0));
    if let Some(p) = state.pods.values().next() {
        println!("admin server:   curl http://{}:{}/commands/stat", p.addr, state.admin_port);
    }
    println!("logs:           {}", state.run_dir.join("logs").display());
    if args.detach {
        ensemble.detach();
        println!("\ndetached; remove with: sudo zk-chaos down --name {}", state.names.name);
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nrunning; press Ctrl-C to tear down");
    interrupted().await;
    eprintln!("tearing down...");
    ensemble.teardown(false).await?;
    eprintln!("done; logs kept in {}", state.run_dir.join("logs").display());
    Ok(ExitCode::SUCCESS)
}
