//! Everything `zk-chaos kind up` (and the live test) does, in order:
//! preflight, the cluster (created or reused), the operator image (built
//! and loaded), ZooKeeper images (loaded when local), the operator
//! (applied, rolled out). Then [`kube_cluster`] gives the steps a
//! [`KubeCluster`] on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::cluster::{Kind, KindCluster, UpOptions, UpOutcome};
use super::deploy;
use super::error::KindError;
use super::images::{self, Loaded};
use super::node::KindNodes;
use super::parse::DeploymentState;
use super::preflight::{Preflight, preflight};
use super::runner::Runner;
use crate::backend::kube::{ConnectOptions, KubeCluster, KubeError, Timeouts};
use crate::operator::k8s::manifests;

/// Where the operator image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorImage {
    /// Build it from the checkout at `source` as `tag`, then load it.
    Build {
        /// The zk-chaos checkout (holding `kind/Dockerfile`).
        source: PathBuf,
        /// The tag (the manifests' is [`images::OPERATOR_IMAGE`]).
        tag: String,
    },
    /// Use this image: loaded when local, else pulled by the nodes.
    Prebuilt(String),
    /// Do not install the operator.
    Skip,
}

/// What to stand up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// The cluster.
    pub cluster: UpOptions,
    /// The operator image.
    pub operator: OperatorImage,
    /// ZooKeeper versions whose images to load when local.
    pub zookeeper_versions: Vec<String>,
    /// Their repository (default `zookeeper`).
    pub zookeeper_repository: Option<String>,
    /// Bound on the operator's rollout.
    pub rollout_timeout: Duration,
}

/// What was stood up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupReport {
    /// Tool versions.
    pub preflight: Preflight,
    /// The cluster.
    pub cluster: KindCluster,
    /// Created or reused.
    pub outcome: UpOutcome,
    /// The operator's Deployment, when installed.
    pub operator: Option<DeploymentState>,
    /// Each image and whether it was loaded.
    pub images: Vec<(String, Loaded)>,
}

/// The checkout this binary was built from, when it is still there (the
/// default `source` of the operator image build).
pub fn default_source() -> PathBuf {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"));
    if built_from.join("kind").join("Dockerfile").is_file() { built_from.to_path_buf() } else { PathBuf::from(".") }
}

/// Write the kind config (`kind/cluster.yaml` as rendered by the code) next
/// to the kubeconfig and return its path.
pub fn write_default_config(kubeconfig: &Path, name: &str) -> Result<PathBuf, KindError> {
    let dir = kubeconfig.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(KindError::io(dir))?;
    let path = dir.join(format!("{name}.cluster.yaml"));
    std::fs::write(&path, manifests::kind_cluster()).map_err(KindError::io(&path))?;
    Ok(path)
}

/// The ZooKeeper versions whose images a run loads into the nodes.
pub const ZOOKEEPER_VERSIONS: [&str; 3] = ["3.8.0", "3.9.3", "3.9.6"];

/// What a run (`zk-chaos run --backend kind`, the live test) stands up:
/// cluster `name` from the default config (written next to its kubeconfig
/// under the work dir), reused when `reuse` and it exists, the operator
/// from `operator`, every supported ZooKeeper version's image loaded when local
/// (repository from `ZK_CHAOS_ZK_IMAGE_REPOSITORY`), 180 s for the nodes
/// and the operator's rollout.
pub fn run_setup(name: &str, reuse: bool, operator: OperatorImage) -> Result<Setup, KindError> {
    let kubeconfig = super::cluster::default_kubeconfig(name);
    let config = write_default_config(&kubeconfig, name)?;
    let mut cluster = UpOptions::new(name, &config);
    cluster.reuse = reuse;
    cluster.kubeconfig = kubeconfig;
    Ok(Setup {
        cluster,
        operator,
        zookeeper_versions: ZOOKEEPER_VERSIONS.map(String::from).to_vec(),
        zookeeper_repository: std::env::var("ZK_CHAOS_ZK_IMAGE_REPOSITORY").ok().filter(|r| !r.is_empty()),
        rollout_timeout: Duration::from_secs(180),
    })
}

/// Create `namespace` in the kind cluster unless it exists (`kubectl apply`).
pub async fn ensure_namespace(runner: &dyn Runner, cluster: &KindCluster, namespace: &str) -> Result<(), KindError> {
    let manifest = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n");
    runner.run(&super::commands::kubectl_apply(&cluster.target(), &manifest)).await?;
    Ok(())
}

/// Stand it all up, reporting each step through `progress`.
pub async fn stand_up(
    runner: &dyn Runner,
    setup: &Setup,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<SetupReport, KindError> {
    let pre = preflight(runner).await?;
    progress(&format!("docker engine {}, kind {}, kubectl {}", pre.docker_engine, pre.kind, pre.kubectl));
    let kind = Kind::new(runner);
    progress(&format!("kind cluster `{}`: creating or reusing (up to {:?})", setup.cluster.name, setup.cluster.wait));
    let (cluster, outcome) = kind.up(&setup.cluster).await?;
    progress(&format!("kind cluster `{}` {:?}; nodes ready", cluster.name, outcome));
    let mut loaded = Vec::new();
    let operator_image = match &setup.operator {
        OperatorImage::Build { source, tag } => {
            progress(&format!("building {tag} from {} (a release build; minutes when cold)", source.display()));
            images::build_operator_image(runner, source, tag).await?;
            images::load(runner, &cluster.name, tag).await?;
            loaded.push((tag.clone(), Loaded::Loaded));
            Some(tag.clone())
        }
        OperatorImage::Prebuilt(image) => {
            loaded.push((image.clone(), images::load_if_local(runner, &cluster.name, image).await?));
            Some(image.clone())
        }
        OperatorImage::Skip => None,
    };
    for v in &setup.zookeeper_versions {
        let image = images::zookeeper_image(v, setup.zookeeper_repository.as_deref());
        let l = images::load_if_local(runner, &cluster.name, &image).await?;
        progress(&format!(
            "{image}: {}",
            if l == Loaded::Loaded { "loaded into the nodes" } else { "not local; the nodes pull it" }
        ));
        loaded.push((image, l));
    }
    let operator = match operator_image {
        Some(image) => {
            progress(&format!("deploying the operator ({image})"));
            let target = cluster.target();
            let state = deploy::deploy_operator(runner, &target, &image, setup.rollout_timeout).await?;
            if outcome == UpOutcome::Reused {
                // Same tag, maybe a new image: only a new pod runs it.
                progress("restarting the operator (reused cluster)");
                deploy::restart_operator(runner, &target, setup.rollout_timeout).await?;
            }
            Some(state)
        }
        None => None,
    };
    Ok(SetupReport { preflight: pre, cluster, outcome, operator, images: loaded })
}

/// A [`KubeCluster`] for ensemble `name` in `namespace` of a kind cluster,
/// with the node shell that pause and partitions use.
pub async fn kube_cluster(
    cluster: &KindCluster,
    runner: Arc<dyn Runner>,
    namespace: &str,
    name: &str,
    timeouts: Timeouts,
) -> Result<KubeCluster, KubeError> {
    let opts = ConnectOptions {
        kubeconfig: Some(cluster.kubeconfig.clone()),
        context: Some(cluster.context()),
        namespace: Some(namespace.into()),
    };
    Ok(KubeCluster::connect(&opts, name, timeouts).await?.with_node_shell(Arc::new(KindNodes::new(runner))))
}
