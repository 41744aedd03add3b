//! Turn what the local backend shows (run record, volumes on disk, one
//! round of probes) into the planner's `Observed`. Pure: the supervisor
//! gathers the inputs, this only translates them.

use std::collections::{BTreeMap, BTreeSet};

use super::OperatorState;
use crate::local::state::RunState;
use crate::operator::observed::{Mode, Observed, PodObservation};
use crate::probe::{self, EnsembleStatus, MemberStatus};
use crate::zkconfig::server_id;

fn mode(m: &MemberStatus) -> Option<Mode> {
    match (m.mode(), m.not_serving) {
        (Some(probe::Mode::Leader), _) => Some(Mode::Leader),
        (Some(probe::Mode::Follower), _) => Some(Mode::Follower),
        (Some(probe::Mode::Observer), _) => Some(Mode::Observer),
        (Some(probe::Mode::Standalone), _) => Some(Mode::Standalone),
        (Some(probe::Mode::ReadOnly), _) | (None, true) => Some(Mode::NotServing),
        (None, false) => None,
    }
}

/// Build the planner's view of a local run.
pub fn observe(state: &RunState, op: &OperatorState, status: &EnsembleStatus, volumes: &BTreeSet<u32>) -> Observed {
    let mut obs = Observed::new(state.names.clone());
    obs.generation = op.generation;
    let leader = status.leader().and_then(|l| status.members.iter().find(|m| m.ordinal == l));
    let leader_config = leader.and_then(|l| l.config_version);
    if status.quorum {
        obs.committed = leader.and_then(|l| l.membership.clone());
    }
    let by_ordinal: BTreeMap<u32, &MemberStatus> = status.members.iter().map(|m| (m.ordinal, m)).collect();
    for (ordinal, rec) in &state.pods {
        let m = by_ordinal.get(ordinal);
        let synced = match (m, leader) {
            (Some(m), Some(l)) if m.ordinal == l.ordinal => true,
            (Some(m), Some(l)) => m.follows(server_id(l.ordinal)) && m.config_version == leader_config,
            _ => false,
        };
        obs.pods.insert(
            *ordinal,
            PodObservation {
                exists: true,
                revision: rec.template.revision.clone(),
                version: m
                    .and_then(|m| m.srvr.as_ref().map(|s| s.version.clone()))
                    .unwrap_or_else(|| rec.template.version.clone()),
                ready: m.is_some_and(|m| m.serving()),
                mode: m.and_then(|m| mode(m)),
                zxid: m.and_then(|m| m.srvr.as_ref().map(|s| s.zxid)),
                config_version: m.and_then(|m| m.config_version),
                synced,
            },
        );
    }
    obs.statefulset = op.statefulset.as_ref().map(|s| s.observation());
    obs.volumes = volumes.clone();
    obs.last_write_ok_after_config = op.last_write_ok_after_config;
    obs.status = op.status.clone();
    obs
}
