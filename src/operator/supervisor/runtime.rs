//! The seam between the embedded operator and the pods it drives: what
//! [`Supervisor`](super::Supervisor) asks of a backend's pod runtime (the
//! kubelet and StatefulSet-controller side of Kubernetes). The local
//! backend's [`LocalEnsemble`] implements it with JVMs in network
//! namespaces; the docker backend's `DockerEnsemble` with containers.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use super::SupervisorError;
use crate::backend::local::LocalEnsemble;
use crate::backend::local::state::PodTemplate;
use crate::dist::{DistConfig, NoProgress};
use crate::probe::EnsembleStatus;
use crate::zkconfig::{DynamicConfig, EnsembleNames, SuperCredential};

/// The pod operations the embedded operator needs from a backend. Pods are
/// StatefulSet pods: an ordinal, a template (revision, version, settings),
/// a volume that outlives the pod's server, and a server that can run or not.
#[async_trait]
pub trait PodRuntime: Send + Sync + 'static {
    /// The ensemble's names (pods, headless Service domain).
    fn names(&self) -> &EnsembleNames;
    /// A short handle of the run, for messages (`run 1a2b3c`).
    fn run_label(&self) -> String;
    /// Ordinals of all pods that exist (running or not), sorted.
    fn ordinals(&self) -> Vec<u32>;
    /// Every existing pod's template, by ordinal.
    fn templates(&self) -> BTreeMap<u32, PodTemplate>;
    /// Whether pod `ordinal`'s server runs.
    async fn pod_running(&mut self, ordinal: u32) -> bool;
    /// Start pod `ordinal`'s server at its template (no-op when running).
    async fn start_pod(&mut self, ordinal: u32) -> Result<(), SupervisorError>;
    /// Stop pod `ordinal`'s server gracefully (its volume stays).
    async fn stop_pod(&mut self, ordinal: u32) -> Result<(), SupervisorError>;
    /// Create pod `ordinal` from `template`; a fresh volume starts from
    /// `initial` as its dynamic config.
    async fn add_pod(
        &mut self,
        ordinal: u32,
        template: &PodTemplate,
        initial: &DynamicConfig,
    ) -> Result<(), SupervisorError>;
    /// Remove pod `ordinal` (its volume too when `release_volume`).
    async fn remove_pod(&mut self, ordinal: u32, release_volume: bool) -> Result<(), SupervisorError>;
    /// Make `version` runnable here (provision a distribution, an image).
    async fn add_version(&mut self, version: &str, cfg: &DistConfig) -> Result<(), SupervisorError>;
    /// Give pod `ordinal` a new template, taking effect at its next start.
    async fn set_pod_template(&mut self, ordinal: u32, template: &PodTemplate) -> Result<(), SupervisorError>;
    /// Probe every pod.
    async fn status(&self) -> EnsembleStatus;
    /// Ordinals whose volume exists (pods or not).
    async fn volumes(&self) -> BTreeSet<u32>;
    /// Delete the volume of a pod that no longer exists.
    async fn release_volume(&mut self, ordinal: u32) -> Result<(), SupervisorError>;
    /// The client connect string of every pod.
    fn connect_string(&self) -> String;
    /// The super-user credential (for reconfig).
    fn credential(&self) -> &SuperCredential;
    /// The operator's persisted state (what an API server would hold).
    fn operator_state(&self) -> Option<serde_json::Value>;
    /// Persist the operator's state.
    fn save_operator_state(&mut self, state: serde_json::Value) -> Result<(), SupervisorError>;
    #[cfg(feature = "sabotage")]
    /// For the `scratch-data` sabotage only: lose pod `ordinal`'s
    /// snapshots and transaction log (its server stopped). Whether it did:
    /// a runtime that cannot plays the sabotage as a no-op.
    async fn wipe_data(&mut self, _ordinal: u32) -> bool {
        false
    }
}

#[async_trait]
impl PodRuntime for LocalEnsemble {
    fn names(&self) -> &EnsembleNames {
        &self.state().names
    }
    fn run_label(&self) -> String {
        self.state().run.to_string()
    }
    fn ordinals(&self) -> Vec<u32> {
        LocalEnsemble::ordinals(self)
    }
    fn templates(&self) -> BTreeMap<u32, PodTemplate> {
        self.state().pods.iter().map(|(o, p)| (*o, p.template.clone())).collect()
    }
    async fn pod_running(&mut self, ordinal: u32) -> bool {
        LocalEnsemble::pod_running(self, ordinal)
    }
    async fn start_pod(&mut self, ordinal: u32) -> Result<(), SupervisorError> {
        Ok(LocalEnsemble::start_pod(self, ordinal).await?)
    }
    async fn stop_pod(&mut self, ordinal: u32) -> Result<(), SupervisorError> {
        Ok(LocalEnsemble::stop_pod(self, ordinal).await?)
    }
    async fn add_pod(
        &mut self,
        ordinal: u32,
        template: &PodTemplate,
        initial: &DynamicConfig,
    ) -> Result<(), SupervisorError> {
        Ok(LocalEnsemble::add_pod(self, ordinal, template, initial).await?)
    }
    async fn remove_pod(&mut self, ordinal: u32, release_volume: bool) -> Result<(), SupervisorError> {
        Ok(LocalEnsemble::remove_pod(self, ordinal, release_volume).await?)
    }
    async fn add_version(&mut self, version: &str, cfg: &DistConfig) -> Result<(), SupervisorError> {
        Ok(LocalEnsemble::add_version(self, version, cfg, &NoProgress).await?)
    }
    async fn set_pod_template(&mut self, ordinal: u32, template: &PodTemplate) -> Result<(), SupervisorError> {
        Ok(LocalEnsemble::set_pod_template(self, ordinal, template)?)
    }
    async fn status(&self) -> EnsembleStatus {
        LocalEnsemble::status(self).await
    }
    async fn volumes(&self) -> BTreeSet<u32> {
        LocalEnsemble::volumes(self)
    }
    async fn release_volume(&mut self, ordinal: u32) -> Result<(), SupervisorError> {
        Ok(LocalEnsemble::release_volume(self, ordinal)?)
    }
    fn connect_string(&self) -> String {
        LocalEnsemble::connect_string(self)
    }
    fn credential(&self) -> &SuperCredential {
        LocalEnsemble::credential(self)
    }
    fn operator_state(&self) -> Option<serde_json::Value> {
        self.state().operator.clone()
    }
    #[cfg(feature = "sabotage")]
    async fn wipe_data(&mut self, ordinal: u32) -> bool {
        match self.state().pods.get(&ordinal) {
            Some(rec) => std::fs::remove_dir_all(rec.dirs.data().join("version-2")).is_ok(),
            None => false,
        }
    }
    fn save_operator_state(&mut self, state: serde_json::Value) -> Result<(), SupervisorError> {
        *self.operator_state_mut() = Some(state);
        Ok(self.save_state()?)
    }
}
