//! Install the operator into a cluster: the CRD, RBAC and Deployment that
//! `operator::k8s::manifests` renders (the same as `kind/manifests/`),
//! server-side applied with kubectl; then wait until the CRD is
//! established and the Deployment rolled out, each bounded.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;

use super::commands::{self, KubeTarget, Scope};
use super::error::KindError;
use super::parse::{self, DeploymentState};
use super::runner::Runner;
use crate::operator::k8s::manifests::{self, OPERATOR_NAME};
use crate::operator::k8s::{OPERATOR_IMAGE, OPERATOR_NAMESPACE};

/// The CRD's name.
pub const CRD_NAME: &str = "zookeeperclusters.zk-chaos.io";

/// Bound on the CRD becoming established.
pub const CRD_TIMEOUT: Duration = Duration::from_secs(60);

/// Every manifest in apply order, with the operator running `image`
/// (the manifests' own image when it is [`OPERATOR_IMAGE`]).
pub fn manifests_with_image(image: &str) -> String {
    let rendered = manifests::render();
    if image == OPERATOR_IMAGE {
        return rendered;
    }
    rendered
        .split("---\n")
        .map(|doc| {
            let Ok(mut d) = serde_yaml::from_str::<Deployment>(doc) else { return doc.to_string() };
            if d.metadata.name.as_deref() != Some(OPERATOR_NAME) {
                return doc.to_string();
            }
            let pod = d.spec.as_mut().and_then(|s| s.template.spec.as_mut());
            for c in pod.into_iter().flat_map(|p| p.containers.iter_mut()) {
                c.image = Some(image.to_string());
            }
            serde_yaml::to_string(&d).expect("a Deployment serialises")
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Apply the manifests (operator image `image`), wait for the CRD and for
/// the operator's rollout (at most `timeout`). When the rollout does not
/// finish, the error shows the Deployment's state and where to look.
pub async fn deploy_operator(
    runner: &dyn Runner,
    target: &KubeTarget,
    image: &str,
    timeout: Duration,
) -> Result<DeploymentState, KindError> {
    runner.run(&commands::kubectl_apply(target, &manifests_with_image(image))).await?;
    let crd = format!("crd/{CRD_NAME}");
    runner.run(&commands::kubectl_wait(target, None, "Established", &[&crd], CRD_TIMEOUT)).await?;
    let rollout = commands::kubectl_rollout_status(target, OPERATOR_NAMESPACE, OPERATOR_NAME, timeout);
    let get = commands::kubectl_get_json(target, Scope::Namespace(OPERATOR_NAMESPACE), &["deployment", OPERATOR_NAME]);
    match runner.run(&rollout).await {
        Ok(_) => Ok(parse::deployment(&runner.run(&get).await?.stdout)?),
        Err(e) => {
            let seen = match runner.run(&get).await {
                Ok(o) => parse::deployment(&o.stdout).map(|d| format!("{d:?}")).unwrap_or_else(|e| e.to_string()),
                Err(e) => e.to_string(),
            };
            Err(KindError::NotReady {
                what: format!("operator Deployment {OPERATOR_NAMESPACE}/{OPERATOR_NAME}"),
                waited: timeout,
                detail: format!(
                    "{e}; last seen {seen}; is image {image} loaded into the cluster? \
                     (`kubectl -n {OPERATOR_NAMESPACE} describe pods`)"
                ),
            })
        }
    }
}

/// Restart the operator (after loading a new image under the same tag).
pub async fn restart_operator(runner: &dyn Runner, target: &KubeTarget, timeout: Duration) -> Result<(), KindError> {
    runner.run(&commands::kubectl_rollout_restart(target, OPERATOR_NAMESPACE, OPERATOR_NAME)).await?;
    runner.run(&commands::kubectl_rollout_status(target, OPERATOR_NAMESPACE, OPERATOR_NAME, timeout)).await?;
    Ok(())
}
