//! The pure planner: one observation and one spec in, the next safe step
//! out. Deterministic and stateless, so an operator can crash and resume
//! anywhere.
//!
//! Order of business, first match wins (at most one disruptive step):
//! 1. no StatefulSet: create it;
//! 2. no committed config: wait for a quorum;
//! 3. release data volumes of pods that left the ensemble (`Delete` policy);
//! 4. committed members without a pod: remove them (scale-down) or bring
//!    their pod back;
//! 5. the top pod above `replicas`: `reconfig -remove` it, wait for the new
//!    config and a probe write, then stop it;
//! 6. pods not yet voting: `reconfig -add` them once they serve (or back a
//!    joiner out when it cannot join);
//! 7. rolling update: one member at a time, followers first (highest
//!    ordinal first), the leader last, only ordinals `>= partition`;
//! 8. scale-up: start one more member.
//!
//! A disruptive step is only taken when every other member is healthy and
//! the committed config keeps a healthy majority.

use super::action::{Action, Plan};
use super::assess::Assessment;
use super::crd::{StorageReclaimPolicy, ZookeeperClusterSpec};
use super::observed::Observed;
use super::report::{Progress, derive_status};
use super::validate::validate;
use crate::zkconfig::{Role, ServerEntry, server_id};

/// What the planner decided, before it is turned into actions.
#[derive(Debug, Clone, PartialEq)]
enum Decision {
    /// Take this step.
    Act(Step, String),
    /// Nothing is safe to do now; the string says what is awaited.
    Wait(String),
    /// Nothing to do; the string describes the state.
    Idle(String),
}

/// A single step, before the StatefulSet template is folded in.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Replicas(u32),
    Delete(u32),
    Add(u32),
    Remove(u32),
    Probe,
    Release(u32),
}

impl Decision {
    /// The human reason.
    fn reason(&self) -> &str {
        match self {
            Decision::Act(_, r) | Decision::Wait(r) | Decision::Idle(r) => r,
        }
    }
}

/// Plan the next step for `spec` given `observed`.
pub fn plan(spec: &ZookeeperClusterSpec, observed: &Observed) -> Plan {
    let facts = Assessment::of(spec, observed);
    let validation = validate(spec);
    let decision = match &validation {
        Err(e) => Decision::Wait(format!("spec rejected: {e}")),
        Ok(_) => Planner { spec, obs: observed, facts: &facts }.decide(),
    };
    let mut actions = Vec::new();
    if validation.is_ok() {
        actions.extend(statefulset_action(spec, observed, &facts, &decision));
    }
    let reason = decision.reason().to_string();
    match decision {
        Decision::Act(step, why) => actions.extend(step_action(step, why, observed)),
        Decision::Wait(why) => actions.push(Action::Wait { reason: why }),
        Decision::Idle(_) => {}
    }
    let progress = if actions.iter().any(|a| !matches!(a, Action::Wait { .. })) {
        Progress::Acting
    } else if actions.is_empty() {
        Progress::Idle
    } else {
        Progress::Waiting
    };
    let status = derive_status(spec, observed, &facts, &validation, progress, &reason);
    if observed.status.as_ref() != Some(&status) {
        actions.push(Action::UpdateStatus(Box::new(status.clone())));
    }
    Plan { actions, status, reason }
}

/// The `EnsureStatefulSet` to emit, if any: a replica change decided by the
/// step, or a template (revision/partition) that differs from the spec.
fn statefulset_action(
    spec: &ZookeeperClusterSpec,
    obs: &Observed,
    facts: &Assessment,
    decision: &Decision,
) -> Option<Action> {
    let replicas = match decision {
        Decision::Act(Step::Replicas(n), _) => *n,
        _ => obs.statefulset.as_ref()?.replicas,
    };
    let wanted = Action::EnsureStatefulSet {
        replicas,
        update_revision: facts.target_revision.clone(),
        partition: spec.partition(),
    };
    let current = obs.statefulset.as_ref().map(|s| Action::EnsureStatefulSet {
        replicas: s.replicas,
        update_revision: s.update_revision.clone(),
        partition: s.partition,
    });
    (current.as_ref() != Some(&wanted)).then_some(wanted)
}

fn step_action(step: Step, why: String, obs: &Observed) -> Option<Action> {
    let expected_version = obs.committed.as_ref().and_then(|c| c.version).unwrap_or_default();
    Some(match step {
        Step::Replicas(_) => return None, // folded into EnsureStatefulSet
        Step::Delete(ordinal) => {
            let revision = obs.pod(ordinal).map(|p| p.revision.clone()).unwrap_or_default();
            Action::DeletePod { ordinal, revision, reason: why }
        }
        Step::Add(o) => {
            Action::ReconfigAdd { entry: ServerEntry::for_pod(&obs.names, o, Role::Participant), expected_version }
        }
        Step::Remove(o) => Action::ReconfigRemove { id: server_id(o), expected_version },
        Step::Probe => Action::ProbeWrite,
        Step::Release(ordinal) => Action::ReleaseVolume { ordinal },
    })
}

struct Planner<'a> {
    spec: &'a ZookeeperClusterSpec,
    obs: &'a Observed,
    facts: &'a Assessment,
}

impl Planner<'_> {
    fn pod_name(&self, o: u32) -> String {
        self.obs.names.pod(o)
    }

    fn names(&self, ordinals: &[u32]) -> String {
        ordinals.iter().map(|&o| self.pod_name(o)).collect::<Vec<_>>().join(", ")
    }

    fn decide(&self) -> Decision {
        let (obs, f) = (self.obs, self.facts);
        let r = obs.replicas();
        if obs.statefulset.is_none() || r == 0 {
            let n = self.bootstrap_replicas();
            return Decision::Act(Step::Replicas(n), format!("creating the ensemble with {n} member(s)"));
        }
        let Some(version) = obs.committed.as_ref().and_then(|c| c.version) else {
            return Decision::Wait("no member serves a committed config yet: waiting for a quorum".into());
        };
        if let Some(d) = self.release_volumes(r) {
            return d;
        }
        if let Some(&x) = f.beyond.last() {
            return if x >= f.desired {
                self.remove_member(x)
            } else {
                self.grow(r, format!("{} is a member without a pod: restoring it", self.pod_name(x)))
            };
        }
        let top = r - 1;
        if top >= f.desired {
            return if obs.member_ordinals().contains(&top) {
                self.remove_member(top)
            } else {
                self.stop_non_member(top, version)
            };
        }
        if let Some(&j) = f.non_members.last() {
            return self.join(j, top, version);
        }
        if !f.outdated.is_empty() {
            return self.roll();
        }
        if r < f.desired {
            return self.scale_up(r);
        }
        match self.others_healthy(u32::MAX) {
            Ok(()) => Decision::Idle("up to date".into()),
            Err(wait) => Decision::Idle(format!("nothing to do: {}", wait.reason())),
        }
    }

    /// Replicas for a new StatefulSet: the members that already exist
    /// somewhere (config, pods, volumes), else the spec's.
    fn bootstrap_replicas(&self) -> u32 {
        let obs = self.obs;
        let highest = obs
            .member_ordinals()
            .last()
            .or_else(|| obs.pods.iter().filter(|(_, p)| p.exists).map(|(o, _)| o).next_back())
            .or_else(|| obs.volumes.last())
            .copied();
        highest.map_or(self.spec.replicas, |o| o + 1)
    }

    /// Release one volume of a pod outside the StatefulSet that is gone and
    /// not a member (only with the `Delete` reclaim policy).
    fn release_volumes(&self, r: u32) -> Option<Decision> {
        if self.spec.storage_reclaim_policy != StorageReclaimPolicy::Delete {
            return None;
        }
        let members = self.obs.member_ordinals();
        let o = *self.obs.volumes.iter().find(|&&o| o >= r && self.obs.pod(o).is_none() && !members.contains(&o))?;
        Some(Decision::Act(
            Step::Release(o),
            format!("releasing the data volume of {}, which left the ensemble", self.pod_name(o)),
        ))
    }

    /// Every pod `< replicas` other than `except` is healthy; else the wait.
    fn others_healthy(&self, except: u32) -> Result<(), Decision> {
        let waiting: Vec<u32> = self.facts.unhealthy.iter().copied().filter(|&o| o != except).collect();
        if waiting.is_empty() {
            Ok(())
        } else {
            Err(Decision::Wait(format!("waiting for {} to be ready and in sync", self.names(&waiting))))
        }
    }

    /// `reconfig -remove` member `x`, if that keeps a healthy majority of
    /// both the old and the new config.
    fn remove_member(&self, x: u32) -> Decision {
        let (obs, f) = (self.obs, self.facts);
        if let Err(wait) = self.others_healthy(x) {
            return wait;
        }
        let majority = f.majority.unwrap_or(usize::MAX);
        if obs.is_voter(x) {
            let remaining = f.voters - 1;
            if remaining == 0 {
                return Decision::Wait(format!("{} is the last voter and cannot be removed", self.pod_name(x)));
            }
            let healthy_after = obs.healthy_voters_except(&[x]);
            if f.healthy_voters < majority || healthy_after < remaining / 2 + 1 {
                return Decision::Wait(format!(
                    "removing {} needs a healthy majority of the old and new config: {} of {} voters healthy",
                    self.pod_name(x),
                    f.healthy_voters,
                    f.voters
                ));
            }
        } else if f.healthy_voters < majority {
            return Decision::Wait("no quorum to commit a reconfig".into());
        }
        Decision::Act(
            Step::Remove(x),
            format!("scaling down: reconfig -remove server {} ({})", server_id(x), self.pod_name(x)),
        )
    }

    /// Stop the top pod `o`, which is not in the committed config, once a
    /// write has gone through on that config.
    fn stop_non_member(&self, o: u32, version: u64) -> Decision {
        if self.obs.last_write_ok_after_config.is_some_and(|w| w >= version) {
            return Decision::Act(
                Step::Replicas(o),
                format!("{} is out of the committed config {version:x}: stopping it", self.pod_name(o)),
            );
        }
        if self.facts.has_quorum() != Some(true) {
            return Decision::Wait("no quorum for a probe write".into());
        }
        Decision::Act(
            Step::Probe,
            format!("probing a write on config {version:x} before stopping {}", self.pod_name(o)),
        )
    }

    /// Bring the non-voting pod `j` into the ensemble, or back it out when
    /// it is the top pod and cannot join as it is.
    fn join(&self, j: u32, top: u32, version: u64) -> Decision {
        let obs = self.obs;
        let Some(pod) = obs.pod(j) else {
            return Decision::Wait(format!("waiting for {} to be created", self.pod_name(j)));
        };
        let removed = !pod.ready && pod.config_version == Some(version);
        let stuck = !pod.is_healthy() && j >= self.facts.partition && pod.revision != self.facts.target_revision;
        let in_config = obs.member_ordinals().contains(&j);
        if j == top && !in_config && (removed || stuck) {
            return self.stop_non_member(j, version);
        }
        if !pod.is_healthy() {
            return Decision::Wait(format!("waiting for joiner {} to serve and sync", self.pod_name(j)));
        }
        if let Err(wait) = self.others_healthy(j) {
            return wait;
        }
        if self.facts.healthy_voters < self.facts.voters {
            return Decision::Wait("waiting for every voter to be healthy before adding a member".into());
        }
        Decision::Act(Step::Add(j), format!("scaling up: reconfig -add server {} ({})", server_id(j), self.pod_name(j)))
    }

    /// One step of the rolling update.
    fn roll(&self) -> Decision {
        let (obs, f) = (self.obs, self.facts);
        let target = match f.unhealthy.as_slice() {
            [] => {
                let leader = f.leader();
                let follower = f.outdated.iter().rev().copied().find(|&o| Some(o) != leader);
                follower.or(f.outdated.last().copied())
            }
            // The only unhealthy member is out of date: restarting it costs nothing.
            [u] if f.outdated.contains(u) => Some(*u),
            _ => None,
        };
        let Some(t) = target else {
            return Decision::Wait(format!(
                "rolling update: waiting for {} to be ready and in sync",
                self.names(&f.unhealthy)
            ));
        };
        if obs.is_voter(t) {
            let left = obs.healthy_voters_except(&[t]);
            let majority = f.majority.unwrap_or(usize::MAX);
            if left < majority {
                return Decision::Wait(format!(
                    "rolling update: restarting {} would leave {left} of {} voters healthy (majority {majority})",
                    self.pod_name(t),
                    f.voters
                ));
            }
        }
        let role = if f.leader() == Some(t) { "leader" } else { "member" };
        Decision::Act(
            Step::Delete(t),
            format!(
                "rolling update to revision {}: restarting {role} {} ({} of {} updated)",
                f.target_revision,
                self.pod_name(t),
                f.updated,
                f.replicas
            ),
        )
    }

    /// Start one more member (pod `r`) once every member is healthy.
    fn scale_up(&self, r: u32) -> Decision {
        if let Err(wait) = self.others_healthy(u32::MAX) {
            return wait;
        }
        self.grow(r, format!("scaling up: starting {} ({} -> {} members)", self.pod_name(r), r, self.facts.desired))
    }

    /// Grow the StatefulSet by pod `r`. A pod that is not a member must not
    /// start on a volume left from an earlier member: release it first
    /// (`Delete`), or wait for someone to delete it (`Retain`).
    fn grow(&self, r: u32, why: String) -> Decision {
        if self.obs.pod(r).is_some() {
            return Decision::Wait(format!("{} is still terminating", self.pod_name(r)));
        }
        if self.obs.volumes.contains(&r) && !self.obs.member_ordinals().contains(&r) {
            return match self.spec.storage_reclaim_policy {
                StorageReclaimPolicy::Delete => Decision::Act(
                    Step::Release(r),
                    format!("releasing the stale data volume of {} before it joins", self.pod_name(r)),
                ),
                StorageReclaimPolicy::Retain => Decision::Wait(format!(
                    "scale-up blocked: the retained volume of {} holds a config without it; delete the volume",
                    self.pod_name(r)
                )),
            };
        }
        Decision::Act(Step::Replicas(r + 1), why)
    }
}
