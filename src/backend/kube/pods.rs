//! The ensemble's pods as the API server shows them (ordinal, revision,
//! readiness, address, node), and the pod faults: kill (delete with grace
//! period 0), graceful delete, and killing the operator (deleting its pod).

use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, ListParams};

use super::KubeCluster;
use super::error::{Call, KubeError};
use super::wait::poll_until;
use crate::operator::k8s::build::ordinal_of_name;
use crate::operator::k8s::manifests::OPERATOR_NAME;
use crate::operator::k8s::{LABEL_NAME, LABEL_REVISION, LABEL_VERSION, OPERATOR_NAMESPACE};
use crate::zkconfig::EnsembleNames;

/// One member pod.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PodInfo {
    /// `<name>-<ordinal>`.
    pub name: String,
    /// Its ordinal.
    pub ordinal: u32,
    /// Its uid.
    pub uid: Option<String>,
    /// The operator's revision label (`zk-chaos.io/revision`).
    pub revision: Option<String>,
    /// The ZooKeeper version label.
    pub version: Option<String>,
    /// `status.phase`.
    pub phase: Option<String>,
    /// The `Ready` condition is `True`.
    pub ready: bool,
    /// Being deleted.
    pub terminating: bool,
    /// Pod IP.
    pub ip: Option<Ipv4Addr>,
    /// The node it runs on.
    pub node: Option<String>,
    /// Restarts of its ZooKeeper container.
    pub restarts: i32,
}

impl PodInfo {
    /// Read a pod of the ensemble `names` (`None` for pods not named `<name>-<ordinal>`).
    pub fn from_pod(names: &EnsembleNames, pod: &Pod) -> Option<Self> {
        let name = pod.name_any();
        let ordinal = ordinal_of_name(names, "", &name)?;
        let labels = pod.labels();
        let status = pod.status.as_ref();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        Some(Self {
            ordinal,
            uid: pod.metadata.uid.clone(),
            revision: labels.get(LABEL_REVISION).cloned(),
            version: labels.get(LABEL_VERSION).cloned(),
            phase: status.and_then(|s| s.phase.clone()),
            ready,
            terminating: pod.metadata.deletion_timestamp.is_some(),
            ip: status.and_then(|s| s.pod_ip.as_deref()).and_then(|ip| ip.parse().ok()),
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            restarts: status
                .and_then(|s| s.container_statuses.as_ref())
                .map(|cs| cs.iter().map(|c| c.restart_count).sum())
                .unwrap_or(0),
            name,
        })
    }
}

impl KubeCluster {
    fn pod_api(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), self.namespace())
    }

    /// The ensemble's pods, by ordinal.
    pub async fn pods(&self) -> Result<Vec<PodInfo>, KubeError> {
        let lp = ListParams::default().labels(&self.selector());
        let call = Call::new("list", "pods", self.namespace(), None);
        let list = self.api(call, self.pod_api().list(&lp)).await?;
        let mut pods: Vec<PodInfo> = list.items.iter().filter_map(|p| PodInfo::from_pod(&self.names, p)).collect();
        pods.sort_by_key(|p| p.ordinal);
        Ok(pods)
    }

    /// The pod with `ordinal`.
    pub async fn pod(&self, ordinal: u32) -> Result<PodInfo, KubeError> {
        let name = self.names.pod(ordinal);
        let call = Call::new("get", "pods", self.namespace(), Some(&name));
        let pod = match self.api(call, self.pod_api().get(&name)).await {
            Err(e) if e.is_not_found() => return Err(self.no_such_member(ordinal)),
            other => other?,
        };
        PodInfo::from_pod(&self.names, &pod).ok_or_else(|| self.no_such_member(ordinal))
    }

    fn no_such_member(&self, ordinal: u32) -> KubeError {
        KubeError::NoSuchMember { ordinal, pod: self.names.pod(ordinal), namespace: self.namespace().into() }
    }

    async fn delete_pod_with(&self, ordinal: u32, params: &DeleteParams) -> Result<(), KubeError> {
        let name = self.names.pod(ordinal);
        let call = Call::new("delete", "pods", self.namespace(), Some(&name));
        match self.api(call, self.pod_api().delete(&name, params)).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Err(self.no_such_member(ordinal)),
            Err(e) => Err(e),
        }
    }

    /// Kill member `ordinal`: delete its pod with grace period 0 (the
    /// kubelet SIGKILLs the container; the StatefulSet makes a new pod).
    pub async fn kill_pod(&self, ordinal: u32) -> Result<(), KubeError> {
        self.delete_pod_with(ordinal, &DeleteParams::default().grace_period(0)).await
    }

    /// Delete member `ordinal`'s pod gracefully (SIGTERM, then its grace period).
    pub async fn delete_pod(&self, ordinal: u32) -> Result<(), KubeError> {
        self.delete_pod_with(ordinal, &DeleteParams::default()).await
    }

    /// The operator's pods (those of its Deployment in [`OPERATOR_NAMESPACE`]).
    pub async fn operator_pods(&self) -> Result<Vec<OperatorPod>, KubeError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), OPERATOR_NAMESPACE);
        let lp = ListParams::default().labels(&format!("{LABEL_NAME}={OPERATOR_NAME}"));
        let list = self.api(Call::new("list", "pods", OPERATOR_NAMESPACE, None), api.list(&lp)).await?;
        Ok(list
            .items
            .iter()
            .map(|p| OperatorPod {
                name: p.name_any(),
                ready: p
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
                terminating: p.metadata.deletion_timestamp.is_some(),
            })
            .collect())
    }

    /// Kill the operator: delete its pods (grace 0); its Deployment starts a
    /// new one. Returns the deleted pods' names (none when it is not
    /// installed in [`OPERATOR_NAMESPACE`]).
    pub async fn kill_operator(&self) -> Result<Vec<String>, KubeError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), OPERATOR_NAMESPACE);
        let mut killed = Vec::new();
        for pod in self.operator_pods().await? {
            let name = pod.name;
            let call = Call::new("delete", "pods", OPERATOR_NAMESPACE, Some(&name));
            match self.api(call, api.delete(&name, &DeleteParams::default().grace_period(0))).await {
                Ok(_) => killed.push(name),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(killed)
    }

    /// Wait until the operator's Deployment runs a Ready pod other than
    /// `killed` (what it does after [`KubeCluster::kill_operator`]); returns
    /// that pod's name.
    pub async fn wait_operator_replaced(&self, killed: &[String], timeout: Duration) -> Result<String, KubeError> {
        let what = format!("a new Ready operator pod ({OPERATOR_NAME} in {OPERATOR_NAMESPACE})");
        poll_until(&what, timeout, self.timeouts.poll, || async {
            let pods = self.operator_pods().await?;
            match pods.iter().find(|p| p.ready && !p.terminating && !killed.contains(&p.name)) {
                Some(p) => Ok(Ok(p.name.clone())),
                None => Ok(Err(describe_operator(&pods))),
            }
        })
        .await
    }
}

/// One pod of the operator's Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorPod {
    /// Its name.
    pub name: String,
    /// The `Ready` condition is `True`.
    pub ready: bool,
    /// Being deleted.
    pub terminating: bool,
}

/// The operator's pods in one line, for "last seen".
pub fn describe_operator(pods: &[OperatorPod]) -> String {
    if pods.is_empty() {
        return format!("no pod of {OPERATOR_NAME} in {OPERATOR_NAMESPACE}");
    }
    let each: Vec<String> = pods
        .iter()
        .map(|p| {
            let state = match (p.terminating, p.ready) {
                (true, _) => "terminating",
                (false, true) => "ready",
                (false, false) => "not ready",
            };
            format!("{} {state}", p.name)
        })
        .collect();
    each.join(", ")
}
