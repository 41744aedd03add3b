//! The convergence rule: after the faults, do the members end up with the
//! same data?
//!
//! One probe round cannot tell: a commit in flight leaves a follower one
//! transaction behind the leader for a few milliseconds, and a round that
//! happens to sample that moment would call a healthy ensemble divergent.
//! So convergence is judged over a *settle bound*: the ensemble converged
//! when, in some probe round taken within `bound` after the settle point,
//! every probed member serves and all agree on the last zxid, the config
//! version and the znode count (same zxid, different content is not
//! agreement). It diverged when no round up to the bound shows that; the
//! evidence is the last round in the bound. When the rounds end before the
//! bound without agreement the rule cannot decide ([`Convergence::Pending`]):
//! a recorder keeps probing until the rule decides.
//!
//! The verdict therefore does not depend on when a round was sampled: a
//! transient disagreement is followed, within the bound, by a round that
//! agrees; a real divergence (a member stuck behind, or on other content)
//! disagrees in every round.

use std::time::Duration;

use crate::probe::EnsembleStatus;

/// How long after the settle point members may take to agree.
pub const SETTLE_BOUND: Duration = Duration::from_secs(30);

/// What the rule decided over the rounds seen so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Convergence {
    /// Every member agreed in the round at `at_ns`.
    Converged {
        /// Time of the first agreeing round at or after the settle point.
        at_ns: u64,
    },
    /// No round up to the bound agreed; what the last one showed.
    Diverged {
        /// Human-readable disagreements of the last round in the bound.
        evidence: Vec<String>,
    },
    /// No round agreed yet, and the rounds do not reach the bound.
    Pending {
        /// Why no decision yet.
        reason: String,
    },
}

/// Why one round is not an agreement (empty when it is).
pub fn disagreements(st: &EnsembleStatus) -> Vec<String> {
    let mut out = Vec::new();
    if st.members.is_empty() {
        out.push("no member was probed".to_string());
        return out;
    }
    for m in st.members.iter().filter(|m| !m.serving()) {
        out.push(format!("member {} is {}", m.ordinal, m.state_word()));
    }
    let serving: Vec<_> = st.members.iter().filter_map(|m| m.srvr.as_ref().map(|s| (m, s))).collect();
    let distinct = |f: &dyn Fn(&(&crate::probe::MemberStatus, &crate::probe::parse::Srvr)) -> Option<u64>| {
        let mut v: Vec<Option<u64>> = serving.iter().map(f).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let per = |f: &dyn Fn(&(&crate::probe::MemberStatus, &crate::probe::parse::Srvr)) -> String| {
        serving.iter().map(|x| format!("{}: {}", x.0.ordinal, f(x))).collect::<Vec<_>>().join(", ")
    };
    let zxids_agree = distinct(&|(_, s)| Some(s.zxid)) <= 1;
    if !zxids_agree {
        out.push(format!("members disagree on the last zxid: {}", per(&|(_, s)| format!("{:#x}", s.zxid))));
        if let Some(hint) = epoch_start_hint(&serving) {
            out.push(hint);
        }
    }
    if distinct(&|(m, _)| m.config_version) > 1 {
        let what = if zxids_agree {
            "at the same last zxid, members disagree on the config version"
        } else {
            "members disagree on the config version"
        };
        out.push(format!("{what}: {}", per(&|(m, _)| m.config_version.map_or("?".into(), |v| format!("{v:#x}")))));
    }
    if zxids_agree && distinct(&|(_, s)| Some(s.node_count)) > 1 {
        out.push(format!(
            "at the same last zxid, members disagree on content (znode counts): {}",
            per(&|(_, s)| s.node_count.to_string())
        ));
    }
    out
}

/// When the zxids differ only because a new leader reports `(epoch, 0)`
/// (no write yet in its epoch) while the others report the last
/// transaction they applied, say so: the members may hold the same data,
/// but their zxids cannot show it until a write of the new epoch (the
/// harness writes a settle barrier for this). The rule still does not
/// count such a round as agreement.
fn epoch_start_hint(serving: &[(&crate::probe::MemberStatus, &crate::probe::parse::Srvr)]) -> Option<String> {
    let epoch = |z: u64| z >> 32;
    let top = serving.iter().map(|(_, s)| s.zxid).max()?;
    let at_start: Vec<_> = serving.iter().filter(|(_, s)| s.zxid == top).collect();
    let others_older = serving.iter().filter(|(_, s)| s.zxid != top).all(|(_, s)| epoch(s.zxid) < epoch(top));
    (top & 0xffff_ffff == 0 && others_older && !at_start.is_empty()).then(|| {
        format!(
            "(member {} is at the start of epoch {:#x} with no write in it yet; the others report the last transaction they applied: without a write after the election their zxids cannot agree)",
            at_start.iter().map(|(m, _)| m.ordinal.to_string()).collect::<Vec<_>>().join(", "),
            epoch(top)
        )
    })
}

/// Judge `samples` (time in ns, probe round; any order) against the settle
/// point `settle_after_ns` and the bound `bound_ns`; see the module docs.
pub fn judge(samples: &[(u64, EnsembleStatus)], settle_after_ns: u64, bound_ns: u64) -> Convergence {
    let mut after: Vec<&(u64, EnsembleStatus)> = samples.iter().filter(|(t, _)| *t >= settle_after_ns).collect();
    after.sort_by_key(|(t, _)| *t);
    let deadline = settle_after_ns.saturating_add(bound_ns);
    let mut last_in_bound = None;
    for (t, st) in &after {
        if *t > deadline {
            break;
        }
        if disagreements(st).is_empty() {
            return Convergence::Converged { at_ns: *t };
        }
        last_in_bound = Some((*t, st));
    }
    let reached = after.iter().any(|(t, _)| *t >= deadline);
    match (reached, last_in_bound) {
        (true, Some((t, st))) => {
            let mut evidence = vec![format!(
                "members did not agree in any of the probe rounds within {:.1}s of the settle point; the last ({:.1}s after it):",
                bound_ns as f64 / 1e9,
                (t - settle_after_ns) as f64 / 1e9
            )];
            evidence.extend(disagreements(st));
            Convergence::Diverged { evidence }
        }
        (true, None) => Convergence::Diverged {
            evidence: vec![format!(
                "no probe round within {:.1}s of the settle point to judge convergence by",
                bound_ns as f64 / 1e9
            )],
        },
        (false, _) => Convergence::Pending {
            reason: format!(
                "members did not agree yet in {} probe round(s) after the settle point, and the rounds end before the settle bound of {:.1}s",
                after.len(),
                bound_ns as f64 / 1e9
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::probe::parse::Srvr;
    use crate::probe::{MemberStatus, Mode};

    const S: u64 = 1_000_000_000;
    const BOUND: u64 = 10 * S;

    fn member(ordinal: u32, zxid: Option<u64>, config: u64, nodes: u64) -> MemberStatus {
        let mut m = MemberStatus::unprobed(ordinal, Ipv4Addr::new(10, 0, 0, 10 + ordinal as u8));
        m.srvr = zxid.map(|zxid| Srvr {
            version: "3.9.3".into(),
            zxid,
            mode: if ordinal == 0 { Mode::Leader } else { Mode::Follower },
            node_count: nodes,
            connections: 1,
        });
        m.config_version = zxid.map(|_| config);
        m
    }

    /// A round where member `o` is at zxids[o] (None: down).
    fn round(zxids: [Option<u64>; 3]) -> EnsembleStatus {
        EnsembleStatus::judge((0..3).map(|o| member(o, zxids[o as usize], 0x1_0000_0000, 40)).collect())
    }

    fn z(n: u64) -> Option<u64> {
        Some((2 << 32) | n)
    }

    #[test]
    fn a_commit_in_flight_converges_whenever_it_is_sampled() {
        // One member a transaction behind, then caught up: whichever round
        // comes first, the verdict is the same.
        let behind = round([z(9), z(9), z(8)]);
        let agreed = round([z(9), z(9), z(9)]);
        for first_agreeing in 0..5u64 {
            let mut samples: Vec<(u64, EnsembleStatus)> =
                (0..first_agreeing).map(|i| (S + i * S / 4, behind.clone())).collect();
            samples.push((S + first_agreeing * S / 4, agreed.clone()));
            samples.push((S + first_agreeing * S / 4 + S / 4, agreed.clone()));
            assert_eq!(
                judge(&samples, S, BOUND),
                Convergence::Converged { at_ns: S + first_agreeing * S / 4 },
                "agreeing after {first_agreeing} rounds"
            );
        }
    }

    #[test]
    fn a_member_stuck_behind_diverges_once_the_bound_is_reached() {
        let behind = round([z(9), z(9), z(8)]);
        let samples: Vec<(u64, EnsembleStatus)> = (0..=44).map(|i| (S + i * S / 4, behind.clone())).collect();
        match judge(&samples, S, BOUND) {
            Convergence::Diverged { evidence } => {
                assert!(
                    evidence.iter().any(|e| e.contains("disagree on the last zxid: 0: 0x200000009")),
                    "{evidence:?}"
                )
            }
            other => panic!("{other:?}"),
        }
        // Before the bound it cannot say yet.
        assert!(matches!(judge(&samples[..10], S, BOUND), Convergence::Pending { .. }));
    }

    #[test]
    fn rounds_before_the_settle_point_or_after_the_bound_do_not_count() {
        let agreed = round([z(9), z(9), z(9)]);
        let behind = round([z(9), z(9), z(8)]);
        // Agreement before the settle point, disagreement through the bound,
        // agreement only after it: diverged.
        let mut samples = vec![(0, agreed.clone())];
        samples.extend((0..=40).map(|i| (S + i * S / 4, behind.clone())));
        samples.push((S + BOUND + S, agreed));
        assert!(matches!(judge(&samples, S, BOUND), Convergence::Diverged { .. }));
    }

    #[test]
    fn same_zxid_different_content_is_divergence() {
        let mut members: Vec<MemberStatus> = (0..3).map(|o| member(o, z(9), 0x1_0000_0000, 40)).collect();
        members[2].srvr.as_mut().unwrap().node_count = 39;
        let content = EnsembleStatus::judge(members);
        let samples: Vec<(u64, EnsembleStatus)> = (0..=4).map(|i| (i * 3 * S, content.clone())).collect();
        match judge(&samples, 0, BOUND) {
            Convergence::Diverged { evidence } => {
                assert!(evidence.iter().any(|e| e.contains("disagree on content (znode counts): 0: 40, 1: 40, 2: 39")))
            }
            other => panic!("{other:?}"),
        }
        let mut members: Vec<MemberStatus> = (0..3).map(|o| member(o, z(9), 0x1_0000_0000, 40)).collect();
        members[1].config_version = Some(0x1_0000_0003);
        let cfg = EnsembleStatus::judge(members);
        assert!(disagreements(&cfg)[0].contains("at the same last zxid, members disagree on the config version"));
    }

    #[test]
    fn a_member_down_through_the_bound_diverges_and_a_restart_converges() {
        let down = round([z(9), z(9), None]);
        let back = round([z(9), z(9), z(9)]);
        let stuck: Vec<(u64, EnsembleStatus)> = (0..=11).map(|i| (i * S, down.clone())).collect();
        match judge(&stuck, 0, BOUND) {
            Convergence::Diverged { evidence } => assert!(evidence.iter().any(|e| e == "member 2 is down")),
            other => panic!("{other:?}"),
        }
        let mut recovering = stuck[..6].to_vec();
        recovering.push((6 * S, back));
        assert_eq!(judge(&recovering, 0, BOUND), Convergence::Converged { at_ns: 6 * S });
        assert!(matches!(judge(&[], 0, BOUND), Convergence::Pending { .. }));
    }

    #[test]
    fn a_new_leader_with_no_write_in_its_epoch_is_not_agreement_and_the_evidence_says_why() {
        // What ZooKeeper reports right after an election with no write since:
        // the leader (e, 0), the followers their last applied transaction.
        let after_election = round([Some(3 << 32), z(9), z(9)]);
        let d = disagreements(&after_election);
        assert!(d.iter().any(|e| e.contains("disagree on the last zxid")), "{d:?}");
        assert!(d.iter().any(|e| e.contains("member 0 is at the start of epoch 0x3")), "{d:?}");
        // After the settle barrier's write every member is in the new epoch.
        assert!(disagreements(&round([Some((3 << 32) | 1); 3])).is_empty());
        // A member genuinely behind in the same epoch gets no such hint.
        let d = disagreements(&round([z(9), z(9), z(8)]));
        assert!(!d.iter().any(|e| e.contains("start of epoch")), "{d:?}");
    }
}
