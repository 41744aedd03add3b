//! The operator in Kubernetes: the kube-rs side of the same planner the
//! local supervisor drives.
//!
//! - [`build`]: pure builders, `fn(&ZookeeperCluster, &BuildContext) -> object`,
//!   for the StatefulSet, Services, ConfigMap, Secret and PodDisruptionBudget;
//! - [`script`]: the pod's startup script and readiness check (bash);
//! - [`observe`]: pure translation of what the API server and the member
//!   probes show into the planner's [`Observed`](crate::operator::observed::Observed);
//! - [`access`]: how the executor reaches the members (probes, reconfig,
//!   probe write), behind a trait so tests need no servers;
//! - [`controller`]: the kube-rs `Controller`, `reconcile` (observe -> plan
//!   -> apply) and the executor of each planner action;
//! - [`manifests`]: the CRD, RBAC and operator Deployment as YAML.
//!
//! Deletion needs no finalizer: every object carries an owner reference to
//! its `ZookeeperCluster` (the Secret only under `deletionPolicy: WipeOut`),
//! and the StatefulSet's `persistentVolumeClaimRetentionPolicy.whenDeleted`
//! follows the deletion policy (`Delete`/`WipeOut` delete the volumes,
//! `Halt`/`DoNotTerminate` keep them). Garbage collection does the rest.

pub mod access;
pub mod build;
pub mod controller;
pub mod manifests;
pub mod observe;
pub mod script;

pub use controller::{Context, ControllerConfig, Error, error_policy, now_rfc3339, reconcile, run_controller};

/// The field manager of every server-side apply (and of every other write).
pub const FIELD_MANAGER: &str = "zk-chaos-operator";
/// The name events are reported under.
pub const CONTROLLER_NAME: &str = "zk-chaos-operator";
/// The Namespace the manifests install the operator into.
pub const OPERATOR_NAMESPACE: &str = "zk-chaos-system";
/// The operator image the manifests reference.
pub const OPERATOR_IMAGE: &str = "zk-chaos-operator:dev";

/// `app.kubernetes.io/name` of every member pod (and object).
pub const LABEL_NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/instance`: the ZookeeperCluster's name.
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
/// `app.kubernetes.io/managed-by`.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// `app.kubernetes.io/version` of member pods (the ZooKeeper version).
pub const LABEL_VERSION: &str = "app.kubernetes.io/version";
/// The planner revision a member pod was created from.
pub const LABEL_REVISION: &str = "zk-chaos.io/revision";
/// StatefulSet annotation: the revision pods at or above the partition get.
pub const ANNOTATION_UPDATE_REVISION: &str = "zk-chaos.io/update-revision";
/// StatefulSet annotation: the `zoo.cfg` of the update revision, as rendered
/// for it (so it can still be served once the spec has moved on).
pub const ANNOTATION_UPDATE_ZOO_CFG: &str = "zk-chaos.io/update-zoo-cfg";
/// StatefulSet annotation: the revision every pod ran when the rollout last settled.
pub const ANNOTATION_CURRENT_REVISION: &str = "zk-chaos.io/current-revision";
/// StatefulSet annotation: the `zoo.cfg` of the current revision, verbatim
/// as its pods got it (absent when unknown). Together with
/// [`ANNOTATION_UPDATE_ZOO_CFG`] it lets any operator instance rebuild the
/// ConfigMap from what the API server shows.
pub const ANNOTATION_CURRENT_ZOO_CFG: &str = "zk-chaos.io/current-zoo-cfg";
/// StatefulSet annotation: the partition of the rollout.
pub const ANNOTATION_PARTITION: &str = "zk-chaos.io/partition";
/// StatefulSet annotation: hash of what the operator applied (drift detection).
pub const ANNOTATION_APPLIED_HASH: &str = "zk-chaos.io/applied-hash";
/// `app.kubernetes.io/name` value.
pub const APP_NAME: &str = "zookeeper";

/// Where the member container mounts its data volume.
pub const DATA_MOUNT: &str = "/data";
/// Where the member container mounts the ConfigMap.
pub const CONFIG_MOUNT: &str = "/config";
/// `zoo.cfg`: the file on the volume the server starts with, and the
/// prefix of its ConfigMap keys ([`zoo_cfg_key`]).
pub const KEY_ZOO_CFG: &str = "zoo.cfg";
/// The ConfigMap key naming the update revision (the fallback of a pod whose
/// own revision's `zoo.cfg` is gone).
pub const KEY_UPDATE_REVISION: &str = "update-revision";
/// The ConfigMap key holding the seed dynamic config (committed members).
pub const KEY_DYNAMIC: &str = "zoo.cfg.dynamic";
/// The ConfigMap key holding the `zoo.cfg` of `revision`: `zoo.cfg.<revision>`
/// (revisions are hex, so it never collides with [`KEY_DYNAMIC`]).
pub fn zoo_cfg_key(revision: &str) -> String {
    format!("{KEY_ZOO_CFG}.{revision}")
}

/// Secret key: the super user name.
pub const KEY_USERNAME: &str = "username";
/// Secret key: the super user password.
pub const KEY_PASSWORD: &str = "password";
/// Secret key: the digest the servers get (`user:base64(sha1(user:password))`).
pub const KEY_DIGEST: &str = "digest";
