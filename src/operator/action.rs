//! The steps the planner asks an executor to take, and the plan that
//! carries them.

use serde::{Deserialize, Serialize};

use super::status::{Phase, ZookeeperClusterStatus};
use crate::zkconfig::ServerEntry;

/// One small step for an executor. Every step is idempotent when retried
/// against the world it was planned from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Action {
    /// Create or update the StatefulSet-equivalent. Pods at ordinals
    /// `>= partition` are (re)created at `update_revision`, those below at
    /// the set's current revision. A lower `replicas` stops the top pod.
    EnsureStatefulSet {
        /// Pod count.
        replicas: u32,
        /// Revision for ordinals `>= partition`.
        update_revision: String,
        /// The partition.
        partition: u32,
    },
    /// Delete a pod, only if it still runs `revision` (so a retry after the
    /// pod came back is a no-op); the StatefulSet recreates it at the
    /// revision its ordinal gets.
    DeletePod {
        /// The pod's ordinal.
        ordinal: u32,
        /// The revision the pod was observed at (a precondition).
        revision: String,
        /// Why (for events and logs).
        reason: String,
    },
    /// `reconfig -add` a member, only if the committed config is still at
    /// `expected_version` (so a retry after success is a no-op).
    ReconfigAdd {
        /// The new member's `server.N=` entry.
        entry: ServerEntry,
        /// The committed config version the plan was made against.
        expected_version: u64,
    },
    /// `reconfig -remove` a member, conditional on `expected_version`.
    ReconfigRemove {
        /// The server id to remove.
        id: u64,
        /// The committed config version the plan was made against.
        expected_version: u64,
    },
    /// Write a probe znode through the ensemble and, when the write's zxid
    /// is above the committed config version, record that version as
    /// `Observed::last_write_ok_after_config`.
    ProbeWrite,
    /// Delete the data volume of a pod that is no longer in the ensemble
    /// (the executor skips it while a pod with that ordinal exists).
    ReleaseVolume {
        /// The pod's ordinal.
        ordinal: u32,
    },
    /// Publish this status.
    UpdateStatus(Box<ZookeeperClusterStatus>),
    /// Nothing safe to do until the world changes.
    Wait {
        /// What the planner waits for.
        reason: String,
    },
}

impl Action {
    /// Whether the action can take a member out of service or change the
    /// membership: pod deletion, reconfig, or a replica count change (the
    /// latter needs the current count, see [`Action::changes_replicas`]).
    pub fn is_disruptive(&self, current_replicas: u32) -> bool {
        matches!(self, Action::DeletePod { .. } | Action::ReconfigAdd { .. } | Action::ReconfigRemove { .. })
            || self.changes_replicas(current_replicas)
    }

    /// Whether this is an `EnsureStatefulSet` with a different replica count.
    pub fn changes_replicas(&self, current_replicas: u32) -> bool {
        matches!(self, Action::EnsureStatefulSet { replicas, .. } if *replicas != current_replicas)
    }
}

/// The planner's answer: the steps to take now, the status to publish, and
/// a one-line human reason.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Plan {
    /// Steps in order; at most one of them is disruptive. `UpdateStatus`
    /// comes last and only when the status changed.
    pub actions: Vec<Action>,
    /// The status derived from the observation.
    pub status: ZookeeperClusterStatus,
    /// What the operator is doing or waiting for.
    pub reason: String,
}

impl Plan {
    /// The phase of the computed status.
    pub fn phase(&self) -> Phase {
        self.status.phase.unwrap_or(Phase::Provisioning)
    }

    /// Actions other than `UpdateStatus` and `Wait`.
    pub fn steps(&self) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(|a| !matches!(a, Action::UpdateStatus(_) | Action::Wait { .. }))
    }

    /// The `Wait` reason, if the plan waits.
    pub fn waiting(&self) -> Option<&str> {
        self.actions.iter().find_map(|a| match a {
            Action::Wait { reason } => Some(reason.as_str()),
            _ => None,
        })
    }

    /// Nothing left to do: no step, no wait, and the ensemble is Ready.
    pub fn is_converged(&self) -> bool {
        self.steps().next().is_none() && self.waiting().is_none() && self.phase() == Phase::Ready
    }
}
