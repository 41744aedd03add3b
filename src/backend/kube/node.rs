//! A shell on a cluster node, for what the Kubernetes API cannot do:
//! signal a container's init process from outside its PID namespace
//! (pause), and drop established connections after a partition
//! (`conntrack -D`). kind provides one (`docker exec <node>`, see
//! `crate::backend::kind::node`); other clusters run without it, and the faults that
//! need it say so.

use std::time::Duration;

use futures::future::BoxFuture;

use super::error::KubeError;

/// Runs shell scripts on nodes, as root, in the node's namespaces.
pub trait NodeShell: Send + Sync {
    /// Run `script` with `sh -c` on `node`, bounded by `timeout`; returns
    /// its stdout, or `KubeError::Node` with the script's stderr.
    fn run<'a>(&'a self, node: &'a str, script: &'a str, timeout: Duration)
    -> BoxFuture<'a, Result<String, KubeError>>;
}
