//! The backends side by side, and the one interface over them: what the
//! steps, plans and faults ask of a ZooKeeper cluster that our operator
//! manages. The local backend ([`local::cluster::LocalCluster`]) runs real
//! servers in network namespaces and the docker backend
//! ([`docker::cluster::DockerCluster`]) runs them as containers, both with
//! the embedded operator ([`operated`]); the Kubernetes backend
//! ([`kube::KubeClusterBackend`]) implements the same trait over the API
//! server, on a cluster [`kind`] can stand up. [`config::create`] picks one
//! per [`BackendConfig`].

pub mod config;
pub mod docker;
pub mod kind;
pub mod kube;
pub mod local;
pub mod operated;

pub use config::{BackendConfig, DockerBackend, KubeAccess, KubeBackend, create};

use std::path::PathBuf;
use std::time::Instant;

use async_trait::async_trait;

use crate::backend::kube::KubeError;
use crate::backend::local::EnsembleError;
use crate::faults::{FaultError, FaultTarget};
use crate::operator::crd::ZookeeperClusterSpec;
use crate::operator::status::ZookeeperClusterStatus;
use crate::operator::supervisor::SupervisorError;

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The embedded operator failed.
    #[error(transparent)]
    Supervisor(#[from] SupervisorError),
    /// The local ensemble failed.
    #[error(transparent)]
    Ensemble(#[from] EnsembleError),
    /// A fault primitive failed.
    #[error(transparent)]
    Fault(#[from] FaultError),
    /// The Kubernetes backend failed.
    #[error(transparent)]
    Kube(Box<KubeError>),
    /// The backend cannot do this.
    #[error("unsupported on the {backend} backend: {what}")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// What was asked.
        what: String,
    },
    /// A probe or client call failed.
    #[error("{0}")]
    Io(String),
}

impl From<KubeError> for ClusterError {
    fn from(e: KubeError) -> Self {
        Self::Kube(Box::new(e))
    }
}

/// Something the operator did (or failed to do), for the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorEvent {
    /// When.
    pub at: Instant,
    /// What, e.g. `delete pod 2 (upgrade to rev-ab12)`.
    pub text: String,
}

/// What the backend knows of one pod.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PodInfo {
    /// Its ordinal.
    pub ordinal: u32,
    /// The revision of the template it was created from.
    pub revision: String,
    /// The ZooKeeper version of that template.
    pub version: String,
    /// Whether its server process (container) is running.
    pub running: bool,
}

/// The operator's side of a cluster: the resource (desired spec and
/// published status), pod deletion as a user does it, and the operator's
/// own life. The backends driven by the embedded operator share one
/// implementation ([`operated::EmbeddedOperator`]).
#[async_trait]
pub trait OperatorControl: Send + Sync {
    /// The desired spec (the resource's).
    async fn spec(&self) -> ZookeeperClusterSpec;
    /// Replace the desired spec, as `kubectl apply` would.
    async fn apply(&self, spec: ZookeeperClusterSpec) -> Result<(), ClusterError>;
    /// The status the operator last published.
    async fn resource_status(&self) -> Option<ZookeeperClusterStatus>;
    /// Delete a pod gracefully (`kubectl delete pod`); the StatefulSet
    /// recreates it at the revision its ordinal gets.
    async fn delete_pod(&self, ordinal: u32) -> Result<(), ClusterError>;
    /// Kill the operator abruptly (mid-action if it is acting).
    async fn kill_operator(&self) -> Result<(), ClusterError>;
    /// Start the operator again (what its Deployment does after a kill).
    async fn start_operator(&self) -> Result<(), ClusterError>;
    /// Whether the operator is running.
    fn operator_running(&self) -> bool;
    /// What the operator did so far.
    fn operator_events(&self) -> Vec<OperatorEvent>;
}

/// A ZooKeeper cluster managed by our operator, on some backend.
#[async_trait]
pub trait Cluster: FaultTarget + OperatorControl {
    /// The cluster's name (the `ZookeeperCluster`'s).
    fn name(&self) -> &str;
    /// The backend's name: `local`, `kind` or `kube`.
    fn backend(&self) -> &'static str;
    /// The client connect string of every member.
    async fn connect_string(&self) -> String;
    /// The client connect string of one member.
    async fn member_connect_string(&self, ordinal: u32) -> Result<String, ClusterError>;
    /// Send a four-letter word to one member and return its answer.
    async fn four_letter(&self, ordinal: u32, word: &str) -> Result<String, ClusterError>;
    /// The pods and the templates they run.
    async fn pods(&self) -> Vec<PodInfo>;
    /// Server log files per pod name, for the report.
    fn log_files(&self) -> Vec<(String, PathBuf)>;
    /// Stop the operator and remove the cluster and everything it created.
    async fn teardown(&self) -> Result<(), ClusterError>;
    /// While a new ensemble should be forming: an error saying why it
    /// cannot (a server exited at start, members cannot reach each other),
    /// so the caller fails within seconds instead of at its deadline. Call
    /// it every second or so; backends that cannot tell return `Ok`.
    async fn startup_check(&self) -> Result<(), ClusterError> {
        Ok(())
    }
    /// After [`Cluster::teardown`]: whatever the cluster created that is
    /// still there (processes, namespaces, links, objects). Backends that
    /// cannot tell return nothing.
    fn leftovers(&self) -> Vec<String> {
        Vec::new()
    }
}
