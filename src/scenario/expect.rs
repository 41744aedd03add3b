//! What a `Then within ...` step waits for, judged from live probes and the
//! resource's status, and the polling loop that says what it last saw.

use std::fmt;
use std::time::{Duration, Instant};

use crate::backend::Cluster;
use crate::operator::status::Phase;
use crate::operator::supervisor::Supervisor;
use crate::probe::EnsembleStatus;
use crate::zkconfig::Role;

/// How often an expectation is re-checked.
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// A condition on the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Exactly one leader, a majority of voters following it.
    Quorum,
    /// Exactly one member leads.
    OneLeader,
    /// Quorum, and every member serving in it.
    AllHealthy,
    /// The committed config has exactly this many voters and quorum.
    VotingMembers(u32),
    /// Every member serves and reports this version.
    AllRun(String),
    /// Every member serves and has the same config version.
    AgreeOnConfig,
    /// The resource's phase is Ready.
    Ready,
    /// The operator reports the desired spec fully rolled out.
    RolloutComplete,
    /// Pod N serves and reports this version.
    PodRuns(u32, String),
    /// At least N members serve and report this version.
    AtLeastRun(u32, String),
    /// A member other than pod N leads, with quorum.
    LeaderIsNot(u32),
    /// Pod N leads, with quorum.
    Leads(u32),
    /// Pod N follows the leader, in quorum.
    Follows(u32),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Quorum => f.write_str("the ensemble has quorum"),
            Self::OneLeader => f.write_str("the ensemble has exactly one leader"),
            Self::AllHealthy => f.write_str("every member serves in quorum"),
            Self::VotingMembers(n) => write!(f, "the ensemble has {n} voting members"),
            Self::AllRun(v) => write!(f, "all members run {v}"),
            Self::AgreeOnConfig => f.write_str("all members agree on the config version"),
            Self::Ready => f.write_str("the cluster reports Ready"),
            Self::RolloutComplete => f.write_str("the rollout is complete"),
            Self::PodRuns(o, v) => write!(f, "pod {o} runs {v}"),
            Self::AtLeastRun(n, v) => write!(f, "{n} pod(s) run {v}"),
            Self::LeaderIsNot(o) => write!(f, "a member other than pod {o} leads"),
            Self::Leads(o) => write!(f, "pod {o} leads"),
            Self::Follows(o) => write!(f, "pod {o} follows the leader"),
        }
    }
}

/// A one-line picture of a probe round, for failure messages.
pub fn describe(st: &EnsembleStatus) -> String {
    let mut members: Vec<String> = st
        .members
        .iter()
        .map(|m| {
            let mut s = format!("pod {} {}", m.ordinal, m.state_word());
            if let Some(srvr) = &m.srvr {
                s.push_str(&format!(" {}", srvr.version));
            }
            if let Some(v) = m.config_version {
                s.push_str(&format!(" cfg {v:x}"));
            }
            s
        })
        .collect();
    members.sort();
    let mut out = format!("{} [{}]", if st.quorum { "quorum" } else { "NO quorum" }, members.join(", "));
    let problems: Vec<&String> = st.problems.iter().filter(|p| !p.starts_with("member ")).collect();
    if !problems.is_empty() {
        out.push_str(&format!("; {}", problems.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("; ")));
    }
    out
}

fn version_of(st: &EnsembleStatus, ordinal: u32) -> Option<&str> {
    st.members.iter().find(|m| m.ordinal == ordinal)?.srvr.as_ref().map(|s| s.version.as_str())
}

/// "Every member serves in quorum": quorum, every probed member serving in
/// it, and every member the resource wants (ordinals `0..replicas`) among
/// them. A pod that was deleted and not yet re-created is missing from the
/// probes; two healthy members out of three are not "every member".
pub fn every_member_serves(st: &EnsembleStatus, replicas: u32) -> bool {
    st.all_healthy() && (0..replicas).all(|o| st.members.iter().any(|m| m.ordinal == o))
}

/// Check `expect` once: `Ok(detail)` when it holds, `Err(what was seen)`.
pub async fn check(c: &dyn Cluster, expect: &Expect) -> Result<String, String> {
    let st = c.status().await;
    let seen = describe(&st);
    let holds = match expect {
        Expect::Quorum => st.quorum,
        Expect::OneLeader => st.leader().is_some(),
        Expect::AllHealthy => every_member_serves(&st, c.spec().await.replicas),
        Expect::VotingMembers(n) => {
            let voters = crate::operator::members::committed(&st)
                .map(|c| c.servers.iter().filter(|s| s.role == Role::Participant).count());
            if voters != Some(*n as usize) {
                return Err(format!("{seen}; committed voters: {voters:?}"));
            }
            st.quorum
        }
        Expect::AllRun(v) => {
            let spec = c.spec().await;
            st.members.len() as u32 == spec.replicas && st.members.iter().all(|m| version_of(&st, m.ordinal) == Some(v))
        }
        Expect::AgreeOnConfig => st.members.iter().all(|m| m.serving()) && st.config_versions.len() == 1,
        Expect::Ready | Expect::RolloutComplete => {
            let status = c.resource_status().await;
            let phase = status.as_ref().and_then(|s| s.phase).unwrap_or(Phase::Provisioning);
            let ok = match expect {
                Expect::Ready => phase == Phase::Ready,
                _ => Supervisor::converged_on(status.as_ref(), &c.spec().await),
            };
            if !ok {
                return Err(format!("phase {phase:?}; {seen}"));
            }
            true
        }
        Expect::PodRuns(o, v) => version_of(&st, *o) == Some(v.as_str()),
        Expect::AtLeastRun(n, v) => {
            st.members.iter().filter(|m| version_of(&st, m.ordinal) == Some(v.as_str())).count() as u32 >= *n
        }
        Expect::LeaderIsNot(o) => st.quorum && st.leader().is_some_and(|l| l != *o),
        Expect::Leads(o) => st.quorum && st.leader() == Some(*o),
        Expect::Follows(o) => st.quorum && st.leader() != Some(*o) && st.followers_of_leader.contains(o),
    };
    if holds { Ok(seen) } else { Err(seen) }
}

/// Re-check `expect` every [`POLL_EVERY`] until it holds or `within` passes.
pub async fn poll(c: &dyn Cluster, within: Duration, expect: &Expect) -> Result<String, String> {
    poll_observed(c, within, expect, &|_| {}).await
}

/// [`poll`], telling `seen` what each unsuccessful round saw (for the
/// progress display's live line and heartbeat).
pub async fn poll_observed(
    c: &dyn Cluster,
    within: Duration,
    expect: &Expect,
    seen: &(dyn Fn(&str) + Send + Sync),
) -> Result<String, String> {
    let start = Instant::now();
    loop {
        match check(c, expect).await {
            Ok(seen) => return Ok(format!("{expect} after {:.1}s: {seen}", start.elapsed().as_secs_f64())),
            Err(seen) if start.elapsed() >= within => {
                return Err(format!(
                    "expected within {:.0}s that {expect}, but it did not happen; last seen: {seen}",
                    within.as_secs_f64()
                ));
            }
            Err(last) => {
                seen(&last);
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::probe::parse::Srvr;
    use crate::probe::{MemberStatus, Mode};
    use crate::zkconfig::{DynamicConfig, EnsembleNames, server_id};

    fn member(ordinal: u32) -> MemberStatus {
        let mut membership = DynamicConfig::for_replicas(&EnsembleNames::new("zk", "default"), 3);
        membership.version = Some(0x1_0000_0000);
        let mut m = MemberStatus::unprobed(ordinal, Ipv4Addr::new(10, 0, 0, 10 + ordinal as u8));
        let mode = if ordinal == 1 { Mode::Leader } else { Mode::Follower };
        m.srvr = Some(Srvr { version: "3.8.0".into(), zxid: 7, mode, node_count: 4, connections: 0 });
        m.config_version = membership.version;
        m.membership = Some(membership);
        m.peer_state = Some(if mode == Mode::Leader { "leading - broadcast" } else { "following - broadcast" }.into());
        m.leader_id = Some(server_id(1));
        m
    }

    #[test]
    fn a_deleted_pod_missing_from_the_probes_is_not_every_member_serving() {
        // Right after `When I delete pod 0`: pods 1 and 2 keep quorum, pod 0
        // is not re-created yet. That is not "every member serves".
        let without_0 = EnsembleStatus::judge(vec![member(1), member(2)]);
        assert!(without_0.quorum && without_0.all_healthy());
        assert!(!every_member_serves(&without_0, 3));
        let all = EnsembleStatus::judge(vec![member(0), member(1), member(2)]);
        assert!(every_member_serves(&all, 3));
    }
}
