//! Turn what the API server shows (StatefulSet, pods, claims) and one round
//! of member probes into the planner's [`Observed`]. Pure: the controller
//! gathers a [`Snapshot`], this only translates it, exactly as
//! `operator::supervisor::observe` does for the local and docker backends.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt as _;

use super::build::{DATA_VOLUME, names, ordinal_of_name};
use super::{ANNOTATION_CURRENT_REVISION, ANNOTATION_PARTITION, ANNOTATION_UPDATE_REVISION};
use super::{LABEL_REVISION, LABEL_VERSION};
use crate::operator::crd::ZookeeperCluster;
use crate::operator::members;
use crate::operator::observed::{Observed, StatefulSetObservation};
use crate::probe::{EnsembleStatus, MemberStatus};
use crate::zkconfig::EnsembleNames;

/// Everything one reconcile read from the world.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The StatefulSet `<name>`, if it exists.
    pub statefulset: Option<StatefulSet>,
    /// The ensemble's pods (by label).
    pub pods: Vec<Pod>,
    /// The ensemble's claims (by label).
    pub claims: Vec<PersistentVolumeClaim>,
    /// One probe per pod with an address.
    pub probes: Vec<MemberStatus>,
    /// See `Observed::last_write_ok_after_config` (kept by the controller).
    pub last_write_ok_after_config: Option<u64>,
}

/// The pods of the ensemble by ordinal (pods whose name is not
/// `<name>-<ordinal>` are ignored).
pub fn pods_by_ordinal<'a>(names: &EnsembleNames, pods: &'a [Pod]) -> BTreeMap<u32, &'a Pod> {
    pods.iter().filter_map(|p| Some((ordinal_of_name(names, "", &p.name_any())?, p))).collect()
}

/// `(ordinal, IPv4)` of every pod with an address: what to probe.
pub fn members_to_probe(names: &EnsembleNames, pods: &[Pod]) -> Vec<(u32, Ipv4Addr)> {
    pods_by_ordinal(names, pods)
        .into_iter()
        .filter_map(|(o, p)| {
            let ip = p.status.as_ref()?.pod_ip.as_deref()?.parse().ok()?;
            Some((o, ip))
        })
        .collect()
}

/// What the planner sees of the StatefulSet: replicas from its spec, the
/// rollout bookkeeping from the operator's annotations. The current
/// revision moves to the update revision once every pod runs it (as the
/// StatefulSet controller's `currentRevision` does).
pub fn statefulset_observation(names: &EnsembleNames, sts: &StatefulSet, pods: &[Pod]) -> StatefulSetObservation {
    let annotations = sts.annotations();
    let replicas = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0) as u32;
    let update_revision = annotations.get(ANNOTATION_UPDATE_REVISION).cloned().unwrap_or_default();
    let by_ordinal = pods_by_ordinal(names, pods);
    let all_updated = (0..replicas)
        .all(|o| by_ordinal.get(&o).is_some_and(|p| p.labels().get(LABEL_REVISION) == Some(&update_revision)));
    let current_revision = if all_updated {
        update_revision.clone()
    } else {
        annotations.get(ANNOTATION_CURRENT_REVISION).cloned().unwrap_or_else(|| update_revision.clone())
    };
    StatefulSetObservation {
        replicas,
        update_revision,
        current_revision,
        partition: annotations.get(ANNOTATION_PARTITION).and_then(|p| p.parse().ok()).unwrap_or(0),
    }
}

/// Build the planner's view of `zk` from `snap`.
pub fn observe(zk: &ZookeeperCluster, snap: &Snapshot) -> Observed {
    let names = names(zk);
    let mut obs = Observed::new(names.clone());
    obs.generation = zk.metadata.generation;
    let status = EnsembleStatus::judge(snap.probes.clone());
    obs.committed = members::committed(&status);
    for (ordinal, pod) in pods_by_ordinal(&names, &snap.pods) {
        let labels = pod.labels();
        let revision = labels.get(LABEL_REVISION).cloned().unwrap_or_default();
        let version = labels.get(LABEL_VERSION).cloned().unwrap_or_default();
        obs.pods.insert(ordinal, members::pod_observation(&status, ordinal, revision, version));
    }
    obs.statefulset = snap.statefulset.as_ref().map(|s| statefulset_observation(&names, s, &snap.pods));
    let prefix = format!("{DATA_VOLUME}-");
    obs.volumes =
        snap.claims.iter().filter_map(|c| ordinal_of_name(&names, &prefix, &c.name_any())).collect::<BTreeSet<_>>();
    obs.last_write_ok_after_config = snap.last_write_ok_after_config;
    obs.status = zk.status.clone();
    obs
}
