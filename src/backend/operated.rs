//! What every backend driven by the embedded operator shares: the
//! operator's reconcile loop (its Deployment) and kubelet's restart loop,
//! over any [`PodRuntime`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::OperatorEvent;
use crate::operator::action::Action;
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
