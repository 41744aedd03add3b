//! The planner's safety invariants as a checker over (spec, observation,
//! plan). Property tests, the in-test simulation and executors' own tests
//! run every plan through it.

use super::action::{Action, Plan};
use super::assess::Assessment;
use super::crd::{StorageReclaimPolicy, ZookeeperClusterSpec};
use super::observed::Observed;
use super::validate::validate;
use crate::zkconfig::ordinal_of;

/// A plan that breaks an invariant.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Violation {
    /// More than one disruptive action in one plan.
    #[error("{0} disruptive actions in one plan")]
    SeveralDisruptive(usize),
    /// `UpdateStatus` not last, or `Wait`/`UpdateStatus` repeated.
    #[error("malformed plan: {0}")]
    Malformed(&'static str),
    /// A step for a spec that failed validation.
    #[error("acted on an invalid spec")]
    InvalidSpecActedOn,
    /// A pod deleted below the partition.
    #[error("deleted zk-{0} below the partition {1}")]
    BelowPartition(u32, u32),
    /// An up-to-date (or missing) pod deleted, or without the observed
    /// revision as its precondition.
    #[error("deleted zk-{0}, which is missing, already at the target revision, or not at the stated revision")]
    DeletedUpToDate(u32),
    /// A voter taken down without a healthy majority remaining.
    #[error("taking down zk-{ordinal} leaves {left} healthy voters, majority is {majority}")]
    QuorumBreak {
        /// The member taken down.
        ordinal: u32,
        /// Healthy voters that remain.
        left: usize,
        /// The majority needed.
        majority: usize,
    },
    /// A disruptive step while another member is not healthy.
    #[error("touched zk-{0} while {1:?} are not healthy")]
    NotOneAtATime(u32, Vec<u32>),
    /// A reconfig against a config version other than the committed one.
    #[error("reconfig expects version {expected:x}, committed is {committed:?}")]
    StaleReconfig {
        /// The plan's expected version.
        expected: u64,
        /// The committed version.
        committed: Option<u64>,
    },
    /// `reconfig -add` of a pod that does not serve and sync.
    #[error("reconfig -add of zk-{0}, which is not serving and synced")]
    AddedNotServing(u32),
    /// `reconfig -add` of a member that already votes.
    #[error("reconfig -add of zk-{0}, which already votes")]
    AddedVoter(u32),
    /// The StatefulSet changed by more than one pod, or to zero.
    #[error("StatefulSet replicas {from} -> {to}")]
    ReplicaJump {
        /// Replicas before.
        from: u32,
        /// Replicas asked for.
        to: u32,
    },
    /// A pod stopped while still in the committed config, or before a
    /// probe write went through on that config.
    #[error("stopped zk-{0} before its removal was committed and a write went through")]
    EarlyStop(u32),
    /// A joiner started on a volume left over from an earlier member.
    #[error("started zk-{0} on a stale volume")]
    StaleVolumeStart(u32),
    /// The template does not follow the spec.
    #[error("StatefulSet template does not follow the spec")]
    WrongTemplate,
    /// A volume released that is in use, still a member, or kept by policy.
    #[error("released the volume of zk-{0}, which is in use, a member, or retained")]
    BadRelease(u32),
}

/// Check `plan` (made for `spec` from `obs`) against every invariant.
pub fn check(spec: &ZookeeperClusterSpec, obs: &Observed, plan: &Plan) -> Result<(), Violation> {
    let facts = Assessment::of(spec, obs);
    let r = obs.replicas();
    let acts = &plan.actions;
    let disruptive = acts.iter().filter(|a| a.is_disruptive(r)).count();
    if disruptive > 1 {
        return Err(Violation::SeveralDisruptive(disruptive));
    }
    let statuses = acts.iter().filter(|a| matches!(a, Action::UpdateStatus(_))).count();
    if statuses > 1 || (statuses == 1 && !matches!(acts.last(), Some(Action::UpdateStatus(_)))) {
        return Err(Violation::Malformed("UpdateStatus must come once, last"));
    }
    if acts.iter().filter(|a| matches!(a, Action::Wait { .. })).count() > 1 {
        return Err(Violation::Malformed("more than one Wait"));
    }
    if validate(spec).is_err() && plan.steps().next().is_some() {
        return Err(Violation::InvalidSpecActedOn);
    }
    let committed_version = obs.committed.as_ref().and_then(|c| c.version);
    let others_unhealthy = |o: u32| -> Result<(), Violation> {
        let others: Vec<u32> = facts.unhealthy.iter().copied().filter(|&u| u != o).collect();
        if others.is_empty() { Ok(()) } else { Err(Violation::NotOneAtATime(o, others)) }
    };
    for a in acts {
        match a {
            Action::DeletePod { ordinal: o, revision, .. } => {
                let o = *o;
                if o < spec.partition() {
                    return Err(Violation::BelowPartition(o, spec.partition()));
                }
                if obs.pod(o).is_none_or(|p| p.revision == facts.target_revision || p.revision != *revision) {
                    return Err(Violation::DeletedUpToDate(o));
                }
                if obs.is_voter(o) {
                    let left = obs.healthy_voters_except(&[o]);
                    let majority = facts.majority.unwrap_or(usize::MAX);
                    if left < majority {
                        return Err(Violation::QuorumBreak { ordinal: o, left, majority });
                    }
                }
                others_unhealthy(o)?;
            }
            Action::ReconfigRemove { id, expected_version } => {
                if Some(*expected_version) != committed_version {
                    return Err(Violation::StaleReconfig { expected: *expected_version, committed: committed_version });
                }
                let o = ordinal_of(*id).unwrap_or(u32::MAX);
                if obs.is_voter(o) {
                    let remaining = facts.voters.saturating_sub(1);
                    let left = obs.healthy_voters_except(&[o]);
                    let majority = facts.majority.unwrap_or(usize::MAX);
                    if remaining == 0 || left < remaining / 2 + 1 || facts.healthy_voters < majority {
                        return Err(Violation::QuorumBreak { ordinal: o, left, majority });
                    }
                }
                others_unhealthy(o)?;
            }
            Action::ReconfigAdd { entry, expected_version } => {
                if Some(*expected_version) != committed_version {
                    return Err(Violation::StaleReconfig { expected: *expected_version, committed: committed_version });
                }
                let o = ordinal_of(entry.id).unwrap_or(u32::MAX);
                if !obs.is_healthy(o) {
                    return Err(Violation::AddedNotServing(o));
                }
                if obs.is_voter(o) {
                    return Err(Violation::AddedVoter(o));
                }
                others_unhealthy(o)?;
            }
            Action::EnsureStatefulSet { replicas, update_revision, partition } => {
                if *update_revision != facts.target_revision || *partition != spec.partition() {
                    return Err(Violation::WrongTemplate);
                }
                let to = *replicas;
                if obs.statefulset.is_none() || r == 0 {
                    continue;
                }
                if to == 0 || to.abs_diff(r) > 1 {
                    return Err(Violation::ReplicaJump { from: r, to });
                }
                if to < r {
                    let stopped = r - 1;
                    let written = obs.last_write_ok_after_config.zip(committed_version).is_some_and(|(w, c)| w >= c);
                    if obs.member_ordinals().contains(&stopped) || !written {
                        return Err(Violation::EarlyStop(stopped));
                    }
                }
                if to > r {
                    let started = r;
                    let own_volume = obs.member_ordinals().contains(&started);
                    if obs.pod(started).is_some() || (obs.volumes.contains(&started) && !own_volume) {
                        return Err(Violation::StaleVolumeStart(started));
                    }
                }
            }
            Action::ReleaseVolume { ordinal: o } => {
                let o = *o;
                let in_use = obs.pod(o).is_some() || o < r || obs.member_ordinals().contains(&o);
                if in_use || spec.storage_reclaim_policy != StorageReclaimPolicy::Delete || !obs.volumes.contains(&o) {
                    return Err(Violation::BadRelease(o));
                }
            }
            Action::ProbeWrite | Action::UpdateStatus(_) | Action::Wait { .. } => {}
        }
    }
    Ok(())
}
