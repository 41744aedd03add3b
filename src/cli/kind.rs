//! `zk-chaos kind up|down|status`: a kind cluster with the operator, for
//! people who want it without running features.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use zk_chaos::backend::kind::cluster::default_kubeconfig;
use zk_chaos::backend::kind::images::OPERATOR_IMAGE;
use zk_chaos::backend::kind::setup::{self, OperatorImage, Setup};
use zk_chaos::backend::kind::{DEFAULT_NAME, Kind, KindStatus, SystemRunner, UpOptions};

#[derive(Debug, Args)]
pub struct KindArgs {
    #[command(subcommand)]
    command: KindCommand,
}

#[derive(Debug, Subcommand)]
enum KindCommand {
    /// Create (or reuse) a kind cluster and install the operator into it.
    #[command(after_help = "\
Examples:
  zk-chaos kind up                                   # cluster zk-chaos, operator built from this checkout
  zk-chaos kind up --reuse                           # use the cluster if it exists
  zk-chaos kind up --name ci --zk-version 3.9.3 --zk-version 3.9.6
  zk-chaos kind up --operator-image registry.example/zk-operator:1.0
  export KUBECONFIG=$(zk-chaos kind status --kubeconfig-path)")]
    Up(UpArgs),
    /// Delete a kind cluster and its kubeconfig file.
    #[command(after_help = "\
Examples:
  zk-chaos kind down
  zk-chaos kind down --name ci")]
    Down(NameArgs),
    /// Show a kind cluster: nodes, operator, ZookeeperClusters.
    #[command(after_help = "\
Examples:
  zk-chaos kind status
  zk-chaos kind status --name ci --json
Exit status: 0 healthy, 2 not healthy, 1 no such cluster or an error.")]
    Status(StatusArgs),
}

#[derive(Debug, Args)]
struct NameArgs {
    /// The kind cluster.
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
    /// Its kubeconfig file [default: <work dir>/kind/<name>.kubeconfig].
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

impl NameArgs {
    fn kubeconfig(&self) -> PathBuf {
        self.kubeconfig.clone().unwrap_or_else(|| default_kubeconfig(&self.name))
    }
}

#[derive(Debug, Args)]
struct UpArgs {
    #[command(flatten)]
    cluster: NameArgs,
    /// Use the cluster when it exists already (else that is an error).
    #[arg(long)]
    reuse: bool,
    /// kind config [default: kind/cluster.yaml as the code renders it: one control plane, three workers].
    #[arg(long)]
    config: Option<PathBuf>,
    /// kind node image (e.g. kindest/node:v1.33.1) [default: kind's own].
    #[arg(long)]
    node_image: Option<String>,
    /// Seconds to wait for the nodes, and for the operator's rollout.
    #[arg(long, default_value_t = 180)]
    wait_secs: u64,
    /// Use this operator image instead of building one (loaded when local).
    #[arg(long, conflicts_with = "no_operator")]
    operator_image: Option<String>,
    /// The zk-chaos checkout the operator image is built from.
    #[arg(long)]
    source: Option<PathBuf>,
    /// Only the cluster: no operator.
    #[arg(long)]
    no_operator: bool,
    /// ZooKeeper versions whose images to load into the nodes when present locally.
    #[arg(long = "zk-version", default_values_t = ["3.8.0".to_string(), "3.9.3".to_string(), "3.9.6".to_string()])]
    zk_versions: Vec<String>,
    /// Repository of the ZooKeeper images [default: zookeeper, the official images].
    #[arg(long, env = "ZK_CHAOS_ZK_IMAGE_REPOSITORY")]
    zk_image_repository: Option<String>,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    cluster: NameArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Print only the kubeconfig file's path.
    #[arg(long, conflicts_with = "json")]
    kubeconfig_path: bool,
}

pub async fn kind(args: KindArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        KindCommand::Up(a) => up(a).await,
        KindCommand::Down(a) => down(a).await,
        KindCommand::Status(a) => status(a).await,
    }
}

async fn up(a: UpArgs) -> anyhow::Result<ExitCode> {
    let kubeconfig = a.cluster.kubeconfig();
    let config = match &a.config {
        Some(c) => c.clone(),
        None => setup::write_default_config(&kubeconfig, &a.cluster.name)?,
    };
    let wait = Duration::from_secs(a.wait_secs);
    let operator = match (a.no_operator, &a.operator_image) {
        (true, _) => OperatorImage::Skip,
        (false, Some(image)) => OperatorImage::Prebuilt(image.clone()),
        (false, None) => OperatorImage::Build {
            source: a.source.clone().unwrap_or_else(setup::default_source),
            tag: OPERATOR_IMAGE.into(),
        },
    };
    let mut cluster = UpOptions::new(&a.cluster.name, &config);
    cluster.node_image = a.node_image.clone();
    cluster.reuse = a.reuse;
    cluster.wait = wait;
    cluster.kubeconfig = kubeconfig;
    let setup = Setup {
        cluster,
        operator,
        zookeeper_versions: a.zk_versions.clone(),
        zookeeper_repository: a.zk_image_repository.clone(),
        rollout_timeout: wait,
    };
    let report = setup::stand_up(&SystemRunner, &setup, &|step| eprintln!("zk-chaos: {step}")).await?;
    println!("kind cluster `{}` is up ({:?}).", report.cluster.name, report.outcome);
    println!("  export KUBECONFIG={}", report.cluster.kubeconfig.display());
    if report.operator.is_some() {
        println!("  kubectl apply -f examples/cluster.yaml     # a ZookeeperCluster for the operator");
    }
    println!("  zk-chaos kind status --name {}", report.cluster.name);
    Ok(ExitCode::SUCCESS)
}

async fn down(a: NameArgs) -> anyhow::Result<ExitCode> {
    let kubeconfig = a.kubeconfig();
    let existed = Kind::new(&SystemRunner).down(&a.name, Some(&kubeconfig)).await?;
    if existed {
        println!("kind cluster `{}` deleted", a.name);
    } else {
        println!("no kind cluster named `{}`; nothing to delete", a.name);
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let kubeconfig = a.cluster.kubeconfig();
    if a.kubeconfig_path {
        println!("{}", kubeconfig.display());
        return Ok(ExitCode::SUCCESS);
    }
    let st = Kind::new(&SystemRunner).status(&a.cluster.name, &kubeconfig).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&st).context("status as JSON")?);
    } else {
        print_status(&st);
    }
    Ok(if st.healthy() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

fn print_status(st: &KindStatus) {
    println!(
        "kind cluster `{}` (server {}, kubeconfig {}): {}",
        st.name,
        st.server_version.as_deref().unwrap_or("?"),
        st.kubeconfig.display(),
        if st.healthy() { "healthy" } else { "NOT HEALTHY" }
    );
    println!("  {:<28} {:<14} {:<6} {:<10} WHY", "NODE", "ROLE", "READY", "KUBELET");
    for n in &st.nodes {
        println!(
            "  {:<28} {:<14} {:<6} {:<10} {}",
            n.name,
            n.role,
            if n.ready { "yes" } else { "no" },
            n.kubelet,
            n.reason.as_deref().unwrap_or("")
        );
    }
    match &st.operator {
        Some(d) => println!("  operator: {}/{} ready, {} updated", d.ready, d.replicas, d.updated),
        None => println!("  operator: not installed (`zk-chaos kind up --reuse` installs it)"),
    }
    if st.zookeeper_clusters.is_empty() {
        println!("  no ZookeeperClusters");
    } else {
        println!("  {:<16} {:<16} {:<12} {:<7} VERSION", "NAMESPACE", "NAME", "PHASE", "READY");
        for z in &st.zookeeper_clusters {
            println!(
                "  {:<16} {:<16} {:<12} {:<7} {}",
                z.namespace,
                z.name,
                z.phase,
                format!("{}/{}", z.ready, z.replicas),
                z.version
            );
        }
    }
}
