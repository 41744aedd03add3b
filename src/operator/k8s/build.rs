//! Pure builders: one `ZookeeperCluster` and a [`BuildContext`] (what the
//! executor knows beyond the spec) in, one Kubernetes object out. No I/O,
//! no clock, no randomness: the fixtures in `tests/fixtures/operator/k8s/`
//! are their exact output.
//!
//! Names follow [`EnsembleNames`]: StatefulSet and client Service `<name>`,
//! headless Service `<name>-pods`, admin Service `<name>-admin-server`,
//! ConfigMap `<name>-config`, Secret `<name>-auth`, PodDisruptionBudget
//! `<name>`, volumes `data-<name>-<ordinal>`.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    ExecAction, ObjectFieldSelector, PersistentVolumeClaim, PodAffinityTerm, PodAntiAffinity, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, Secret, SecretKeySelector, Service, ServicePort, ServiceSpec, TCPSocketAction,
    Volume, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource as _, ResourceExt as _};
use sha1::{Digest as _, Sha1};

use super::script::{ENV_PEER_DOMAIN, ENV_REVISION, data_dir, dynamic_file, readiness_script, startup_script};
use super::*;
use crate::operator::crd::{AntiAffinity, DeletionPolicy, ZookeeperCluster};
use crate::operator::revision::revision;
use crate::operator::settings::{image, jvm_flags, server_settings};
use crate::zkconfig::{
    CLIENT_PORT, ConfigError, DynamicConfig, ELECTION_PORT, EnsembleNames, QUORUM_PORT, SuperCredential, render_zoo_cfg,
};

/// The uid/gid ZooKeeper runs as (the `zookeeper` user of the official image).
pub const ZOOKEEPER_UID: i64 = 1000;
/// The environment variable the super digest is read into from the Secret.
pub const ENV_SUPER_DIGEST: &str = "ZK_SUPER_DIGEST";
/// The name of the data volume (and of its claim template).
pub const DATA_VOLUME: &str = "data";
/// The name of the ConfigMap volume.
pub const CONFIG_VOLUME: &str = "config";
/// The container name.
pub const CONTAINER: &str = "zookeeper";

/// What the executor knows beyond the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildContext {
    /// StatefulSet replicas.
    pub replicas: u32,
    /// The rollout partition (the operator honours it: it only deletes
    /// pods at or above it).
    pub partition: u32,
    /// The revision every pod ran when the rollout last settled.
    pub current_revision: String,
    /// The `zoo.cfg` of `current_revision` as its pods got it (from the
    /// StatefulSet's [`ANNOTATION_CURRENT_ZOO_CFG`] or
    /// [`ANNOTATION_UPDATE_ZOO_CFG`]; see [`stored_zoo_cfg`]). Ignored when
    /// `current_revision` is the spec's (rendered from the spec then);
    /// `None` when unknown: the ConfigMap then lacks that revision's key and
    /// its pods fall back to the update revision's.
    pub current_zoo_cfg: Option<String>,
    /// The dynamic config a fresh pod is seeded with: the committed one, or
    /// the initial members of a new ensemble.
    pub seed: DynamicConfig,
    /// The super-user credential (only the Secret builder reads it).
    pub credential: SuperCredential,
    /// Claim templates of an existing StatefulSet (empty: it has none),
    /// kept as they are since Kubernetes forbids changing them; `None`
    /// builds them from `spec.storage`. Without claims the data volume is
    /// an `emptyDir`.
    pub existing_claims: Option<Vec<PersistentVolumeClaim>>,
}

impl BuildContext {
    /// The context of a new ensemble: `spec.replicas` initial members, the
    /// spec's partition, and `credential`.
    pub fn initial(zk: &ZookeeperCluster, credential: SuperCredential) -> Self {
        Self {
            replicas: zk.spec.replicas,
            partition: zk.spec.partition(),
            current_revision: revision(&zk.spec),
            current_zoo_cfg: None,
            seed: DynamicConfig::for_replicas(&names(zk), zk.spec.replicas),
            credential,
            existing_claims: None,
        }
    }
}

/// The ensemble's names (namespace `default` when the object has none).
pub fn names(zk: &ZookeeperCluster) -> EnsembleNames {
    EnsembleNames::new(zk.name_any(), zk.namespace().unwrap_or_else(|| "default".into()))
}

/// `<name>-config`.
pub fn config_map_name(zk: &ZookeeperCluster) -> String {
    format!("{}-config", zk.name_any())
}

/// The `zoo.cfg` the spec's revision renders (with the pod's paths).
pub fn zoo_cfg(zk: &ZookeeperCluster) -> Result<String, ConfigError> {
    render_zoo_cfg(&server_settings(&zk.spec), &data_dir(), &dynamic_file())
}

/// The `zoo.cfg` of every live revision, by revision: the update revision
/// (the spec's, rendered now) and the current one (from `ctx`, when known).
/// One entry once the current revision has caught up.
pub fn zoo_cfg_by_revision(zk: &ZookeeperCluster, ctx: &BuildContext) -> Result<BTreeMap<String, String>, ConfigError> {
    let update = revision(&zk.spec);
    let mut by_revision = BTreeMap::from([(update.clone(), zoo_cfg(zk)?)]);
    if ctx.current_revision != update
        && let Some(text) = &ctx.current_zoo_cfg
    {
        by_revision.insert(ctx.current_revision.clone(), text.clone());
    }
    Ok(by_revision)
}

/// The `zoo.cfg` a StatefulSet built by [`statefulset`] recorded for
/// `revision` (its current or its update revision), if any.
pub fn stored_zoo_cfg(sts: &StatefulSet, revision: &str) -> Option<String> {
    let a = sts.annotations();
    [(ANNOTATION_CURRENT_REVISION, ANNOTATION_CURRENT_ZOO_CFG), (ANNOTATION_UPDATE_REVISION, ANNOTATION_UPDATE_ZOO_CFG)]
        .into_iter()
        .find(|(rev, cfg)| a.get(*rev).map(String::as_str) == Some(revision) && a.contains_key(*cfg))
        .and_then(|(_, cfg)| a.get(cfg).cloned())
}

/// `<name>-auth`.
pub fn secret_name(zk: &ZookeeperCluster) -> String {
    format!("{}-auth", zk.name_any())
}

/// `data-<name>-<ordinal>`, the claim the StatefulSet creates for a pod.
pub fn pvc_name(names: &EnsembleNames, ordinal: u32) -> String {
    format!("{DATA_VOLUME}-{}", names.pod(ordinal))
}

/// The ordinal of pod `<name>-<ordinal>` (or claim `data-<name>-<ordinal>`
/// with `prefix = "data-"`).
pub fn ordinal_of_name(names: &EnsembleNames, prefix: &str, object: &str) -> Option<u32> {
    let rest = object.strip_prefix(prefix)?.strip_prefix(names.name.as_str())?.strip_prefix('-')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) || (rest.len() > 1 && rest.starts_with('0')) {
        return None;
    }
    rest.parse().ok()
}

/// The labels that select the ensemble's pods (immutable on the StatefulSet).
pub fn selector_labels(zk: &ZookeeperCluster) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_NAME.into(), APP_NAME.into()), (LABEL_INSTANCE.into(), zk.name_any())])
}

/// The label selector string for lists and watches of the ensemble's objects.
pub fn selector(zk: &ZookeeperCluster) -> String {
    selector_labels(zk).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// The labels on every object the operator creates.
pub fn labels(zk: &ZookeeperCluster) -> BTreeMap<String, String> {
    let mut l = selector_labels(zk);
    l.insert(LABEL_MANAGED_BY.into(), FIELD_MANAGER.into());
    l
}

/// The controller owner reference to the ZookeeperCluster (none without a uid).
pub fn owner_references(zk: &ZookeeperCluster) -> Option<Vec<OwnerReference>> {
    zk.controller_owner_ref(&()).map(|o| vec![o])
}

/// The Secret's owner references: only `WipeOut` lets the Secret go with
/// the resource (`Halt` and `Delete` keep it, as KubeDB does).
pub fn secret_owner_references(zk: &ZookeeperCluster) -> Option<Vec<OwnerReference>> {
    match zk.spec.deletion_policy {
        DeletionPolicy::WipeOut => owner_references(zk),
        DeletionPolicy::Halt | DeletionPolicy::Delete | DeletionPolicy::DoNotTerminate => None,
    }
}

fn meta(zk: &ZookeeperCluster, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: zk.namespace(),
        labels: Some(labels(zk)),
        owner_references: owner_references(zk),
        ..ObjectMeta::default()
    }
}

fn port(name: &str, port: u16) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port: i32::from(port),
        target_port: Some(IntOrString::Int(i32::from(port))),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

fn container_port(name: &str, port: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: i32::from(port),
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

/// `SERVER_JVMFLAGS`: [`jvm_flags`] with the digest taken from the Secret
/// (through `$(ZK_SUPER_DIGEST)`) rather than written into the template.
pub fn server_jvm_flags(zk: &ZookeeperCluster) -> String {
    let placeholder = SuperCredential { user: "super".into(), password: String::new() };
    let digest_flag = placeholder.jvm_flag();
    let property = digest_flag.split_once('=').map_or(digest_flag.as_str(), |(p, _)| p);
    jvm_flags(&zk.spec, &placeholder)
        .into_iter()
        .map(|f| if f == digest_flag { format!("{property}=$({ENV_SUPER_DIGEST})") } else { f })
        .collect::<Vec<_>>()
        .join(" ")
}

fn affinity(zk: &ZookeeperCluster) -> Option<Affinity> {
    let term = PodAffinityTerm {
        label_selector: Some(LabelSelector { match_labels: Some(selector_labels(zk)), ..LabelSelector::default() }),
        topology_key: "kubernetes.io/hostname".into(),
        ..PodAffinityTerm::default()
    };
    let anti = match zk.spec.affinity.pod_anti_affinity {
        AntiAffinity::None => return None,
        AntiAffinity::Preferred => PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 100,
                pod_affinity_term: term,
            }]),
            ..PodAntiAffinity::default()
        },
        AntiAffinity::Required => PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![term]),
            ..PodAntiAffinity::default()
        },
    };
    Some(Affinity { pod_anti_affinity: Some(anti), ..Affinity::default() })
}

fn container(zk: &ZookeeperCluster) -> Container {
    let n = names(zk);
    let peer_domain = n.pod_fqdn(0).split_once('.').map(|(_, d)| d.to_string()).unwrap_or_default();
    let bash = |script: String| Some(vec!["/bin/bash".to_string(), "-c".to_string(), script]);
    Container {
        name: CONTAINER.into(),
        image: Some(image(&zk.spec)),
        image_pull_policy: Some("IfNotPresent".into()),
        command: bash(startup_script()),
        env: Some(vec![
            EnvVar { name: ENV_PEER_DOMAIN.into(), value: Some(peer_domain), ..EnvVar::default() },
            EnvVar {
                name: ENV_REVISION.into(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: None,
                        field_path: format!("metadata.labels['{LABEL_REVISION}']"),
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            },
            EnvVar {
                name: ENV_SUPER_DIGEST.into(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: secret_name(zk),
                        key: KEY_DIGEST.into(),
                        optional: Some(false),
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            },
            EnvVar { name: "SERVER_JVMFLAGS".into(), value: Some(server_jvm_flags(zk)), ..EnvVar::default() },
        ]),
        ports: Some(vec![
            container_port("client", CLIENT_PORT),
            container_port("quorum", QUORUM_PORT),
            container_port("election", ELECTION_PORT),
            container_port("admin", zk.spec.admin_server_port),
        ]),
        readiness_probe: Some(Probe {
            exec: Some(ExecAction { command: bash(readiness_script()) }),
            initial_delay_seconds: Some(5),
            period_seconds: Some(5),
            timeout_seconds: Some(3),
            failure_threshold: Some(3),
            ..Probe::default()
        }),
        liveness_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(i32::from(CLIENT_PORT)), host: None }),
            initial_delay_seconds: Some(30),
            period_seconds: Some(10),
            timeout_seconds: Some(5),
            failure_threshold: Some(6),
            ..Probe::default()
        }),
        resources: zk.spec.resources.clone(),
        volume_mounts: Some(vec![
            VolumeMount { name: DATA_VOLUME.into(), mount_path: DATA_MOUNT.into(), ..VolumeMount::default() },
            VolumeMount {
                name: CONFIG_VOLUME.into(),
                mount_path: CONFIG_MOUNT.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    }
}

fn pod_template(zk: &ZookeeperCluster, has_claims: bool) -> PodTemplateSpec {
    let mut pod_labels = zk.spec.labels.clone();
    pod_labels.extend(labels(zk));
    pod_labels.insert(LABEL_REVISION.into(), revision(&zk.spec));
    pod_labels.insert(LABEL_VERSION.into(), zk.spec.version.clone());
    let mut volumes = vec![Volume {
        name: CONFIG_VOLUME.into(),
        config_map: Some(ConfigMapVolumeSource { name: config_map_name(zk), ..ConfigMapVolumeSource::default() }),
        ..Volume::default()
    }];
    if !has_claims {
        volumes.push(Volume {
            name: DATA_VOLUME.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        });
    }
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            annotations: (!zk.spec.annotations.is_empty()).then(|| zk.spec.annotations.clone()),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            affinity: affinity(zk),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_user: Some(ZOOKEEPER_UID),
                run_as_group: Some(ZOOKEEPER_UID),
                fs_group: Some(ZOOKEEPER_UID),
                run_as_non_root: Some(true),
                ..PodSecurityContext::default()
            }),
            containers: vec![container(zk)],
            volumes: Some(volumes),
            ..PodSpec::default()
        }),
    }
}

fn claim_templates(zk: &ZookeeperCluster) -> Option<Vec<PersistentVolumeClaim>> {
    let storage = zk.spec.storage.clone()?;
    Some(vec![PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some(DATA_VOLUME.into()), labels: Some(labels(zk)), ..ObjectMeta::default() },
        spec: Some(storage),
        status: None,
    }])
}

/// The StatefulSet `<name>`: `OnDelete` (the operator deletes members one
/// at a time), `Parallel` pod management (members find each other through
/// the headless Service with unready addresses published), the pod
/// template of the spec's revision, and the rollout bookkeeping in
/// annotations ([`ANNOTATION_UPDATE_REVISION`], [`ANNOTATION_CURRENT_REVISION`],
/// [`ANNOTATION_PARTITION`], [`ANNOTATION_APPLIED_HASH`]) with the `zoo.cfg`
/// of both revisions ([`ANNOTATION_UPDATE_ZOO_CFG`],
/// [`ANNOTATION_CURRENT_ZOO_CFG`]), from which [`config_map`] serves each
/// pod its own revision's settings. Fails only for a spec the planner rejects.
///
/// # What Kubernetes still does behind the operator's back
///
/// A member whose *container* restarts (crash, OOM kill, failed liveness
/// probe) keeps its pod, and with it its revision label, image and the
/// `zoo.cfg` of its revision: nothing crosses the partition. But with
/// `OnDelete` a StatefulSet has exactly one pod template, the update
/// revision's. A pod below the partition (or not yet reached by the
/// rollout) that is *deleted* — evicted, drained, its node lost — is
/// recreated by the StatefulSet controller from that template: the new
/// image, the new revision label and therefore the new `zoo.cfg`, ahead of
/// the planner's one-at-a-time order. The operator cannot prevent that (it
/// only sees the new pod afterwards, and the planner then treats it as
/// updated); the PodDisruptionBudget limits voluntary evictions but not
/// node loss. (Only `RollingUpdate` with `rollingUpdate.partition` has the
/// StatefulSet controller recreate such pods from the current revision, and
/// that strategy would roll the pods itself, outside the planner.) The
/// local backend (`Supervisor::sync_statefulset`) emulates
/// the stricter rule, recreating such a pod at the current revision.
pub fn statefulset(zk: &ZookeeperCluster, ctx: &BuildContext) -> Result<StatefulSet, ConfigError> {
    let retention = match zk.spec.deletion_policy {
        DeletionPolicy::Delete | DeletionPolicy::WipeOut => "Delete",
        DeletionPolicy::Halt | DeletionPolicy::DoNotTerminate => "Retain",
    };
    let claims = match &ctx.existing_claims {
        Some(existing) if existing.is_empty() => None,
        Some(existing) => Some(existing.clone()),
        None => claim_templates(zk),
    };
    let update = revision(&zk.spec);
    let by_revision = zoo_cfg_by_revision(zk, ctx)?;
    let mut annotations = BTreeMap::from([
        (ANNOTATION_UPDATE_REVISION.to_string(), update.clone()),
        (ANNOTATION_CURRENT_REVISION.into(), ctx.current_revision.clone()),
        (ANNOTATION_PARTITION.into(), ctx.partition.to_string()),
    ]);
    if let Some(text) = by_revision.get(&update) {
        annotations.insert(ANNOTATION_UPDATE_ZOO_CFG.into(), text.clone());
    }
    if let Some(text) = by_revision.get(&ctx.current_revision) {
        annotations.insert(ANNOTATION_CURRENT_ZOO_CFG.into(), text.clone());
    }
    let mut sts = StatefulSet {
        metadata: ObjectMeta { annotations: Some(annotations), ..meta(zk, zk.name_any()) },
        spec: Some(StatefulSetSpec {
            replicas: Some(i32::try_from(ctx.replicas).unwrap_or(i32::MAX)),
            selector: LabelSelector { match_labels: Some(selector_labels(zk)), ..LabelSelector::default() },
            service_name: Some(names(zk).headless_service()),
            pod_management_policy: Some("Parallel".into()),
            update_strategy: Some(StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None }),
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some(retention.into()),
                // The planner releases volumes itself, after reconfig.
                when_scaled: Some("Retain".into()),
            }),
            template: pod_template(zk, claims.is_some()),
            volume_claim_templates: claims,
            ..StatefulSetSpec::default()
        }),
        status: None,
    };
    let hash = applied_hash(&sts);
    sts.annotations_mut().insert(ANNOTATION_APPLIED_HASH.into(), hash);
    Ok(sts)
}

/// A short hash of a StatefulSet as the operator builds it (without the
/// hash annotation itself, and without the claim templates, which cannot
/// change and come back from the API server with defaults filled in): when
/// the one on the cluster differs, the operator re-applies.
pub fn applied_hash(sts: &StatefulSet) -> String {
    let mut sts = sts.clone();
    if let Some(a) = sts.metadata.annotations.as_mut() {
        a.remove(ANNOTATION_APPLIED_HASH);
    }
    if let Some(spec) = sts.spec.as_mut() {
        spec.volume_claim_templates = None;
    }
    let bytes = serde_json::to_vec(&sts).unwrap_or_default();
    Sha1::digest(&bytes).iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// The headless Service `<name>-pods`: stable peer names, published
/// before the members are ready (they must find each other to get ready).
pub fn headless_service(zk: &ZookeeperCluster, _ctx: &BuildContext) -> Service {
    Service {
        metadata: meta(zk, names(zk).headless_service()),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(zk)),
            ports: Some(vec![
                port("quorum", QUORUM_PORT),
                port("election", ELECTION_PORT),
                port("client", CLIENT_PORT),
            ]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The client Service `<name>` (ready members only).
pub fn client_service(zk: &ZookeeperCluster, _ctx: &BuildContext) -> Service {
    Service {
        metadata: meta(zk, names(zk).client_service()),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector_labels(zk)),
            ports: Some(vec![port("client", CLIENT_PORT)]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The admin server Service `<name>-admin-server`.
pub fn admin_service(zk: &ZookeeperCluster, _ctx: &BuildContext) -> Service {
    Service {
        metadata: meta(zk, names(zk).admin_service()),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector_labels(zk)),
            ports: Some(vec![port("admin", zk.spec.admin_server_port)]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The ConfigMap `<name>-config`: one `zoo.cfg` per live revision under
/// [`zoo_cfg_key`] (`zoo.cfg.<revision>`, see [`zoo_cfg_by_revision`]: the
/// update revision's and, mid-rollout, the current revision's), the update
/// revision's name under [`KEY_UPDATE_REVISION`], and the seed dynamic
/// config. A pod renders the key of its own revision, so a restarted
/// container of a pod the rollout has not reached keeps its settings; the
/// current revision's key goes once every pod runs the update revision.
/// Fails only for a spec the planner rejects.
pub fn config_map(zk: &ZookeeperCluster, ctx: &BuildContext) -> Result<ConfigMap, ConfigError> {
    let mut data: BTreeMap<String, String> =
        zoo_cfg_by_revision(zk, ctx)?.into_iter().map(|(rev, text)| (zoo_cfg_key(&rev), text)).collect();
    data.insert(KEY_UPDATE_REVISION.into(), revision(&zk.spec));
    data.insert(KEY_DYNAMIC.into(), ctx.seed.render());
    Ok(ConfigMap { metadata: meta(zk, config_map_name(zk)), data: Some(data), ..ConfigMap::default() })
}

/// The Secret `<name>-auth`: the super user, its password and the digest
/// the servers are started with. Created once, never re-applied.
pub fn secret(zk: &ZookeeperCluster, ctx: &BuildContext) -> Secret {
    let c = &ctx.credential;
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    Secret {
        metadata: ObjectMeta { owner_references: secret_owner_references(zk), ..meta(zk, secret_name(zk)) },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            (KEY_USERNAME.into(), bytes(&c.user)),
            (KEY_PASSWORD.into(), bytes(&c.password)),
            (KEY_DIGEST.into(), bytes(&c.digest())),
        ])),
        ..Secret::default()
    }
}

/// The credential stored in a Secret built by [`secret`].
pub fn credential_of(secret: &Secret) -> Option<SuperCredential> {
    let data = secret.data.as_ref()?;
    let text = |k: &str| data.get(k).and_then(|b| String::from_utf8(b.0.clone()).ok());
    Some(SuperCredential { user: text(KEY_USERNAME)?, password: text(KEY_PASSWORD)? })
}

/// The PodDisruptionBudget `<name>`, when the spec enables it.
pub fn pod_disruption_budget(zk: &ZookeeperCluster, _ctx: &BuildContext) -> Option<PodDisruptionBudget> {
    let pdb = &zk.spec.pod_disruption_budget;
    pdb.enabled.then(|| PodDisruptionBudget {
        metadata: meta(zk, zk.name_any()),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(i32::try_from(pdb.max_unavailable).unwrap_or(1))),
            selector: Some(LabelSelector { match_labels: Some(selector_labels(zk)), ..LabelSelector::default() }),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::crd::ZookeeperClusterSpec;

    fn zk() -> ZookeeperCluster {
        let mut zk = ZookeeperCluster::new("zk", ZookeeperClusterSpec::new(3, "3.8.0"));
        zk.metadata.namespace = Some("ns".into());
        zk.metadata.uid = Some("uid-1".into());
        zk
    }

    #[test]
    fn ordinals_parse_only_from_our_names() {
        let n = EnsembleNames::new("zk", "ns");
        assert_eq!(ordinal_of_name(&n, "", "zk-2"), Some(2));
        assert_eq!(ordinal_of_name(&n, "data-", "data-zk-10"), Some(10));
        assert_eq!(ordinal_of_name(&n, "", "zk-a"), None);
        assert_eq!(ordinal_of_name(&n, "", "zk-01"), None);
        assert_eq!(ordinal_of_name(&n, "", "zkx-1"), None);
        assert_eq!(ordinal_of_name(&n, "data-", "zk-1"), None);
        assert_eq!(pvc_name(&n, 3), "data-zk-3");
    }

    #[test]
    fn jvm_flags_take_the_digest_from_the_secret() {
        let mut z = zk();
        assert_eq!(server_jvm_flags(&z), "-Dzookeeper.DigestAuthenticationProvider.superDigest=$(ZK_SUPER_DIGEST)");
        z.spec.jvm = Some(crate::operator::crd::JvmSpec { heap_mb: Some(256) });
        assert!(server_jvm_flags(&z).starts_with("-Xms256m -Xmx256m -Dzookeeper."));
    }

    #[test]
    fn the_hash_follows_the_spec_but_not_itself() {
        let z = zk();
        let cred = SuperCredential { user: "super".into(), password: "p".into() };
        let ctx = BuildContext::initial(&z, cred);
        let a = statefulset(&z, &ctx).unwrap();
        assert_eq!(applied_hash(&a), a.annotations()[ANNOTATION_APPLIED_HASH]);
        let mut z2 = z.clone();
        z2.spec.labels.insert("team".into(), "sre".into());
        assert_ne!(applied_hash(&statefulset(&z2, &ctx).unwrap()), applied_hash(&a));
    }

    #[test]
    fn the_config_map_serves_both_revisions_until_the_current_one_catches_up() {
        let z = zk();
        let cred = SuperCredential { user: "super".into(), password: "p".into() };
        let update = revision(&z.spec);
        let keys = |ctx: &BuildContext| config_map(&z, ctx).unwrap().data.unwrap().into_keys().collect::<Vec<_>>();
        let mut ctx = BuildContext::initial(&z, cred);
        assert_eq!(keys(&ctx), [KEY_UPDATE_REVISION.to_string(), zoo_cfg_key(&update), KEY_DYNAMIC.into()]);
        ctx.current_revision = "0a1b2c3d4e".into();
        // Unknown settings of the current revision: no key (its pods fall back).
        assert_eq!(keys(&ctx), [KEY_UPDATE_REVISION.to_string(), zoo_cfg_key(&update), KEY_DYNAMIC.into()]);
        ctx.current_zoo_cfg = Some("tickTime=1\n".into());
        let cm = config_map(&z, &ctx).unwrap().data.unwrap();
        assert_eq!(cm["zoo.cfg.0a1b2c3d4e"], "tickTime=1\n");
        assert_eq!(cm[&zoo_cfg_key(&update)], zoo_cfg(&z).unwrap());
        // The StatefulSet records both, and gives each back by revision.
        let sts = statefulset(&z, &ctx).unwrap();
        assert_eq!(stored_zoo_cfg(&sts, "0a1b2c3d4e").as_deref(), Some("tickTime=1\n"));
        assert_eq!(stored_zoo_cfg(&sts, &update), Some(zoo_cfg(&z).unwrap()));
        assert_eq!(stored_zoo_cfg(&sts, "ffffffffff"), None);
        // Caught up: the spec's revision renders its own; ctx's text is ignored.
        ctx.current_revision = update.clone();
        assert_eq!(stored_zoo_cfg(&statefulset(&z, &ctx).unwrap(), &update), Some(zoo_cfg(&z).unwrap()));
        assert_eq!(config_map(&z, &ctx).unwrap().data.unwrap().len(), 3);
    }

    #[test]
    fn the_secret_round_trips_and_is_owned_only_under_wipeout() {
        let mut z = zk();
        let cred = SuperCredential { user: "super".into(), password: "p".into() };
        let s = secret(&z, &BuildContext::initial(&z, cred.clone()));
        assert_eq!(credential_of(&s), Some(cred.clone()));
        assert!(s.metadata.owner_references.is_none());
        z.spec.deletion_policy = DeletionPolicy::WipeOut;
        let s = secret(&z, &BuildContext::initial(&z, cred));
        assert_eq!(s.metadata.owner_references.unwrap()[0].uid, "uid-1");
    }
}
