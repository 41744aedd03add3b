//! What the planner can read from the world: pods, the StatefulSet (or the
//! local supervisor's equivalent), data volumes, and the committed dynamic
//! config. Executors fill this in; the planner only reads it.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::ZookeeperClusterStatus;
use crate::zkconfig::{DynamicConfig, EnsembleNames, Role, ordinal_of, server_id};

/// A member's ZooKeeper mode, as `srvr` reports it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Mode {
    /// The quorum leader.
    Leader,
    /// A voting follower.
    Follower,
    /// A non-voting observer (also a joiner before `reconfig -add`).
    Observer,
    /// Standalone mode (not expected: `standaloneEnabled=false`).
    Standalone,
    /// The process answers but does not serve ("not currently serving requests").
    NotServing,
}

impl Mode {
    /// Whether a member in this mode serves clients.
    pub fn is_serving(self) -> bool {
        !matches!(self, Mode::NotServing)
    }
}

/// One pod (member) as observed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PodObservation {
    /// Whether the pod object exists (a deleted pod not yet recreated does not).
    pub exists: bool,
    /// The StatefulSet revision the pod was created from.
    pub revision: String,
    /// The ZooKeeper version the pod runs.
    pub version: String,
    /// Process running and serving per `srvr`.
    pub ready: bool,
    /// The mode per `srvr`, when it answered.
    pub mode: Option<Mode>,
    /// The last zxid the member reported.
    pub zxid: Option<u64>,
    /// The dynamic config version the member reported (`conf`).
    pub config_version: Option<u64>,
    /// Caught up with the leader (small zxid lag, same config version).
    pub synced: bool,
}

impl PodObservation {
    /// Ready, synced and serving: safe to count on.
    pub fn is_healthy(&self) -> bool {
        self.exists && self.ready && self.synced && self.mode.is_some_and(Mode::is_serving)
    }

    /// Healthy and voting (leader or follower).
    pub fn is_healthy_voter(&self) -> bool {
        self.is_healthy() && matches!(self.mode, Some(Mode::Leader | Mode::Follower | Mode::Standalone))
    }
}

/// The StatefulSet (or its local equivalent) as observed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StatefulSetObservation {
    /// Desired pod count (ordinals `0..replicas`).
    pub replicas: u32,
    /// Revision that pods at or above the partition are (re)created with.
    pub update_revision: String,
    /// Revision that pods below the partition are (re)created with.
    pub current_revision: String,
    /// The partition.
    pub partition: u32,
}

/// Everything the planner reads. No hidden state: a restarted operator
/// that observes the same world plans the same step.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Observed {
    /// Names of the ensemble's objects (from the resource's metadata).
    pub names: EnsembleNames,
    /// `metadata.generation` of the resource being planned.
    pub generation: Option<i64>,
    /// Pods by ordinal.
    pub pods: BTreeMap<u32, PodObservation>,
    /// The committed dynamic config, read from a serving member.
    pub committed: Option<DynamicConfig>,
    /// The StatefulSet-equivalent, if it exists.
    pub statefulset: Option<StatefulSetObservation>,
    /// Ordinals whose data volume exists.
    pub volumes: BTreeSet<u32>,
    /// The committed config version after which a probe write last
    /// succeeded (the write's zxid was above that version).
    pub last_write_ok_after_config: Option<u64>,
    /// The status last published (only used to keep condition timestamps
    /// and to tell "never formed" from "lost quorum"; no step depends on it).
    pub status: Option<ZookeeperClusterStatus>,
}

impl Observed {
    /// Nothing observed yet for the ensemble `names`.
    pub fn new(names: EnsembleNames) -> Self {
        Self {
            names,
            generation: None,
            pods: BTreeMap::new(),
            committed: None,
            statefulset: None,
            volumes: BTreeSet::new(),
            last_write_ok_after_config: None,
            status: None,
        }
    }

    /// The pod with `ordinal`, if it exists.
    pub fn pod(&self, ordinal: u32) -> Option<&PodObservation> {
        self.pods.get(&ordinal).filter(|p| p.exists)
    }

    /// Whether the pod with `ordinal` is healthy (ready, synced, serving).
    pub fn is_healthy(&self, ordinal: u32) -> bool {
        self.pod(ordinal).is_some_and(PodObservation::is_healthy)
    }

    /// The StatefulSet's replica count (0 without one).
    pub fn replicas(&self) -> u32 {
        self.statefulset.as_ref().map_or(0, |s| s.replicas)
    }

    /// Ordinals of the committed config's voters.
    pub fn voter_ordinals(&self) -> BTreeSet<u32> {
        self.committed.iter().flat_map(|c| c.voters()).filter_map(ordinal_of).collect()
    }

    /// Ordinals of every member (voter or observer) of the committed config.
    pub fn member_ordinals(&self) -> BTreeSet<u32> {
        self.committed.iter().flat_map(|c| c.servers.iter()).filter_map(|s| ordinal_of(s.id)).collect()
    }

    /// Whether `ordinal` is a voter of the committed config.
    pub fn is_voter(&self, ordinal: u32) -> bool {
        self.committed
            .as_ref()
            .is_some_and(|c| c.servers.iter().any(|s| s.id == server_id(ordinal) && s.role == Role::Participant))
    }

    /// Healthy voters of the committed config, leaving out `except`.
    pub fn healthy_voters_except(&self, except: &[u32]) -> usize {
        self.voter_ordinals()
            .into_iter()
            .filter(|o| !except.contains(o))
            .filter(|&o| self.pod(o).is_some_and(PodObservation::is_healthy_voter))
            .count()
    }

    /// Ordinals of pods reporting `Mode::Leader`.
    pub fn leaders(&self) -> Vec<u32> {
        self.pods.iter().filter(|(_, p)| p.exists && p.mode == Some(Mode::Leader)).map(|(o, _)| *o).collect()
    }
}
