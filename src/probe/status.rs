//! Member and ensemble status: probe every member, then judge the whole.
//!
//! Quorum means exactly one leader among the serving members, a majority of
//! the committed config following it in broadcast, and every serving
//! member on the same config version.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::parse::{self, MntrReply, Mode, SrvrReply};
use super::wire;
use crate::zkconfig::{self, CLIENT_PORT};

/// What one probe of one member found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemberStatus {
    /// Pod ordinal.
    pub ordinal: u32,
    /// Pod address.
    pub addr: Ipv4Addr,
    /// The `srvr` report when serving.
    pub srvr: Option<parse::Srvr>,
    /// Up but not serving.
    pub not_serving: bool,
    /// Committed config version the member has (from `conf`).
    pub config_version: Option<u64>,
    /// The membership the member has (from `conf`).
    pub membership: Option<zkconfig::DynamicConfig>,
    /// Server uptime in ms (from `mntr`): ZooKeeper's `zk_uptime`, which
    /// restarts at every leader election (a new server object each
    /// time), so it does not tell a new process from an election; see
    /// [`MemberStatus::instance`] for that.
    pub uptime_ms: Option<u64>,
    /// Which server process answered: its pid and start time (`pid P
    /// started at tick T`; on Kubernetes prefixed with the pod's uid), filled
    /// by every backend (local, docker, kube); `None` when the process is not
    /// running or cannot be told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Synced followers, when it leads (from `mntr`).
    pub synced_followers: Option<u64>,
    /// `zk_peer_state` (from `mntr`), e.g. `following - broadcast`.
    pub peer_state: Option<String>,
    /// The server id of the leader it follows (admin server `leader`).
    pub leader_id: Option<u64>,
    /// Why the probe failed, when it did (connection refused, timeout...).
    pub error: Option<String>,
}

/// [`MemberStatus::instance`] of a server process known by its pid and
/// its start time in clock ticks since boot (field 22 of `/proc/PID/stat`).
pub fn process_instance(pid: u32, start_ticks: u64) -> String {
    format!("pid {pid} started at tick {start_ticks}")
}

impl MemberStatus {
    /// A member nothing is known about yet (before, or without, a probe).
    pub fn unprobed(ordinal: u32, addr: Ipv4Addr) -> Self {
        Self {
            ordinal,
            addr,
            srvr: None,
            not_serving: false,
            config_version: None,
            membership: None,
            uptime_ms: None,
            instance: None,
            synced_followers: None,
            peer_state: None,
            leader_id: None,
            error: None,
        }
    }

    /// The mode, when serving.
    pub fn mode(&self) -> Option<Mode> {
        self.srvr.as_ref().map(|s| s.mode)
    }
    /// Whether the member serves clients.
    pub fn serving(&self) -> bool {
        self.srvr.is_some()
    }
    /// Whether it serves as a synced follower or observer of `leader_id`.
    pub fn follows(&self, leader_id: u64) -> bool {
        matches!(self.mode(), Some(Mode::Follower | Mode::Observer))
            && self.leader_id == Some(leader_id)
            && self.peer_state.as_deref().is_none_or(|p| p.ends_with("broadcast"))
    }

    /// A short word for tables: the mode, `not-serving` or `down`.
    pub fn state_word(&self) -> String {
        match (&self.srvr, self.not_serving) {
            (Some(s), _) => s.mode.to_string(),
            (None, true) => "not-serving".into(),
            (None, false) => "down".into(),
        }
    }
}

/// Probe one member: `srvr` over the client port, then, when it serves,
/// `conf` and `mntr` and the admin server's `leader` command. Never fails:
/// failures are recorded in the status.
pub async fn probe_member(ordinal: u32, addr: Ipv4Addr, admin_port: u16, timeout: Duration) -> MemberStatus {
    let sock = SocketAddr::from((addr, CLIENT_PORT));
    let mut st = MemberStatus::unprobed(ordinal, addr);
    let srvr = wire::four_letter(sock, "srvr", timeout).await.map_err(|e| e.to_string());
    if !st.record_srvr(srvr) {
        return st;
    }
    let admin = SocketAddr::from((addr, admin_port));
    let (conf, mntr, leader) = tokio::join!(
        wire::four_letter(sock, "conf", timeout),
        wire::four_letter(sock, "mntr", timeout),
        wire::admin_get(admin, "/commands/leader", timeout)
    );
    let err = |e: wire::WireError| e.to_string();
    st.record_details(conf.map_err(err), mntr.map_err(err), leader.map_err(err));
    st
}

impl MemberStatus {
    /// Record a `srvr` reply (or why there is none). Returns whether the
    /// member serves, i.e. whether its other replies are worth asking for.
    /// Shared by every transport (TCP here, `kubectl exec` style elsewhere).
    pub fn record_srvr(&mut self, srvr: Result<String, String>) -> bool {
        match srvr.and_then(|b| parse::parse_srvr(&b).map_err(|e| e.to_string())) {
            Ok(SrvrReply::Serving(s)) => {
                self.srvr = Some(s);
                true
            }
            Ok(SrvrReply::NotServing) => {
                self.not_serving = true;
                false
            }
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }

    /// Record the `conf` and `mntr` replies and the admin server's `leader`
    /// body of a serving member (each a body or why there is none).
    pub fn record_details(
        &mut self,
        conf: Result<String, String>,
        mntr: Result<String, String>,
        leader: Result<String, String>,
    ) {
        match conf.and_then(|b| parse::parse_conf(&b).map_err(|e| e.to_string())) {
            Ok(Some(c)) => {
                self.config_version = c.membership.version;
                self.membership = Some(c.membership);
            }
            Ok(None) => {}
            Err(e) => self.error = Some(e),
        }
        if let Ok(Ok(MntrReply::Serving(m))) = mntr.map(|b| parse::parse_mntr(&b)) {
            self.uptime_ms = m.uptime_ms();
            self.synced_followers = m.synced_followers();
            self.peer_state = m.peer_state().map(String::from);
        }
        match leader.and_then(|b| parse::parse_admin_leader(&b).map_err(|e| e.to_string())) {
            Ok(l) => self.leader_id = l.leader_id,
            Err(e) => self.error = Some(format!("admin server: {e}")),
        }
    }
}

/// Probe all members concurrently.
pub async fn probe_all(members: &[(u32, Ipv4Addr)], admin_port: u16, timeout: Duration) -> Vec<MemberStatus> {
    futures::future::join_all(members.iter().map(|(o, a)| probe_member(*o, *a, admin_port, timeout))).await
}

/// The judgement over one round of member probes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EnsembleStatus {
    /// Every member's probe.
    pub members: Vec<MemberStatus>,
    /// Ordinals that claim to lead.
    pub leaders: Vec<u32>,
    /// Ordinals following the single leader and in broadcast (synced).
    pub followers_of_leader: Vec<u32>,
    /// Distinct config versions among serving members.
    pub config_versions: Vec<u64>,
    /// Voters in the committed config (from the leader, else any member).
    pub voters: usize,
    /// Whether the ensemble has quorum (see the module docs).
    pub quorum: bool,
    /// Why not, when it has none; or notes when it does.
    pub problems: Vec<String>,
}

impl EnsembleStatus {
    /// Judge a round of probes.
    pub fn judge(members: Vec<MemberStatus>) -> Self {
        let leaders: Vec<u32> = members.iter().filter(|m| m.mode() == Some(Mode::Leader)).map(|m| m.ordinal).collect();
        let mut config_versions: Vec<u64> = members.iter().filter_map(|m| m.config_version).collect();
        config_versions.sort_unstable();
        config_versions.dedup();
        let leader = match leaders.as_slice() {
            [one] => members.iter().find(|m| m.ordinal == *one),
            _ => None,
        };
        let committed =
            leader.and_then(|l| l.membership.clone()).or_else(|| members.iter().find_map(|m| m.membership.clone()));
        let voter_ids: Vec<u64> = committed.as_ref().map(|c| c.voters().collect()).unwrap_or_default();
        let voters = voter_ids.len();
        let followers_of_leader: Vec<u32> = match leader {
            Some(l) => {
                let leader_id = zkconfig::server_id(l.ordinal);
                members.iter().filter(|m| m.follows(leader_id)).map(|m| m.ordinal).collect()
            }
            None => Vec::new(),
        };
        let mut problems = Vec::new();
        if leaders.is_empty() {
            problems.push("no leader".to_string());
        } else if leaders.len() > 1 {
            problems.push(format!("{} members claim to lead: {leaders:?}", leaders.len()));
        }
        if config_versions.len() > 1 {
            let hex: Vec<String> = config_versions.iter().map(|v| format!("{v:x}")).collect();
            problems.push(format!("config versions disagree: {}", hex.join(", ")));
        }
        // Voters in the leader's quorum: the leader plus its synced voting followers.
        let voting_with_leader = leader
            .iter()
            .map(|l| l.ordinal)
            .chain(followers_of_leader.iter().copied())
            .filter(|o| voter_ids.contains(&zkconfig::server_id(*o)))
            .count();
        let majority = voters / 2 + 1;
        if leader.is_some() && voting_with_leader < majority {
            problems.push(format!("only {voting_with_leader} of {voters} voters follow the leader, {majority} needed"));
        }
        for m in &members {
            if !m.serving() {
                problems.push(format!("member {} is {}", m.ordinal, m.state_word()));
            }
        }
        let quorum = leaders.len() == 1 && config_versions.len() <= 1 && voters > 0 && voting_with_leader >= majority;
        Self { members, leaders, followers_of_leader, config_versions, voters, quorum, problems }
    }

    /// The single leader's ordinal, when there is exactly one.
    pub fn leader(&self) -> Option<u32> {
        match self.leaders.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Quorum, and every probed member serving in it.
    pub fn all_healthy(&self) -> bool {
        self.quorum
            && self.members.iter().all(|m| m.serving())
            && self.followers_of_leader.len() + 1 == self.members.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zkconfig::{DynamicConfig, EnsembleNames};

    fn member(ordinal: u32, mode: Option<Mode>, leader_id: Option<u64>, config: u64) -> MemberStatus {
        let mut membership = DynamicConfig::for_replicas(&EnsembleNames::new("zk", "default"), 3);
        membership.version = Some(config);
        MemberStatus {
            ordinal,
            addr: Ipv4Addr::new(10, 213, 0, 10 + ordinal as u8),
            srvr: mode.map(|mode| parse::Srvr {
                version: "3.8.0".into(),
                zxid: 0x1_0000_0001,
                mode,
                node_count: 5,
                connections: 1,
            }),
            not_serving: mode.is_none(),
            config_version: mode.map(|_| config),
            membership: mode.map(|_| membership),
            uptime_ms: Some(1000),
            instance: None,
            synced_followers: None,
            peer_state: mode
                .map(|m| if m == Mode::Leader { "leading - broadcast" } else { "following - broadcast" }.into()),
            leader_id,
            error: None,
        }
    }

    const V: u64 = 0x1_0000_0000;

    #[test]
    fn healthy_ensemble() {
        let st = EnsembleStatus::judge(vec![
            member(0, Some(Mode::Follower), Some(2), V),
            member(1, Some(Mode::Leader), Some(2), V),
            member(2, Some(Mode::Follower), Some(2), V),
        ]);
        assert!(st.quorum && st.all_healthy(), "{:?}", st.problems);
        assert_eq!(st.leader(), Some(1));
        assert_eq!(st.followers_of_leader, vec![0, 2]);
        assert!(st.problems.is_empty());
    }

    #[test]
    fn one_member_down_keeps_quorum_but_is_not_healthy() {
        let st = EnsembleStatus::judge(vec![
            member(0, None, None, V),
            member(1, Some(Mode::Leader), Some(2), V),
            member(2, Some(Mode::Follower), Some(2), V),
        ]);
        assert!(st.quorum && !st.all_healthy());
        assert!(st.problems.iter().any(|p| p.contains("member 0 is not-serving")), "{:?}", st.problems);
    }

    #[test]
    fn a_minority_has_no_quorum() {
        let st = EnsembleStatus::judge(vec![
            member(0, None, None, V),
            member(1, Some(Mode::Leader), Some(2), V),
            member(2, None, None, V),
        ]);
        assert!(!st.quorum);
        assert!(st.problems.iter().any(|p| p.contains("only 1 of 3 voters")), "{:?}", st.problems);
    }

    #[test]
    fn two_leaders_or_split_configs_are_not_quorum() {
        let st = EnsembleStatus::judge(vec![
            member(0, Some(Mode::Leader), Some(1), V),
            member(1, Some(Mode::Leader), Some(2), V),
            member(2, Some(Mode::Follower), Some(2), V),
        ]);
        assert!(!st.quorum && st.leader().is_none());
        let st = EnsembleStatus::judge(vec![
            member(0, Some(Mode::Follower), Some(2), V),
            member(1, Some(Mode::Leader), Some(2), V),
            member(2, Some(Mode::Follower), Some(2), V + 3),
        ]);
        assert!(!st.quorum);
        assert!(st.problems.iter().any(|p| p.contains("config versions disagree")));
    }

    #[test]
    fn a_follower_of_another_leader_does_not_count() {
        let st = EnsembleStatus::judge(vec![
            member(0, Some(Mode::Follower), Some(1), V),
            member(1, Some(Mode::Leader), Some(2), V),
            member(2, Some(Mode::Follower), Some(2), V),
        ]);
        assert_eq!(st.followers_of_leader, vec![2]);
        assert!(st.quorum && !st.all_healthy());
    }
}
