//! The zk-chaos operator: runs the `ZookeeperCluster` controller against
//! the cluster of the ambient kubeconfig or service account, until SIGTERM
//! (or Ctrl+C) asks for a graceful shutdown.

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let client = match kube::Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no Kubernetes client configuration (kubeconfig or in-cluster)");
            return std::process::ExitCode::FAILURE;
        }
    };
    match zk_chaos::operator::k8s::run_controller(client).await {
        Ok(()) => {
            tracing::info!("shut down");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "the operator cannot run (is the ZookeeperCluster CRD installed?)");
            std::process::ExitCode::FAILURE
        }
    }
}
