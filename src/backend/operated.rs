//! What every backend driven by the embedded operator shares: the
//! operator's reconcile loop (its Deployment) and kubelet's restart loop
//! over any [`PodRuntime`], and [`Operated`], which runs them for one
//! ensemble and answers the operator's part of the [`Cluster`](super::Cluster)
//! trait (spec, status, pod deletion, operator kill and restart).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use async_trait::async_trait;

use super::{ClusterError, OperatorControl, OperatorEvent};
use crate::dist::DistConfig;
use crate::faults::FaultError;
use crate::operator::action::Action;
use crate::operator::crd::ZookeeperClusterSpec;
use crate::operator::status::ZookeeperClusterStatus;
use crate::operator::supervisor::Supervisor;
use crate::operator::supervisor::runtime::PodRuntime;

/// Pause between two operator rounds.
pub const ROUND_EVERY: Duration = Duration::from_millis(300);

/// A value shared with the background loops.
pub type Shared<T> = Arc<std::sync::Mutex<T>>;

/// One line per action worth a mark on the timeline (status updates and
/// waits are not).
pub fn describe(action: &Action) -> Option<String> {
    Some(match action {
        Action::EnsureStatefulSet { replicas, update_revision, partition } => {
            format!("StatefulSet: {replicas} replicas, revision {update_revision}, partition {partition}")
        }
        Action::DeletePod { ordinal, reason, .. } => format!("delete pod {ordinal} ({reason})"),
        Action::ReconfigAdd { entry, .. } => format!("reconfig -add server.{}", entry.id),
        Action::ReconfigRemove { id, .. } => format!("reconfig -remove {id}"),
        Action::ReleaseVolume { ordinal } => format!("release the volume of pod {ordinal}"),
        Action::ProbeWrite | Action::UpdateStatus(_) | Action::Wait { .. } => return None,
    })
}

/// The operator's Deployment: reconcile rounds until the supervisor is
/// taken away (torn down) or the task aborted (operator killed), handing
/// the ensemble to `snapshot` after each round and recording what the
/// operator did in `events`.
pub async fn operator_loop<E: PodRuntime>(
    sup: Arc<Mutex<Option<Supervisor<E>>>>,
    snapshot: impl Fn(&E) + Send + 'static,
    events: Shared<Vec<OperatorEvent>>,
) {
    let mut last_sts = None;
    loop {
        let round = {
            let mut guard = sup.lock().await;
            let Some(s) = guard.as_mut() else { return };
            let r = s.reconcile_once().await;
            snapshot(s.ensemble());
            r
        };
        let mut lines = Vec::new();
        match round {
            Ok(r) => {
                for a in &r.plan.actions {
                    let Some(text) = describe(a) else { continue };
                    if matches!(a, Action::EnsureStatefulSet { .. }) {
                        if last_sts.as_ref() == Some(&text) {
                            continue;
                        }
                        last_sts = Some(text.clone());
                    }
                    lines.push(text);
                }
                lines.extend(r.errors.iter().map(|e| format!("action failed: {e}")));
            }
            Err(e) => lines.push(format!("round failed: {e}")),
        }
        if !lines.is_empty() {
            let now = Instant::now();
            events.lock().expect("not poisoned").extend(lines.into_iter().map(|text| OperatorEvent { at: now, text }));
        }
        tokio::time::sleep(ROUND_EVERY).await;
    }
}

/// Kubelet restarts exited servers even while the operator is down.
pub async fn kubelet_loop<E: PodRuntime>(sup: Arc<Mutex<Option<Supervisor<E>>>>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut guard = sup.lock().await;
        let Some(s) = guard.as_mut() else { return };
        if let Err(e) = s.restart_crashed().await {
            tracing::warn!(error = %e, "kubelet could not restart a server");
        }
    }
}

/// A runtime whose state a backend copies out after every change, so that
/// probes and faults read it without waiting for the operator's lock.
pub trait Snapshots: PodRuntime + 'static {
    /// The copy.
    type Snapshot: Clone + Send + 'static;
    /// Take it.
    fn take_snapshot(&self) -> Self::Snapshot;
}

/// The embedded operator of one ensemble as a backend runs it: the
/// supervisor behind a lock, its reconcile loop (the operator's Deployment)
/// and kubelet's restart loop as background tasks, a lock-free snapshot of
/// the runtime and the operator's events. Killing the operator aborts its
/// task wherever it is; starting it again rebuilds the supervisor from what
/// it persisted, as a new operator pod would from the API server. Each
/// backend adds only what differs (its faults, addresses, logs, teardown).
pub struct Operated<E: Snapshots> {
    sup: Arc<Mutex<Option<Supervisor<E>>>>,
    snapshot: Shared<E::Snapshot>,
    events: Shared<Vec<OperatorEvent>>,
    operator: std::sync::Mutex<Option<JoinHandle<()>>>,
    kubelet: JoinHandle<()>,
    dist: DistConfig,
}

/// What a cluster that was torn down answers.
fn torn_down() -> ClusterError {
    ClusterError::Io("the cluster was torn down".into())
}

impl<E: Snapshots> Operated<E> {
    /// Start the operator and kubelet loops over `sup`.
    pub fn start(sup: Supervisor<E>, dist: DistConfig) -> Self {
        let snapshot = Arc::new(std::sync::Mutex::new(sup.ensemble().take_snapshot()));
        let sup = Arc::new(Mutex::new(Some(sup)));
        let kubelet = tokio::spawn(kubelet_loop(sup.clone()));
        let me = Self { sup, snapshot, events: Arc::default(), operator: std::sync::Mutex::new(None), kubelet, dist };
        me.spawn_operator();
        me
    }

    /// The runtime's state as of the last change.
    pub fn snapshot(&self) -> E::Snapshot {
        self.snapshot.lock().expect("not poisoned").clone()
    }

    fn spawn_operator(&self) {
        let (sup, snap, events) = (self.sup.clone(), self.snapshot.clone(), self.events.clone());
        let snapshot = move |e: &E| *snap.lock().expect("not poisoned") = e.take_snapshot();
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

    /// Run `f` on the supervisor (the operator waits meanwhile), then
    /// refresh the snapshot.
    async fn with_sup<T>(&self, f: impl AsyncFnOnce(&mut Supervisor<E>) -> T) -> Result<T, ClusterError> {
        let mut guard = self.sup.lock().await;
        let sup = guard.as_mut().ok_or_else(torn_down)?;
        let out = f(sup).await;
        *self.snapshot.lock().expect("not poisoned") = sup.ensemble().take_snapshot();
        Ok(out)
    }

    /// Run `f` on the ensemble (the operator waits meanwhile), then refresh
    /// the snapshot.
    pub async fn with_ens<T>(&self, f: impl AsyncFnOnce(&mut E) -> T) -> Result<T, ClusterError> {
        self.with_sup(async |s| f(s.ensemble_mut()).await).await
    }

    fn note(&self, text: &str) {
        self.events.lock().expect("not poisoned").push(OperatorEvent { at: Instant::now(), text: text.into() });
    }

    /// The desired spec (an empty one once torn down).
    pub async fn spec(&self) -> ZookeeperClusterSpec {
        let guard = self.sup.lock().await;
        guard.as_ref().map(|s| s.cluster().spec.clone()).unwrap_or_else(|| ZookeeperClusterSpec::new(0, ""))
    }

    /// Replace the desired spec, as `kubectl apply` does.
    pub async fn apply(&self, spec: ZookeeperClusterSpec) -> Result<(), ClusterError> {
        Ok(self.with_sup(async |s| s.apply(spec)).await??)
    }

    /// The last published status.
    pub async fn resource_status(&self) -> Option<ZookeeperClusterStatus> {
        self.sup.lock().await.as_ref().and_then(|s| s.status().cloned())
    }

    /// Delete pod `ordinal` as `kubectl delete pod` would.
    pub async fn delete_pod(&self, ordinal: u32) -> Result<(), ClusterError> {
        Ok(self.with_sup(async |s| s.delete_pod(ordinal).await).await??)
    }

    /// Kill the operator wherever it is (kubelet keeps running).
    pub async fn kill_operator(&self) -> Result<(), ClusterError> {
        if self.stop_operator_task().await {
            self.note("operator killed");
        }
        Ok(())
    }

    /// Start a new operator from what the old one persisted.
    pub async fn start_operator(&self) -> Result<(), ClusterError> {
        if self.operator_running() {
            return Ok(());
        }
        let mut guard = self.sup.lock().await;
        let old = guard.take().ok_or_else(torn_down)?;
        *guard = Some(Supervisor::resume(old.into_ensemble(), self.dist.clone())?);
        drop(guard);
        self.spawn_operator();
        self.note("operator started");
        Ok(())
    }

    /// Whether the operator's task runs.
    pub fn operator_running(&self) -> bool {
        self.operator.lock().expect("not poisoned").as_ref().is_some_and(|t| !t.is_finished())
    }

    /// What the operator did, in order.
    pub fn operator_events(&self) -> Vec<OperatorEvent> {
        self.events.lock().expect("not poisoned").clone()
    }

    /// Stop both loops and hand the ensemble back for teardown (`None` when
    /// it was taken already).
    pub async fn stop(&self) -> Option<E> {
        self.stop_operator_task().await;
        self.kubelet.abort();
        self.sup.lock().await.take().map(Supervisor::into_ensemble)
    }
}

impl<E: Snapshots> Drop for Operated<E> {
    fn drop(&mut self) {
        self.kubelet.abort();
        if let Some(t) = self.operator.lock().expect("not poisoned").take() {
            t.abort();
        }
    }
}

/// A cluster run by the embedded operator: its [`OperatorControl`] is its
/// [`Operated`]'s.
pub trait EmbeddedOperator: Send + Sync {
    /// The pods' runtime.
    type Runtime: Snapshots;
    /// The embedded operator.
    fn operated(&self) -> &Operated<Self::Runtime>;
}

#[async_trait]
impl<T: EmbeddedOperator> OperatorControl for T {
    async fn spec(&self) -> ZookeeperClusterSpec {
        self.operated().spec().await
    }
    async fn apply(&self, spec: ZookeeperClusterSpec) -> Result<(), ClusterError> {
        self.operated().apply(spec).await
    }
    async fn resource_status(&self) -> Option<ZookeeperClusterStatus> {
        self.operated().resource_status().await
    }
    async fn delete_pod(&self, ordinal: u32) -> Result<(), ClusterError> {
        self.operated().delete_pod(ordinal).await
    }
    async fn kill_operator(&self) -> Result<(), ClusterError> {
        self.operated().kill_operator().await
    }
    async fn start_operator(&self) -> Result<(), ClusterError> {
        self.operated().start_operator().await
    }
    fn operator_running(&self) -> bool {
        self.operated().operator_running()
    }
    fn operator_events(&self) -> Vec<OperatorEvent> {
        self.operated().operator_events()
    }
}

/// A cluster failure as a fault's.
pub fn to_fault(e: ClusterError) -> FaultError {
    match e {
        ClusterError::Fault(f) => f,
        ClusterError::Ensemble(e) => FaultError::Ensemble(e),
        other => FaultError::Invalid(other.to_string()),
    }
}
