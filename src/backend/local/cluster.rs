//! The local backend as a [`Cluster`]: the embedded operator (the
//! [`Supervisor`]) reconciles in a background task, like the operator's
//! Deployment would, while steps and faults act on the same ensemble.
//! Killing the operator aborts that task wherever it is; starting it again
//! rebuilds the supervisor from what it persisted, as a new operator pod
//! would from the API server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::backend::local::diagnose::StartupWatch;
use crate::backend::local::state::RunState;
use crate::backend::local::{LocalEnsemble, ensemble};
use crate::backend::operated::{kubelet_loop, operator_loop};
use crate::backend::{Cluster, ClusterError, OperatorEvent, PodInfo};
use crate::dist::{DistConfig, Progress};
use crate::faults::target::local as prim;
use crate::faults::{FaultError, FaultTarget};
use crate::operator::crd::{ZookeeperCluster, ZookeeperClusterSpec};
use crate::operator::status::ZookeeperClusterStatus;
use crate::operator::supervisor::{LocalOptions, Supervisor};
use crate::probe::{EnsembleStatus, wire};

type Shared<T> = Arc<std::sync::Mutex<T>>;

/// A local ensemble managed by the embedded operator.
pub struct LocalCluster {
    name: String,
    sup: Arc<Mutex<Option<Supervisor>>>,
    /// The run record as of the last change, for lock-free probes.
    state: Shared<RunState>,
    events: Shared<Vec<OperatorEvent>>,
    operator: std::sync::Mutex<Option<JoinHandle<()>>>,
    kubelet: JoinHandle<()>,
    dist: DistConfig,
    /// Why a new ensemble does not form (see [`Cluster::startup_check`]).
    watch: Mutex<StartupWatch>,
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
        let state = Arc::new(std::sync::Mutex::new(sup.ensemble().state().clone()));
        let sup = Arc::new(Mutex::new(Some(sup)));
        let kubelet = tokio::spawn(kubelet_loop(sup.clone()));
        let me = Self {
            name,
            sup,
            state,
            events: Arc::default(),
            operator: std::sync::Mutex::new(None),
            kubelet,
            dist: opts.base.dist.clone(),
            watch: Mutex::new(StartupWatch::new()),
        };
        me.spawn_operator();
        Ok(me)
    }

    /// The run record as of the last change.
    pub fn state(&self) -> RunState {
        self.state.lock().expect("not poisoned").clone()
    }

    fn spawn_operator(&self) {
        let (sup, state, events) = (self.sup.clone(), self.state.clone(), self.events.clone());
        let snapshot = move |e: &LocalEnsemble| *state.lock().expect("not poisoned") = e.state().clone();
        let task = tokio::spawn(async move { operator_loop(sup, snapshot, events).await });
        *self.operator.lock().expect("not poisoned") = Some(task);
    }

    async fn stop_operator_task(&self) -> bool {
        let task = self.operator.lock().expect("not poisoned").take();
        match task {
            Some(t) => {
                t.abort();
                let _ = t.await;
                true
            }
            None => false,
        }
    }

    /// Run `f` on the ensemble (the operator waits meanwhile), then refresh
    /// the lock-free copy of the run record.
    async fn with_ens<T>(&self, f: impl AsyncFnOnce(&mut LocalEnsemble) -> T) -> Result<T, ClusterError> {
        let mut guard = self.sup.lock().await;
        let sup = guard.as_mut().ok_or_else(|| ClusterError::Io("the cluster was torn down".into()))?;
        let out = f(sup.ensemble_mut()).await;
        *self.state.lock().expect("not poisoned") = sup.ensemble().state().clone();
        Ok(out)
    }

    fn note(&self, text: String) {
        self.events.lock().expect("not poisoned").push(OperatorEvent { at: Instant::now(), text });
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.kubelet.abort();
        if let Some(t) = self.operator.lock().expect("not poisoned").take() {
            t.abort();
        }
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
        self.with_ens(async |e| e.kill_pod(ordinal).await).await.map_err(cluster_to_fault)?.map_err(Into::into)
    }
    async fn stop_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.stop_pod(ordinal).await).await.map_err(cluster_to_fault)?.map_err(Into::into)
    }
    async fn start_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        // The operator's kubelet may have restarted it already, or the pod
        // may be gone (scaled away): both are fine.
        self.with_ens(async |e| if e.state().pods.contains_key(&ordinal) { e.start_pod(ordinal).await } else { Ok(()) })
            .await
            .map_err(cluster_to_fault)?
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
        self.with_ens(async |e| e.pause_pod(ordinal)).await.map_err(cluster_to_fault)?.map_err(Into::into)
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
        self.with_ens(async |e| prim::resume(e, ordinal)).await.map_err(cluster_to_fault)?
    }
    async fn block(&self, from: u32, to: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::block(e, from, to)).await.map_err(cluster_to_fault)?
    }
    async fn unblock(&self, from: u32, to: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::unblock(e, from, to)).await.map_err(cluster_to_fault)?
    }
    async fn block_clients(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::block_clients(e, ordinal)).await.map_err(cluster_to_fault)?
    }
    async fn unblock_clients(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::unblock_clients(e, ordinal)).await.map_err(cluster_to_fault)?
    }
    async fn fill_disk(&self, ordinal: u32) -> Result<u64, FaultError> {
        self.with_ens(async |e| prim::fill_disk(e, ordinal)).await.map_err(cluster_to_fault)?
    }
    async fn free_disk(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::free_disk(e, ordinal)).await.map_err(cluster_to_fault)?
    }
    async fn netem(&self, ordinal: u32, args: &[String]) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::netem(e, ordinal, args)).await.map_err(cluster_to_fault)?
    }
    async fn clear_netem(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| prim::clear_netem(e, ordinal)).await.map_err(cluster_to_fault)?
    }
}

fn cluster_to_fault(e: ClusterError) -> FaultError {
    match e {
        ClusterError::Fault(f) => f,
        ClusterError::Ensemble(e) => FaultError::Ensemble(e),
        other => FaultError::Invalid(other.to_string()),
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
    async fn spec(&self) -> ZookeeperClusterSpec {
        let guard = self.sup.lock().await;
        guard.as_ref().map(|s| s.cluster().spec.clone()).unwrap_or_else(|| ZookeeperClusterSpec::new(0, ""))
    }
    async fn apply(&self, spec: ZookeeperClusterSpec) -> Result<(), ClusterError> {
        let mut guard = self.sup.lock().await;
        let sup = guard.as_mut().ok_or_else(|| ClusterError::Io("the cluster was torn down".into()))?;
        sup.apply(spec)?;
        Ok(())
    }
    async fn resource_status(&self) -> Option<ZookeeperClusterStatus> {
        self.sup.lock().await.as_ref().and_then(|s| s.status().cloned())
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
    async fn delete_pod(&self, ordinal: u32) -> Result<(), ClusterError> {
        let mut guard = self.sup.lock().await;
        let sup = guard.as_mut().ok_or_else(|| ClusterError::Io("the cluster was torn down".into()))?;
        sup.delete_pod(ordinal).await?;
        *self.state.lock().expect("not poisoned") = sup.ensemble().state().clone();
        Ok(())
    }
    async fn kill_operator(&self) -> Result<(), ClusterError> {
        if self.stop_operator_task().await {
            self.note("operator killed".into());
        }
        Ok(())
    }
    async fn start_operator(&self) -> Result<(), ClusterError> {
        if self.operator_running() {
            return Ok(());
        }
        // A new operator knows only what was persisted.
        let mut guard = self.sup.lock().await;
        let old = guard.take().ok_or_else(|| ClusterError::Io("the cluster was torn down".into()))?;
        *guard = Some(Supervisor::resume(old.into_ensemble(), self.dist.clone())?);
        drop(guard);
        self.spawn_operator();
        self.note("operator started".into());
        Ok(())
    }
    fn operator_running(&self) -> bool {
        self.operator.lock().expect("not poisoned").as_ref().is_some_and(|t| !t.is_finished())
    }
    fn operator_events(&self) -> Vec<OperatorEvent> {
        self.events.lock().expect("not poisoned").clone()
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
        self.stop_operator_task().await;
        self.kubelet.abort();
        let sup = self.sup.lock().await.take();
        if let Some(s) = sup {
            s.into_ensemble().teardown(false).await?;
        }
        Ok(())
    }
}
