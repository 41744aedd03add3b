//! The `ZookeeperCluster` status: types, and how conditions keep their
//! transition times.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::observed::Mode;

/// The ensemble's overall state.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Being created; no quorum has formed yet.
    Provisioning,
    /// All members ready and synced, one leader, config agreed.
    Ready,
    /// Quorum present, but some member is down or out of sync.
    Critical,
    /// No quorum.
    NotReady,
    /// A rolling update is in progress.
    Upgrading,
    /// Members are being added or removed.
    Scaling,
}

/// The status of one condition.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// It does not.
    False,
    /// Cannot tell.
    Unknown,
}

impl From<bool> for ConditionStatus {
    fn from(b: bool) -> Self {
        if b { ConditionStatus::True } else { ConditionStatus::False }
    }
}

/// Condition types the operator maintains.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum ConditionType {
    /// A quorum serves clients.
    Available,
    /// The operator is moving the ensemble towards the spec.
    Progressing,
    /// Some member is not ready or not synced.
    Degraded,
    /// Members run an older revision than the spec asks for.
    Upgrading,
    /// The membership differs from the spec (scale in progress).
    Reconfiguring,
    /// The spec is valid but questionable (for example an even member count).
    SpecWarning,
}

/// One condition, shaped like Kubernetes' `metav1.Condition`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The condition type.
    #[serde(rename = "type")]
    pub type_: ConditionType,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// A CamelCase reason.
    pub reason: String,
    /// A human message.
    pub message: String,
    /// RFC 3339 time of the last status change; the planner carries it over
    /// and the executor stamps new transitions ([`ZookeeperClusterStatus::stamp`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

impl Condition {
    /// A condition without a transition time.
    pub fn new(type_: ConditionType, status: bool, reason: &str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            last_transition_time: None,
        }
    }
}

/// One member as shown in the status.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    /// Pod ordinal.
    pub ordinal: u32,
    /// Pod revision.
    pub revision: String,
    /// ZooKeeper version it runs.
    pub version: String,
    /// Ready and serving.
    pub ready: bool,
    /// Mode per `srvr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

/// The observed state of a `ZookeeperCluster`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZookeeperClusterStatus {
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Overall phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Pods in the StatefulSet.
    #[serde(default)]
    pub replicas: u32,
    /// Pods ready and serving.
    #[serde(default)]
    pub ready_replicas: u32,
    /// The version the ensemble runs (the one most members run during a rollout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    /// The version the spec asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    /// Revision of pods below the partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<String>,
    /// Revision the spec asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_revision: Option<String>,
    /// Every pod, by ordinal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberStatus>,
    /// Ordinal of the leader, when exactly one member leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<u32>,
    /// Committed dynamic config version, hex as ZooKeeper prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<String>,
    /// What the operator is doing or waiting for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Conditions, one per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl ZookeeperClusterStatus {
    /// The condition of `type_`, if present.
    pub fn condition(&self, type_: ConditionType) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Keep the transition time of every condition whose status did not
    /// change since `previous`.
    pub fn carry_transition_times(&mut self, previous: Option<&ZookeeperClusterStatus>) {
        let Some(previous) = previous else { return };
        for c in &mut self.conditions {
            if let Some(p) = previous.condition(c.type_).filter(|p| p.status == c.status) {
                c.last_transition_time.clone_from(&p.last_transition_time);
            }
        }
    }

    /// Give every condition without a transition time the time `now`
    /// (the executor calls this just before publishing).
    pub fn stamp(&mut self, now: &str) {
        for c in &mut self.conditions {
            if c.last_transition_time.is_none() {
                c.last_transition_time = Some(now.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_times_survive_only_unchanged_conditions() {
        let mut old = ZookeeperClusterStatus {
            conditions: vec![
                Condition::new(ConditionType::Available, true, "QuorumPresent", ""),
                Condition::new(ConditionType::Degraded, false, "AllMembersReady", ""),
            ],
            ..Default::default()
        };
        old.stamp("t0");
        let mut new = ZookeeperClusterStatus {
            conditions: vec![
                Condition::new(ConditionType::Available, true, "QuorumPresent", ""),
                Condition::new(ConditionType::Degraded, true, "MembersNotReady", "zk-1"),
            ],
            ..Default::default()
        };
        new.carry_transition_times(Some(&old));
        assert_eq!(new.conditions[0].last_transition_time.as_deref(), Some("t0"));
        assert_eq!(new.conditions[1].last_transition_time, None);
        new.stamp("t1");
        assert_eq!(new.conditions[1].last_transition_time.as_deref(), Some("t1"));
    }
}
