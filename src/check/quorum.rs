//! Quorum over time, from periodic probe rounds ([`EnsembleStatus`]).
//!
//! Rules:
//! * After the settle point (`time >= settle_after_ns`), no sample may show
//!   more than one member claiming to lead (during a fault two leaders can
//!   briefly coexist: the old one has not yet noticed it lost its quorum).
//! * After the settle point the ensemble must become stable: the first
//!   sample with quorum (exactly one leader, a majority of the committed
//!   config following it in broadcast, one config version) is the stable
//!   point; from then on every sample must have quorum. Never reaching it
//!   is invalid. The delay from the settle point to the stable point is a
//!   fact.
//! * The last sample must be after the settle point, with every probed
//!   member serving, all on the same config version and the same last zxid.
//! * Leader changes are counted over all samples: transitions between
//!   distinct single leaders (by ordinal); samples without a single leader
//!   do not reset the identity. Epoch changes of the leader are counted too
//!   (a member re-elected after an election is a new epoch, same ordinal).
//!
//! No samples after the settle point gives `Unknown`.

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::probe::EnsembleStatus;

/// The quorum checker's verdict and facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumReport {
    /// The verdict.
    pub verdict: Verdict,
    /// Samples seen.
    pub samples: usize,
    /// Samples at or after the settle point.
    pub samples_after_settle: usize,
    /// Samples (any time) with quorum.
    pub samples_with_quorum: usize,
    /// Transitions between distinct single leaders (by ordinal).
    pub leader_changes: usize,
    /// Transitions between distinct leader epochs (high 32 bits of the
    /// leader's zxid), including re-elections of the same member.
    pub epoch_changes: usize,
    /// The sequence of distinct leaders seen (ordinals), in order.
    pub leaders_seen: Vec<u32>,
    /// Time of the first sample with quorum at or after the settle point.
    pub stable_at_ns: Option<u64>,
    /// `stable_at_ns - settle_after_ns`.
    pub settle_lag_ns: Option<u64>,
    /// Samples after the settle point with more than one leader.
    pub split_brain_samples: usize,
    /// The leader in the last sample.
    pub final_leader: Option<u32>,
    /// Distinct config versions in the last sample.
    pub final_config_versions: Vec<u64>,
    /// Distinct last zxids among serving members in the last sample.
    pub final_zxids: Vec<u64>,
}

fn epoch_of(st: &EnsembleStatus, ordinal: u32) -> Option<u64> {
    st.members.iter().find(|m| m.ordinal == ordinal).and_then(|m| m.srvr.as_ref()).map(|s| s.zxid >> 32)
}

/// Judge quorum over `samples` (time in ns, probe round); see the module docs.
pub fn check(samples: &[(u64, EnsembleStatus)], settle_after_ns: u64) -> QuorumReport {
    let mut sorted: Vec<&(u64, EnsembleStatus)> = samples.iter().collect();
    sorted.sort_by_key(|(t, _)| *t);
    let mut evidence = Vec::new();

    // Leader identity over time.
    let (mut leader_changes, mut epoch_changes) = (0, 0);
    let mut leaders_seen: Vec<u32> = Vec::new();
    let mut last_epoch: Option<u64> = None;
    for (_, st) in &sorted {
        let Some(l) = st.leader() else { continue };
        if let Some(prev) = leaders_seen.last()
            && *prev != l
        {
            leader_changes += 1;
        }
        if leaders_seen.last() != Some(&l) {
            leaders_seen.push(l);
        }
        if let Some(e) = epoch_of(st, l) {
            if last_epoch.is_some_and(|p| p != e) {
                epoch_changes += 1;
            }
            last_epoch = Some(e);
        }
    }

    let after: Vec<&(u64, EnsembleStatus)> = sorted.iter().copied().filter(|(t, _)| *t >= settle_after_ns).collect();
    let mut split_brain_samples = 0;
    for (t, st) in &after {
        if st.leaders.len() > 1 {
            split_brain_samples += 1;
            evidence.push(format!(
                "{} members claim to lead at {t} ns (after settle): {:?}",
                st.leaders.len(),
                st.leaders
            ));
        }
    }
    let stable = after.iter().position(|(_, st)| st.quorum);
    let stable_at_ns = stable.map(|i| after[i].0);
    match stable {
        None if !after.is_empty() => evidence.push(format!(
            "no quorum in any of the {} samples after the settle point {settle_after_ns} ns; last: {}",
            after.len(),
            after.last().map(|(_, st)| st.problems.join("; ")).unwrap_or_default()
        )),
        None => {}
        Some(i) => {
            for (t, st) in &after[i..] {
                if !st.quorum && st.leaders.len() <= 1 {
                    evidence.push(format!("quorum lost at {t} ns after being stable: {}", st.problems.join("; ")));
                }
            }
        }
    }

    let last = sorted.last().map(|(_, st)| st);
    let final_config_versions = last.map(|st| st.config_versions.clone()).unwrap_or_default();
    let mut final_zxids: Vec<u64> =
        last.map(|st| st.members.iter().filter_map(|m| m.srvr.as_ref().map(|s| s.zxid)).collect()).unwrap_or_default();
    final_zxids.sort_unstable();
    final_zxids.dedup();
    if let Some((t, st)) = after.last() {
        for m in st.members.iter().filter(|m| !m.serving()) {
            evidence.push(format!("member {} is {} in the last sample ({t} ns)", m.ordinal, m.state_word()));
        }
        let unknown_config: Vec<u32> =
            st.members.iter().filter(|m| m.serving() && m.config_version.is_none()).map(|m| m.ordinal).collect();
        if final_config_versions.len() > 1 || (!unknown_config.is_empty() && !final_config_versions.is_empty()) {
            let per: Vec<String> = st
                .members
                .iter()
                .map(|m| format!("{}: {}", m.ordinal, m.config_version.map_or("?".into(), |v| format!("{v:#x}"))))
                .collect();
            evidence.push(format!("members disagree on the config version at the end: {}", per.join(", ")));
        }
        if final_zxids.len() > 1 {
            let per: Vec<String> = st
                .members
                .iter()
                .filter_map(|m| m.srvr.as_ref().map(|s| format!("{}: {:#x}", m.ordinal, s.zxid)))
                .collect();
            evidence.push(format!("members disagree on the last zxid at the end: {}", per.join(", ")));
        }
    }

    let verdict = if !evidence.is_empty() {
        Verdict::Invalid { evidence }
    } else if after.is_empty() {
        Verdict::Unknown {
            reason: format!(
                "no probe sample at or after the settle point {settle_after_ns} ns ({} before)",
                sorted.len()
            ),
        }
    } else {
        Verdict::Valid
    };
    QuorumReport {
        verdict,
        samples: sorted.len(),
        samples_after_settle: after.len(),
        samples_with_quorum: sorted.iter().filter(|(_, st)| st.quorum).count(),
        leader_changes,
        epoch_changes,
        leaders_seen,
        stable_at_ns,
        settle_lag_ns: stable_at_ns.map(|t| t - settle_after_ns),
        split_brain_samples,
        final_leader: last.and_then(|st| st.leader()),
        final_config_versions,
        final_zxids,
    }
}
