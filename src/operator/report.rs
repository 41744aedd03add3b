//! Turns an assessment into the status the operator publishes: phase,
//! members, and one condition per [`ConditionType`].

use std::collections::BTreeMap;

use super::assess::Assessment;
use super::crd::ZookeeperClusterSpec;
use super::observed::Observed;
use super::status::{Condition, ConditionType, MemberStatus, Phase, ZookeeperClusterStatus};
use super::validate::{SpecError, Warnings};

/// What the plan does this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// It takes a step.
    Acting,
    /// It waits for the world to change.
    Waiting,
    /// Nothing to do.
    Idle,
}

/// The phase for `facts`. A cluster that never was Ready stays
/// Provisioning while members are missing or quorum has not formed.
pub fn phase(observed: &Observed, facts: &Assessment) -> Phase {
    if facts.replicas == 0 {
        return Phase::Provisioning;
    }
    let forming = match observed.status.as_ref().and_then(|s| s.phase) {
        Some(Phase::Provisioning) => true,
        None => observed.committed.is_none(),
        Some(_) => false,
    };
    let phase = match facts.has_quorum() {
        None | Some(false) => Phase::NotReady,
        Some(true) if !facts.outdated.is_empty() => Phase::Upgrading,
        Some(true) if !facts.membership_settled() => Phase::Scaling,
        Some(true) if !facts.unhealthy.is_empty() || facts.leader().is_none() || !facts.config_agrees => {
            Phase::Critical
        }
        Some(true) => Phase::Ready,
    };
    match phase {
        Phase::NotReady | Phase::Critical if forming => Phase::Provisioning,
        p => p,
    }
}

/// The full status for one plan. Transition times are carried over from
/// the observed status where a condition did not change.
pub fn derive_status(
    spec: &ZookeeperClusterSpec,
    observed: &Observed,
    facts: &Assessment,
    validation: &Result<Warnings, SpecError>,
    progress: Progress,
    reason: &str,
) -> ZookeeperClusterStatus {
    let names = &observed.names;
    let pod_list = |os: &[u32]| os.iter().map(|&o| names.pod(o)).collect::<Vec<_>>().join(", ");
    let members: Vec<MemberStatus> = observed
        .pods
        .iter()
        .filter(|(_, p)| p.exists)
        .map(|(&ordinal, p)| MemberStatus {
            ordinal,
            revision: p.revision.clone(),
            version: p.version.clone(),
            ready: p.ready,
            mode: p.mode,
        })
        .collect();
    let config_version = observed.committed.as_ref().and_then(|c| c.version);

    let available = match facts.has_quorum() {
        Some(q) => Condition::new(
            ConditionType::Available,
            q,
            if q { "QuorumPresent" } else { "NoQuorum" },
            format!(
                "{} of {} voters healthy, majority {}",
                facts.healthy_voters,
                facts.voters,
                facts.majority.unwrap_or_default()
            ),
        ),
        None => Condition::new(ConditionType::Available, false, "NoCommittedConfig", "no member serves a config"),
    };
    let progressing = match (validation, progress) {
        (Err(e), _) => Condition::new(ConditionType::Progressing, false, "InvalidSpec", e.to_string()),
        (_, Progress::Acting) => Condition::new(ConditionType::Progressing, true, "Acting", reason),
        (_, Progress::Waiting) => Condition::new(ConditionType::Progressing, true, "Waiting", reason),
        (_, Progress::Idle) => Condition::new(ConditionType::Progressing, false, "Converged", reason),
    };
    let degraded = if facts.unhealthy.is_empty() {
        Condition::new(ConditionType::Degraded, false, "AllMembersReady", "")
    } else {
        Condition::new(ConditionType::Degraded, true, "MembersNotReady", pod_list(&facts.unhealthy))
    };
    let upgrading = if !facts.outdated.is_empty() {
        Condition::new(
            ConditionType::Upgrading,
            true,
            "RollingUpdate",
            format!(
                "{} of {} members at revision {} (version {}); out of date: {}",
                facts.updated,
                facts.replicas,
                facts.target_revision,
                spec.version,
                pod_list(&facts.outdated)
            ),
        )
    } else if !facts.held_back.is_empty() {
        Condition::new(
            ConditionType::Upgrading,
            true,
            "PartitionHold",
            format!("below partition {}: {} keep their revision", facts.partition, pod_list(&facts.held_back)),
        )
    } else {
        Condition::new(ConditionType::Upgrading, false, "UpToDate", "")
    };
    let reconfiguring = if facts.membership_settled() {
        Condition::new(ConditionType::Reconfiguring, false, "Settled", "")
    } else {
        let why = if facts.replicas > facts.desired || facts.beyond.iter().any(|&o| o >= facts.desired) {
            "ScalingDown"
        } else if facts.replicas < facts.desired {
            "ScalingUp"
        } else {
            "Joining"
        };
        Condition::new(
            ConditionType::Reconfiguring,
            true,
            why,
            format!("{} pods, {} voters, {} desired", facts.replicas, facts.voters, facts.desired),
        )
    };
    let warning = match validation {
        Ok(w) if !w.is_empty() => Condition::new(
            ConditionType::SpecWarning,
            true,
            w[0].reason,
            w.iter().map(|w| w.message.as_str()).collect::<Vec<_>>().join("; "),
        ),
        _ => Condition::new(ConditionType::SpecWarning, false, "NoWarnings", ""),
    };

    let mut status = ZookeeperClusterStatus {
        observed_generation: observed.generation,
        phase: Some(phase(observed, facts)),
        replicas: facts.replicas,
        ready_replicas: (0..facts.replicas).filter(|&o| observed.pod(o).is_some_and(|p| p.ready)).count() as u32,
        current_version: current_version(observed, facts.replicas),
        target_version: Some(spec.version.clone()),
        current_revision: observed.statefulset.as_ref().map(|s| s.current_revision.clone()),
        update_revision: Some(facts.target_revision.clone()),
        members,
        leader: facts.leader(),
        config_version: config_version.map(|v| format!("{v:x}")),
        message: Some(reason.to_string()),
        conditions: vec![available, progressing, degraded, upgrading, reconfiguring, warning],
    };
    status.carry_transition_times(observed.status.as_ref());
    status
}

/// The version most pods `< replicas` run (ties: the lowest version string).
fn current_version(observed: &Observed, replicas: u32) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in (0..replicas).filter_map(|o| observed.pod(o)) {
        *counts.entry(p.version.as_str()).or_default() += 1;
    }
    let best = counts.values().copied().max()?;
    counts.into_iter().find(|&(_, n)| n == best).map(|(v, _)| v.to_string())
}
