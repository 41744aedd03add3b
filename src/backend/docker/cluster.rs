//! The docker backend as a [`Cluster`]: the embedded operator reconciles a
//! [`DockerEnsemble`] in a background task, as on the local backend, while
//! steps and faults act on the same ensemble.
//!
//! | fault primitive | on docker |
//! |---|---|
//! | kill / start | `docker kill -s KILL`; the restart loop `docker start`s it with its volume |
//! | stop | `docker stop` (SIGTERM, SIGKILL after 10 s) |
//! | pause / resume | SIGSTOP / SIGCONT to the server (the container's init) through the engine, straight, not under the operator's lock (the cgroup freezer of `docker pause` took up to 390 ms) |
//! | block `from -> to`, clients | a blackhole route in the member's network namespace (`nsenter -t <pid> -n ip route`), re-applied when its container restarts |
//! | netem | `tc` in the member's namespace (fails where the kernel has no `sch_netem`) |
//! | fill disk | refused: named volumes have no size limit |
//! | CPU limit | the container's CFS quota (`docker update --cpu-period 100000 --cpu-quota <percent*1000>`); heal sets quota -1 (none) |
//!
//! Client traffic goes to the containers' addresses on the run's network:
//! the host has a route to every Docker bridge, so clients, probes and
//! cuts see the same addresses the members see (published ports would add
//! docker-proxy or NAT in between, which a client cut-off could not tell
//! from the member's own address).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use super::ensemble::{DockerEnsemble, DockerSettings, Snapshot};
use super::error::DockerError;
use crate::backend::operated::{EmbeddedOperator, Operated, Snapshots, to_fault};
use crate::backend::{Cluster, ClusterError, PodInfo};
use crate::dist::Progress;
use crate::faults::{FaultError, FaultTarget};
use crate::operator::crd::ZookeeperCluster;
use crate::operator::supervisor::Supervisor;
use crate::operator::supervisor::runtime::PodRuntime as _;
use crate::probe::{EnsembleStatus, wire};

/// The backend's name.
pub const BACKEND: &str = "docker";

/// A docker ensemble managed by the embedded operator.
pub struct DockerCluster {
    name: String,
    /// The embedded operator; its snapshot holds the members' addresses
    /// and templates as of the last change.
    op: Operated<DockerEnsemble>,
}

impl Snapshots for DockerEnsemble {
    type Snapshot = Snapshot;
    fn take_snapshot(&self) -> Snapshot {
        self.snapshot()
    }
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
        let sup = Supervisor::adopt(cluster, ens, settings.dist.clone())?;
        Ok(Self { name, op: Operated::start(sup, settings.dist.clone()) })
    }

    /// The members' addresses and templates as of the last change.
    pub fn snapshot(&self) -> Snapshot {
        self.op.snapshot()
    }

    /// Run `f` on the ensemble (the operator waits meanwhile), then refresh
    /// the snapshot.
    async fn with_ens<T>(
        &self,
        f: impl AsyncFnOnce(&mut DockerEnsemble) -> Result<T, DockerError>,
    ) -> Result<T, FaultError> {
        self.op.with_ens(f).await.map_err(to_fault)?.map_err(fault_err)
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

#[async_trait]
impl FaultTarget for DockerCluster {
    fn check_supported(&self, _fault: &'static str) -> Result<(), FaultError> {
        Ok(())
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
        self.op.with_ens(async |e| e.stop_pod(ordinal).await).await.map_err(to_fault)?.map_err(sup_fault)
    }
    async fn start_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        // Restarted by the restart loop already, or scaled away: both fine.
        let start = async |e: &mut DockerEnsemble| {
            if e.ordinals().contains(&ordinal) { e.start_pod(ordinal).await.map_err(sup_fault) } else { Ok(()) }
        };
        self.op.with_ens(start).await.map_err(to_fault)?
    }
    async fn pause_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        // Straight to the engine, as the local backend goes straight to
        // SIGSTOP: the operator may hold the ensemble for a whole round
        // (hundreds of milliseconds on a loaded host), and a pause that a
        // server event triggered must land within the window it aims at.
        let s = self.snapshot();
        if let (Some(docker), Some(names)) = (&s.docker, &s.names)
            && s.pods.contains_key(&ordinal)
        {
            return super::ensemble::pause(docker, &names.pod_fqdn(ordinal)).await.map_err(fault_err);
        }
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
    async fn fill_disk(&self, ordinal: u32) -> Result<u64, FaultError> {
        self.with_ens(async |e| e.fill_disk(ordinal).await).await
    }
    async fn free_disk(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.free_disk(ordinal).await).await
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
    async fn limit_cpu(&self, ordinal: u32, percent: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.limit_cpu(ordinal, percent).await).await
    }
    async fn unlimit_cpu(&self, ordinal: u32) -> Result<(), FaultError> {
        self.with_ens(async |e| e.unlimit_cpu(ordinal).await).await
    }
}

impl EmbeddedOperator for DockerCluster {
    type Runtime = DockerEnsemble;
    fn operated(&self) -> &Operated<DockerEnsemble> {
        &self.op
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
    async fn pods(&self) -> Vec<PodInfo> {
        let list = async |e: &mut DockerEnsemble| {
            let mut out = Vec::new();
            for (o, t) in e.templates() {
                let running = e.pod_running(o).await;
                out.push(PodInfo { ordinal: o, revision: t.revision, version: t.version, running });
            }
            out
        };
        self.op.with_ens(list).await.unwrap_or_default()
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
        if let Some(e) = self.op.stop().await {
            e.teardown().await.map_err(docker_err)?;
        }
        Ok(())
    }
}
