//! The kube-rs controller for `ZookeeperCluster`: `reconcile` reads the
//! world, asks the pure planner for the next step and applies it. The
//! planner decides; the executor here only applies, mirroring
//! `Supervisor::execute` action for action:
//!
//! | action | in Kubernetes |
//! |---|---|
//! | `EnsureStatefulSet` | server-side apply of the StatefulSet (field manager `zk-chaos-operator`) |
//! | `DeletePod` | delete the pod with `Preconditions { uid, resourceVersion }`, only if its revision label still matches |
//! | `ReconfigAdd`/`ReconfigRemove` | `reconfig` as the super user (Secret credential), conditional on the config version; `BadVersion` counts as done |
//! | `ProbeWrite` | set the probe znode; remembers the config version it went through after |
//! | `ReleaseVolume` | delete the claim `data-<name>-<ordinal>` (uid precondition) once no pod with that ordinal exists |
//! | `UpdateStatus` | server-side apply of the status subresource |
//! | `Wait` | nothing; requeue soon |
//!
//! Each reconcile also keeps the ConfigMap, Services and PodDisruptionBudget
//! applied (idempotent server-side applies), creates the Secret once (never
//! rotated), and re-applies the StatefulSet when what it was built from
//! drifted without a new revision (labels, affinity, deletion policy, or
//! the current revision catching up). The ConfigMap carries the `zoo.cfg`
//! of the current and the update revision, the former taken from the
//! StatefulSet's annotations: an operator restarted anywhere rebuilds the
//! same ConfigMap from what the API server shows.
//! Disruptive steps publish an event on the `ZookeeperCluster`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource as _, ResourceExt as _};

use super::access::{AccessError, EnsembleAccess, LiveEnsemble, Reconfig};
use super::build::{self, BuildContext};
use super::observe::{Snapshot, members_to_probe, observe, pods_by_ordinal};
use super::{FIELD_MANAGER, KEY_DYNAMIC, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_REVISION};
use crate::operator::action::{Action, Plan};
use crate::operator::crd::ZookeeperCluster;
use crate::operator::observed::Observed;
use crate::operator::revision::revision;
use crate::operator::{planner, validate};
use crate::zkconfig::{CLIENT_PORT, ConfigError, DynamicConfig, SuperCredential};

/// Reconcile failures; each is retried with backoff by [`error_policy`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource lacks a field every object from the API server has.
    #[error("the ZookeeperCluster has no metadata.{0}")]
    MissingMetadata(&'static str),
    /// An API call failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The Secret exists but holds no `username`/`password`.
    #[error("Secret {0} holds no usable super-user credential")]
    BadSecret(String),
    /// The Secret is gone but the ensemble runs with its digest: a new
    /// password would lock the operator out of reconfig.
    #[error("Secret {0} is gone while the StatefulSet exists; restore it (the operator never rotates the credential)")]
    CredentialLost(String),
    /// zoo.cfg could not be rendered (the planner rejects such specs first).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The planner asked for a revision the spec is not at.
    #[error("asked for revision {asked}, the spec is at {spec}")]
    Revision {
        /// What the action asked for.
        asked: String,
        /// The spec's revision.
        spec: String,
    },
    /// A reconfig or probe write found no serving member to talk to.
    #[error("no member serves: cannot {0}")]
    NoServingMember(&'static str),
    /// Reaching the members failed.
    #[error(transparent)]
    Access(#[from] AccessError),
}

/// Timing of the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControllerConfig {
    /// Requeue after this while the plan is not converged (acting or waiting).
    pub requeue_busy: Duration,
    /// Requeue after this once converged (member state is not a Kubernetes
    /// event: a periodic look catches leader changes and the like).
    pub requeue_idle: Duration,
    /// First retry after an error; doubles per consecutive failure.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            requeue_busy: Duration::from_secs(3),
            requeue_idle: Duration::from_secs(60),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }
}

type Clock = Arc<dyn Fn() -> String + Send + Sync>;

/// What every reconcile shares.
pub struct Context {
    client: Client,
    access: Arc<dyn EnsembleAccess>,
    recorder: Recorder,
    config: ControllerConfig,
    clock: Clock,
    /// `Observed::last_write_ok_after_config` per resource uid. Kept in
    /// memory: an operator that restarts only probes once more.
    write_ok: Mutex<HashMap<String, u64>>,
    /// Consecutive failures per resource, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    /// A context reaching members through `access`, reporting events as
    /// `zk-chaos-operator` (instance: `$POD_NAME` when set).
    pub fn new(client: Client, access: Arc<dyn EnsembleAccess>) -> Self {
        let reporter = Reporter { controller: super::CONTROLLER_NAME.into(), instance: std::env::var("POD_NAME").ok() };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            access,
            config: ControllerConfig::default(),
            clock: Arc::new(now_rfc3339),
            write_ok: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    /// Replace the timing.
    pub fn with_config(mut self, config: ControllerConfig) -> Self {
        self.config = config;
        self
    }

    /// Replace the clock that stamps condition transition times (RFC 3339).
    pub fn with_clock(mut self, clock: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The timing in use.
    pub fn config(&self) -> ControllerConfig {
        self.config
    }

    fn write_ok(&self, uid: &str) -> Option<u64> {
        self.write_ok.lock().ok()?.get(uid).copied()
    }
}

/// The current time as RFC 3339 in whole seconds (`2025-01-01T00:00:00Z`),
/// as Kubernetes writes `lastTransitionTime`.
pub fn now_rfc3339() -> String {
    format!("{:.0}", k8s_openapi::jiff::Timestamp::now())
}

/// The reconcile key of a resource.
fn key(zk: &ZookeeperCluster) -> String {
    format!("{}/{}", zk.namespace().unwrap_or_default(), zk.name_any())
}

/// Observe, plan, apply. Returns when to look again.
pub async fn reconcile(zk: Arc<ZookeeperCluster>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    let exec = Executor::new(&zk, &ctx)?;
    if zk.metadata.deletion_timestamp.is_some() {
        // Owner references and the claim retention policy do the cleanup.
        return Ok(Requeue::await_change());
    }
    let world = exec.read().await?;
    let observed = observe(&zk, &world.snapshot);
    let plan = planner::plan(&zk.spec, &observed);
    tracing::info!(cluster = key(&zk), phase = ?plan.phase(), reason = plan.reason, steps = plan.steps().count(), "planned");
    exec.apply(&plan, &observed, &world).await?;
    if let Ok(mut f) = ctx.failures.lock() {
        f.remove(&key(&zk));
    }
    let after = if plan.is_converged() { ctx.config.requeue_idle } else { ctx.config.requeue_busy };
    Ok(Requeue::requeue(after))
}

/// Retry a failed reconcile with exponential backoff per resource.
pub fn error_policy(zk: Arc<ZookeeperCluster>, err: &Error, ctx: Arc<Context>) -> Requeue {
    let n = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(key(&zk)).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    let delay = backoff(&ctx.config, n);
    tracing::warn!(cluster = key(&zk), error = %err, failures = n, retry_in = ?delay, "reconcile failed");
    Requeue::requeue(delay)
}

/// The delay before retry number `failures` (1-based).
pub fn backoff(config: &ControllerConfig, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    config.backoff_base.saturating_mul(factor).min(config.backoff_max)
}

/// Run the controller until SIGTERM/Ctrl+C (graceful: running reconciles
/// finish). Watches every namespace: ZookeeperClusters, and by the
/// `app.kubernetes.io/managed-by=zk-chaos-operator` label the
/// StatefulSets, Services, ConfigMaps and PodDisruptionBudgets it owns and
/// the member pods. Fails early when the CRD is not installed.
pub async fn run_controller(client: Client) -> Result<(), Error> {
    let clusters = Api::<ZookeeperCluster>::all(client.clone());
    clusters.list(&ListParams::default().limit(1)).await?;
    let ctx = Arc::new(Context::new(client.clone(), Arc::new(LiveEnsemble::default())));
    let ours = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={FIELD_MANAGER}"));
    Controller::new(clusters, watcher::Config::default())
        .owns(Api::<StatefulSet>::all(client.clone()), ours.clone())
        .owns(Api::<Service>::all(client.clone()), ours.clone())
        .owns(Api::<ConfigMap>::all(client.clone()), ours.clone())
        .owns(Api::<PodDisruptionBudget>::all(client.clone()), ours.clone())
        .watches(Api::<Pod>::all(client), ours, cluster_of_pod)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((o, _)) => tracing::debug!(cluster = %o, "reconciled"),
                Err(e) => tracing::warn!(error = %e, "controller"),
            }
        })
        .await;
    Ok(())
}

/// The ZookeeperCluster a member pod belongs to (its instance label).
pub fn cluster_of_pod(pod: Pod) -> Option<ObjectRef<ZookeeperCluster>> {
    let name = pod.labels().get(LABEL_INSTANCE)?.clone();
    Some(ObjectRef::new(&name).within(&pod.namespace()?))
}

/// What one reconcile read, beyond the snapshot the planner sees.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// What the planner sees (through `observe`).
    pub snapshot: Snapshot,
    /// The Secret `<name>-auth`.
    pub secret: Option<Secret>,
    /// The ConfigMap `<name>-config`.
    pub config_map: Option<ConfigMap>,
}

struct Executor<'a> {
    zk: &'a ZookeeperCluster,
    ctx: &'a Context,
    uid: String,
    names: crate::zkconfig::EnsembleNames,
    statefulsets: Api<StatefulSet>,
    pods: Api<Pod>,
    claims: Api<PersistentVolumeClaim>,
    secrets: Api<Secret>,
    config_maps: Api<ConfigMap>,
    services: Api<Service>,
    pdbs: Api<PodDisruptionBudget>,
    clusters: Api<ZookeeperCluster>,
}

fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

fn is_status(e: &kube::Error, check: impl Fn(&kube::core::Status) -> bool) -> bool {
    matches!(e, kube::Error::Api(s) if check(s))
}

impl<'a> Executor<'a> {
    fn new(zk: &'a ZookeeperCluster, ctx: &'a Context) -> Result<Self, Error> {
        zk.metadata.name.as_ref().ok_or(Error::MissingMetadata("name"))?;
        let ns = zk.namespace().ok_or(Error::MissingMetadata("namespace"))?;
        let uid = zk.uid().ok_or(Error::MissingMetadata("uid"))?;
        let c = &ctx.client;
        Ok(Self {
            zk,
            ctx,
            uid,
            names: build::names(zk),
            statefulsets: Api::namespaced(c.clone(), &ns),
            pods: Api::namespaced(c.clone(), &ns),
            claims: Api::namespaced(c.clone(), &ns),
            secrets: Api::namespaced(c.clone(), &ns),
            config_maps: Api::namespaced(c.clone(), &ns),
            services: Api::namespaced(c.clone(), &ns),
            pdbs: Api::namespaced(c.clone(), &ns),
            clusters: Api::namespaced(c.clone(), &ns),
        })
    }

    /// Read the world: Secret, StatefulSet, ConfigMap, pods, claims, and
    /// one probe of every pod with an address.
    async fn read(&self) -> Result<World, Error> {
        let zk = self.zk;
        let by_label = ListParams::default().labels(&build::selector(zk));
        let secret = self.secrets.get_opt(&build::secret_name(zk)).await?;
        let statefulset = self.statefulsets.get_opt(&zk.name_any()).await?;
        let config_map = self.config_maps.get_opt(&build::config_map_name(zk)).await?;
        let pods = self.pods.list(&by_label).await?.items;
        let claims = self.claims.list(&by_label).await?.items;
        let members = members_to_probe(&self.names, &pods);
        let probes = self.ctx.access.probe(&members, zk.spec.admin_server_port).await;
        let snapshot =
            Snapshot { statefulset, pods, claims, probes, last_write_ok_after_config: self.ctx.write_ok(&self.uid) };
        Ok(World { snapshot, secret, config_map })
    }

    /// Apply the plan: owned objects first, then each action in order
    /// (stopping at the first failure, like the supervisor).
    async fn apply(&self, plan: &Plan, observed: &Observed, world: &World) -> Result<(), Error> {
        let credential = self.ensure_secret(world).await?;
        let valid = validate::validate(&self.zk.spec).is_ok();
        let ensure = plan.actions.iter().find_map(|a| match a {
            Action::EnsureStatefulSet { replicas, update_revision, partition } => {
                Some((*replicas, update_revision.clone(), *partition))
            }
            _ => None,
        });
        if valid {
            let replicas = ensure.as_ref().map_or(observed.replicas(), |e| e.0);
            self.ensure_children(&self.context(observed, world, replicas, &credential)).await?;
            if ensure.is_none() {
                self.resync_statefulset(observed, world, &credential).await?;
            }
        }
        for action in &plan.actions {
            self.execute(action, observed, world, &credential).await?;
        }
        Ok(())
    }

    /// The build context for `replicas` members: the committed config as
    /// the seed (else the ConfigMap's, else the initial members).
    fn context(&self, observed: &Observed, world: &World, replicas: u32, credential: &SuperCredential) -> BuildContext {
        let committed =
            observed.committed.as_ref().map(|c| DynamicConfig { servers: c.servers.clone(), version: None });
        let existing = world
            .config_map
            .as_ref()
            .and_then(|c| c.data.as_ref()?.get(KEY_DYNAMIC))
            .and_then(|t| DynamicConfig::parse(t).ok())
            .filter(|c| !c.servers.is_empty());
        let seed = committed.or(existing).unwrap_or_else(|| DynamicConfig::for_replicas(&self.names, replicas.max(1)));
        let current_revision =
            observed.statefulset.as_ref().map_or_else(|| revision(&self.zk.spec), |s| s.current_revision.clone());
        // Everything from the API server: the StatefulSet recorded the
        // zoo.cfg of its revisions (the spec's revision renders its own).
        let current_zoo_cfg =
            world.snapshot.statefulset.as_ref().and_then(|s| build::stored_zoo_cfg(s, &current_revision));
        BuildContext {
            replicas,
            partition: self.zk.spec.partition(),
            current_revision,
            current_zoo_cfg,
            seed,
            credential: credential.clone(),
            existing_claims: world
                .snapshot
                .statefulset
                .as_ref()
                .map(|s| s.spec.as_ref().and_then(|s| s.volume_claim_templates.clone()).unwrap_or_default()),
        }
    }

    /// The credential: from the Secret, or a new one in a new Secret (only
    /// while no StatefulSet exists). Keeps the Secret's owner reference in
    /// line with the deletion policy.
    async fn ensure_secret(&self, world: &World) -> Result<SuperCredential, Error> {
        let name = build::secret_name(self.zk);
        let Some(secret) = &world.secret else {
            if world.snapshot.statefulset.is_some() {
                return Err(Error::CredentialLost(name));
            }
            let credential = SuperCredential::generate();
            let ctx = BuildContext::initial(self.zk, credential.clone());
            let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() };
            match self.secrets.create(&pp, &build::secret(self.zk, &ctx)).await {
                Ok(_) => return Ok(credential),
                // Created meanwhile (by an earlier attempt): use that one.
                Err(e) if is_status(&e, |s| s.is_already_exists()) => {
                    let s = self.secrets.get(&name).await?;
                    return build::credential_of(&s).ok_or(Error::BadSecret(name));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let credential = build::credential_of(secret).ok_or_else(|| Error::BadSecret(name.clone()))?;
        let wanted = build::secret_owner_references(self.zk).unwrap_or_default();
        if secret.metadata.owner_references.clone().unwrap_or_default() != wanted {
            let refs = if wanted.is_empty() { serde_json::Value::Null } else { serde_json::json!(wanted) };
            let patch = serde_json::json!({ "metadata": { "ownerReferences": refs } });
            let pp = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
            self.secrets.patch(&name, &pp, &Patch::Merge(&patch)).await?;
        }
        Ok(credential)
    }

    /// Server-side apply the ConfigMap, the three Services and the PDB
    /// (deleted when disabled).
    async fn ensure_children(&self, ctx: &BuildContext) -> Result<(), Error> {
        let zk = self.zk;
        let cm = build::config_map(zk, ctx)?;
        self.config_maps.patch(&cm.name_any(), &apply_params(), &Patch::Apply(&cm)).await?;
        for svc in [build::headless_service(zk, ctx), build::client_service(zk, ctx), build::admin_service(zk, ctx)] {
            self.services.patch(&svc.name_any(), &apply_params(), &Patch::Apply(&svc)).await?;
        }
        match build::pod_disruption_budget(zk, ctx) {
            Some(pdb) => {
                self.pdbs.patch(&pdb.name_any(), &apply_params(), &Patch::Apply(&pdb)).await?;
            }
            None => ignore_not_found(self.pdbs.delete(&zk.name_any(), &DeleteParams::default()).await)?,
        }
        Ok(())
    }

    /// Re-apply the StatefulSet with its observed replicas and partition
    /// when what it was built from changed without a new revision.
    async fn resync_statefulset(
        &self,
        observed: &Observed,
        world: &World,
        credential: &SuperCredential,
    ) -> Result<(), Error> {
        let (Some(current), Some(obs)) = (&world.snapshot.statefulset, &observed.statefulset) else { return Ok(()) };
        let mut ctx = self.context(observed, world, obs.replicas, credential);
        ctx.partition = obs.partition;
        let wanted = build::statefulset(self.zk, &ctx)?;
        let applied = current.annotations().get(super::ANNOTATION_APPLIED_HASH);
        if applied == wanted.annotations().get(super::ANNOTATION_APPLIED_HASH) {
            return Ok(());
        }
        tracing::info!(cluster = key(self.zk), "StatefulSet drifted from the spec; re-applying");
        self.statefulsets.patch(&wanted.name_any(), &apply_params(), &Patch::Apply(&wanted)).await?;
        Ok(())
    }

    async fn execute(
        &self,
        action: &Action,
        observed: &Observed,
        world: &World,
        credential: &SuperCredential,
    ) -> Result<(), Error> {
        let zk = self.zk;
        match action {
            Action::EnsureStatefulSet { replicas, update_revision, partition } => {
                let spec_revision = revision(&zk.spec);
                if *update_revision != spec_revision {
                    return Err(Error::Revision { asked: update_revision.clone(), spec: spec_revision });
                }
                let mut ctx = self.context(observed, world, *replicas, credential);
                ctx.partition = *partition;
                let sts = build::statefulset(zk, &ctx)?;
                self.statefulsets.patch(&sts.name_any(), &apply_params(), &Patch::Apply(&sts)).await?;
                let before = observed.statefulset.as_ref().map(|s| s.replicas);
                match before {
                    None => self.event("Creating", "CreateStatefulSet", format!("creating {replicas} member(s)")).await,
                    Some(b) if b != *replicas => {
                        self.event("Scaling", "ScaleStatefulSet", format!("StatefulSet replicas {b} -> {replicas}"))
                            .await
                    }
                    Some(_) => {}
                }
            }
            Action::DeletePod { ordinal, revision, reason } => {
                self.delete_pod(world, *ordinal, revision, reason).await?
            }
            Action::ReconfigAdd { entry, expected_version } => {
                let servers = connect_string(world).ok_or(Error::NoServingMember("reconfig"))?;
                let line = entry.line();
                self.ctx.access.reconfig(&servers, credential, Reconfig::Add(line.clone()), *expected_version).await?;
                self.event("Reconfig", "ReconfigAdd", format!("reconfig -add {line} (config {expected_version:x})"))
                    .await;
            }
            Action::ReconfigRemove { id, expected_version } => {
                let servers = connect_string(world).ok_or(Error::NoServingMember("reconfig"))?;
                self.ctx.access.reconfig(&servers, credential, Reconfig::Remove(*id), *expected_version).await?;
                self.event(
                    "Reconfig",
                    "ReconfigRemove",
                    format!("reconfig -remove {id} (config {expected_version:x})"),
                )
                .await;
            }
            Action::ProbeWrite => {
                let servers = connect_string(world).ok_or(Error::NoServingMember("write the probe znode"))?;
                let version = observed.committed.as_ref().and_then(|c| c.version).unwrap_or_default();
                let zxid = self.ctx.access.probe_write(&servers, credential).await?;
                if zxid > version as i64
                    && let Ok(mut w) = self.ctx.write_ok.lock()
                {
                    w.insert(self.uid.clone(), version);
                }
            }
            Action::ReleaseVolume { ordinal } => self.release_volume(world, *ordinal).await?,
            Action::UpdateStatus(status) => {
                let mut status = (**status).clone();
                status.stamp(&(self.ctx.clock)());
                let patch = serde_json::json!({
                    "apiVersion": ZookeeperCluster::api_version(&()),
                    "kind": ZookeeperCluster::kind(&()),
                    "status": status,
                });
                self.clusters.patch_status(&zk.name_any(), &apply_params(), &Patch::Apply(&patch)).await?;
            }
            Action::Wait { .. } => {}
        }
        Ok(())
    }

    /// Delete pod `ordinal` only if it is still the pod observed at
    /// `revision` (uid and resourceVersion preconditions).
    async fn delete_pod(&self, world: &World, ordinal: u32, revision: &str, reason: &str) -> Result<(), Error> {
        let pods = pods_by_ordinal(&self.names, &world.snapshot.pods);
        let Some(pod) = pods.get(&ordinal) else { return Ok(()) };
        if pod.labels().get(LABEL_REVISION).map(String::as_str) != Some(revision) {
            return Ok(()); // already recreated
        }
        let dp = DeleteParams {
            preconditions: Some(Preconditions { uid: pod.uid(), resource_version: pod.resource_version() }),
            ..DeleteParams::default()
        };
        match self.pods.delete(&pod.name_any(), &dp).await {
            Ok(_) => {}
            // Gone, or changed since observed: the next reconcile re-plans.
            Err(e) if is_status(&e, |s| s.is_not_found() || s.is_conflict()) => {
                tracing::info!(pod = pod.name_any(), error = %e, "pod changed since observed; not deleted");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        self.event("RestartingMember", "DeletePod", format!("deleted {}: {reason}", pod.name_any())).await;
        Ok(())
    }

    /// Delete the claim of `ordinal` once no pod with that ordinal exists.
    async fn release_volume(&self, world: &World, ordinal: u32) -> Result<(), Error> {
        if pods_by_ordinal(&self.names, &world.snapshot.pods).contains_key(&ordinal) {
            return Ok(());
        }
        if self.pods.get_opt(&self.names.pod(ordinal)).await?.is_some() {
            return Ok(()); // recreated meanwhile
        }
        let name = build::pvc_name(&self.names, ordinal);
        let Some(claim) = world.snapshot.claims.iter().find(|c| c.name_any() == name) else { return Ok(()) };
        let dp = DeleteParams {
            preconditions: Some(Preconditions { uid: claim.uid(), resource_version: None }),
            ..DeleteParams::default()
        };
        ignore_not_found(self.claims.delete(&name, &dp).await)?;
        self.event(
            "ReleasedVolume",
            "DeleteVolume",
            format!("deleted {name}: {} left the ensemble", self.names.pod(ordinal)),
        )
        .await;
        Ok(())
    }

    /// Publish a Normal event on the ZookeeperCluster (failures are logged only).
    async fn event(&self, reason: &str, action: &str, note: String) {
        let ev = Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.ctx.recorder.publish(&ev, &self.zk.object_ref(&())).await {
            tracing::warn!(cluster = key(self.zk), error = %e, "cannot publish event");
        }
    }
}

fn ignore_not_found<T>(r: Result<T, kube::Error>) -> Result<(), Error> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, |s| s.is_not_found()) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `ip:2181,...` of the members that served in this round's probes.
fn connect_string(world: &World) -> Option<String> {
    let servers: Vec<String> =
        world.snapshot.probes.iter().filter(|m| m.serving()).map(|m| format!("{}:{CLIENT_PORT}", m.addr)).collect();
    (!servers.is_empty()).then(|| servers.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let c = ControllerConfig::default();
        assert_eq!(backoff(&c, 1), Duration::from_secs(1));
        assert_eq!(backoff(&c, 2), Duration::from_secs(2));
        assert_eq!(backoff(&c, 4), Duration::from_secs(8));
        assert_eq!(backoff(&c, 40), Duration::from_secs(300));
    }

    #[test]
    fn transition_times_are_whole_second_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), "2025-01-01T00:00:00Z".len(), "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }

    #[test]
    fn pods_map_to_their_cluster() {
        let mut pod = Pod::default();
        pod.metadata.namespace = Some("ns".into());
        pod.metadata.labels = Some([(LABEL_INSTANCE.to_string(), "zk".to_string())].into());
        assert_eq!(cluster_of_pod(pod), Some(ObjectRef::new("zk").within("ns")));
        assert_eq!(cluster_of_pod(Pod::default()), None);
    }
}
