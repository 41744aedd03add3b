//! The Kubernetes backend: one `ZookeeperCluster` that our operator runs in
//! a cluster (kind, or any kubeconfig), driven and observed through the
//! Kubernetes API with kube-rs. [`KubeCluster`] has an inherent async
//! method per thing a step does; [`KubeClusterBackend`] ([`adapter`]) makes
//! it the backend-neutral `crate::backend::Cluster` the scenario engine
//! drives, and [`preflight`] checks a cluster before a run.
//!
//! | what | how |
//! |---|---|
//! | pods, ordinals, revisions, readiness | list pods by the ensemble's labels ([`pods`]) |
//! | member status | exec `srvr`/`conf`/`mntr` and the admin `leader` command inside each member over `127.0.0.1`, parsed by [`crate::probe`] ([`probe`]) |
//! | kill / delete a pod | `DELETE` with `gracePeriodSeconds: 0` / with the pod's own grace |
//! | pause / resume | `SIGSTOP`/`SIGCONT` to the JVM, from the node on kind ([`pause`]) |
//! | partitions | one labelled NetworkPolicy per cut-off member; heal deletes them ([`netpol`]) |
//! | upgrade, scale, config | merge patches of the `ZookeeperCluster` spec ([`spec`]) |
//! | kill the operator | delete its pod (grace 0) |
//! | client traffic | a local port per member, port-forwarded to its client port ([`forward`]) |
//!
//! Every API call is bounded ([`Timeouts::api`]) and its failure classified
//! ([`KubeError`]): a 403 names the missing verb and resource, a refused
//! connection says the API server is unreachable.

pub mod adapter;
pub mod error;
pub mod events;
pub mod exec;
pub mod forward;
pub mod netpol;
pub mod node;
pub mod pause;
pub mod pods;
pub mod preflight;
pub mod probe;
pub mod spec;
pub mod wait;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

pub use adapter::KubeClusterBackend;
pub use error::{Call, KubeError};
pub use exec::{ApiExec, ExecOutput, PodExec};
pub use forward::ClientForwards;
pub use node::NodeShell;
pub use pods::PodInfo;

use crate::operator::crd::{ZookeeperCluster, ZookeeperClusterSpec};
use crate::operator::k8s::build;
use crate::zkconfig::EnsembleNames;

/// Bounds on what the backend waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// One API call.
    pub api: Duration,
    /// One exec (a probe, a signal).
    pub exec: Duration,
    /// Between two looks while waiting.
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { api: Duration::from_secs(15), exec: Duration::from_secs(15), poll: Duration::from_secs(2) }
    }
}

/// Why fault `fault` (a `crate::faults::Fault::name`) cannot be done on
/// this backend, or `None` when it can.
pub fn unsupported_reason(fault: &str) -> Option<&'static str> {
    Some(match fault {
        "one-way" => "NetworkPolicy is stateful and per connection: it cannot drop only what one side sends",
        "netem" => {
            "delay, loss, duplication and reordering need tc inside the pod's network namespace, which the \
             Kubernetes API does not offer"
        }
        "stop" => {
            "a StatefulSet re-creates a deleted pod at once, so a member cannot stay stopped until heal; delete the \
             pod gracefully instead"
        }
        "clients" => {
            "the harness reaches members through port-forwards that enter the pod's own network namespace, which \
             NetworkPolicy does not filter"
        }
        "disk" => {
            "the data dir is a PersistentVolume on the node's disk: filling it would fill the node; a size-limited \
             volume for chaos is not provisioned"
        }
        _ => return None,
    })
}

/// Which cluster and ensemble to drive (`--backend kube --context X --namespace Y`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Kubeconfig file (default: `$KUBECONFIG`, else `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// Context (default: the kubeconfig's current one).
    pub context: Option<String>,
    /// Namespace (default: the context's, else `default`).
    pub namespace: Option<String>,
}

/// One `ZookeeperCluster` in a cluster, as the steps drive it.
pub struct KubeCluster {
    client: Client,
    server: String,
    names: EnsembleNames,
    timeouts: Timeouts,
    exec: Arc<dyn PodExec>,
    nodes: Option<Arc<dyn NodeShell>>,
}

impl KubeCluster {
    /// The ensemble `name` in `namespace`, through `client` (whose API
    /// server is `server`, for messages). Exec goes through the API server.
    pub fn new(client: Client, server: impl Into<String>, namespace: &str, name: &str) -> Self {
        let server = server.into();
        let exec = Arc::new(ApiExec::new(client.clone(), server.clone()));
        Self {
            client,
            server,
            names: EnsembleNames::new(name, namespace),
            timeouts: Timeouts::default(),
            exec,
            nodes: None,
        }
    }

    /// Connect with a kubeconfig (any cluster; no kind needed) and check,
    /// within `timeouts.api`, that the API server answers.
    pub async fn connect(opts: &ConnectOptions, name: &str, timeouts: Timeouts) -> Result<Self, KubeError> {
        let kubeconfig = match &opts.kubeconfig {
            Some(p) => Kubeconfig::read_from(p).map_err(|e| KubeError::Config(format!("{}: {e}", p.display())))?,
            None => Kubeconfig::read().map_err(|e| {
                KubeError::Config(format!("{e}; set KUBECONFIG or pass --kubeconfig (for kind: `zk-chaos kind up`)"))
            })?,
        };
        let options = KubeConfigOptions { context: opts.context.clone(), ..KubeConfigOptions::default() };
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| KubeError::Config(e.to_string()))?;
        config.connect_timeout = Some(timeouts.api.min(Duration::from_secs(10)));
        let namespace = opts.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|e| KubeError::Config(e.to_string()))?;
        let cluster = Self::new(client, server, &namespace, name).with_timeouts(timeouts);
        cluster.server_version().await?;
        Ok(cluster)
    }

    /// The same, with other bounds.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The same, running commands in pods through `exec`.
    pub fn with_exec(mut self, exec: Arc<dyn PodExec>) -> Self {
        self.exec = exec;
        self
    }

    /// The same, with a shell on the nodes (kind: `docker exec`), which
    /// enables pause/resume and makes partitions cut established
    /// connections.
    pub fn with_node_shell(mut self, nodes: Arc<dyn NodeShell>) -> Self {
        self.nodes = Some(nodes);
        self
    }

    /// The ensemble's name.
    pub fn name(&self) -> &str {
        &self.names.name
    }

    /// Its namespace.
    pub fn namespace(&self) -> &str {
        &self.names.namespace
    }

    /// Names of its pods and services.
    pub fn names(&self) -> &EnsembleNames {
        &self.names
    }

    /// The bounds in force.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether a node shell is at hand (kind): pause signals from the node
    /// and partitions drop established connections.
    pub fn has_node_shell(&self) -> bool {
        self.nodes.is_some()
    }

    /// The API server's version (`v1.33.1`), bounded.
    pub async fn server_version(&self) -> Result<String, KubeError> {
        let call = Call { verb: "get", resource: "/version", name: None, namespace: None };
        let info = self.api(call, self.client.apiserver_version()).await?;
        Ok(info.git_version)
    }

    /// Whether fault `fault` (the names of `crate::faults::Fault::name`) can
    /// be done here; `Unsupported` with the reason when it cannot. A step
    /// asks first and reports the refusal, never skipping silently.
    pub fn check_supported(&self, fault: &'static str) -> Result<(), KubeError> {
        match unsupported_reason(fault) {
            Some(reason) => Err(KubeError::Unsupported { fault, reason: reason.into() }),
            None => Ok(()),
        }
    }

    /// The label selector of the ensemble's pods.
    pub fn selector(&self) -> String {
        build::selector(&ZookeeperCluster::new(&self.names.name, ZookeeperClusterSpec::new(1, "")))
    }

    /// Run one API call bounded by [`Timeouts::api`], classifying failures.
    async fn api<T>(&self, call: Call, fut: impl Future<Output = Result<T, kube::Error>>) -> Result<T, KubeError> {
        match tokio::time::timeout(self.timeouts.api, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(KubeError::from_kube(call, &self.server, e)),
            Err(_) => Err(KubeError::Timeout { server: self.server.clone(), call, timeout: self.timeouts.api }),
        }
    }
}
