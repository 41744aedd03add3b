//! Errors of the Kubernetes backend, each saying what is missing and how to
//! fix it: a 403 names the verb and resource the identity lacks, a refused
//! or silent API server says so (within a bounded time), an unsupported
//! fault says why.

use std::fmt;
use std::time::Duration;

/// One API call, for messages: `delete pods zk-0 in namespace default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The RBAC verb (`get`, `list`, `create`, `patch`, `delete`, `deletecollection`).
    pub verb: &'static str,
    /// The RBAC resource, with its group when not core (`pods`,
    /// `pods/exec`, `networkpolicies.networking.k8s.io`, ...).
    pub resource: &'static str,
    /// The object, when the call names one.
    pub name: Option<String>,
    /// The namespace.
    pub namespace: Option<String>,
}

impl Call {
    /// `verb resource` in `namespace`, on object `name` when given.
    pub fn new(verb: &'static str, resource: &'static str, namespace: &str, name: Option<&str>) -> Self {
        Self { verb, resource, name: name.map(String::from), namespace: Some(namespace.to_string()) }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(n) = &self.name {
            write!(f, " {n}")?;
        }
        if let Some(ns) = &self.namespace {
            write!(f, " in namespace {ns}")?;
        }
        Ok(())
    }
}

/// Failures of the Kubernetes backend.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The API server answered 403.
    #[error(
        "missing RBAC: {} {}{} (the API server said: {message}); grant your kubeconfig's identity this verb on this \
         resource (see \"The kind backend\" in the README for the full list the harness needs)",
        .call.verb, .call.resource, .call.namespace.as_ref().map(|n| format!(" in namespace {n}")).unwrap_or_default()
    )]
    Forbidden {
        /// The call refused.
        call: Call,
        /// The server's message.
        message: String,
    },
    /// The API server could not be reached at all.
    #[error(
        "API server unreachable at {server} ({detail}); is the cluster running and is the kubeconfig context right? \
         (`kubectl cluster-info`)"
    )]
    Unreachable {
        /// The server URL.
        server: String,
        /// Why (connection refused, DNS, TLS...).
        detail: String,
    },
    /// The API server did not answer in time.
    #[error("the API server at {server} did not answer `{call}` within {timeout:?}")]
    Timeout {
        /// The server URL.
        server: String,
        /// The call.
        call: Call,
        /// The bound.
        timeout: Duration,
    },
    /// The object is not there.
    #[error("not found: {call} ({message})")]
    NotFound {
        /// The call.
        call: Call,
        /// The server's message.
        message: String,
    },
    /// Any other API failure.
    #[error("Kubernetes API: {call}: {source}")]
    Api {
        /// The call.
        call: Call,
        /// The client's error.
        source: Box<kube::Error>,
    },
    /// The kubeconfig could not be read or used.
    #[error("kubeconfig: {0}")]
    Config(String),
    /// A command run in a pod failed.
    #[error("exec in pod {pod}: {detail}")]
    Exec {
        /// The pod.
        pod: String,
        /// What happened.
        detail: String,
    },
    /// A command on a node failed.
    #[error("on node {node}: {detail}")]
    Node {
        /// The node.
        node: String,
        /// What happened.
        detail: String,
    },
    /// The fault cannot be done on this backend (never silently skipped).
    #[error("unsupported on this backend: {fault}: {reason}")]
    Unsupported {
        /// The fault.
        fault: &'static str,
        /// Why, and what would make it possible.
        reason: String,
    },
    /// No pod with that ordinal.
    #[error("no pod {pod} (ordinal {ordinal}) in namespace {namespace}")]
    NoSuchMember {
        /// The ordinal.
        ordinal: u32,
        /// The pod name.
        pod: String,
        /// The namespace.
        namespace: String,
    },
    /// A wait ran out.
    #[error("timed out after {waited:?} waiting for {what}; last seen: {last}")]
    WaitTimeout {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
        /// What was seen last.
        last: String,
    },
    /// Client traffic forwarding failed.
    #[error("port-forward: {0}")]
    Forward(String),
    /// The cluster lacks what the harness needs (CRD, operator, RBAC).
    #[error(
        "the cluster at {server} is not ready for zk-chaos in namespace {namespace}:\n{}",
        .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    Preflight {
        /// The API server.
        server: String,
        /// The namespace checked.
        namespace: String,
        /// Each thing missing, with how to fix it.
        problems: Vec<String>,
    },
}

/// Whether an error chain says the connection was refused or the host could
/// not be reached (as opposed to an answer from the server).
fn transport_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut detail = None;
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | AddrNotAvailable | TimedOut
            ) || io.raw_os_error().is_some()
            {
                return Some(io.to_string());
            }
        }
        let text = err.to_string();
        if text.contains("dns error") || text.contains("Connect") || text.contains("connect") {
            detail.get_or_insert(text);
        }
        cur = err.source();
    }
    detail
}

impl KubeError {
    /// Classify a client error of `call` against `server`.
    pub fn from_kube(call: Call, server: &str, e: kube::Error) -> Self {
        match &e {
            kube::Error::Api(status) if status.code == 403 => Self::Forbidden { call, message: status.message.clone() },
            kube::Error::Api(status) if status.code == 404 => Self::NotFound { call, message: status.message.clone() },
            kube::Error::HyperError(_) | kube::Error::Service(_) => match transport_failure(&e) {
                Some(detail) => Self::Unreachable { server: server.into(), detail },
                None => Self::Api { call, source: Box::new(e) },
            },
            _ => Self::Api { call, source: Box::new(e) },
        }
    }

    /// Whether the API answered "not found".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
