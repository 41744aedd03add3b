//! Before a run on a cluster: is the API server there, is the
//! `ZookeeperCluster` CRD installed, does the operator run, and may the
//! harness's identity do everything the steps do? Every problem is
//! collected (not just the first) and named with how to fix it; every call
//! is bounded by [`Timeouts::api`](super::Timeouts::api), so an API server
//! that does not answer fails within that bound.
//!
//! Permissions are asked with `SelfSubjectAccessReview`s, which every
//! authenticated identity may create, so a missing permission is found
//! before a scenario needs it rather than half-way through a fault.

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::api::{Api, ListParams, PostParams};

use super::KubeCluster;
use super::error::{Call, KubeError};
use super::pods::describe_operator;
use crate::operator::crd::ZookeeperCluster;
use crate::operator::k8s::OPERATOR_NAMESPACE;
use crate::operator::k8s::manifests::OPERATOR_NAME;

/// One permission the harness needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// The verb.
    pub verb: &'static str,
    /// The API group (`""` for core).
    pub group: &'static str,
    /// The resource.
    pub resource: &'static str,
    /// The subresource (`exec`, `portforward`).
    pub subresource: Option<&'static str>,
    /// The namespace.
    pub namespace: String,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(sub) = self.subresource {
            write!(f, "/{sub}")?;
        }
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        write!(f, " in namespace {}", self.namespace)
    }
}

/// Everything the steps do, as permissions: in the ensembles' `namespace`
/// pods (read, kill), exec (probes, pause), port-forward (clients),
/// NetworkPolicies (partitions), `ZookeeperCluster`s (create, change,
/// delete), Events (the operator's timeline); in the operator's namespace,
/// its pods (kill the operator, wait for the replacement).
pub fn required(namespace: &str) -> Vec<Permission> {
    let p = |verb, group, resource, subresource, ns: &str| Permission {
        verb,
        group,
        resource,
        subresource,
        namespace: ns.to_string(),
    };
    let mut out = Vec::new();
    for verb in ["get", "list", "delete"] {
        out.push(p(verb, "", "pods", None, namespace));
    }
    for sub in ["exec", "portforward"] {
        for verb in ["create", "get"] {
            out.push(p(verb, "", "pods", Some(sub), namespace));
        }
    }
    for verb in ["list", "create", "patch", "delete", "deletecollection"] {
        out.push(p(verb, "networking.k8s.io", "networkpolicies", None, namespace));
    }
    for verb in ["get", "list", "create", "patch", "delete"] {
        out.push(p(verb, "zk-chaos.io", "zookeeperclusters", None, namespace));
    }
    out.push(p("list", "", "events", None, namespace));
    for verb in ["list", "delete"] {
        out.push(p(verb, "", "pods", None, OPERATOR_NAMESPACE));
    }
    out
}

/// What the preflight found when everything is in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightReport {
    /// The API server's version.
    pub server_version: String,
    /// The operator's Ready pod.
    pub operator_pod: String,
}

/// How to install the CRD and the operator.
const INSTALL: &str = "`zk-chaos manifests | kubectl apply -f -` (with an operator image the nodes can pull; on \
kind `zk-chaos kind up` does it all)";

impl KubeCluster {
    /// Whether the identity may do `perm` (a `SelfSubjectAccessReview`).
    pub async fn may(&self, perm: &Permission) -> Result<bool, KubeError> {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(perm.verb.into()),
                    group: Some(perm.group.into()),
                    resource: Some(perm.resource.into()),
                    subresource: perm.subresource.map(String::from),
                    namespace: Some(perm.namespace.clone()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let call = Call {
            verb: "create",
            resource: "selfsubjectaccessreviews.authorization.k8s.io",
            name: None,
            namespace: None,
        };
        let answer = self.api(call, api.create(&PostParams::default(), &review)).await?;
        Ok(answer.status.is_some_and(|s| s.allowed && s.denied != Some(true)))
    }

    /// Check the cluster before a run (see the module docs): the API server
    /// answers, the identity has every [`required`] permission, the CRD is
    /// installed and the operator has a Ready pod. Every problem found is
    /// in the error.
    pub async fn preflight(&self) -> Result<PreflightReport, KubeError> {
        let server_version = self.server_version().await?;
        let mut problems = Vec::new();

        let perms = required(self.namespace());
        let answers = futures::future::join_all(perms.iter().map(|p| self.may(p))).await;
        let mut missing = Vec::new();
        for (perm, answer) in perms.iter().zip(answers) {
            match answer {
                Ok(true) => {}
                Ok(false) => missing.push(perm.to_string()),
                Err(e) => {
                    problems.push(format!("cannot check permissions (SelfSubjectAccessReview): {e}"));
                    break;
                }
            }
        }
        let rbac_reported = !problems.is_empty() || !missing.is_empty();
        if !missing.is_empty() {
            problems.push(format!(
                "missing RBAC for your kubeconfig's identity: {}; grant these verbs (a Role and RoleBinding per \
                 namespace; see \"The kind backend\" in the README)",
                missing.join(", ")
            ));
        }

        let zkc: Api<ZookeeperCluster> = Api::namespaced(self.client.clone(), self.namespace());
        let call = Call::new("list", "zookeeperclusters.zk-chaos.io", self.namespace(), None);
        match self.api(call, zkc.list(&ListParams::default().limit(1))).await {
            Ok(_) => {}
            Err(KubeError::Forbidden { .. }) if rbac_reported => {}
            Err(KubeError::NotFound { .. }) => problems.push(format!(
                "the ZookeeperCluster CRD (zookeeperclusters.zk-chaos.io) is not installed: install it and the \
                 operator with {INSTALL}"
            )),
            Err(e) => problems.push(format!("cannot list ZookeeperClusters: {e}")),
        }

        let mut operator_pod = None;
        match self.operator_pods().await {
            Ok(pods) => match pods.iter().find(|p| p.ready && !p.terminating) {
                Some(p) => operator_pod = Some(p.name.clone()),
                None => problems.push(format!(
                    "the operator is not running: no Ready pod of Deployment {OPERATOR_NAME} in namespace \
                     {OPERATOR_NAMESPACE} (seen: {}); install it with {INSTALL}, or see `kubectl -n \
                     {OPERATOR_NAMESPACE} describe deployment {OPERATOR_NAME}`",
                    describe_operator(&pods)
                )),
            },
            Err(KubeError::Forbidden { .. }) if rbac_reported => {}
            Err(e) => problems.push(format!("cannot look for the operator: {e}")),
        }

        match operator_pod {
            Some(operator_pod) if problems.is_empty() => Ok(PreflightReport { server_version, operator_pod }),
            _ => Err(KubeError::Preflight {
                server: self.server.clone(),
                namespace: self.namespace().to_string(),
                problems,
            }),
        }
    }
}
