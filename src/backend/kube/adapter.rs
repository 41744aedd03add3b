//! [`KubeCluster`] as a backend-neutral [`Cluster`] and [`FaultTarget`]:
//! what the scenario engine asks, mapped onto the Kubernetes API.
//!
//! | asked | done |
//! |---|---|
//! | status, members | [`KubeCluster::status`] (exec probes), the pods by label |
//! | kill a member | delete its pod with grace 0; the StatefulSet re-creates it, so "start" only waits until it runs again |
//! | stop a member | refused: a StatefulSet re-creates the pod at once |
//! | pause / resume | [`KubeCluster::pause`] / [`KubeCluster::resume`] |
//! | block / unblock `from -> to` | pairwise cuts: NetworkPolicies through [`KubeCluster::set_cuts`] |
//! | one-way cuts, netem | refused before anything is done ([`FaultTarget::check_supported`]) |
//! | connect strings | a local port per member, port-forwarded ([`KubeCluster::forward_clients`]) |
//! | spec, apply | the `ZookeeperCluster` read, and server-side applied |
//! | kill / start the operator | delete its pod; wait for its Deployment's replacement |
//! | operator events | the Kubernetes Events on the `ZookeeperCluster`, polled in the background |
//! | logs | none: server logs stay with the pods (`kubectl logs`) |
//! | teardown | partitions healed, the `ZookeeperCluster` deleted, its pods waited out |
//!
//! NetworkPolicies cut connections, not directions, so `block(a, b)` cuts
//! the pair `{a, b}` both ways and the pair stays cut until both
//! directions are unblocked. Every fault built from cuts blocks both
//! directions of each pair; the one that does not (one-way) is refused up
//! front by [`FaultTarget::check_supported`], so a cut is never wider than
//! what its fault asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use tokio::task::JoinHandle;

use super::error::{Call, KubeError};
use super::forward::ClientForwards;
use super::{KubeCluster, unsupported_reason};
use crate::backend::{Cluster, ClusterError, OperatorControl, OperatorEvent, PodInfo};
use crate::faults::{FaultError, FaultTarget};
use crate::operator::crd::ZookeeperClusterSpec;
use crate::operator::k8s::OPERATOR_NAMESPACE;
use crate::operator::status::ZookeeperClusterStatus;
use crate::probe::EnsembleStatus;

/// How long a killed member or operator may take to run again, by default.
pub const RESTART_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the ensemble's pods may take to go after it is deleted.
pub const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(120);

/// Names of the ensembles a run created and has not torn down yet.
pub type Registry = Arc<Mutex<BTreeSet<String>>>;

/// One `ZookeeperCluster` on Kubernetes as a [`Cluster`].
pub struct KubeClusterBackend {
    kube: Arc<KubeCluster>,
    label: &'static str,
    restart_timeout: Duration,
    /// Directed blocks in force.
    blocks: tokio::sync::Mutex<BTreeSet<(u32, u32)>>,
    forwards: tokio::sync::Mutex<BTreeMap<u32, ClientForwards>>,
    /// The spec as last read or applied (for when the API cannot be read).
    spec: Mutex<ZookeeperClusterSpec>,
    /// The members as last seen.
    members: Mutex<Vec<u32>>,
    events: Arc<Mutex<Vec<OperatorEvent>>>,
    /// The operator pods killed and not yet replaced.
    killed_operator: Mutex<Option<Vec<String>>>,
    registry: Option<Registry>,
    poller: JoinHandle<()>,
}

/// The pairs (smaller ordinal first) cut by `blocks`: a pair is cut when
/// either direction is blocked.
pub fn pairs(blocks: &BTreeSet<(u32, u32)>) -> BTreeSet<(u32, u32)> {
    blocks.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect()
}

/// The fault `fault` refused with the reason this backend cannot do it.
fn refused(fault: &'static str) -> FaultError {
    let reason = unsupported_reason(fault).unwrap_or("not implemented on this backend");
    KubeError::Unsupported { fault, reason: reason.into() }.into()
}

/// The monotonic instant of wall-clock time `at` (now when unknown or in
/// the future: the API server's clock may run ahead of ours).
fn instant_of(at: Option<Timestamp>) -> Instant {
    let now = Instant::now();
    let Some(at) = at else { return now };
    let age = Timestamp::now().duration_since(at);
    if age.is_negative() { now } else { now.checked_sub(age.unsigned_abs()).unwrap_or(now) }
}

/// Poll the Events of `kube`'s resource every `poll`, appending each new
/// observation to `events`. A failure is noted once; a refusal (RBAC) ends
/// the polling, since it will not change.
async fn poll_events(kube: Arc<KubeCluster>, events: Arc<Mutex<Vec<OperatorEvent>>>, poll: Duration) {
    let mut seen = BTreeSet::new();
    let mut failing = false;
    loop {
        match kube.events().await {
            Ok(list) => {
                failing = false;
                let fresh: Vec<OperatorEvent> = list
                    .into_iter()
                    .filter(|e| seen.insert(e.key.clone()))
                    .map(|e| OperatorEvent { at: instant_of(e.at), text: e.text })
                    .collect();
                events.lock().expect("not poisoned").extend(fresh);
            }
            Err(e) => {
                let stop = matches!(e, KubeError::Forbidden { .. });
                if !failing || stop {
                    let text = format!("cannot read the operator's events: {e}");
                    events.lock().expect("not poisoned").push(OperatorEvent { at: Instant::now(), text });
                }
                failing = true;
                if stop {
                    return;
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
}

impl KubeClusterBackend {
    /// Create the ensemble's `ZookeeperCluster` with `spec` (server-side
    /// apply) and drive it; `label` is the backend's name (`kind`, `kube`).
    /// The operator does the rest: wait for it with
    /// [`KubeCluster::wait_ready`].
    pub async fn create(kube: KubeCluster, spec: ZookeeperClusterSpec, label: &'static str) -> Result<Self, KubeError> {
        let created = kube.create_cluster(spec).await?;
        Ok(Self::attach(kube, created.spec, label))
    }

    /// Drive an existing ensemble whose spec is `spec`. Starts polling its
    /// Events (needs a tokio runtime).
    pub fn attach(kube: KubeCluster, spec: ZookeeperClusterSpec, label: &'static str) -> Self {
        let kube = Arc::new(kube);
        let events = Arc::new(Mutex::new(Vec::new()));
        let poller = tokio::spawn(poll_events(kube.clone(), events.clone(), kube.timeouts().poll));
        Self {
            kube,
            label,
            restart_timeout: RESTART_TIMEOUT,
            blocks: tokio::sync::Mutex::default(),
            forwards: tokio::sync::Mutex::default(),
            members: Mutex::new((0..spec.replicas).collect()),
            spec: Mutex::new(spec),
            events,
            killed_operator: Mutex::new(None),
            registry: None,
            poller,
        }
    }

    /// The same, waiting at most `timeout` for a killed member or operator
    /// to run again.
    pub fn with_restart_timeout(mut self, timeout: Duration) -> Self {
        self.restart_timeout = timeout;
        self
    }

    /// The same, listed in `registry` until torn down (so what an
    /// interrupted run leaves can be removed).
    pub fn with_registry(mut self, registry: Registry) -> Self {
        registry.lock().expect("not poisoned").insert(self.kube.name().to_string());
        self.registry = Some(registry);
        self
    }

    /// The `KubeCluster` underneath.
    pub fn kube(&self) -> &KubeCluster {
        &self.kube
    }

    fn note(&self, text: String) {
        self.events.lock().expect("not poisoned").push(OperatorEvent { at: Instant::now(), text });
    }

    fn cached_spec(&self) -> ZookeeperClusterSpec {
        self.spec.lock().expect("not poisoned").clone()
    }

    /// The local address forwarding to member `ordinal`, made on first use.
    async fn forward(&self, ordinal: u32) -> Result<std::net::SocketAddr, KubeError> {
        let mut forwards = self.forwards.lock().await;
        if let Some(addr) = forwards.get(&ordinal).and_then(|f| f.addr(ordinal)) {
            return Ok(addr);
        }
        let fwd = self.kube.forward_clients(&[ordinal]).await?;
        let addr =
            fwd.addr(ordinal).ok_or_else(|| KubeError::Forward(format!("no local port for member {ordinal}")))?;
        forwards.insert(ordinal, fwd);
        Ok(addr)
    }

    /// Make the NetworkPolicies match `blocks` when the cut pairs changed.
    async fn apply_blocks(&self, before: &BTreeSet<(u32, u32)>, after: &BTreeSet<(u32, u32)>) -> Result<(), KubeError> {
        let wanted = pairs(after);
        if pairs(before) == wanted {
            return Ok(());
        }
        self.kube.set_cuts(&wanted).await
    }
}

impl Drop for KubeClusterBackend {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

#[async_trait]
impl FaultTarget for KubeClusterBackend {
    fn check_supported(&self, fault: &'static str) -> Result<(), FaultError> {
        Ok(self.kube.check_supported(fault)?)
    }
    async fn status(&self) -> EnsembleStatus {
        match self.kube.status().await {
            Ok(st) => {
                *self.members.lock().expect("not poisoned") = st.members.iter().map(|m| m.ordinal).collect();
                st
            }
            Err(e) => {
                let mut st = EnsembleStatus::judge(Vec::new());
                st.problems.insert(0, format!("cannot probe the members: {e}"));
                st
            }
        }
    }
    async fn members(&self) -> Vec<u32> {
        match self.kube.pods().await {
            Ok(pods) => {
                let members: Vec<u32> = pods.iter().map(|p| p.ordinal).collect();
                *self.members.lock().expect("not poisoned") = members.clone();
                members
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the members; using the last seen");
                self.members.lock().expect("not poisoned").clone()
            }
        }
    }
    async fn kill_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        Ok(self.kube.kill_pod(ordinal).await?)
    }
    async fn stop_pod(&self, _ordinal: u32) -> Result<(), FaultError> {
        Err(refused("stop"))
    }
    async fn start_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        // The StatefulSet re-creates a killed pod by itself: wait for it,
        // unless the ordinal was scaled away meanwhile.
        if ordinal >= self.spec().await.replicas {
            return Ok(());
        }
        Ok(self.kube.wait_member_running(ordinal, self.restart_timeout).await?)
    }
    async fn pause_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        Ok(self.kube.pause(ordinal).await?)
    }
    async fn resume_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        match self.kube.resume(ordinal).await {
            Ok(()) | Err(KubeError::NoSuchMember { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
    async fn block(&self, from: u32, to: u32) -> Result<(), FaultError> {
        let mut blocks = self.blocks.lock().await;
        let mut after = blocks.clone();
        if !after.insert((from, to)) {
            return Ok(());
        }
        self.apply_blocks(&blocks, &after).await?;
        *blocks = after;
        Ok(())
    }
    async fn unblock(&self, from: u32, to: u32) -> Result<(), FaultError> {
        let mut blocks = self.blocks.lock().await;
        let mut after = blocks.clone();
        if !after.remove(&(from, to)) {
            return Ok(());
        }
        self.apply_blocks(&blocks, &after).await?;
        *blocks = after;
        Ok(())
    }
    async fn block_clients(&self, _ordinal: u32) -> Result<(), FaultError> {
        Err(refused("clients"))
    }
    async fn unblock_clients(&self, _ordinal: u32) -> Result<(), FaultError> {
        // Nothing is ever applied, so nothing is left to undo.
        Ok(())
    }
    async fn fill_disk(&self, _ordinal: u32) -> Result<u64, FaultError> {
        Err(refused("disk"))
    }
    async fn free_disk(&self, _ordinal: u32) -> Result<(), FaultError> {
        Ok(())
    }
    async fn netem(&self, _ordinal: u32, _args: &[String]) -> Result<(), FaultError> {
        Err(refused("netem"))
    }
    async fn clear_netem(&self, _ordinal: u32) -> Result<(), FaultError> {
        // Nothing is ever applied, so nothing is left to clear.
        Ok(())
    }
}

#[async_trait]
impl OperatorControl for KubeClusterBackend {
    async fn spec(&self) -> ZookeeperClusterSpec {
        match self.kube.get_cluster().await {
            Ok(zk) => {
                *self.spec.lock().expect("not poisoned") = zk.spec.clone();
                zk.spec
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the ZookeeperCluster; using the spec last seen");
                self.cached_spec()
            }
        }
    }
    async fn apply(&self, spec: ZookeeperClusterSpec) -> Result<(), ClusterError> {
        let applied = self.kube.create_cluster(spec).await?;
        *self.spec.lock().expect("not poisoned") = applied.spec;
        Ok(())
    }
    async fn resource_status(&self) -> Option<ZookeeperClusterStatus> {
        match self.kube.get_cluster().await {
            Ok(zk) => zk.status,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the ZookeeperCluster's status");
                None
            }
        }
    }
    async fn delete_pod(&self, ordinal: u32) -> Result<(), ClusterError> {
        Ok(self.kube.delete_pod(ordinal).await?)
    }
    async fn kill_operator(&self) -> Result<(), ClusterError> {
        let killed = self.kube.kill_operator().await?;
        if killed.is_empty() {
            return Err(KubeError::NotFound {
                call: Call::new("list", "pods", OPERATOR_NAMESPACE, None),
                message:
                    "the operator has no pod to kill; is it installed? (`zk-chaos manifests | kubectl apply -f -`)"
                        .into(),
            }
            .into());
        }
        self.note(format!("operator killed (pod {} deleted, grace 0)", killed.join(", ")));
        *self.killed_operator.lock().expect("not poisoned") = Some(killed);
        Ok(())
    }
    async fn start_operator(&self) -> Result<(), ClusterError> {
        let Some(killed) = self.killed_operator.lock().expect("not poisoned").clone() else { return Ok(()) };
        let pod = self.kube.wait_operator_replaced(&killed, self.restart_timeout).await?;
        self.note(format!("operator back (pod {pod} Ready)"));
        *self.killed_operator.lock().expect("not poisoned") = None;
        Ok(())
    }
    fn operator_running(&self) -> bool {
        self.killed_operator.lock().expect("not poisoned").is_none()
    }
    fn operator_events(&self) -> Vec<OperatorEvent> {
        let mut events = self.events.lock().expect("not poisoned").clone();
        events.sort_by_key(|e| e.at);
        events
    }
}

#[async_trait]
impl Cluster for KubeClusterBackend {
    fn name(&self) -> &str {
        self.kube.name()
    }
    fn backend(&self) -> &'static str {
        self.label
    }
    async fn connect_string(&self) -> String {
        let mut servers = Vec::new();
        for o in self.members().await {
            match self.forward(o).await {
                Ok(addr) => servers.push(addr.to_string()),
                Err(e) => tracing::warn!(member = o, error = %e, "no client port for this member"),
            }
        }
        servers.join(",")
    }
    async fn member_connect_string(&self, ordinal: u32) -> Result<String, ClusterError> {
        self.kube.pod(ordinal).await?;
        Ok(self.forward(ordinal).await?.to_string())
    }
    async fn four_letter(&self, ordinal: u32, word: &str) -> Result<String, ClusterError> {
        Ok(self.kube.four_letter(ordinal, word).await?)
    }
    async fn pods(&self) -> Vec<PodInfo> {
        match self.kube.pods().await {
            Ok(pods) => pods
                .into_iter()
                .map(|p| PodInfo {
                    ordinal: p.ordinal,
                    running: p.phase.as_deref() == Some("Running") && !p.terminating,
                    revision: p.revision.unwrap_or_default(),
                    version: p.version.unwrap_or_default(),
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the pods");
                Vec::new()
            }
        }
    }
    /// The Kubernetes Events on the `ZookeeperCluster` seen so far (polled
    /// every [`Timeouts::poll`](super::Timeouts::poll), so the last
    /// couple of seconds may be missing), and the operator kills and
    /// replacements.
    /// None: the servers log to their containers' output, which stays with
    /// the pods (`kubectl logs`) rather than in files on this machine.
    fn log_files(&self) -> Vec<(String, PathBuf)> {
        Vec::new()
    }
    async fn teardown(&self) -> Result<(), ClusterError> {
        self.forwards.lock().await.clear();
        self.blocks.lock().await.clear();
        let healed = self.kube.heal().await;
        let deleted = self.kube.delete_cluster().await;
        self.poller.abort();
        healed?;
        deleted?;
        self.kube.wait_pods_gone(TEARDOWN_TIMEOUT).await?;
        if let Some(r) = &self.registry {
            r.lock().expect("not poisoned").remove(self.kube.name());
        }
        Ok(())
    }
}
