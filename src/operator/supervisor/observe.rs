//! Turn what the local backend shows (run record, volumes on disk, one
//! round of probes) into the planner's `Observed`. Pure: the supervisor
//! gathers the inputs, this only translates them.

use std::collections::{BTreeMap, BTreeSet};

use super::OperatorState;
use crate::backend::local::state::{PodTemplate, RunState};
use crate::operator::members;
use crate::operator::observed::Observed;
use crate::probe::EnsembleStatus;
use crate::zkconfig::EnsembleNames;

/// Build the planner's view of a local run.
pub fn observe(state: &RunState, op: &OperatorState, status: &EnsembleStatus, volumes: &BTreeSet<u32>) -> Observed {
    let templates = state.pods.iter().map(|(o, p)| (*o, p.template.clone())).collect();
    observe_pods(&state.names, &templates, op, status, volumes)
}

/// Build the planner's view from any backend's pods: their templates by
/// ordinal, the names, the operator's state, one probe and the volumes.
pub fn observe_pods(
    names: &EnsembleNames,
    templates: &BTreeMap<u32, PodTemplate>,
    op: &OperatorState,
    status: &EnsembleStatus,
    volumes: &BTreeSet<u32>,
) -> Observed {
    let mut obs = Observed::new(names.clone());
    obs.generation = op.generation;
    obs.committed = members::committed(status);
    for (ordinal, t) in templates {
        let pod = members::pod_observation(status, *ordinal, t.revision.clone(), t.version.clone());
        obs.pods.insert(*ordinal, pod);
    }
    obs.statefulset = op.statefulset.as_ref().map(|s| s.observation());
    obs.volumes = volumes.clone();
    obs.last_write_ok_after_config = op.last_write_ok_after_config;
    obs.status = op.status.clone();
    obs
}
