//! `zk-chaos operator` and `zk-chaos manifests`: the Kubernetes side.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use zk_chaos::operator::k8s::{manifests, run_controller};

#[derive(Debug, Args)]
pub struct OperatorArgs {}

/// Run the controller against the ambient kubeconfig or service account
/// (the same as the `zk-operator` binary).
pub async fn operator(_args: OperatorArgs) -> anyhow::Result<ExitCode> {
    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes client configuration (set KUBECONFIG or run in a cluster)")?;
    run_controller(client).await.context("the operator cannot run (is the ZookeeperCluster CRD installed?)")?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ManifestsArgs {
    /// Write crd.yaml, rbac.yaml and operator.yaml into this directory instead of printing them.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Print (or write) the CRD, RBAC and operator Deployment.
pub fn manifests(args: ManifestsArgs) -> anyhow::Result<ExitCode> {
    match args.out {
        None => print!("{}", manifests::render()),
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, text) in manifests::files() {
                let path = dir.join(name);
                std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
