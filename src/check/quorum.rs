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
//! * Convergence ([`super::converge`]): within a settle bound after the
//!   settle point, some sample must show every probed member serving, all
//!   on the same last zxid, config version and znode count. One sample is
//!   not enough to call a divergence (a commit in flight leaves a member a
//!   transaction behind for milliseconds): only members that still disagree
//!   in every sample up to the bound are. Samples that end before the bound
//!   without agreement give `Unknown`.
//! * Leader changes are counted over all samples: transitions between
//!   distinct single leaders (by ordinal); samples without a single leader
//!   do not reset the identity. Epoch changes of the leader are counted too
//!   (a member re-elected after an election is a new epoch, same ordinal).
//!
//! No samples after the settle point gives `Unknown`.

use serde::{Deserialize, Serialize};

use super::Verdict;
use super::converge::{self, Convergence};
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
    /// Time of the first sample after the settle point in which every
    /// member agreed (see [`converge`]).
    #[serde(default)]
    pub converged_at_ns: Option<u64>,
}

fn epoch_of(st: &EnsembleStatus, ordinal: u32) -> Option<u64> {
    st.members.iter().find(|m| m.ordinal == ordinal).and_then(|m| m.srvr.as_ref()).map(|s| s.zxid >> 32)
}

/// Judge quorum over `samples` (time in ns, probe round) with the default
/// settle bound [`converge::SETTLE_BOUND`]; see the module docs.
pub fn check(samples: &[(u64, EnsembleStatus)], settle_after_ns: u64) -> QuorumReport {
    check_within(samples, settle_after_ns, converge::SETTLE_BOUND.as_nanos() as u64)
}

/// Judge quorum over `samples`, members having `bound_ns` after the settle
/// point to agree; see the module docs.
pub fn check_within(samples: &[(u64, EnsembleStatus)], settle_after_ns: u64, bound_ns: u64) -> QuorumReport {
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
    let mut pending = None;
    let mut converged_at_ns = None;
    if !after.is_empty() {
        match converge::judge(samples, settle_after_ns, bound_ns) {
            Convergence::Converged { at_ns } => converged_at_ns = Some(at_ns),
            Convergence::Diverged { evidence: e } => evidence.extend(e),
            Convergence::Pending { reason } => pending = Some(reason),
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
    } else if let Some(reason) = pending {
        Verdict::Unknown { reason }
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
        converged_at_ns,
    }
}
