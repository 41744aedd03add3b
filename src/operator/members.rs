//! How one round of member probes reads as planner observations. Both
//! executors (the local supervisor and the Kubernetes controller) use this,
//! so "ready", "synced" and "committed" mean the same in both.

use super::observed::{Mode, PodObservation};
use crate::probe::{self, EnsembleStatus, MemberStatus};
use crate::zkconfig::{DynamicConfig, server_id};

/// The committed dynamic config: the single leader's, when the probes show
/// a quorum.
pub fn committed(status: &EnsembleStatus) -> Option<DynamicConfig> {
    if !status.quorum {
        return None;
    }
    let leader = status.leader()?;
    status.members.iter().find(|m| m.ordinal == leader)?.membership.clone()
}

/// A member's mode as the planner sees it (a read-only or not-serving
/// server is `NotServing`; an unreachable one has no mode).
pub fn mode(m: &MemberStatus) -> Option<Mode> {
    match (m.mode(), m.not_serving) {
        (Some(probe::Mode::Leader), _) => Some(Mode::Leader),
        (Some(probe::Mode::Follower), _) => Some(Mode::Follower),
        (Some(probe::Mode::Observer), _) => Some(Mode::Observer),
        (Some(probe::Mode::Standalone), _) => Some(Mode::Standalone),
        (Some(probe::Mode::ReadOnly), _) | (None, true) => Some(Mode::NotServing),
        (None, false) => None,
    }
}

/// The observation of the pod with `ordinal` whose template is at
/// `revision`: ready when it serves, synced when it leads or follows the
/// single leader in broadcast on the leader's config version.
/// `version` is used when the member did not answer.
pub fn pod_observation(status: &EnsembleStatus, ordinal: u32, revision: String, version: String) -> PodObservation {
    let leader = status.leader().and_then(|l| status.members.iter().find(|m| m.ordinal == l));
    let m = status.members.iter().find(|m| m.ordinal == ordinal);
    let synced = match (m, leader) {
        (Some(m), Some(l)) if m.ordinal == l.ordinal => true,
        (Some(m), Some(l)) => m.follows(server_id(l.ordinal)) && m.config_version == l.config_version,
        _ => false,
    };
    PodObservation {
        exists: true,
        revision,
        version: m.and_then(|m| m.srvr.as_ref().map(|s| s.version.clone())).unwrap_or(version),
        ready: m.is_some_and(MemberStatus::serving),
        mode: m.and_then(mode),
        zxid: m.and_then(|m| m.srvr.as_ref().map(|s| s.zxid)),
        config_version: m.and_then(|m| m.config_version),
        synced,
    }
}
