//! A shell on kind nodes: each node is a docker container named after it,
//! so `docker exec <node> sh -c <script>` runs as root in the node's PID
//! and network namespaces (an ancestor of every pod's), with `crictl` and
//! `conntrack` at hand.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::commands;
use super::runner::Runner;
use crate::backend::kube::{KubeError, NodeShell};

/// [`NodeShell`] over `docker exec`.
#[derive(Clone)]
pub struct KindNodes {
    runner: Arc<dyn Runner>,
}

impl KindNodes {
    /// Run node commands through `runner`.
    pub fn new(runner: Arc<dyn Runner>) -> Self {
        Self { runner }
    }
}

/// `docker exec <node> sh -c <script>`.
pub fn node_command(node: &str, script: &str, timeout: Duration) -> super::runner::Cmd {
    commands::docker_exec(node, &["sh".to_string(), "-c".to_string(), script.to_string()], timeout)
}

impl NodeShell for KindNodes {
    fn run<'a>(
        &'a self,
        node: &'a str,
        script: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<String, KubeError>> {
        Box::pin(async move {
            let cmd = node_command(node, script, timeout);
            self.runner
                .run(&cmd)
                .await
                .map(|o| o.stdout)
                .map_err(|e| KubeError::Node { node: node.into(), detail: e.to_string() })
        })
    }
}
