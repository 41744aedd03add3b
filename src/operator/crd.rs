//! The `ZookeeperCluster` custom resource (`zk-chaos.io/v1alpha1`).
//!
//! Where a field means what it means in KubeDB's `ZooKeeper` resource it has
//! the same name and shape (`replicas`, `version`, `adminServerPort`,
//! `storage`, `deletionPolicy`), so a KubeDB manifest applies with only its
//! `apiVersion` and `kind` changed.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, ResourceRequirements};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::ZookeeperClusterStatus;
use crate::zkconfig::ADMIN_PORT;

/// Default number of members.
pub const DEFAULT_REPLICAS: u32 = 3;
/// Largest ensemble the operator manages.
pub const MAX_REPLICAS: u32 = 99;

/// The desired state of one ZooKeeper ensemble.
// The printer columns repeat `type_ = ...`, which clippy mistakes for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "zk-chaos.io",
    version = "v1alpha1",
    kind = "ZookeeperCluster",
    namespaced,
    shortname = "zkc",
    status = "ZookeeperClusterStatus",
    derive = "PartialEq",
    doc = "A ZooKeeper ensemble managed by the zk-chaos operator",
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.version"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ZookeeperClusterSpec {
    /// Number of members (as KubeDB). Even numbers are allowed but warned about.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 99))]
    pub replicas: u32,
    /// ZooKeeper version, `MAJOR.MINOR.PATCH` (as KubeDB).
    #[schemars(pattern(r"^\d+\.\d+\.\d+$"))]
    pub version: String,
    /// Container image override; by default the image follows `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Admin server port (as KubeDB).
    #[serde(default = "default_admin_port")]
    pub admin_server_port: u16,
    /// The data volume claim of each member (a PersistentVolumeClaim spec, as KubeDB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<PersistentVolumeClaimSpec>,
    /// What happens to a member's data volume when scale-down removes it.
    #[serde(default)]
    pub storage_reclaim_policy: StorageReclaimPolicy,
    /// What happens to the ensemble's objects when the resource is deleted (as KubeDB).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Compute resources of the ZooKeeper container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// `zoo.cfg` overrides; keys the operator owns are rejected.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// `tickTime` in milliseconds (default 2000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 60000))]
    pub tick_time_ms: Option<u32>,
    /// JVM settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jvm: Option<JvmSpec>,
    /// How changes that need a restart are rolled out.
    #[serde(default)]
    pub update_strategy: UpdateStrategy,
    /// Change this token to restart every member, one at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_restart: Option<String>,
    /// The PodDisruptionBudget guarding the members.
    #[serde(default)]
    pub pod_disruption_budget: PodDisruptionBudgetSpec,
    /// Scheduling preferences.
    #[serde(default)]
    pub affinity: AffinitySpec,
    /// Extra labels for the members' pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations for the members' pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ZookeeperClusterSpec {
    /// A spec with `replicas` members of `version` and defaults elsewhere.
    pub fn new(replicas: u32, version: impl Into<String>) -> Self {
        Self {
            replicas,
            version: version.into(),
            image: None,
            admin_server_port: ADMIN_PORT,
            storage: None,
            storage_reclaim_policy: StorageReclaimPolicy::default(),
            deletion_policy: DeletionPolicy::default(),
            resources: None,
            config: BTreeMap::new(),
            tick_time_ms: None,
            jvm: None,
            update_strategy: UpdateStrategy::default(),
            rolling_restart: None,
            pod_disruption_budget: PodDisruptionBudgetSpec::default(),
            affinity: AffinitySpec::default(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }

    /// The rollout partition: only ordinals `>= partition` are updated.
    pub fn partition(&self) -> u32 {
        self.update_strategy.partition
    }
}

fn default_replicas() -> u32 {
    DEFAULT_REPLICAS
}

fn default_admin_port() -> u16 {
    ADMIN_PORT
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// What happens to a removed member's data volume on scale-down.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum StorageReclaimPolicy {
    /// Release (delete) the volume once the member is out of the ensemble.
    #[default]
    Delete,
    /// Keep the volume; scaling back up to that ordinal then waits until
    /// someone deletes it, because it holds a config without that member.
    Retain,
}

/// KubeDB's deletion policy: what deleting the resource removes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Keep volumes and secrets, remove the rest.
    Halt,
    /// Remove the workload and volumes, keep secrets.
    #[default]
    Delete,
    /// Remove everything, secrets included.
    WipeOut,
    /// Refuse deletion.
    DoNotTerminate,
}

/// JVM settings of the ZooKeeper process.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JvmSpec {
    /// Heap size in MiB (`-Xms`/`-Xmx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 16))]
    pub heap_mb: Option<u32>,
}

/// How restart-requiring changes roll out.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStrategy {
    /// The StatefulSet update strategy; the operator itself deletes members
    /// one at a time, so only `OnDelete` exists.
    #[serde(default, rename = "type")]
    pub type_: UpdateStrategyType,
    /// Only ordinals `>= partition` are updated.
    #[serde(default)]
    pub partition: u32,
    /// Members updated at once; only 1 is supported.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1))]
    pub max_unavailable: u32,
}

impl Default for UpdateStrategy {
    fn default() -> Self {
        Self { type_: UpdateStrategyType::OnDelete, partition: 0, max_unavailable: 1 }
    }
}

/// StatefulSet update strategy type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum UpdateStrategyType {
    /// Pods change revision only when deleted (by the operator, in order).
    #[default]
    OnDelete,
}

/// The PodDisruptionBudget the operator keeps for the members.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    /// Whether to create it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Voluntary disruptions allowed at once.
    #[serde(default = "one")]
    #[schemars(range(min = 1))]
    pub max_unavailable: u32,
}

impl Default for PodDisruptionBudgetSpec {
    fn default() -> Self {
        Self { enabled: true, max_unavailable: 1 }
    }
}

/// Scheduling preferences of the members.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AffinitySpec {
    /// Spread members over nodes.
    #[serde(default)]
    pub pod_anti_affinity: AntiAffinity,
}

/// How strongly members are spread over nodes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AntiAffinity {
    /// Prefer distinct nodes.
    #[default]
    Preferred,
    /// Require distinct nodes.
    Required,
    /// No anti-affinity.
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_manifest_takes_defaults() {
        let spec: ZookeeperClusterSpec = serde_yaml::from_str("version: 3.8.0\n").unwrap();
        assert_eq!(spec, ZookeeperClusterSpec::new(3, "3.8.0"));
        assert_eq!(spec.update_strategy.max_unavailable, 1);
        assert!(spec.pod_disruption_budget.enabled);
    }

    #[test]
    fn spec_round_trips_through_json() {
        let mut spec = ZookeeperClusterSpec::new(5, "3.9.3");
        spec.config.insert("maxClientCnxns".into(), "100".into());
        spec.update_strategy.partition = 2;
        spec.rolling_restart = Some("t1".into());
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["updateStrategy"]["type"], "OnDelete");
        assert_eq!(json["rollingRestart"], "t1");
        let back: ZookeeperClusterSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, spec);
    }
}
