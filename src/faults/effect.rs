//! When has a fault taken effect? A fault's actions return when the
//! backend accepted them (a signal sent, a pod deleted, a route added), not
//! when the ensemble shows it: a deleted Kubernetes pod keeps serving
//! through its grace period, a killed server may still answer a probe
//! already in flight. A step after a fault that looked at the ensemble in
//! that gap would judge the state from *before* the fault.
//!
//! So every fault names the [`Effect`]s a probe round must show before the
//! fault counts as in effect, and [`await_effects`] polls fresh probe
//! rounds until each was seen once (bounded; the error names what was
//! awaited and what was last seen):
//!
//! * kill, graceful stop, pod delete: each target is seen absent, not
//!   serving, or as a new server process: another pid or start time than
//!   the one probed just before the fault, where the backend knows the
//!   process ([`crate::probe::MemberStatus::instance`]); else, as a last
//!   resort, its `zk_uptime` below the one before (which an election also
//!   resets, so it can pass early there);
//! * pause, clients cut off: each target is seen not answering;
//! * network cuts (isolate, split, bridge, halves, one-way), netem, a full
//!   disk: the effect is the cut itself, in place when the action returns
//!   (a blackhole route drops the next packet); what the ensemble does about
//!   it (an election, a member falling behind) is for the expectations to
//!   wait for, and not every cut changes it (a bridge may not).
//!
//! The judgement of one round is pure ([`Effect::seen_in`]), so it is
//! tested on sequences of rounds.

use std::time::{Duration, Instant};

use super::FaultError;
use super::target::FaultTarget;
use crate::probe::EnsembleStatus;

/// How long a fault may take to show its effect.
pub const EFFECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How often probes are repeated while waiting.
pub const EFFECT_POLL: Duration = Duration::from_millis(100);

/// What a probe round must show for a fault to be in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The member's server instance is gone: absent, not serving, or a new
    /// instance (kill, stop, delete).
    Gone {
        /// The member.
        ordinal: u32,
        /// Its server process probed just before the fault, when the
        /// backend knows it.
        instance_before: Option<String>,
        /// Its `zk_uptime` probed just before the fault, when known (used
        /// only where the process is not known: an election resets it).
        uptime_before_ms: Option<u64>,
    },
    /// The member does not answer clients (pause, clients cut off).
    Silent {
        /// The member.
        ordinal: u32,
    },
}

impl Effect {
    /// The effect `Gone` of `ordinal`, its baseline taken from `before`.
    pub fn gone(ordinal: u32, before: Option<&EnsembleStatus>) -> Self {
        let m = before.and_then(|b| b.members.iter().find(|m| m.ordinal == ordinal));
        Self::Gone {
            ordinal,
            instance_before: m.and_then(|m| m.instance.clone()),
            uptime_before_ms: m.and_then(|m| m.uptime_ms),
        }
    }

    /// Whether the round `st` shows the effect.
    pub fn seen_in(&self, st: &EnsembleStatus) -> bool {
        match self {
            Self::Gone { ordinal, instance_before, uptime_before_ms } => {
                match st.members.iter().find(|m| m.ordinal == *ordinal) {
                    None => true,
                    Some(m) if !m.serving() => true,
                    // The process is known: another one (or none any more) is the effect.
                    Some(m) if instance_before.is_some() => m.instance != *instance_before,
                    Some(m) => matches!((m.uptime_ms, uptime_before_ms), (Some(now), Some(before)) if now < *before),
                }
            }
            Self::Silent { ordinal } => st.members.iter().find(|m| m.ordinal == *ordinal).is_none_or(|m| !m.serving()),
        }
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gone { ordinal, .. } => write!(f, "pod {ordinal} stopped or restarted"),
            Self::Silent { ordinal } => write!(f, "pod {ordinal} not answering clients"),
        }
    }
}

/// Tracks which effects were seen so far over successive rounds: an
/// effect seen once stays seen (a killed member that is back already is
/// fine).
#[derive(Debug, Clone)]
pub struct Awaiting {
    pending: Vec<Effect>,
}

impl Awaiting {
    /// Await `effects`.
    pub fn new(effects: Vec<Effect>) -> Self {
        Self { pending: effects }
    }

    /// Take one round into account; returns whether every effect was seen.
    pub fn observe(&mut self, st: &EnsembleStatus) -> bool {
        self.pending.retain(|e| !e.seen_in(st));
        self.pending.is_empty()
    }

    /// The effects not seen yet.
    pub fn pending(&self) -> &[Effect] {
        &self.pending
    }
}

/// Poll fresh probe rounds of `target` until every one of `effects` was
/// seen, at most `within`. Returns how long it took.
pub async fn await_effects(
    target: &dyn FaultTarget,
    effects: &[Effect],
    within: Duration,
) -> Result<Duration, FaultError> {
    let start = Instant::now();
    let mut awaiting = Awaiting::new(effects.to_vec());
    if awaiting.pending().is_empty() {
        return Ok(Duration::ZERO);
    }
    loop {
        let st = target.status().await;
        if awaiting.observe(&st) {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= within {
            let awaited: Vec<String> = awaiting.pending().iter().map(|e| e.to_string()).collect();
            let seen: Vec<String> = st
                .members
                .iter()
                .map(|m| {
                    let up = m.uptime_ms.map(|u| format!(", up {:.1}s", u as f64 / 1000.0)).unwrap_or_default();
                    format!("pod {} {}{up}", m.ordinal, m.state_word())
                })
                .collect();
            return Err(FaultError::NotInEffect { awaited: awaited.join(", "), within, seen: seen.join("; ") });
        }
        tokio::time::sleep(EFFECT_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::probe::parse::Srvr;
    use crate::probe::{MemberStatus, Mode};

    fn member(ordinal: u32, serving: bool, uptime_ms: u64) -> MemberStatus {
        let mut m = MemberStatus::unprobed(ordinal, Ipv4Addr::new(10, 0, 0, 10 + ordinal as u8));
        if serving {
            m.srvr = Some(Srvr {
                version: "3.8.0".into(),
                zxid: 7,
                mode: if ordinal == 1 { Mode::Leader } else { Mode::Follower },
                node_count: 4,
                connections: 0,
            });
            m.uptime_ms = Some(uptime_ms);
        }
        m
    }

    fn round(members: Vec<MemberStatus>) -> EnsembleStatus {
        EnsembleStatus::judge(members)
    }

    /// Pod 0 serving with `uptime`, pods 1 and 2 healthy.
    fn with_pod0(pod0: Option<MemberStatus>) -> EnsembleStatus {
        let mut ms: Vec<MemberStatus> = pod0.into_iter().collect();
        ms.extend([member(1, true, 90_000), member(2, true, 90_000)]);
        round(ms)
    }

    #[test]
    fn a_deleted_pod_still_serving_is_not_the_effect_but_gone_or_restarted_is() {
        let before = with_pod0(Some(member(0, true, 60_000)));
        let effect = Effect::gone(0, Some(&before));
        assert_eq!(effect, Effect::Gone { ordinal: 0, instance_before: None, uptime_before_ms: Some(60_000) });
        // The old instance, still serving (grace period, probe in flight).
        assert!(!effect.seen_in(&with_pod0(Some(member(0, true, 60_400)))));
        // Absent from the round, down, or a new instance: in effect.
        assert!(effect.seen_in(&with_pod0(None)));
        assert!(effect.seen_in(&with_pod0(Some(member(0, false, 0)))));
        assert!(effect.seen_in(&with_pod0(Some(member(0, true, 1_200)))));
    }

    #[test]
    fn effects_seen_once_stay_seen_over_a_sequence_of_rounds() {
        let before = with_pod0(Some(member(0, true, 60_000)));
        let mut a = Awaiting::new(vec![Effect::gone(0, Some(&before)), Effect::Silent { ordinal: 2 }]);
        let rounds = [
            (with_pod0(Some(member(0, true, 60_250))), false),
            (with_pod0(None), false),
            // Pod 0 is back already; pod 2 stops answering: both seen.
            (round(vec![member(0, true, 500), member(1, true, 90_500), member(2, false, 0)]), true),
        ];
        for (i, (st, done)) in rounds.iter().enumerate() {
            assert_eq!(a.observe(st), *done, "round {i}");
        }
        assert!(a.pending().is_empty());
    }

    #[test]
    fn silence_needs_the_member_not_to_answer() {
        let e = Effect::Silent { ordinal: 0 };
        assert!(!e.seen_in(&with_pod0(Some(member(0, true, 5)))));
        assert!(e.seen_in(&with_pod0(Some(member(0, false, 0)))));
        assert_eq!(e.to_string(), "pod 0 not answering clients");
        // Without a baseline only a round without the old instance counts.
        let blind = Effect::Gone { ordinal: 0, instance_before: None, uptime_before_ms: None };
        assert!(!blind.seen_in(&with_pod0(Some(member(0, true, 1)))));
    }

    /// `member` run by the process `pid`.
    fn run_by(mut m: MemberStatus, pid: u32) -> MemberStatus {
        m.instance = Some(format!("pid {pid} started at tick {}", pid * 10));
        m
    }

    #[test]
    fn an_election_that_resets_the_uptime_is_not_a_restart_when_the_process_is_known() {
        let before = with_pod0(Some(run_by(member(0, true, 60_000), 4242)));
        let effect = Effect::gone(0, Some(&before));
        // An election: ZooKeeper's uptime starts again, the process is the same one.
        assert!(!effect.seen_in(&with_pod0(Some(run_by(member(0, true, 300), 4242)))));
        // A new process (restarted fast), even with an uptime above the one before.
        assert!(effect.seen_in(&with_pod0(Some(run_by(member(0, true, 90_000), 5151)))));
        // The known process is gone while something answers: a new one.
        assert!(effect.seen_in(&with_pod0(Some(member(0, true, 90_000)))));
        // Down or absent, as always.
        assert!(effect.seen_in(&with_pod0(Some(member(0, false, 0)))));
        assert!(effect.seen_in(&with_pod0(None)));
    }
}
