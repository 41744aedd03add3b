//! Turn what the local backend shows (run record, volumes on disk, one
//! round of probes) into the planner's `Observed`. Pure: the supervisor
//! gathers the inputs, this only translates them.

use std::collections::BTreeSet;

use super::OperatorState;
use crate::local::state::RunState;
use crate::operator::members;
use crate::operator::observed::Observed;
use crate::probe::EnsembleStatus;

/// Build the planner's view of a local run.
pub fn observe(state: &RunState, op: &OperatorState, status: &EnsembleStatus, volumes: &BTreeSet<u32>) -> Observed {
    let mut obs = Observed::new(state.names.clone());
    obs.generation = op.generation;
    obs.committed = members::committed(status);
    for (ordinal, rec) in &state.pods {
        let pod =
            members::pod_observation(status, *ordinal, rec.template.revision.clone(), rec.template.version.clone());
        obs.pods.insert(*ordinal, pod);
    }
    obs.statefulset = op.statefulset.as_ref().map(|s| s.observation());
    obs.volumes = volumes.clone();
    obs.last_write_ok_after_config = op.last_write_ok_after_config;
    obs.status = op.status.clone();
    obs
}
