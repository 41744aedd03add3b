//! The local backend as a [`Cluster`]: the embedded operator (the
//! [`Supervisor`], run by [`Operated`] as on the docker backend) reconciles
//! a [`LocalEnsemble`] in a background task, like the operator's Deployment
//! would, while steps and faults act on the same ensemble.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::backend::local::diagnose::StartupWatch;
use crate::backend::local::state::RunState;
use crate::backend::local::{LocalEnsemble, ensemble};
use crate::backend::operated::{EmbeddedOperator, Operated, Snapshots, to_fault};
use crate::backend::{Cluster, ClusterError, PodInfo};
use crate::dist::Progress;
use crate::faults::target::local as prim;
use crate::faults::{FaultError, FaultTarget};
use crate::operator::crd::ZookeeperCluster;
use crate::operator::supervisor::{LocalOptions, Supervisor};
use crate::probe::{EnsembleStatus, wire};

/// A local ensemble managed by the embedded operator.
pub struct LocalCluster {
    name: String,
    /// The embedded operator; its snapshot is the run record as of the
    /// last change, for lock-free probes.
    op: Operated<LocalEnsemble>,
    /// Why a new ensemble does not form (see [`Cluster::startup_check`]).
    watch: Mutex<StartupWatch>,
}

impl Snapshots for LocalEnsemble {
    type Snapshot = RunState;
    fn take_snapshot(&self) -> RunState {
        self.state().clone()
    }
}

impl LocalCluster {
    /// Create the run for `cluster` and start the operator; the operator's
    /// first rounds create the pods (the caller waits for readiness).
    pub async fn create(
        cluster: ZookeeperCluster,
        opts: &LocalOptions,
        progress: &dyn Progress,
    ) -> Result<Self, ClusterError> {
        let name = cluster.metadata.name.clone().unwrap_or_default();
        let sup = Supervisor::create(cluster, opts, progress).await?;
        let op = Operated::start(sup, opts.base.dist.clone());
        Ok(Self { name, op, watch: Mutex::new(StartupWatch::new()) })
    }

    /// The run record as of the last change.
    pub fn state(&self) -> RunState {
        self.op.snapshot()
    }

    /// Run `f` on the ensemble (the operator waits meanwhile), then refresh
    /// the lock-free copy of the run record.
    async fn with_ens<T>(&self, f: impl AsyncFnOnce(&mut LocalEnsemble) -> T) -> Result<T, ClusterError> {
        self.op.with_ens(f).await
    }
}

#[async_trait]
impl FaultTarget for LocalCluster {
    async fn status(&self) -> EnsembleStatus {
        ensemble::probe_run(&self.state()).await
    }
    async fn members(&self) -> Vec<u32> {
        self.state().pods.keys().copied().collect()
    }
    async fn kill_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.kill_pod(ordinal).await).await.map_err(to_fault)?.map_err(Into::into)
    }
    async fn stop_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.stop_pod(ordinal).await).await.map_err(to_fault)?.map_err(Into::into)
    }
    async fn start_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        // The operator's kubelet may have restarted it already, or the pod
        // may be gone (scaled away): both are fine.
        self.with_ens(async |e| if e.state().pods.contains_key(&ordinal) { e.start_pod(ordinal).await } else { Ok(()) })
            .await
            .map_err(to_fault)?
            .map_err(Into::into)
    }
    async fn pause_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        // Straight to the recorded pid when it is still our server: the
        // operator may hold the ensemble for a whole round, and a pause that
        // a server event triggered must land within milliseconds.
        if let Ok(pid) = prim::our_pid(&self.state(), ordinal)
            && crate::sys::signal(pid, nix::sys::signal::Signal::SIGSTOP).is_ok()
        {
            return Ok(());
        }
        self.with_ens(async |e| e.pause_pod(ordinal)).await.map_err(to_fault)?.map_err(Into::into)
    }
    async fn limit_cpu(&self, ordinal: u32, percent: u32) -> Result<(), FaultError> {
        let st = self.state();
        let pid = prim::our_pid(&st, ordinal)?;
        crate::backend::local::cpu::limit(&st.run, ordinal, pid, percent)
            .map_err(|e| FaultError::Unsupported(e.to_string()))
    }
    async fn unlimit_cpu(&self, ordinal: u32) -> Result<(), FaultError> {
        crate::backend::local::cpu::unlimit(&self.state().run, ordinal);
        Ok(())
    }
    async fn resume_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::resume(e, ordinal)).await.map_err(to_fault)?
    }
    async fn block(&self, from: u32, to: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::block(e, from, to)).await.map_err(to_fault)?
    }
    async fn unblock(&self, from: u32, to: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::unblock(e, from, to)).await.map_err(to_fault)?
    }
    async fn block_clients(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::block_clients(e, ordinal)).await.map_err(to_fault)?
    }
    async fn unblock_clients(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::unblock_clients(e, ordinal)).await.map_err(to_fault)?
    }
    async fn fill_disk(&self, ordinal: u32) -> Result<u64, FaultError> {
        self.with_ens(async |e| prim::fill_disk(e, ordinal)).await.map_err(to_fault)?
    }
    async fn free_disk(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::free_disk(e, ordinal)).await.map_err(to_fault)?
    }
    async fn netem(&self, ordinal: u32, args: &[String]) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::netem(e, ordinal, args)).await.map_err(to_fault)?
    }
    async fn clear_netem(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::clear_netem(e, ordinal)).await.map_err(to_fault)?
    }
}

impl EmbeddedOperator for LocalCluster {
    type Runtime = LocalEnsemble;
    fn operated(&self) -> &Operated<LocalEnsemble> {
        &self.op
    }
}

#[async_trait]
impl Cluster for LocalCluster {
    fn name(&self) -> &str {
        &self.name
    }
    fn backend(&self) -> &'static str {
        "local"
    }
    async fn connect_string(&self) -> String {
        self.state().connect_string()
    }
    async fn member_connect_string(&self, ordinal: u32) -> Result<String, ClusterError> {
        let st = self.state();
        let pod = st.pods.get(&ordinal).ok_or(crate::backend::local::EnsembleError::NoSuchPod(ordinal))?;
        Ok(format!("{}:{}", pod.addr, crate::zkconfig::CLIENT_PORT))
    }
    async fn four_letter(&self, ordinal: u32, word: &str) -> Result<String, ClusterError> {
        let st = self.state();
        let pod = st.pods.get(&ordinal).ok_or(crate::backend::local::EnsembleError::NoSuchPod(ordinal))?;
        let addr = SocketAddr::from((pod.addr, crate::zkconfig::CLIENT_PORT));
        wire::four_letter(addr, word, Duration::from_secs(5)).await.map_err(|e| ClusterError::Io(e.to_string()))
    }
    async fn pods(&self) -> Vec<PodInfo> {
        let st = self.state();
        st.pods
            .iter()
            .map(|(o, p)| PodInfo {
                ordinal: *o,
                revision: p.template.revision.clone(),
                version: p.template.version.clone(),
                running: p.pid.is_some(),
            })
            .collect()
    }
    fn log_files(&self) -> Vec<(String, PathBuf)> {
        let st = self.state();
        st.pods.iter().map(|(o, p)| (st.names.pod(*o), p.dirs.server_log())).collect()
    }
    async fn startup_check(&self) -> Result<(), ClusterError> {
        // The snapshot is taken under the operator's lock; the probes run
        // without it.
        let snap = self.with_ens(async |e| e.startup_snapshot()).await?;
        let status = ensemble::probe_run(&self.state()).await;
        let mut watch = self.watch.lock().await;
        watch.check(&snap, &status).await.map_err(|p| ClusterError::Ensemble(p.into()))
    }
    fn leftovers(&self) -> Vec<String> {
        let st = self.state();
        crate::backend::local::ensemble::leftovers_of(&st.run, st.subnet)
    }
    async fn teardown(&self) -> Result<(), ClusterError> {
        if let Some(e) = self.op.stop().await {
            e.teardown(false).await?;
        }
        Ok(())
    }
}
