//! Facts derived from one observation against one spec: who is healthy,
//! who is out of date, whether a quorum is present, how the membership
//! differs from the StatefulSet. Both the planner and the status use them.

use super::crd::ZookeeperClusterSpec;
use super::observed::Observed;
use super::revision::revision;

/// Facts about an observation, all derived (nothing remembered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The revision the spec asks for.
    pub target_revision: String,
    /// `spec.replicas`.
    pub desired: u32,
    /// The StatefulSet's replicas (0 without one).
    pub replicas: u32,
    /// `spec.updateStrategy.partition`.
    pub partition: u32,
    /// Voters in the committed config.
    pub voters: usize,
    /// Voters that are healthy (ready, synced, leading or following).
    pub healthy_voters: usize,
    /// Majority of the committed config; `None` without a committed config
    /// (or one with no version).
    pub majority: Option<usize>,
    /// Ordinals `< replicas` whose pod is missing or not healthy (a voter
    /// must also lead or follow: an added joiner still observing is not yet healthy).
    pub unhealthy: Vec<u32>,
    /// Ordinals whose pod reports `Leader`.
    pub leaders: Vec<u32>,
    /// Existing pods `< replicas`, at or above the partition, not at the target revision.
    pub outdated: Vec<u32>,
    /// Existing pods below the partition, not at the target revision.
    pub held_back: Vec<u32>,
    /// Existing pods `< replicas` at the target revision.
    pub updated: u32,
    /// Ordinals `< replicas` that are not voters of the committed config.
    pub non_members: Vec<u32>,
    /// Members of the committed config with ordinal `>= replicas`.
    pub beyond: Vec<u32>,
    /// Every member that reported a config version reported the committed one.
    pub config_agrees: bool,
}

impl Assessment {
    /// Assess `observed` against `spec`.
    pub fn of(spec: &ZookeeperClusterSpec, observed: &Observed) -> Self {
        let target_revision = revision(spec);
        let replicas = observed.replicas();
        let partition = spec.partition();
        let committed = observed.committed.as_ref().filter(|c| c.version.is_some());
        let voters = observed.voter_ordinals();
        let members = observed.member_ordinals();
        let in_range = 0..replicas;
        let pod_rev = |o: u32| observed.pod(o).map(|p| p.revision.as_str());
        Assessment {
            desired: spec.replicas,
            replicas,
            partition,
            voters: voters.len(),
            healthy_voters: observed.healthy_voters_except(&[]),
            majority: committed.map(|c| c.majority()),
            unhealthy: in_range
                .clone()
                .filter(|&o| {
                    let healthy = observed
                        .pod(o)
                        .is_some_and(|p| if voters.contains(&o) { p.is_healthy_voter() } else { p.is_healthy() });
                    !healthy
                })
                .collect(),
            leaders: observed.leaders(),
            outdated: in_range
                .clone()
                .filter(|&o| o >= partition && pod_rev(o).is_some_and(|r| r != target_revision))
                .collect(),
            held_back: (0..partition.min(replicas))
                .filter(|&o| pod_rev(o).is_some_and(|r| r != target_revision))
                .collect(),
            updated: in_range.clone().filter(|&o| pod_rev(o) == Some(target_revision.as_str())).count() as u32,
            non_members: in_range.filter(|o| !voters.contains(o)).collect(),
            beyond: members.into_iter().filter(|&o| o >= replicas).collect(),
            config_agrees: committed.is_some_and(|c| {
                observed
                    .pods
                    .values()
                    .filter(|p| p.exists)
                    .all(|p| p.config_version.is_none_or(|v| Some(v) == c.version))
            }),
            target_revision,
        }
    }

    /// Whether a majority of the committed config is healthy; `None`
    /// without a committed config.
    pub fn has_quorum(&self) -> Option<bool> {
        self.majority.map(|m| self.healthy_voters >= m)
    }

    /// The leader, when exactly one member leads.
    pub fn leader(&self) -> Option<u32> {
        match self.leaders.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// The StatefulSet, the committed config and the spec agree on who the
    /// members are.
    pub fn membership_settled(&self) -> bool {
        self.replicas == self.desired && self.non_members.is_empty() && self.beyond.is_empty()
    }
}
