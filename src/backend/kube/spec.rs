//! The `ZookeeperCluster` itself: create it (server-side apply), read it,
//! delete it, and change its spec with JSON merge patches (upgrade =
//! `version`, scaling = `replicas`, a staged rollout = `partition`, zoo.cfg
//! overrides = `config`). The operator does the rest.

use std::collections::BTreeMap;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::KubeCluster;
use super::error::{Call, KubeError};
use crate::backend::kind::commands::FIELD_MANAGER;
use crate::operator::crd::{ZookeeperCluster, ZookeeperClusterSpec};

const RESOURCE: &str = "zookeeperclusters.zk-chaos.io";

/// The merge patch setting `version`.
pub fn version_patch(version: &str) -> Value {
    json!({ "spec": { "version": version } })
}

/// The merge patch setting `replicas`.
pub fn replicas_patch(replicas: u32) -> Value {
    json!({ "spec": { "replicas": replicas } })
}

/// The merge patch setting the rollout partition (ordinals below it keep
/// their revision).
pub fn partition_patch(partition: u32) -> Value {
    json!({ "spec": { "updateStrategy": { "partition": partition } } })
}

/// The merge patch setting zoo.cfg overrides: `Some(value)` sets a key,
/// `None` removes it; keys not named stay as they are.
pub fn config_patch(config: &BTreeMap<String, Option<String>>) -> Value {
    json!({ "spec": { "config": config } })
}

impl KubeCluster {
    fn cluster_api(&self) -> Api<ZookeeperCluster> {
        Api::namespaced(self.client.clone(), self.namespace())
    }

    /// Create (or take over) the ensemble with `spec`: a server-side apply
    /// by field manager `zk-chaos`.
    pub async fn create_cluster(&self, spec: ZookeeperClusterSpec) -> Result<ZookeeperCluster, KubeError> {
        let mut zk = ZookeeperCluster::new(self.name(), spec);
        zk.metadata.namespace = Some(self.namespace().into());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let call = Call::new("patch", RESOURCE, self.namespace(), Some(self.name()));
        self.api(call, self.cluster_api().patch(self.name(), &params, &Patch::Apply(&zk))).await
    }

    /// The ensemble's resource as the API server has it.
    pub async fn get_cluster(&self) -> Result<ZookeeperCluster, KubeError> {
        let call = Call::new("get", RESOURCE, self.namespace(), Some(self.name()));
        self.api(call, self.cluster_api().get(self.name())).await
    }

    /// Delete the ensemble's resource (its objects go by garbage collection).
    pub async fn delete_cluster(&self) -> Result<(), KubeError> {
        let call = Call::new("delete", RESOURCE, self.namespace(), Some(self.name()));
        match self.api(call, self.cluster_api().delete(self.name(), &DeleteParams::default())).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Apply a JSON merge patch to the resource.
    pub async fn patch_cluster(&self, patch: &Value) -> Result<ZookeeperCluster, KubeError> {
        let call = Call::new("patch", RESOURCE, self.namespace(), Some(self.name()));
        self.api(call, self.cluster_api().patch(self.name(), &PatchParams::default(), &Patch::Merge(patch))).await
    }

    /// Upgrade (or downgrade) to `version`.
    pub async fn set_version(&self, version: &str) -> Result<ZookeeperCluster, KubeError> {
        self.patch_cluster(&version_patch(version)).await
    }

    /// Scale to `replicas` members.
    pub async fn set_replicas(&self, replicas: u32) -> Result<ZookeeperCluster, KubeError> {
        self.patch_cluster(&replicas_patch(replicas)).await
    }

    /// Set the rollout partition.
    pub async fn set_partition(&self, partition: u32) -> Result<ZookeeperCluster, KubeError> {
        self.patch_cluster(&partition_patch(partition)).await
    }

    /// Set or remove zoo.cfg overrides.
    pub async fn set_config(&self, config: &BTreeMap<String, Option<String>>) -> Result<ZookeeperCluster, KubeError> {
        self.patch_cluster(&config_patch(config)).await
    }
}
