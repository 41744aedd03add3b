//! A kind cluster's lifecycle: create (or reuse), wait until every node is
//! ready, export its kubeconfig to a file of ours, list, delete, and the
//! status `zk-chaos kind status` prints.
//!
//! The cluster's kubeconfig goes to its own file (by default
//! `<work dir>/kind/<name>.kubeconfig`), never into `~/.kube/config`:
//! `export KUBECONFIG=<that file>` to use kubectl on it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::commands::{self, CreateCluster, KubeTarget, Scope};
use super::error::KindError;
use super::parse::{self, ClusterState, DeploymentState, NodeState};
use super::runner::{CmdError, Runner};
use crate::operator::k8s::OPERATOR_NAMESPACE;
use crate::operator::k8s::manifests::OPERATOR_NAME;

/// The default cluster name (also the `name` in `kind/cluster.yaml`).
pub const DEFAULT_NAME: &str = "zk-chaos";

/// Where the kubeconfig of cluster `name` goes by default.
pub fn default_kubeconfig(name: &str) -> PathBuf {
    crate::backend::local::state::default_work_dir().join("kind").join(format!("{name}.kubeconfig"))
}

/// A kind cluster the harness can talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCluster {
    /// Its name.
    pub name: String,
    /// The kubeconfig file holding its context.
    pub kubeconfig: PathBuf,
}

impl KindCluster {
    /// How kubectl reaches it.
    pub fn target(&self) -> KubeTarget {
        KubeTarget::kind(&self.name, &self.kubeconfig)
    }

    /// Its kubeconfig context (`kind-<name>`).
    pub fn context(&self) -> String {
        commands::kind_context(&self.name)
    }
}

/// What `up` is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpOptions {
    /// Cluster name.
    pub name: String,
    /// The kind config (one control plane, three workers).
    pub config: PathBuf,
    /// Node image (default: kind's own).
    pub node_image: Option<String>,
    /// Use an existing cluster of that name instead of failing.
    pub reuse: bool,
    /// Bound on kind's own control-plane wait, and then on all nodes Ready.
    pub wait: Duration,
    /// Where the kubeconfig goes.
    pub kubeconfig: PathBuf,
}

impl UpOptions {
    /// Defaults for cluster `name` with `config`: no reuse, 180 s waits,
    /// the default kubeconfig path.
    pub fn new(name: &str, config: &Path) -> Self {
        Self {
            name: name.into(),
            config: config.into(),
            node_image: None,
            reuse: false,
            wait: Duration::from_secs(180),
            kubeconfig: default_kubeconfig(name),
        }
    }
}

/// Whether `up` made the cluster or found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpOutcome {
    /// Created now.
    Created,
    /// It existed and `reuse` was set.
    Reused,
}

/// What `zk-chaos kind status` shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KindStatus {
    /// Cluster name.
    pub name: String,
    /// Its kubeconfig file.
    pub kubeconfig: PathBuf,
    /// The API server's version.
    pub server_version: Option<String>,
    /// Every node.
    pub nodes: Vec<NodeState>,
    /// The operator's Deployment, when installed.
    pub operator: Option<DeploymentState>,
    /// Every `ZookeeperCluster` (empty when the CRD is not installed).
    pub zookeeper_clusters: Vec<ClusterState>,
}

impl KindStatus {
    /// Every node ready and, when installed, the operator rolled out.
    pub fn healthy(&self) -> bool {
        !self.nodes.is_empty()
            && self.nodes.iter().all(|n| n.ready)
            && self.operator.as_ref().is_none_or(DeploymentState::rolled_out)
    }
}

/// kind through a [`Runner`].
pub struct Kind<'r> {
    runner: &'r dyn Runner,
}

impl<'r> Kind<'r> {
    /// Drive kind through `runner`.
    pub fn new(runner: &'r dyn Runner) -> Self {
        Self { runner }
    }

    /// Names of the kind clusters on this machine.
    pub async fn clusters(&self) -> Result<Vec<String>, KindError> {
        let out = self.runner.run(&commands::kind_get_clusters()).await?;
        Ok(parse::kind_clusters(&out.stdout))
    }

    /// Whether cluster `name` exists.
    pub async fn exists(&self, name: &str) -> Result<bool, KindError> {
        Ok(self.clusters().await?.iter().any(|c| c == name))
    }

    /// Create cluster `opts.name`, or, with `opts.reuse`, use it when it
    /// exists; then export its kubeconfig and wait until every node is
    /// ready (bounded by `opts.wait`).
    pub async fn up(&self, opts: &UpOptions) -> Result<(KindCluster, UpOutcome), KindError> {
        let cluster = KindCluster { name: opts.name.clone(), kubeconfig: opts.kubeconfig.clone() };
        let outcome = if self.exists(&opts.name).await? {
            if !opts.reuse {
                return Err(KindError::ClusterExists { name: opts.name.clone() });
            }
            self.export_kubeconfig(&opts.name, &opts.kubeconfig).await?;
            UpOutcome::Reused
        } else {
            if let Some(dir) = opts.kubeconfig.parent() {
                std::fs::create_dir_all(dir).map_err(KindError::io(dir))?;
            }
            let create = commands::kind_create(&CreateCluster {
                name: opts.name.clone(),
                config: opts.config.clone(),
                node_image: opts.node_image.clone(),
                wait: opts.wait,
                kubeconfig: opts.kubeconfig.clone(),
            });
            match self.runner.run(&create).await {
                Ok(_) => {}
                Err(CmdError::Failed { stderr, .. }) if parse::kind_cluster_exists_error(&stderr) => {
                    // Created by someone else between our look and our create.
                    if !opts.reuse {
                        return Err(KindError::ClusterExists { name: opts.name.clone() });
                    }
                    self.export_kubeconfig(&opts.name, &opts.kubeconfig).await?;
                    return self.ready(cluster, UpOutcome::Reused, opts.wait).await;
                }
                Err(e) => return Err(e.into()),
            }
            UpOutcome::Created
        };
        self.ready(cluster, outcome, opts.wait).await
    }

    async fn ready(
        &self,
        cluster: KindCluster,
        outcome: UpOutcome,
        wait: Duration,
    ) -> Result<(KindCluster, UpOutcome), KindError> {
        self.wait_nodes_ready(&cluster, wait).await?;
        Ok((cluster, outcome))
    }

    /// Write cluster `name`'s kubeconfig to `path`.
    pub async fn export_kubeconfig(&self, name: &str, path: &Path) -> Result<(), KindError> {
        let out = self.runner.run(&commands::kind_get_kubeconfig(name)).await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(KindError::io(dir))?;
        }
        write_private(path, &out.stdout)
    }

    /// Every node of `cluster`.
    pub async fn nodes(&self, cluster: &KindCluster) -> Result<Vec<NodeState>, KindError> {
        let out = self.runner.run(&commands::kubectl_get_json(&cluster.target(), Scope::Cluster, &["nodes"])).await?;
        Ok(parse::nodes(&out.stdout)?)
    }

    /// Wait (at most `wait`) until every node of `cluster` is Ready; when
    /// they are not, the error names each node that is not and why.
    pub async fn wait_nodes_ready(&self, cluster: &KindCluster, wait: Duration) -> Result<Vec<NodeState>, KindError> {
        let cmd = commands::kubectl_wait(&cluster.target(), None, "Ready", &["nodes", "--all"], wait);
        match self.runner.run(&cmd).await {
            Ok(_) => self.nodes(cluster).await,
            Err(e) => {
                let detail = match self.nodes(cluster).await {
                    Ok(nodes) => {
                        let bad: Vec<String> = nodes
                            .iter()
                            .filter(|n| !n.ready)
                            .map(|n| format!("{} ({})", n.name, n.reason.as_deref().unwrap_or("no Ready condition")))
                            .collect();
                        format!(
                            "not ready: {}; see `docker logs {}-control-plane` and `kubectl --kubeconfig {} get nodes`",
                            if bad.is_empty() { e.to_string() } else { bad.join(", ") },
                            cluster.name,
                            cluster.kubeconfig.display()
                        )
                    }
                    Err(_) => e.to_string(),
                };
                Err(KindError::NotReady {
                    what: format!("nodes of kind cluster `{}`", cluster.name),
                    waited: wait,
                    detail,
                })
            }
        }
    }

    /// Delete cluster `name` (and the kubeconfig file, when given). Returns
    /// whether it existed.
    pub async fn down(&self, name: &str, kubeconfig: Option<&Path>) -> Result<bool, KindError> {
        let existed = self.exists(name).await?;
        if existed {
            self.runner.run(&commands::kind_delete(name, kubeconfig)).await?;
        }
        if let Some(path) = kubeconfig {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(KindError::Io { path: path.into(), source: e }),
            }
        }
        Ok(existed)
    }

    /// The status of cluster `name` (exporting its kubeconfig to `kubeconfig` first).
    pub async fn status(&self, name: &str, kubeconfig: &Path) -> Result<KindStatus, KindError> {
        if !self.exists(name).await? {
            return Err(KindError::NoSuchCluster { name: name.into() });
        }
        self.export_kubeconfig(name, kubeconfig).await?;
        let cluster = KindCluster { name: name.into(), kubeconfig: kubeconfig.into() };
        let t = cluster.target();
        let server_version = match self.runner.run(&commands::kubectl_version(&t)).await {
            Ok(o) => parse::kubectl_version(&o.stdout)?.server,
            Err(CmdError::Failed { stdout, .. }) => parse::kubectl_version(&stdout).ok().and_then(|v| v.server),
            Err(e) => return Err(e.into()),
        };
        let nodes = self.nodes(&cluster).await?;
        let operator = match self
            .runner
            .run(&commands::kubectl_get_json(&t, Scope::Namespace(OPERATOR_NAMESPACE), &["deployment", OPERATOR_NAME]))
            .await
        {
            Ok(o) => Some(parse::deployment(&o.stdout)?),
            Err(CmdError::Failed { stderr, .. }) if not_found(&stderr) => None,
            Err(e) => return Err(e.into()),
        };
        let zookeeper_clusters = match self
            .runner
            .run(&commands::kubectl_get_json(&t, Scope::All, &["zookeeperclusters.zk-chaos.io"]))
            .await
        {
            Ok(o) => parse::zookeeper_clusters(&o.stdout)?,
            Err(CmdError::Failed { stderr, .. }) if not_found(&stderr) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(KindStatus {
            name: name.into(),
            kubeconfig: kubeconfig.into(),
            server_version,
            nodes,
            operator,
            zookeeper_clusters,
        })
    }
}

/// kubectl's "it is not there" (an object, or a resource type without its CRD).
fn not_found(stderr: &str) -> bool {
    stderr.contains("NotFound")
        || stderr.contains("not found")
        || stderr.contains("the server doesn't have a resource type")
}

/// Write `text` to `path`, readable by its owner only (it holds credentials).
fn write_private(path: &Path, text: &str) -> Result<(), KindError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(KindError::io(&tmp))?;
    f.write_all(text.as_bytes()).map_err(KindError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(KindError::io(path))
}
