//! The docker backend as a [`Cluster`]: the embedded operator reconciles a
//! [`DockerEnsemble`] in a background task, as on the local backend, while
//! steps and faults act on the same ensemble.
//!
//! | fault primitive | on docker |
//! |---|---|
//! | kill / start | `docker kill -s KILL`; the restart loop `docker start`s it with its volume |
//! | stop | `docker stop` (SIGTERM, SIGKILL after 10 s) |
//! | pause / resume | `docker pause` / `unpause` (the cgroup freezer) |
//! | block `from -> to`, clients | a blackhole route in the member's network namespace (`nsenter -t <pid> -n ip route`), re-applied when its container restarts |
//! | netem | `tc` in the member's namespace (fails where the kernel has no `sch_netem`) |
//! | fill disk | refused: named volumes have no size limit |
//!
//! Client traffic goes to the containers' addresses on the run's network:
//! the host has a route to every Docker bridge, so clients, probes and
//! cuts see the same addresses the members see (published ports would add
//! docker-proxy or NAT in between, which a client cut-off could not tell
//! from the member's own address).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::ensemble::{DockerEnsemble, DockerSettings, Snapshot};
use super::error::DockerError;
use crate::backend::operated::{Shared, kubelet_loop, operator_loop};
use crate::backend::{Cluster, ClusterError, OperatorEvent, PodInfo};
use crate::dist::Progress;
use crate::faults::{FaultError, FaultTarget};
use crate::operator::crd::{ZookeeperCluster, ZookeeperClusterSpec};
use crate::operator::status::ZookeeperClusterStatus;
use crate::operator::supervisor::Supervisor;
use crate::operator::supervisor::runtime::PodRuntime as _;
use crate::probe::{EnsembleStatus, wire};

/// The backend's name.
pub const BACKEND: &str = "docker";

type Sup = Arc<Mutex<Option<Supervisor<DockerEnsemble>>>>;

/// A docker ensemble managed by the embedded operator.
pub struct DockerCluster {
    name: String,
    sup: Sup,
    snapshot: Shared<Snapshot>,
    events: Shared<Vec<OperatorEvent>>,
    operator: std::sync::Mutex<Option<JoinHandle<()>>>,
    kubelet: JoinHandle<()>,
    settings: DockerSettings,
}

impl DockerCluster {
    /// Create the run's network for `cluster` and start the operator; its
    /// first rounds create the members (the caller waits for readiness).
    pub async fn create(
        cluster: ZookeeperCluster,
        settings: &DockerSettings,
        progress: &dyn Progress,
    ) -> Result<Self, ClusterError> {
        let name = cluster.metadata.name.clone().unwrap_or_default();
        crate::operator::validate::validate(&cluster.spec)
            .map_err(crate::operator::supervisor::SupervisorError::from)?;
        let ens = DockerEnsemble::create(&cluster, settings, progress).await.map_err(docker_err)?;
        let snapshot = Arc::new(std::sync::Mutex::new(ens.snapshot()));
        let sup = Supervisor::adopt(cluster, ens, settings.dist.clone())?;
        let sup = Arc::new(Mutex::new(Some(sup)));
        let kubelet = tokio::spawn(kubelet_loop(sup.clone()));
        let me = Self {
            name,
            sup,
            snapshot,
            events: Arc::default(),
            operator: std::sync::Mutex::new(None),
            kubelet,
            settings: settings.clone(),
        };
        me.spawn_operator();
        Ok(me)
    }

    /// The members' addresses and templates as of the last change.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.lock().expect("not poisoned").clone()
    }

    fn spawn_operator(&self) {
        let (sup, snap, events) = (self.sup.clone(), self.snapshot.clone(), self.events.clone());
        let snapshot = move |e: &DockerEnsemble| *snap.lock().expect("not poisoned") = e.snapshot();
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
    /// the snapshot.
    async fn with_ens<T>(
        &self,
        f: impl AsyncFnOnce(&mut DockerEnsemble) -> Result<T, DockerError>,
    ) -> Result<T, FaultError> {
        let mut guard = self.sup.lock().await;
        let sup = guard.as_mut().ok_or_else(|| FaultError::Invalid("the cluster was torn down".into()))?;
        let out = f(sup.ensemble_mut()).await;
        *self.snapshot.lock().expect("not poisoned") = sup.ensemble().snapshot();
        out.map_err(fault_err)
    }

    fn note(&self, text: String) {
        self.events.lock().expect("not poisoned").push(OperatorEvent { at: Instant::now(), text });
    }
}

fn docker_err(e: DockerError) -> ClusterError {
    ClusterError::Supervisor(crate::operator::supervisor::SupervisorError::Docker(Box::new(e)))
}

fn fault_err(e: DockerError) -> FaultError {
    FaultError::Invalid(e.to_string())
}

fn sup_fault(e: crate::operator::supervisor::SupervisorError) -> FaultError {
    FaultError::Invalid(e.to_string())
}

impl Drop for DockerCluster {
    fn drop(&mut self) {
        self.kubelet.abort();
        if let Some(t) = self.operator.lock().expect("not poisoned").take() {
            t.abort();
        }
    }
}

#[async_trait]
impl FaultTarget for DockerCluster {
    fn check_supported(&self, fault: &'static str) -> Result<(), FaultError> {
        match fault {
            "disk" => Err(FaultError::UnsupportedOn {
                backend: BACKEND,
                why: "a member's volume is a Docker named volume without a size limit (the local volume driver has \
                      no quota), so filling it would fill the host's disk"
                    .into(),
            }),
            _ => Ok(()),
        }
    }
    async fn status(&self) -> EnsembleStatus {
        self.snapshot().probe().await
    }
    async fn members(&self) -> Vec<u32> {
        self.snapshot().pods.keys().copied().collect()
    }
    async fn kill_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.kill_pod(ordinal).await).await
    }
    async fn stop_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        let mut guard = self.sup.lock().await;
        let sup = guard.as_mut().ok_or_else(|| FaultError::Invalid("the cluster was torn down".into()))?;
        let e = sup.ensemble_mut();
        let r = e.stop_pod(ordinal).await.map_err(sup_fault);
        *self.snapshot.lock().expect("not poisoned") = e.snapshot();
        r
    }
    async fn start_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        let mut guard = self.sup.lock().await;
        let sup = guard.as_mut().ok_or_else(|| FaultError::Invalid("the cluster was torn down".into()))?;
        let e = sup.ensemble_mut();
        // Restarted by the restart loop already, or scaled away: both fine.
        let r = if e.ordinals().contains(&ordinal) { e.start_pod(ordinal).await.map_err(sup_fault) } else { Ok(()) };
        *self.snapshot.lock().expect("not poisoned") = e.snapshot();
        r
    }
    async fn pause_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.pause_pod(ordinal).await).await
    }
    async fn resume_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.resume_pod(ordinal).await).await
    }
    async fn block(&self, from: u32, to: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.block(from, to).await).await
    }
    async fn unblock(&self, from: u32, to: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.unblock(from, to).await).await
    }
    async fn block_clients(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.block_clients(ordinal).await).await
    }
    async fn unblock_clients(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.unblock_clients(ordinal).await).await
    }
    async fn fill_disk(&self, _ordinal: u32) -> Result<u64, FaultError> {
        self.check_supported("disk").map(|()| 0)
    }
    async fn free_disk(&self, _ordinal: u32) -> Result<(), FaultError> {
        Ok(())
    }
    async fn netem(&self, ordinal: u32, args: &[String]) -> Result<(), FaultError> {
        let r = self.with_ens(async |e| e.netem(ordinal, args).await).await;
        match r {
            Err(FaultError::Invalid(m)) if m.contains("qdisc kind is unknown") => {
                Err(FaultError::Unsupported(format!("the kernel has no netem qdisc (sch_netem): {m}")))
            }
            r => r,
        }
    }
    async fn clear_netem(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.clear_netem(ordinal).await).await
    }
}

#[async_trait]
impl Cluster for DockerCluster {
    fn name(&self) -> &str {
        &self.name
    }
    fn backend(&self) -> &'static str {
        BACKEND
    }
    async fn connect_string(&self) -> String {
        self.snapshot().connect_string()
    }
    async fn member_connect_string(&self, ordinal: u32) -> Result<String, ClusterError> {
        let s = self.snapshot();
        let (addr, _) = s.pods.get(&ordinal).ok_or(crate::backend::local::EnsembleError::NoSuchPod(ordinal))?;
        Ok(format!("{addr}:{}", crate::zkconfig::CLIENT_PORT))
    }
    async fn four_letter(&self, ordinal: u32, word: &str) -> Result<String, ClusterError> {
        let s = self.snapshot();
        let (addr, _) = s.pods.get(&ordinal).ok_or(crate::backend::local::EnsembleError::NoSuchPod(ordinal))?;
        let addr = SocketAddr::from((*addr, crate::zkconfig::CLIENT_PORT));
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
        let mut guard = self.sup.lock().await;
        let Some(sup) = guard.as_mut() else { return Vec::new() };
        let e = sup.ensemble_mut();
        let mut out = Vec::new();
        for (o, t) in e.templates() {
            let running = e.pod_running(o).await;
            out.push(PodInfo { ordinal: o, revision: t.revision, version: t.version, running });
        }
        out
    }
    async fn delete_pod(&self, ordinal: u32) -> Result<(), ClusterError> {
        let mut guard = self.sup.lock().await;
        let sup = guard.as_mut().ok_or_else(|| ClusterError::Io("the cluster was torn down".into()))?;
        sup.delete_pod(ordinal).await?;
        *self.snapshot.lock().expect("not poisoned") = sup.ensemble().snapshot();
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
        *guard = Some(Supervisor::resume(old.into_ensemble(), self.settings.dist.clone())?);
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
        let s = self.snapshot();
        let Some(names) = &s.names else { return Vec::new() };
        s.pods.keys().map(|o| (names.pod(*o), s.log_dir.join(names.pod(*o)).join(crate::dist::LOG_FILE))).collect()
    }
    fn leftovers(&self) -> Vec<String> {
        match self.snapshot().run {
            Some(run) => super::cleanup::leftovers_blocking(run),
            None => Vec::new(),
        }
    }
    async fn teardown(&self) -> Result<(), ClusterError> {
        self.stop_operator_task().await;
        self.kubelet.abort();
        let sup = self.sup.lock().await.take();
        if let Some(s) = sup {
            s.into_ensemble().teardown().await.map_err(docker_err)?;
        }
        Ok(())
    }
}
