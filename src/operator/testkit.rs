//! Small builders for readable observations in tests and simulations:
//!
//! ```
//! use zk_chaos::operator::testkit::*;
//! let obs = observed()
//!     .sts(3, "a")
//!     .pod(0, rev("a"), follower())
//!     .pod(1, rev("a"), follower())
//!     .pod(2, rev("a"), leader())
//!     .committed([0, 1, 2], 0x1_0000_0000)
//!     .build();
//! assert_eq!(obs.leaders(), vec![2]);
//! ```

use super::action::{Action, Plan};
use super::observed::{Mode, Observed, PodObservation, StatefulSetObservation};
use crate::zkconfig::{DynamicConfig, EnsembleNames, Role, ServerEntry};

/// Version pods run unless a fixture says otherwise.
pub const FIXTURE_VERSION: &str = "3.8.0";

/// A revision string (reads well in fixtures: `rev("a")`).
pub fn rev(r: &str) -> &str {
    r
}

/// How a fixture pod behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    exists: bool,
    ready: bool,
    synced: bool,
    mode: Option<Mode>,
    version: String,
    zxid: Option<u64>,
    config_version: Option<u64>,
}

impl PodState {
    fn new(exists: bool, ready: bool, synced: bool, mode: Option<Mode>) -> Self {
        Self { exists, ready, synced, mode, version: FIXTURE_VERSION.into(), zxid: None, config_version: None }
    }
    /// Runs ZooKeeper `version`.
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.into();
        self
    }
    /// Reports dynamic config version `v`.
    pub fn config(mut self, v: u64) -> Self {
        self.config_version = Some(v);
        self
    }
    /// Reports zxid `z`.
    pub fn zxid(mut self, z: u64) -> Self {
        self.zxid = Some(z);
        self
    }
}

/// Serving as leader.
pub fn leader() -> PodState {
    PodState::new(true, true, true, Some(Mode::Leader))
}
/// Serving as a synced follower.
pub fn follower() -> PodState {
    PodState::new(true, true, true, Some(Mode::Follower))
}
/// Serving as a synced observer (a joiner before `reconfig -add`).
pub fn observer() -> PodState {
    PodState::new(true, true, true, Some(Mode::Observer))
}
/// Following but behind the leader.
pub fn lagging() -> PodState {
    PodState::new(true, true, false, Some(Mode::Follower))
}
/// Process started, not answering yet.
pub fn booting() -> PodState {
    PodState::new(true, false, false, None)
}
/// Answering but not serving (no quorum, or removed from the config).
pub fn not_serving() -> PodState {
    PodState::new(true, false, false, Some(Mode::NotServing))
}
/// Pod object deleted and not recreated yet.
pub fn absent() -> PodState {
    PodState::new(false, false, false, None)
}

/// Start a fixture for the ensemble `zk` in namespace `default`.
pub fn observed() -> Fixture {
    Fixture(Observed::new(EnsembleNames::new("zk", "default")))
}

/// An observation under construction.
#[derive(Debug, Clone)]
pub struct Fixture(Observed);

impl Fixture {
    /// A StatefulSet with `replicas` at `revision` (current = update, partition 0).
    pub fn sts(self, replicas: u32, revision: &str) -> Self {
        self.sts_with(replicas, revision, revision, 0)
    }

    /// A StatefulSet with explicit revisions and partition.
    pub fn sts_with(mut self, replicas: u32, update: &str, current: &str, partition: u32) -> Self {
        self.0.statefulset = Some(StatefulSetObservation {
            replicas,
            update_revision: update.into(),
            current_revision: current.into(),
            partition,
        });
        self
    }

    /// Pod `ordinal` at `revision` in `state`.
    pub fn pod(mut self, ordinal: u32, revision: &str, state: PodState) -> Self {
        self.0.pods.insert(
            ordinal,
            PodObservation {
                exists: state.exists,
                revision: revision.into(),
                version: state.version,
                ready: state.ready,
                mode: state.mode,
                zxid: state.zxid,
                config_version: state.config_version,
                synced: state.synced,
            },
        );
        self
    }

    /// Committed config: `ordinals` as participants, at `version`.
    pub fn committed(mut self, ordinals: impl IntoIterator<Item = u32>, version: u64) -> Self {
        let names = self.0.names.clone();
        let servers = ordinals.into_iter().map(|o| ServerEntry::for_pod(&names, o, Role::Participant)).collect();
        self.0.committed = Some(DynamicConfig { servers, version: Some(version) });
        self
    }

    /// Add `ordinal` to the committed config as an observer.
    pub fn committed_observer(mut self, ordinal: u32) -> Self {
        let entry = ServerEntry::for_pod(&self.0.names, ordinal, Role::Observer);
        let cfg = self.0.committed.get_or_insert_with(DynamicConfig::default);
        cfg.servers.push(entry);
        cfg.servers.sort_by_key(|s| s.id);
        self
    }

    /// Data volumes that exist.
    pub fn volumes(mut self, ordinals: impl IntoIterator<Item = u32>) -> Self {
        self.0.volumes = ordinals.into_iter().collect();
        self
    }

    /// A probe write went through after config `version`.
    pub fn probe_ok(mut self, version: u64) -> Self {
        self.0.last_write_ok_after_config = Some(version);
        self
    }

    /// The finished observation.
    pub fn build(self) -> Observed {
        self.0
    }
}

/// A healthy ensemble of `n` members at `revision`: StatefulSet, pods
/// (the highest ordinal leads, as ZooKeeper's election picks the highest
/// id among equals), committed config at `version`, and volumes.
pub fn healthy(n: u32, revision: &str, version: u64) -> Fixture {
    let mut f = observed().sts(n, revision).committed(0..n, version).volumes(0..n);
    for o in 0..n {
        let state = if o + 1 == n { leader() } else { follower() };
        f = f.pod(o, revision, state.config(version));
    }
    f
}

/// The ordinals a plan deletes, in order.
pub fn deletes(p: &Plan) -> Vec<u32> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            Action::DeletePod { ordinal, .. } => Some(*ordinal),
            _ => None,
        })
        .collect()
}
