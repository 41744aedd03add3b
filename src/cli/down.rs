//! `zk-chaos down`: remove ensembles, or everything of ours.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use zk_chaos::backend::local::{ensemble, state};

#[derive(Debug, Args)]
pub struct DownArgs {
    /// The cluster to remove.
    #[arg(long, conflicts_with = "all", required_unless_present = "all")]
    name: Option<String>,
    /// Remove every ensemble of ours, and whatever a crashed run left behind.
    #[arg(long)]
    all: bool,
    /// Keep the pods' volumes (data and config) on disk.
    #[arg(long)]
    keep_data: bool,
    /// With --all: the work dir whose old run dirs' state files are scrubbed of clear-text passwords [default:
    /// $ZK_CHAOS_WORK_DIR or ~/.local/state/zk-chaos].
    #[arg(long, requires = "all")]
    work_dir: Option<PathBuf>,
}

pub fn down(args: DownArgs) -> anyhow::Result<ExitCode> {
    if !zk_chaos::sys::has_net_admin() {
        bail!("`down` needs root (CAP_NET_ADMIN) to remove namespaces and interfaces; run with sudo");
    }
    if args.all {
        // Before the sweep: it loads (and so would scrub) registered runs'
        // state files without counting them.
        let work = args.work_dir.clone().unwrap_or_else(state::default_work_dir);
        let scrubbed = state::scrub_old_state_files(&work);
        let r = ensemble::sweep_all(args.keep_data);
        println!(
            "removed {} run(s), {} process(es), {} namespace(s), {} interface(s), {} route(s), {} hosts dir(s), {} data disk(s)",
            r.runs.len(),
            r.processes,
            r.namespaces,
            r.links,
            r.routes,
            r.hosts_dirs,
            r.disks
        );
        println!("scrubbed {scrubbed} old state file(s) of clear-text passwords");
        #[cfg(feature = "docker")]
        match zk_chaos::backend::docker::cleanup::remove_all_blocking() {
            Some((removed, failed)) => {
                println!("docker: removed {} labelled container(s), network(s) and volume(s)", removed.len());
                if !failed.is_empty() {
                    bail!("docker: could not remove: {}", failed.join(", "));
                }
            }
            None => println!("docker: no engine answers; nothing to remove there"),
        }
        let left = ensemble::leftovers();
        if !left.is_empty() {
            bail!("could not remove: {}", left.join(", "));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = args.name.expect("clap requires --name without --all");
    let runs: Vec<_> = state::registered_runs().into_iter().filter(|(_, e)| e.name == name).collect();
    if runs.is_empty() {
        bail!("no ensemble named `{name}` is registered; `zk-chaos status` lists them, `down --all` removes leftovers");
    }
    for (run, entry) in runs {
        if let Ok(true) = state::scrub_old_credential(&entry.run_dir) {
            println!(
                "scrubbed the clear-text password an older version left in {}",
                state::RunState::file(&entry.run_dir).display()
            );
        }
        match state::RunState::load(&entry.run_dir) {
            Ok(st) => {
                ensemble::teardown_run(&st, args.keep_data);
                let left = ensemble::leftovers_of(&run, st.subnet);
                if !left.is_empty() {
                    bail!("run {run}: could not remove: {}", left.join(", "));
                }
                println!("removed `{name}` (run {run}); logs kept in {}", st.run_dir.join("logs").display());
            }
            Err(e) => {
                let _ = std::fs::remove_file(state::RunState::registry_entry(&run));
                eprintln!("run {run}: {e}; removed its registry entry, run `down --all` for leftovers");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
