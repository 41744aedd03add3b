//! Bounded waits: poll until a condition holds, and report what was seen
//! last when it does not.

use std::future::Future;
use std::time::{Duration, Instant};

use super::KubeCluster;
use super::error::KubeError;
use crate::operator::status::Phase;
use crate::probe::EnsembleStatus;

/// Poll `look` every `poll` until it returns `Ok(Some(v))`, at most
/// `timeout`. `Ok(None)` means "not yet" and carries nothing; the last
/// description `look` gave (through `last`) ends up in the timeout error.
/// Errors that mean the harness cannot look at all (RBAC, unreachable API
/// server) end the wait at once.
pub async fn poll_until<T, F, Fut>(what: &str, timeout: Duration, poll: Duration, mut look: F) -> Result<T, KubeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, String>, KubeError>>,
{
    let start = Instant::now();
    loop {
        let last = match look().await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(seen)) => seen,
            Err(e @ (KubeError::Forbidden { .. } | KubeError::Unreachable { .. } | KubeError::Config(_))) => {
                return Err(e);
            }
            Err(e) => e.to_string(),
        };
        if start.elapsed() + poll > timeout {
            return Err(KubeError::WaitTimeout { what: what.into(), waited: start.elapsed(), last });
        }
        tokio::time::sleep(poll).await;
    }
}

/// One line about an ensemble status, for "last seen".
pub fn describe(st: &EnsembleStatus) -> String {
    let members: Vec<String> = st.members.iter().map(|m| format!("{}={}", m.ordinal, m.state_word())).collect();
    let verdict = if st.quorum { "quorum".to_string() } else { format!("no quorum ({})", st.problems.join("; ")) };
    format!("{verdict}; members {}", members.join(" "))
}

impl KubeCluster {
    /// Wait until the operator reports `Ready` for the current spec (its
    /// generation observed, every replica ready) and the members themselves
    /// show a healthy ensemble of that many.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<EnsembleStatus, KubeError> {
        let what = format!("ZookeeperCluster {}/{} to be Ready", self.namespace(), self.name());
        poll_until(&what, timeout, self.timeouts.poll, || async {
            let zk = self.get_cluster().await?;
            let status = zk.status.clone().unwrap_or_default();
            let operator_ready = status.phase == Some(Phase::Ready)
                && status.observed_generation == zk.metadata.generation
                && status.ready_replicas == zk.spec.replicas;
            if !operator_ready {
                return Ok(Err(format!(
                    "operator: phase {:?}, {}/{} ready, {}",
                    status.phase,
                    status.ready_replicas,
                    zk.spec.replicas,
                    status.message.unwrap_or_default()
                )));
            }
            let st = self.status().await?;
            if st.all_healthy() && st.members.len() == zk.spec.replicas as usize {
                Ok(Ok(st))
            } else {
                Ok(Err(describe(&st)))
            }
        })
        .await
    }

    /// Wait until the members' status satisfies `done`.
    pub async fn wait_status<F>(&self, what: &str, timeout: Duration, done: F) -> Result<EnsembleStatus, KubeError>
    where
        F: Fn(&EnsembleStatus) -> bool,
    {
        poll_until(what, timeout, self.timeouts.poll, || async {
            let st = self.status().await?;
            Ok(if done(&st) { Ok(st) } else { Err(describe(&st)) })
        })
        .await
    }

    /// Wait until a member other than `old` leads with quorum; returns its ordinal.
    pub async fn wait_new_leader(&self, old: u32, timeout: Duration) -> Result<u32, KubeError> {
        let st = self
            .wait_status(&format!("a leader other than member {old}"), timeout, |st| {
                st.quorum && st.leader().is_some_and(|l| l != old)
            })
            .await?;
        st.leader().ok_or_else(|| KubeError::WaitTimeout {
            what: "a leader".into(),
            waited: timeout,
            last: describe(&st),
        })
    }

    /// Wait until member `ordinal`'s pod exists again, is not being deleted
    /// and runs (what the StatefulSet does after a kill).
    pub async fn wait_member_running(&self, ordinal: u32, timeout: Duration) -> Result<(), KubeError> {
        let what = format!("pod {} to run again", self.names.pod(ordinal));
        poll_until(&what, timeout, self.timeouts.poll, || async {
            let pod = self.pod(ordinal).await?;
            Ok(if pod.phase.as_deref() == Some("Running") && !pod.terminating {
                Ok(())
            } else {
                Err(format!("pod {} {}", pod.name, if pod.terminating { "terminating" } else { "not running" }))
            })
        })
        .await
    }

    /// Wait until none of the ensemble's pods is left.
    pub async fn wait_pods_gone(&self, timeout: Duration) -> Result<(), KubeError> {
        let what = format!("the pods of {}/{} to be gone", self.namespace(), self.name());
        poll_until(&what, timeout, self.timeouts.poll, || async {
            let pods = self.pods().await?;
            Ok(if pods.is_empty() {
                Ok(())
            } else {
                Err(format!("left: {}", pods.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")))
            })
        })
        .await
    }
}
