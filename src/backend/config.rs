//! Which backend a run's scenarios stand their ensembles up on, and the one
//! factory the scenario engine calls: [`create`] turns a `ZookeeperCluster`
//! into a running [`Cluster`] on that backend.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::local::cluster::LocalCluster;
use super::{Cluster, ClusterError};
use crate::backend::kube::adapter::{RESTART_TIMEOUT, Registry};
use crate::backend::kube::{ConnectOptions, KubeCluster, KubeClusterBackend, KubeError, NodeShell, PodExec, Timeouts};
use crate::backend::local::EnsembleSpec;
use crate::operator::crd::ZookeeperCluster;
use crate::operator::supervisor::LocalOptions;

/// How long a new ensemble on Kubernetes may take to be Ready (pods
/// scheduled, images pulled, quorum).
pub const KUBE_READY_TIMEOUT: Duration = Duration::from_secs(300);

/// Where scenarios run.
#[derive(Debug, Clone, Default)]
pub enum BackendConfig {
    /// Real servers in network namespaces on this machine, managed by the
    /// embedded operator, from the run's base [`EnsembleSpec`].
    #[default]
    Local,
    /// A Kubernetes cluster our operator runs in (kind, or any kubeconfig).
    Kube(Box<KubeBackend>),
    /// Containers on the local Docker engine, managed by the embedded
    /// operator (needs the `docker` cargo feature).
    Docker(DockerBackend),
}

/// The docker backend's settings (see [`crate::backend::docker`]).
#[derive(Debug, Clone, Default)]
pub struct DockerBackend {
    /// An image for every member (`--image`); `None` uses
    /// `zk-chaos/zookeeper:<version>`, built when missing.
    pub image: Option<String>,
}

impl BackendConfig {
    /// Its name: `local`, `kind` or `kube`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Kube(k) => k.label,
            Self::Docker(_) => "docker",
        }
    }
}

/// How to reach the cluster.
#[derive(Clone)]
pub enum KubeAccess {
    /// Through a kubeconfig (a new client per ensemble).
    Kubeconfig(ConnectOptions),
    /// Through this client (tests: an in-memory API server).
    Client {
        /// The client.
        client: kube::Client,
        /// Its API server, for messages.
        server: String,
        /// The namespace of the ensembles.
        namespace: String,
    },
}

/// The Kubernetes backend's settings.
#[derive(Clone)]
pub struct KubeBackend {
    /// `kind` or `kube`.
    pub label: &'static str,
    /// How to reach the cluster.
    pub access: KubeAccess,
    /// A shell on the nodes (kind), for pause and for cutting established
    /// connections.
    pub nodes: Option<Arc<dyn NodeShell>>,
    /// How commands run in pods (default: `pods/exec` through the API server).
    pub exec: Option<Arc<dyn PodExec>>,
    /// Bounds on API calls, execs and polling.
    pub timeouts: Timeouts,
    /// How long a new ensemble may take to be Ready.
    pub ready_timeout: Duration,
    /// How long a killed member or operator may take to run again.
    pub restart_timeout: Duration,
    /// The ensembles created and not torn down yet.
    pub live: Registry,
}

impl fmt::Debug for KubeBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = match &self.access {
            KubeAccess::Kubeconfig(o) => format!("{o:?}"),
            KubeAccess::Client { server, namespace, .. } => format!("client of {server}, namespace {namespace}"),
        };
        f.debug_struct("KubeBackend")
            .field("label", &self.label)
            .field("access", &access)
            .field("node_shell", &self.nodes.is_some())
            .field("timeouts", &self.timeouts)
            .field("ready_timeout", &self.ready_timeout)
            .finish()
    }
}

impl KubeBackend {
    /// The backend `label` reached through `access`, with default bounds.
    pub fn new(label: &'static str, access: KubeAccess) -> Self {
        Self {
            label,
            access,
            nodes: None,
            exec: None,
            timeouts: Timeouts::default(),
            ready_timeout: KUBE_READY_TIMEOUT,
            restart_timeout: RESTART_TIMEOUT,
            live: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// A [`KubeCluster`] for the ensemble `name` (checking, for a
    /// kubeconfig, that the API server answers).
    pub async fn connect(&self, name: &str) -> Result<KubeCluster, KubeError> {
        let kube = match &self.access {
            KubeAccess::Kubeconfig(opts) => KubeCluster::connect(opts, name, self.timeouts).await?,
            KubeAccess::Client { client, server, namespace } => {
                KubeCluster::new(client.clone(), server.clone(), namespace, name).with_timeouts(self.timeouts)
            }
        };
        let kube = match &self.nodes {
            Some(n) => kube.with_node_shell(n.clone()),
            None => kube,
        };
        Ok(match &self.exec {
            Some(e) => kube.with_exec(e.clone()),
            None => kube,
        })
    }

    /// Remove what an interrupted run left: every ensemble created and not
    /// torn down (its partitions healed, its `ZookeeperCluster` deleted;
    /// the pods go by garbage collection). Returns what could not be removed.
    pub async fn remove_leftovers(&self) -> Vec<String> {
        let names: Vec<String> = self.live.lock().expect("not poisoned").iter().cloned().collect();
        let mut failed = Vec::new();
        for name in names {
            let removed = async {
                let kube = self.connect(&name).await?;
                kube.heal().await?;
                kube.delete_cluster().await
            }
            .await;
            match removed {
                Ok(()) => {
                    self.live.lock().expect("not poisoned").remove(&name);
                }
                Err(e) => failed.push(format!("{name}: {e}")),
            }
        }
        failed
    }
}

/// Stand `resource` up on `backend` and return it once it runs: on the
/// local backend from `base` (the embedded operator creates the pods; the
/// caller waits for readiness), on Kubernetes in the backend's namespace
/// (the operator in the cluster creates the pods; this waits until the
/// resource is Ready, and deletes it again when it does not become Ready).
pub async fn create(
    backend: &BackendConfig,
    base: &EnsembleSpec,
    resource: ZookeeperCluster,
) -> Result<Arc<dyn Cluster>, ClusterError> {
    match backend {
        BackendConfig::Local => {
            let opts = LocalOptions { base: base.clone() };
            Ok(Arc::new(LocalCluster::create(resource, &opts, &crate::dist::NoProgress).await?))
        }
        #[cfg(feature = "docker")]
        BackendConfig::Docker(d) => {
            let settings = crate::backend::docker::DockerSettings {
                image: d.image.clone(),
                work_dir: base.work_dir.clone(),
                dist: base.dist.clone(),
                data_disk_mb: base.data_disk_mb,
            };
            Ok(Arc::new(
                crate::backend::docker::DockerCluster::create(resource, &settings, &crate::dist::NoProgress).await?,
            ))
        }
        #[cfg(not(feature = "docker"))]
        BackendConfig::Docker(_) => Err(ClusterError::Unsupported {
            backend: "docker",
            what: "this zk-chaos was built without the `docker` cargo feature; rebuild with `--features docker`".into(),
        }),
        BackendConfig::Kube(k) => {
            let name = resource.metadata.name.clone().unwrap_or_default();
            let kube = k.connect(&name).await?;
            let c = KubeClusterBackend::create(kube, resource.spec, k.label)
                .await?
                .with_restart_timeout(k.restart_timeout)
                .with_registry(k.live.clone());
            if let Err(e) = c.kube().wait_ready(k.ready_timeout).await {
                if let Err(t) = c.teardown().await {
                    tracing::warn!(error = %t, "could not remove the ensemble that did not become Ready");
                }
                return Err(e.into());
            }
            Ok(Arc::new(c))
        }
    }
}
