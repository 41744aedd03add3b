//! `zk-chaos status`: a table per ensemble, one row per member.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use zk_chaos::backend::local::{ensemble, state};
use zk_chaos::probe::EnsembleStatus;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this cluster.
    #[arg(long)]
    name: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let runs: Vec<_> =
        state::registered_runs().into_iter().filter(|(_, e)| args.name.as_ref().is_none_or(|n| *n == e.name)).collect();
    if runs.is_empty() {
        match &args.name {
            Some(n) => bail!("no ensemble named `{n}` is up; start one with `zk-chaos up --name {n}`"),
            None => {
                println!("no ensembles are up");
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    let mut healthy = true;
    let mut all = Vec::new();
    for (run, entry) in runs {
        let st = state::RunState::load(&entry.run_dir)?;
        let status = ensemble::probe_run(&st).await;
        healthy &= status.quorum;
        if args.json {
            let processes: Vec<serde_json::Value> = status
                .members
                .iter()
                .map(|m| {
                    let (pid, age) = process_of(&st, m.ordinal);
                    serde_json::json!({
                        "ordinal": m.ordinal,
                        "pid": pid,
                        "process_uptime_ms": age.map(|d| d.as_millis() as u64),
                        "zk_uptime_ms": m.uptime_ms,
                    })
                })
                .collect();
            all.push(serde_json::json!({
                "run": run, "name": entry.name, "connect": st.connect_string(), "status": status, "processes": processes,
            }));
        } else {
            print_table(&st, &status);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(if healthy { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// Print one ensemble's member table (and, for operator-managed runs, the
/// operator's phase and what it is doing).
pub fn print_table(st: &state::RunState, status: &EnsembleStatus) {
    print_members(st, status);
    let op = st
        .operator
        .as_ref()
        .and_then(|v| serde_json::from_value::<zk_chaos::operator::supervisor::OperatorState>(v.clone()).ok());
    if let Some(s) = op.and_then(|o| o.status) {
        let phase = s.phase.map(|p| format!("{p:?}")).unwrap_or_else(|| "-".into());
        println!("  operator: {phase}: {}", s.message.unwrap_or_default());
    }
}

fn print_members(st: &state::RunState, status: &EnsembleStatus) {
    println!(
        "{} (run {}, subnet {}): {}",
        st.names.name,
        st.run,
        st.subnet,
        if status.quorum { "quorum".to_string() } else { format!("NO QUORUM: {}", status.problems.join("; ")) }
    );
    // PROCESS UP: since the server's JVM started; ZK UP: ZooKeeper's
    // `zk_uptime`, which restarts at every election of the member.
    println!(
        "  {:<8} {:<8} {:<14} {:<12} {:<14} {:<11} {:<8} {:>8} {:>10} {:>8}",
        "ORDINAL", "POD", "ADDRESS", "MODE", "ZXID", "CONFIG", "VERSION", "PID", "PROCESS UP", "ZK UP"
    );
    for m in &status.members {
        let rec = st.pods.get(&m.ordinal);
        let zxid = m.srvr.as_ref().map(|s| format!("0x{:x}", s.zxid)).unwrap_or_else(|| "-".into());
        let cfg = m.config_version.map(|v| format!("0x{v:x}")).unwrap_or_else(|| "-".into());
        let version = m
            .srvr
            .as_ref()
            .map(|s| s.version.clone())
            .or_else(|| rec.map(|r| r.template.version.clone()))
            .unwrap_or_else(|| "-".into());
        let up = m.uptime_ms.map(|ms| format!("{:.0}s", ms as f64 / 1000.0)).unwrap_or_else(|| "-".into());
        let (pid, age) = process_of(st, m.ordinal);
        let pid = pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        let age = age.map_or_else(|| "-".to_string(), |d| format!("{}s", d.as_secs()));
        println!(
            "  {:<8} {:<8} {:<14} {:<12} {:<14} {:<11} {:<8} {:>8} {:>10} {:>8}",
            m.ordinal,
            st.names.pod(m.ordinal),
            m.addr.to_string(),
            m.state_word(),
            zxid,
            cfg,
            version,
            pid,
            age,
            up
        );
    }
}

/// The pid of member `ordinal`'s server (when it runs and is ours) and how
/// long that process has been running.
fn process_of(st: &state::RunState, ordinal: u32) -> (Option<u32>, Option<std::time::Duration>) {
    let pid = st
        .pods
        .get(&ordinal)
        .and_then(|p| p.pid)
        .filter(|pid| zk_chaos::backend::local::cleanup::is_server_of(*pid, &st.run));
    (pid, pid.and_then(zk_chaos::sys::process_age))
}
