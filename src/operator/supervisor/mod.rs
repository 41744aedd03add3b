//! The embedded supervisor: the operator's pure planner driving the local
//! backend. Each round it plays kubelet (restart a crashed server) and the
//! StatefulSet controller (create missing pods, delete surplus ones, with
//! `OnDelete` and a partition), observes the world, plans, and applies the
//! plan's actions to processes. Everything it needs to continue lives in
//! the run's state file, so a supervisor killed anywhere resumes from what
//! it finds.

pub mod handoff;
pub mod observe;
pub mod runtime;
pub mod statefulset;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::backend::local::diagnose::StartupWatch;
use crate::backend::local::state::PodTemplate;
use crate::backend::local::{EnsembleError, EnsembleSpec, LocalEnsemble};
use crate::client::{self, SessionOptions, zk};
use crate::dist::{DistConfig, Progress};
use crate::operator::action::{Action, Plan};
use crate::operator::crd::{ZookeeperCluster, ZookeeperClusterSpec};
use crate::operator::settings::server_settings;
use crate::operator::status::ZookeeperClusterStatus;
use crate::operator::{revision, validate};
use crate::probe::EnsembleStatus;
use crate::zkconfig::{DynamicConfig, Role, ServerEntry};
use runtime::PodRuntime;
use statefulset::LocalStatefulSet;

/// JVM heap when the resource sets none.
pub const DEFAULT_HEAP_MB: u32 = 96;
/// A crashed server is restarted at most this often.
const RESTART_BACKOFF: Duration = Duration::from_secs(2);

/// Supervisor failures.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The local backend failed.
    #[error(transparent)]
    Ensemble(#[from] EnsembleError),
    /// The resource is invalid.
    #[error("invalid ZookeeperCluster: {0}")]
    Spec(#[from] validate::SpecError),
    /// The resource lacks a name.
    #[error("the ZookeeperCluster has no metadata.name")]
    NoName,
    /// The run has no operator section (it was not started from a resource).
    #[error("run {0} was not started by the operator (`zk-chaos up -f`)")]
    NotManaged(String),
    /// The stored operator state is unreadable.
    #[error("operator state in the run record is unreadable: {0}")]
    State(#[from] serde_json::Error),
    /// Handing a spec to or from another process failed.
    #[error(transparent)]
    Handoff(#[from] handoff::HandoffError),
    /// `ZK_CHAOS_SABOTAGE` names no planted bug, or this build has none.
    #[error("{0}")]
    Sabotage(String),
    /// The docker backend failed.
    #[cfg(feature = "docker")]
    #[error(transparent)]
    Docker(Box<crate::backend::docker::DockerError>),
    /// Convergence did not finish in time.
    #[error("not converged after {after:?}: {reason}")]
    Timeout {
        /// How long it tried.
        after: Duration,
        /// What the planner last said.
        reason: String,
    },
}

/// What the supervisor keeps in the world (the run record), like the
/// objects a controller keeps in the API server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorState {
    /// The desired resource.
    pub cluster: ZookeeperCluster,
    /// Bumped whenever the spec changes (`metadata.generation`).
    pub generation: Option<i64>,
    /// The emulated StatefulSet, once created.
    pub statefulset: Option<LocalStatefulSet>,
    /// See `Observed::last_write_ok_after_config`.
    pub last_write_ok_after_config: Option<u64>,
    /// The last published status.
    pub status: Option<ZookeeperClusterStatus>,
}

/// Options of the local run that are not part of the resource.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The base spec: work dir, subnet, pool, detach, dist config.
    pub base: EnsembleSpec,
}

/// One round's record, for progress output and tests.
#[derive(Debug, Clone)]
pub struct Round {
    /// The plan.
    pub plan: Plan,
    /// Errors applying its actions (the next round re-plans).
    pub errors: Vec<String>,
    /// The probe the plan was made from.
    pub probe: EnsembleStatus,
}

/// The supervisor of one ensemble: the local backend's by default, or any
/// other [`PodRuntime`].
pub struct Supervisor<E: PodRuntime = LocalEnsemble> {
    ens: E,
    op: OperatorState,
    dist: DistConfig,
    last_restart: std::collections::BTreeMap<u32, Instant>,
    #[cfg(feature = "sabotage")]
    sabotage: Option<crate::operator::sabotage::Sabotage>,
}

/// `ZK_CHAOS_SABOTAGE` set on a build without planted bugs is an error,
/// never silently ignored.
fn refuse_sabotage() -> Result<(), SupervisorError> {
    crate::operator::sabotage_refused().map_or(Ok(()), |why| Err(SupervisorError::Sabotage(why)))
}

/// The planted bug `ZK_CHAOS_SABOTAGE` asks for.
#[cfg(feature = "sabotage")]
fn sabotage_from_env() -> Result<Option<crate::operator::sabotage::Sabotage>, SupervisorError> {
    crate::operator::sabotage::Sabotage::from_env()
        .map_err(|e| SupervisorError::Sabotage(format!("{}: {e}", crate::operator::SABOTAGE_ENV)))
}

/// The pod template a spec asks for.
pub fn template_of(spec: &ZookeeperClusterSpec) -> PodTemplate {
    PodTemplate {
        revision: revision::revision(spec),
        version: spec.version.clone(),
        settings: server_settings(spec),
        heap_mb: spec.jvm.as_ref().and_then(|j| j.heap_mb).unwrap_or(DEFAULT_HEAP_MB),
    }
}

impl Supervisor {
    /// Create the run (network only) for `cluster` and a supervisor for it;
    /// the first rounds create the StatefulSet and its pods.
    pub async fn create(
        cluster: ZookeeperCluster,
        opts: &LocalOptions,
        progress: &dyn Progress,
    ) -> Result<Self, SupervisorError> {
        validate::validate(&cluster.spec)?;
        let name = cluster.metadata.name.clone().ok_or(SupervisorError::NoName)?;
        let mut base = opts.base.clone();
        base.name = name;
        base.namespace = cluster.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        base.version = cluster.spec.version.clone();
        base.replicas = 0;
        base.settings = server_settings(&cluster.spec);
        base.revision = revision::revision(&cluster.spec);
        let ens = LocalEnsemble::create(&base, progress).await?;
        Self::adopt(cluster, ens, base.dist.clone())
    }

    /// Whether the published status shows `spec` rolled out: Ready, every
    /// replica ready, every pod at or above the partition at the spec's
    /// revision.
    pub fn converged_on(status: Option<&ZookeeperClusterStatus>, spec: &ZookeeperClusterSpec) -> bool {
        let Some(s) = status else { return false };
        let rev = revision::revision(spec);
        s.phase == Some(crate::operator::status::Phase::Ready)
            && s.ready_replicas == spec.replicas
            && s.replicas == spec.replicas
            && s.update_revision.as_deref() == Some(rev.as_str())
            && s.members.len() as u32 == spec.replicas
            && s.members.iter().filter(|m| m.ordinal >= spec.partition()).all(|m| m.ready && m.revision == rev)
    }
}

impl<E: PodRuntime> Supervisor<E> {
    /// Supervise `ens`, a runtime without pods yet, for `cluster`; the first
    /// rounds create the StatefulSet and its pods.
    pub fn adopt(cluster: ZookeeperCluster, ens: E, dist: DistConfig) -> Result<Self, SupervisorError> {
        validate::validate(&cluster.spec)?;
        let op = OperatorState {
            generation: Some(1),
            cluster,
            statefulset: None,
            last_write_ok_after_config: None,
            status: None,
        };
        let mut me = Self::with_state(ens, op, dist)?;
        me.save()?;
        Ok(me)
    }

    /// Resume supervising a run whose record carries operator state.
    pub fn resume(ens: E, dist: DistConfig) -> Result<Self, SupervisorError> {
        let value = ens.operator_state().ok_or_else(|| SupervisorError::NotManaged(ens.run_label()))?;
        let op: OperatorState = serde_json::from_value(value)?;
        Self::with_state(ens, op, dist)
    }

    /// A supervisor of `ens` from `op`; `ZK_CHAOS_SABOTAGE` is read here.
    fn with_state(ens: E, op: OperatorState, dist: DistConfig) -> Result<Self, SupervisorError> {
        refuse_sabotage()?;
        Ok(Self {
            ens,
            op,
            dist,
            last_restart: Default::default(),
            #[cfg(feature = "sabotage")]
            sabotage: sabotage_from_env()?,
        })
    }

    /// The ensemble under supervision.
    pub fn ensemble(&self) -> &E {
        &self.ens
    }

    /// Mutable access to the ensemble (for faults).
    pub fn ensemble_mut(&mut self) -> &mut E {
        &mut self.ens
    }

    /// Give the ensemble back (to tear it down or detach it).
    pub fn into_ensemble(self) -> E {
        self.ens
    }

    /// The desired resource.
    pub fn cluster(&self) -> &ZookeeperCluster {
        &self.op.cluster
    }

    /// The generation of the desired spec (bumped by every change).
    pub fn generation(&self) -> i64 {
        self.op.generation.unwrap_or(1)
    }

    /// The last published status.
    pub fn status(&self) -> Option<&ZookeeperClusterStatus> {
        self.op.status.as_ref()
    }

    /// Delete pod `ordinal` as a user would (`kubectl delete pod`): its
    /// server stops and its namespace goes, its volume stays; the next
    /// round's StatefulSet sync recreates it at the revision its ordinal
    /// gets.
    pub async fn delete_pod(&mut self, ordinal: u32) -> Result<(), SupervisorError> {
        self.ens.remove_pod(ordinal, false).await?;
        Ok(())
    }

    /// Replace the desired spec (what `kubectl apply` does): validated, and
    /// the generation is bumped when it changed.
    pub fn apply(&mut self, spec: ZookeeperClusterSpec) -> Result<(), SupervisorError> {
        validate::validate(&spec)?;
        if spec != self.op.cluster.spec {
            self.op.cluster.spec = spec;
            self.op.generation = Some(self.op.generation.unwrap_or(0) + 1);
            self.save()?;
        }
        Ok(())
    }

    fn save(&mut self) -> Result<(), SupervisorError> {
        let value = serde_json::to_value(&self.op)?;
        self.ens.save_operator_state(value)
    }

    /// Play kubelet: restart servers whose process died (with a back-off
    /// per pod). Kubelet runs whether or not the operator does, so the
    /// local backend also calls this outside reconcile rounds.
    pub async fn restart_crashed(&mut self) -> Result<(), SupervisorError> {
        for o in self.ens.ordinals() {
            if self.ens.pod_running(o).await {
                continue;
            }
            if self.last_restart.get(&o).is_some_and(|t| t.elapsed() < RESTART_BACKOFF) {
                continue;
            }
            tracing::info!(pod = self.ens.names().pod(o), "restarting a server that exited");
            self.last_restart.insert(o, Instant::now());
            #[cfg(feature = "sabotage")]
            crate::operator::sabotage::before_restart(self.sabotage, &mut self.ens, o).await;
            self.ens.start_pod(o).await?;
        }
        Ok(())
    }

    /// Play the StatefulSet controller: create missing pods at the revision
    /// their ordinal gets, delete pods above `replicas` (volumes stay).
    /// Returns whether any pod was created or deleted.
    async fn sync_statefulset(&mut self, committed: Option<&DynamicConfig>) -> Result<bool, SupervisorError> {
        let Some(sts) = self.op.statefulset.clone() else { return Ok(false) };
        let (create, delete) = sts.diff(self.ens.ordinals());
        let changed = !create.is_empty() || !delete.is_empty();
        for o in delete {
            self.ens.remove_pod(o, false).await?;
        }
        for o in create {
            let template = sts.template_for(o).cloned().unwrap_or_else(|| template_of(&self.op.cluster.spec));
            self.ens.add_version(&template.version, &self.dist).await?;
            let names = self.ens.names();
            // A joiner starts with the committed members plus itself; the
            // first pods of a new ensemble start with each other.
            let initial = match committed {
                Some(c) => {
                    let mut c = DynamicConfig { servers: c.servers.clone(), version: None };
                    if !c.servers.iter().any(|s| s.id == crate::zkconfig::server_id(o)) {
                        c.servers.push(ServerEntry::for_pod(names, o, Role::Participant));
                    }
                    c
                }
                None => DynamicConfig::for_replicas(names, sts.replicas),
            };
            self.ens.add_pod(o, &template, &initial).await?;
        }
        let revisions = self.ens.templates().into_iter().map(|(o, t)| (o, t.revision)).collect();
        if let Some(s) = self.op.statefulset.as_mut() {
            s.settle(&revisions);
        }
        Ok(changed)
    }

    /// One round: kubelet, StatefulSet controller, observe, plan, act.
    pub async fn reconcile_once(&mut self) -> Result<Round, SupervisorError> {
        self.restart_crashed().await?;
        let probe = self.ens.status().await;
        let committed = crate::operator::members::committed(&probe);
        // Probe again only when pods came or went.
        let probe = if self.sync_statefulset(committed.as_ref()).await? { self.ens.status().await } else { probe };
        let volumes = self.ens.volumes().await;
        let observed = observe::observe_pods(self.ens.names(), &self.ens.templates(), &self.op, &probe, &volumes);
        #[cfg(feature = "sabotage")]
        let plan = crate::operator::sabotage::plan(&self.op.cluster.spec, &observed, self.sabotage);
        #[cfg(not(feature = "sabotage"))]
        let plan = crate::operator::planner::plan(&self.op.cluster.spec, &observed);
        let mut errors = Vec::new();
        for action in &plan.actions {
            if let Err(e) = self.execute(action, &observed).await {
                tracing::warn!(?action, error = %e, "action failed; re-planning next round");
                errors.push(format!("{action:?}: {e}"));
                break;
            }
        }
        self.save()?;
        Ok(Round { plan, errors, probe })
    }

    async fn execute(
        &mut self,
        action: &Action,
        observed: &crate::operator::observed::Observed,
    ) -> Result<(), SupervisorError> {
        match action {
            Action::EnsureStatefulSet { replicas, update_revision, partition } => {
                let template = template_of(&self.op.cluster.spec);
                let template = if template.revision == *update_revision {
                    template
                } else {
                    // The planner only ever asks for the spec's revision.
                    return Err(EnsembleError::Invalid(format!(
                        "asked for revision {update_revision}, the spec is at {}",
                        template.revision
                    ))
                    .into());
                };
                self.ens.add_version(&template.version, &self.dist).await?;
                let sts = self.op.statefulset.get_or_insert_with(|| LocalStatefulSet {
                    replicas: 0,
                    update_revision: template.revision.clone(),
                    current_revision: template.revision.clone(),
                    partition: *partition,
                    templates: Default::default(),
                });
                sts.ensure(*replicas, update_revision, *partition, template.clone());
                #[cfg(feature = "sabotage")]
                crate::operator::sabotage::after_template_change(self.sabotage, &mut self.ens, &template).await?;
                self.save()?;
                let committed = observed.committed.clone();
                self.sync_statefulset(committed.as_ref()).await?;
            }
            Action::DeletePod { ordinal, revision, reason } => {
                let Some(current) = self.ens.templates().remove(ordinal) else { return Ok(()) };
                if current.revision != *revision {
                    return Ok(()); // already recreated
                }
                tracing::info!(pod = self.ens.names().pod(*ordinal), reason, "deleting pod");
                self.ens.stop_pod(*ordinal).await?;
                let sts = self.op.statefulset.clone();
                if let Some(template) = sts.as_ref().and_then(|s| s.template_for(*ordinal)) {
                    self.ens.add_version(&template.version, &self.dist).await?;
                    self.ens.set_pod_template(*ordinal, template).await?;
                }
                self.last_restart.insert(*ordinal, Instant::now());
                self.ens.start_pod(*ordinal).await?;
            }
            Action::ReconfigAdd { entry, expected_version } => {
                let line = entry.line();
                self.reconfig(&[line.as_str()], &[], *expected_version).await?;
            }
            Action::ReconfigRemove { id, expected_version } => {
                let id = id.to_string();
                self.reconfig(&[], &[id.as_str()], *expected_version).await?;
            }
            Action::ProbeWrite => {
                let version = observed.committed.as_ref().and_then(|c| c.version).unwrap_or_default();
                let zxid = self.probe_write().await?;
                if zxid > version as i64 {
                    self.op.last_write_ok_after_config = Some(version);
                }
            }
            Action::ReleaseVolume { ordinal } => self.ens.release_volume(*ordinal).await?,
            Action::UpdateStatus(status) => self.op.status = Some((**status).clone()),
            Action::Wait { .. } => {}
        }
        Ok(())
    }

    async fn super_session(&self) -> Result<zk::Client, EnsembleError> {
        let opts = SessionOptions { session_timeout: Duration::from_secs(6), connect_timeout: Duration::from_secs(10) };
        client::connect_super(&self.ens.connect_string(), opts, self.ens.credential())
            .await
            .map_err(|e| EnsembleError::Invalid(e.to_string()))
    }

    /// `reconfig -add`/`-remove`, conditional on the committed version.
    async fn reconfig(&self, joining: &[&str], leaving: &[&str], expected_version: u64) -> Result<(), SupervisorError> {
        let c = self.super_session().await?;
        client::reconfig(&c, joining, leaving, expected_version)
            .await
            .map_err(|e| EnsembleError::Invalid(e.to_string()))?;
        Ok(())
    }

    async fn probe_write(&self) -> Result<i64, SupervisorError> {
        let c = self.super_session().await?;
        Ok(client::probe_write(&c).await.map_err(|e| EnsembleError::Invalid(e.to_string()))?)
    }
}

impl Supervisor {
    /// Reconcile until the plan is converged (Ready, nothing to do), calling
    /// `on_round` after each round. Fails after `timeout`, or as soon as a
    /// [`StartupWatch`] finds why it cannot (a server exited, members
    /// cannot reach each other).
    pub async fn converge(
        &mut self,
        timeout: Duration,
        mut on_round: impl FnMut(&Round),
    ) -> Result<Round, SupervisorError> {
        let start = Instant::now();
        let mut watch = StartupWatch::new();
        loop {
            let round = self.reconcile_once().await?;
            on_round(&round);
            if round.plan.is_converged() && round.errors.is_empty() {
                return Ok(round);
            }
            // Say why it does not converge when a server exits or members
            // cannot reach each other, instead of waiting for the deadline.
            let snap = self.ens.startup_snapshot();
            watch.check(&snap, &round.probe).await.map_err(EnsembleError::from)?;
            if start.elapsed() > timeout {
                return Err(SupervisorError::Timeout { after: start.elapsed(), reason: round.plan.reason.clone() });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
