//! Record a workload against a local ensemble while something happens to
//! it: clients write and read, a sampler probes the members, the caller
//! injects faults; the result is a bundle the checkers judge.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::generate::WorkloadSpec;
use super::run::{self, Recorder};
use crate::backend::local::{EnsembleError, LocalEnsemble, ensemble};
use crate::check::converge;
use crate::check::suite::{Bundle, RunFacts};
use crate::client::ClientError;
use crate::probe::sampler;

/// Probe interval of the sampler.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// A fault as recorded: name, start and heal on the history's clock.
pub type FaultRecord = (String, u64, Option<u64>);

/// How long the load goes on after the last fault's script returned.
pub const LOAD_AFTER_FAULTS: Duration = Duration::from_secs(2);

/// Recording failures (not verdicts: the run itself could not be made).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The ensemble failed.
    #[error(transparent)]
    Ensemble(#[from] EnsembleError),
    /// A client could not set up or read back.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The history file could not be created.
    #[error("history file: {0}")]
    Io(#[from] std::io::Error),
}

/// Run `wl` against `ens` while `faults` runs (it gets the ensemble and the
/// recorder, for timestamps, and returns what it did), for the workload's
/// duration and at least [`LOAD_AFTER_FAULTS`] past the faults; then wait for quorum,
/// let the ensemble settle, read the final state and stop the sampler.
pub async fn record<F>(
    ens: &mut LocalEnsemble,
    wl: &WorkloadSpec,
    history_file: Option<&Path>,
    quorum_timeout: Duration,
    faults: F,
) -> Result<Bundle, RecordError>
where
    F: AsyncFnOnce(&mut LocalEnsemble, &Recorder) -> Result<Vec<FaultRecord>, EnsembleError>,
{
    let servers = ens.connect_string();
    run::prepare(&servers, wl).await?;
    let rec = Arc::new(Recorder::new(history_file)?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sampler = {
        let state = ens.state().clone();
        let start = rec.start();
        tokio::spawn(async move { sampler::sample(start, SAMPLE_EVERY, stopped, || ensemble::probe_run(&state)).await })
    };
    // The clients run for the workload's duration and on past it until the
    // faults are over plus LOAD_AFTER_FAULTS: every fault is followed by
    // load, however long the faults' own waits (for quorum) took.
    let (stop_load, load_stopped) = tokio::sync::watch::channel(false);
    let load_until = Instant::now() + wl.duration;
    let clients = {
        let (servers, mut wl, rec) = (servers.clone(), wl.clone(), rec.clone());
        wl.duration += quorum_timeout * 4 + LOAD_AFTER_FAULTS;
        tokio::spawn(async move { run::run_until(&servers, &wl, rec, load_stopped).await })
    };
    let done = faults(ens, &rec).await;
    tokio::time::sleep_until(load_until.max(Instant::now() + LOAD_AFTER_FAULTS).into()).await;
    let _ = stop_load.send(true);
    let out = clients.await;
    let settled = ens.wait_for_quorum(quorum_timeout).await;
    if settled.is_ok() {
        // Makes zxids comparable after the last election (see the barrier's docs).
        run::settle_barrier(&servers, wl).await?;
    }
    let settle_after_ns = rec.now_ns();
    // Probe until the convergence rule decides (members agree, or the
    // settle bound passes): one round could catch a commit in flight.
    let bound = converge::SETTLE_BOUND.as_nanos() as u64;
    let state = ens.state().clone();
    let mut settling = Vec::new();
    loop {
        tokio::time::sleep(SAMPLE_EVERY).await;
        settling.push((rec.now_ns(), ensemble::probe_run(&state).await));
        if !matches!(converge::judge(&settling, settle_after_ns, bound), converge::Convergence::Pending { .. }) {
            break;
        }
    }
    let _ = stop.send(true);
    let mut probes = sampler.await.unwrap_or_default();
    probes.extend(settling);
    probes.sort_by_key(|(t, _)| *t);
    let faults = done?;
    settled?;
    let (events, workload) = match out {
        Ok(o) => (o.events, o.target),
        Err(_) => (rec.finish().await, None),
    };
    let final_state = run::read_final_state(&servers, wl).await?;
    Ok(Bundle {
        events,
        final_state: Some(final_state),
        probes: Some(probes),
        facts: RunFacts { settle_after_ns, faults, settle_bound_ns: None, workload, operator_down: None },
        ..Bundle::default()
    })
}

/// Kill a follower, restart it, wait for quorum, then the same for the
/// leader, `down` apart: the standard fault script of the main job.
pub async fn kill_follower_then_leader(
    ens: &mut LocalEnsemble,
    rec: &Recorder,
    down: Duration,
    quorum_timeout: Duration,
) -> Result<Vec<FaultRecord>, EnsembleError> {
    let mut faults = Vec::new();
    tokio::time::sleep(down).await;
    let st = ens.status().await;
    let follower = st.followers_of_leader.first().copied().ok_or(EnsembleError::Invalid("no follower".into()))?;
    let t = rec.now_ns();
    ens.kill_pod(follower).await?;
    tokio::time::sleep(down).await;
    ens.start_pod(follower).await?;
    faults.push((format!("SIGKILL follower {}", ens.state().names.pod(follower)), t, Some(rec.now_ns())));
    let leader =
        ens.wait_for_quorum(quorum_timeout).await?.leader().ok_or(EnsembleError::Invalid("no leader".into()))?;
    let t = rec.now_ns();
    ens.kill_pod(leader).await?;
    tokio::time::sleep(down).await;
    ens.start_pod(leader).await?;
    faults.push((format!("SIGKILL leader {}", ens.state().names.pod(leader)), t, Some(rec.now_ns())));
    Ok(faults)
}
