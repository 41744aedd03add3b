//! The probe samples of a scenario, summarised: who was leader and what
//! every member was, as a list of state changes (not every sample), the
//! leader changes, and per fault the time until the ensemble had a leader
//! with a quorum again.

use serde::{Deserialize, Serialize};

use super::record::FaultEntry;
use crate::check::availability::Availability;
use crate::probe::EnsembleStatus;

/// One member in one probe state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRole {
    /// Pod ordinal.
    pub ordinal: u32,
    /// `leader`, `follower`, `observer`, `read-only`, `not-serving` or `down`.
    pub role: String,
    /// Its committed config version, when serving.
    pub config_version: Option<u64>,
    /// Its ZooKeeper version, when serving.
    pub version: Option<String>,
}

/// A span of time over which every probe saw the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeState {
    /// The first sample showing it, ns on the history clock.
    pub from_ns: u64,
    /// The first sample showing something else (or the last sample), ns.
    pub until_ns: u64,
    /// The single leader, if exactly one member claimed to lead.
    pub leader: Option<u32>,
    /// How many members claimed to lead.
    pub leaders: usize,
    /// Whether the ensemble had quorum.
    pub quorum: bool,
    /// Every probed member.
    pub members: Vec<MemberRole>,
}

/// The probe samples as state changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeTimeline {
    /// Samples summarised.
    pub samples: usize,
    /// Every ordinal seen, sorted.
    pub ordinals: Vec<u32>,
    /// Contiguous states, in time order.
    pub states: Vec<ProbeState>,
}

/// A change of the single leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderChange {
    /// The first sample with the new leader, ns.
    pub at_ns: u64,
    /// The previous leader.
    pub from: u32,
    /// The new leader.
    pub to: u32,
    /// How long no single leader was seen in between, ns.
    pub leaderless_ns: u64,
}

/// Recovery figures for one fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// The fault's description.
    pub fault: String,
    /// When it took effect, ns.
    pub start_ns: u64,
    /// When it was healed, ns.
    pub heal_ns: Option<u64>,
    /// The leader when it started.
    pub leader_before: Option<u32>,
    /// Whether, before the next fault, a sample showed no quorum or another leader.
    pub leadership_disturbed: bool,
    /// From the start to the first sample with a leader and quorum after the
    /// disturbance; `None` when undisturbed or never recovered.
    pub time_to_leader_ns: Option<u64>,
    /// That leader.
    pub new_leader: Option<u32>,
    /// From the start to the first acknowledged write invoked after it.
    pub first_write_after_start_ns: Option<u64>,
    /// From the heal to the first acknowledged write invoked after it.
    pub first_write_after_heal_ns: Option<u64>,
}

impl Recovery {
    /// The recovery time shown as the fault's headline figure: from the
    /// start to the first acknowledged write invoked after it.
    pub fn headline_ns(&self) -> Option<u64> {
        self.first_write_after_start_ns
    }
}

fn roles(st: &EnsembleStatus) -> Vec<MemberRole> {
    let mut m: Vec<MemberRole> = st
        .members
        .iter()
        .map(|m| MemberRole {
            ordinal: m.ordinal,
            role: m.state_word(),
            config_version: m.srvr.as_ref().and(m.config_version),
            version: m.srvr.as_ref().map(|s| s.version.clone()),
        })
        .collect();
    m.sort_by_key(|r| r.ordinal);
    m
}

impl ProbeTimeline {
    /// Collapse samples (time on the history clock, probe round) into
    /// contiguous states; zxids and uptimes are left out.
    pub fn summarise(samples: &[(u64, EnsembleStatus)]) -> Self {
        let mut sorted: Vec<&(u64, EnsembleStatus)> = samples.iter().collect();
        sorted.sort_by_key(|(t, _)| *t);
        let mut states: Vec<ProbeState> = Vec::new();
        let mut ordinals: Vec<u32> = Vec::new();
        for (t, st) in sorted {
            let next = ProbeState {
                from_ns: *t,
                until_ns: *t,
                leader: st.leader(),
                leaders: st.leaders.len(),
                quorum: st.quorum,
                members: roles(st),
            };
            ordinals.extend(next.members.iter().map(|m| m.ordinal));
            match states.last_mut() {
                Some(last)
                    if last.leader == next.leader
                        && last.leaders == next.leaders
                        && last.quorum == next.quorum
                        && last.members == next.members =>
                {
                    last.until_ns = *t;
                }
                Some(last) => {
                    last.until_ns = *t;
                    states.push(next);
                }
                None => states.push(next),
            }
        }
        ordinals.sort_unstable();
        ordinals.dedup();
        Self { samples: samples.len(), ordinals, states }
    }
}

/// Changes between distinct single leaders, with the leaderless time in between.
pub fn leader_changes(t: &ProbeTimeline) -> Vec<LeaderChange> {
    let mut out = Vec::new();
    let mut current: Option<(u32, u64)> = None; // (leader, end of its last state)
    for s in &t.states {
        let Some(l) = s.leader else { continue };
        match current {
            Some((prev, end)) if prev != l => {
                out.push(LeaderChange {
                    at_ns: s.from_ns,
                    from: prev,
                    to: l,
                    leaderless_ns: s.from_ns - end.min(s.from_ns),
                });
            }
            _ => {}
        }
        current = Some((l, s.until_ns));
    }
    out
}

/// Per fault (in the order given), the probe-based recovery figures merged
/// with the availability checker's first writes (same order).
pub fn recovery(faults: &[FaultEntry], probes: Option<&ProbeTimeline>, availability: &Availability) -> Vec<Recovery> {
    let mut starts: Vec<u64> = faults.iter().map(|f| f.start_ns).collect();
    starts.sort_unstable();
    faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let next_start = starts.iter().copied().find(|&s| s > f.start_ns).unwrap_or(u64::MAX);
            let mut r = Recovery {
                fault: f.description.clone(),
                start_ns: f.start_ns,
                heal_ns: f.heal_ns,
                leader_before: None,
                leadership_disturbed: false,
                time_to_leader_ns: None,
                new_leader: None,
                first_write_after_start_ns: None,
                first_write_after_heal_ns: None,
            };
            if let Some(a) = availability.faults.get(i) {
                r.first_write_after_start_ns = a.first_write_after_start_ns;
                r.first_write_after_heal_ns = a.first_write_after_heal_ns;
            }
            if let Some(p) = probes {
                probe_recovery(&mut r, p, next_start);
            }
            r
        })
        .collect()
}

fn probe_recovery(r: &mut Recovery, p: &ProbeTimeline, next_start: u64) {
    let start = r.start_ns;
    r.leader_before = p.states.iter().rev().find(|s| s.from_ns <= start).and_then(|s| s.leader);
    // States overlapping [start, next_start): the first that shows no
    // quorum or another leader is the disturbance.
    let disturbed = p
        .states
        .iter()
        .position(|s| s.until_ns > start && s.from_ns < next_start && (!s.quorum || s.leader != r.leader_before));
    let Some(d) = disturbed else { return };
    r.leadership_disturbed = true;
    let recovered = p.states[d..].iter().position(|s| s.quorum && s.leader.is_some()).map(|i| &p.states[d + i]);
    if let Some(s) = recovered {
        r.time_to_leader_ns = Some(s.from_ns.saturating_sub(start));
        r.new_leader = s.leader;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::availability::FaultRecovery;
    use crate::probe::parse::{Mode, Srvr};
    use crate::probe::{EnsembleStatus, MemberStatus};
    use std::net::Ipv4Addr;

    fn member(ordinal: u32, mode: Option<Mode>) -> MemberStatus {
        let mut m = MemberStatus::unprobed(ordinal, Ipv4Addr::new(10, 0, 0, ordinal as u8));
        m.srvr = mode.map(|mode| Srvr { version: "3.8.0".into(), zxid: 1, mode, node_count: 1, connections: 0 });
        m.not_serving = mode.is_none();
        m.config_version = mode.map(|_| 0x1_0000_0000);
        m
    }

    /// A probe round where `leader` leads the others (None: nobody serves but `up`).
    fn round(leader: Option<u32>, down: &[u32]) -> EnsembleStatus {
        let members = (0..3)
            .map(|o| {
                if down.contains(&o) {
                    member(o, None)
                } else if Some(o) == leader {
                    member(o, Some(Mode::Leader))
                } else {
                    member(o, Some(Mode::Follower))
                }
            })
            .collect();
        let mut st = EnsembleStatus::judge(members);
        // `judge` needs memberships for quorum; set the facts directly.
        st.quorum = leader.is_some() && down.len() <= 1;
        st
    }

    const S: u64 = 1_000_000_000;

    fn samples() -> Vec<(u64, EnsembleStatus)> {
        vec![
            (0, round(Some(2), &[])),
            (S, round(Some(2), &[])),
            // leader 2 killed at 1.5 s
            (2 * S, round(None, &[2])),
            (3 * S, round(None, &[2])),
            (4 * S, round(Some(1), &[2])),
            (5 * S, round(Some(1), &[])),
            (6 * S, round(Some(1), &[])),
        ]
    }

    #[test]
    fn samples_collapse_into_state_changes() {
        let t = ProbeTimeline::summarise(&samples());
        assert_eq!(t.samples, 7);
        assert_eq!(t.ordinals, vec![0, 1, 2]);
        let spans: Vec<(u64, u64, Option<u32>, bool)> =
            t.states.iter().map(|s| (s.from_ns / S, s.until_ns / S, s.leader, s.quorum)).collect();
        assert_eq!(
            spans,
            vec![(0, 2, Some(2), true), (2, 4, None, false), (4, 5, Some(1), true), (5, 6, Some(1), true)],
            "the member coming back is a state of its own"
        );
        assert_eq!(t.states[1].members[2].role, "not-serving");
        assert_eq!(t.states[0].members[2].role, "leader");
        assert_eq!(t.states[3].members[2].version.as_deref(), Some("3.8.0"));
    }

    #[test]
    fn leader_changes_carry_the_leaderless_gap() {
        let t = ProbeTimeline::summarise(&samples());
        assert_eq!(leader_changes(&t), vec![LeaderChange { at_ns: 4 * S, from: 2, to: 1, leaderless_ns: 2 * S }]);
    }

    #[test]
    fn recovery_per_fault_uses_probes_and_first_writes() {
        let t = ProbeTimeline::summarise(&samples());
        let faults = vec![
            FaultEntry {
                name: "kill".into(),
                description: "SIGKILL leader zk-2".into(),
                targets: vec![2],
                start_ns: S + S / 2,
                heal_ns: Some(4 * S + S / 2),
            },
            FaultEntry {
                name: "pause".into(),
                description: "pause zk-0".into(),
                targets: vec![0],
                start_ns: 5 * S + S / 2,
                heal_ns: None,
            },
        ];
        let mut availability = crate::check::availability::figures(&[], &[]);
        availability.faults = vec![FaultRecovery {
            name: "SIGKILL leader zk-2".into(),
            start_ns: faults[0].start_ns,
            heal_ns: faults[0].heal_ns,
            first_write_after_start_ns: Some(2_600_000_000),
            first_write_after_heal_ns: Some(10_000_000),
        }];
        let r = recovery(&faults, Some(&t), &availability);
        assert_eq!(r[0].leader_before, Some(2));
        assert!(r[0].leadership_disturbed);
        assert_eq!(r[0].time_to_leader_ns, Some(4 * S - (S + S / 2)));
        assert_eq!(r[0].new_leader, Some(1));
        assert_eq!(r[0].headline_ns(), Some(2_600_000_000));
        assert_eq!(r[1].leader_before, Some(1));
        assert!(!r[1].leadership_disturbed, "a paused follower does not move the leader");
        assert_eq!(r[1].time_to_leader_ns, None);
        assert_eq!(r[1].first_write_after_start_ns, None, "no availability figure for it");
    }
}
