//! A config change reaches every member, the leader included: each
//! member's server process starts exactly once after the change (its log's
//! `Starting quorum peer`: a new process, not a new election, which also
//! resets `zk_uptime`), the leader last, and the status does not report
//! the rollout complete before the last one started. (That the new setting
//! is live is read from each member's own `conf` by the step.) Pure: no I/O.

use crate::probe::EnsembleStatus;
use crate::probe::parse::Mode;

/// One restart of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    /// The member.
    pub ordinal: u32,
    /// When its new server process started, ns on the probes' clock.
    pub started_ns: u64,
    /// Whether it led in the last probe round before that that saw it serving.
    pub was_leader: bool,
}

/// The restarts of the server starts `(ordinal, at_ns)` (from the members'
/// logs), each with whether the member led just before, from the probe
/// rounds; in the order they started.
pub fn restarts(starts: &[(u32, u64)], probes: &[(u64, EnsembleStatus)]) -> Vec<Restart> {
    let mut out: Vec<Restart> = starts
        .iter()
        .map(|&(ordinal, started_ns)| {
            let was_leader = probes
                .iter()
                .filter(|(t, _)| *t < started_ns)
                .filter_map(|(_, st)| st.members.iter().find(|m| m.ordinal == ordinal)?.srvr.as_ref())
                .next_back()
                .is_some_and(|s| s.mode == Mode::Leader);
            Restart { ordinal, started_ns, was_leader }
        })
        .collect();
    out.sort_by_key(|r| r.started_ns);
    out
}

/// Judge the restarts of `members` after a change: each exactly once, the
/// last one the leader. `Ok(the order)` or `Err(what is wrong)`.
pub fn judge_restarts(members: &[u32], restarts: &[Restart]) -> Result<String, String> {
    let mut problems = Vec::new();
    for o in members {
        let n = restarts.iter().filter(|r| r.ordinal == *o).count();
        if n != 1 {
            problems.push(format!("pod {o} restarted {n} times"));
        }
    }
    let order: Vec<String> =
        restarts.iter().map(|r| format!("pod {}{}", r.ordinal, if r.was_leader { " (leader)" } else { "" })).collect();
    match restarts.last() {
        Some(r) if !r.was_leader => {
            problems.push(format!("the last to restart, pod {}, was not the leader", r.ordinal))
        }
        _ => {}
    }
    if problems.is_empty() {
        Ok(format!("restarted once each: {}", order.join(", ")))
    } else {
        Err(format!(
            "{} (restarts in order: {})",
            problems.join("; "),
            if order.is_empty() { "none".into() } else { order.join(", ") }
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::probe::MemberStatus;
    use crate::probe::parse::Srvr;

    const S: u64 = 1_000_000_000;

    /// A round at `t` s: whether each pod 0..n leads.
    fn round(t: u64, leads: &[bool]) -> (u64, EnsembleStatus) {
        let ms = leads
            .iter()
            .enumerate()
            .map(|(o, leads)| {
                let mut m = MemberStatus::unprobed(o as u32, Ipv4Addr::new(10, 0, 0, o as u8));
                m.srvr = Some(Srvr {
                    version: "3.9.6".into(),
                    zxid: 1,
                    mode: if *leads { Mode::Leader } else { Mode::Follower },
                    node_count: 1,
                    connections: 0,
                });
                m
            })
            .collect();
        (t * S, EnsembleStatus::judge(ms))
    }

    fn probes() -> Vec<(u64, EnsembleStatus)> {
        vec![round(10, &[false, true, false]), round(20, &[true, false, false])]
    }

    #[test]
    fn followers_then_the_leader_once_each_passes() {
        let r = restarts(&[(1, 15 * S), (0, 11 * S), (2, 12 * S)], &probes());
        assert_eq!(r.iter().map(|r| r.ordinal).collect::<Vec<_>>(), [0, 2, 1]);
        assert_eq!(r[2], Restart { ordinal: 1, started_ns: 15 * S, was_leader: true });
        assert_eq!(judge_restarts(&[0, 1, 2], &r).unwrap(), "restarted once each: pod 0, pod 2, pod 1 (leader)");
    }

    #[test]
    fn a_member_never_restarted_or_twice_or_the_leader_not_last_fails() {
        let e = judge_restarts(&[0, 1, 2], &restarts(&[(0, 11 * S), (2, 12 * S)], &probes())).unwrap_err();
        assert_eq!(
            e,
            "pod 1 restarted 0 times; the last to restart, pod 2, was not the leader (restarts in order: pod 0, pod 2)"
        );
        let leader_first = restarts(&[(1, 11 * S), (0, 21 * S), (2, 22 * S)], &probes());
        let e = judge_restarts(&[0, 1, 2], &leader_first).unwrap_err();
        assert!(e.starts_with("the last to restart, pod 2, was not the leader"), "{e}");
        let twice = restarts(&[(0, 11 * S), (2, 12 * S), (1, 15 * S), (0, 16 * S)], &probes());
        assert!(judge_restarts(&[0, 1, 2], &twice).unwrap_err().starts_with("pod 0 restarted 2 times"));
        assert!(judge_restarts(&[0], &[]).is_err(), "no restart at all");
    }
}
