//! Whether the status the operator publishes told the truth, judged over a
//! scenario against the probes: tools and people act on `kubectl get zkc`
//! Ready, so a status that lies is an outage.
//!
//! Claims and what contradicts them in a probe round:
//!
//! | claim | contradicted when the probes show |
//! |---|---|
//! | phase `Ready` | no quorum, or a wanted member (ordinal below `spec.replicas`) not serving |
//! | `readyReplicas = n` | fewer than `n` members serving |
//! | rollout complete ([`crate::operator::supervisor::Supervisor::converged_on`]) | a serving member at or above the partition running another ZooKeeper version than the spec's |
//!
//! A status is computed from the operator's own probe, a moment before it
//! is read; the world may have changed since. So a claim is a lie only
//! when every probe round over the last [`GRACE_NS`] before it was read
//! contradicted it (the operator had a full grace period of rounds, one
//! every few hundred ms, to see what the probes saw), and every round
//! recorded after the reading up to one that started after it still does
//! (the world did not just change: a round in between that agrees with
//! the claim shows the trouble ended around the reading, and a new
//! trouble after it is judged on its own). Claims read while
//! the operator was down (and one grace period after it came back) are
//! not judged: nobody refreshes a status then. Pure: no I/O.
//!
//! Every scenario that runs an operator samples its status beside the
//! probes; the samples go into the scenario's bundle (`status.jsonl`) and
//! [`verdict`] judges them there as the checker [`CHECKER`], beside the
//! history checkers (see [`crate::check::suite`]), so `zk-chaos check`
//! re-judges them offline.

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::operator::crd::ZookeeperClusterSpec;
use crate::operator::status::{Phase, ZookeeperClusterStatus};
use crate::operator::supervisor::Supervisor;
use crate::probe::EnsembleStatus;

/// How long the probes must contradict a claim before it counts as a lie.
pub const GRACE_NS: u64 = 5_000_000_000;

/// The checker's name in a suite report.
pub const CHECKER: &str = "status-truth";

/// The resource's status and spec as read at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusSample {
    /// When it was read, ns on the scenario clock.
    pub at_ns: u64,
    /// The published status (`None`: none yet).
    pub status: Option<ZookeeperClusterStatus>,
    /// The spec at that moment.
    pub spec: ZookeeperClusterSpec,
}

/// Why a probe round contradicts a claim of `status` under `spec`, if it does.
type Contradiction = fn(&ZookeeperClusterStatus, &ZookeeperClusterSpec, &EnsembleStatus) -> Option<String>;

fn not_ready(_: &ZookeeperClusterStatus, spec: &ZookeeperClusterSpec, p: &EnsembleStatus) -> Option<String> {
    if !p.quorum {
        return Some("the ensemble had no quorum".into());
    }
    let down: Vec<String> = p
        .members
        .iter()
        .filter(|m| m.ordinal < spec.replicas && !m.serving())
        .map(|m| format!("pod {}", m.ordinal))
        .collect();
    (!down.is_empty()).then(|| format!("{} not serving", down.join(", ")))
}

fn fewer_ready(s: &ZookeeperClusterStatus, _: &ZookeeperClusterSpec, p: &EnsembleStatus) -> Option<String> {
    let serving = p.members.iter().filter(|m| m.serving()).count() as u32;
    (serving < s.ready_replicas).then(|| format!("only {serving} member(s) serving"))
}

fn old_version(_: &ZookeeperClusterStatus, spec: &ZookeeperClusterSpec, p: &EnsembleStatus) -> Option<String> {
    let old: Vec<String> = p
        .members
        .iter()
        .filter(|m| m.ordinal >= spec.partition() && m.ordinal < spec.replicas)
        .filter_map(|m| {
            let v = &m.srvr.as_ref()?.version;
            (*v != spec.version).then(|| format!("pod {} running {v}", m.ordinal))
        })
        .collect();
    (!old.is_empty()).then(|| format!("{} (the spec asks for {})", old.join(", "), spec.version))
}

/// The claims a status makes: `(what it claims, what contradicts it)`.
fn claims(s: &ZookeeperClusterStatus, spec: &ZookeeperClusterSpec) -> Vec<(String, Contradiction)> {
    let mut out: Vec<(String, Contradiction)> = Vec::new();
    if s.phase == Some(Phase::Ready) {
        out.push(("phase Ready".into(), not_ready));
    }
    if s.ready_replicas > 0 {
        out.push((format!("readyReplicas {}", s.ready_replicas), fewer_ready));
    }
    if Supervisor::converged_on(Some(s), spec) {
        out.push((format!("the rollout to {} complete", spec.version), old_version));
    }
    out
}

/// Judge every status sample against the probe rounds (`(at_ns, status)`,
/// sorted by time, same clock); `excluded` are the windows when the
/// operator was down. `Ok(summary)` or `Err(one line per lie, the first
/// of each claim)`.
pub fn check(
    probes: &[(u64, EnsembleStatus)],
    statuses: &[StatusSample],
    excluded: &[(u64, u64)],
    grace_ns: u64,
) -> Result<String, Vec<String>> {
    let mut lies: Vec<(String, String)> = Vec::new();
    let mut judged = 0usize;
    for s in statuses {
        let Some(status) = &s.status else { continue };
        if excluded.iter().any(|(a, b)| s.at_ns >= *a && s.at_ns <= b.saturating_add(grace_ns)) {
            continue;
        }
        judged += 1;
        let before: Vec<&(u64, EnsembleStatus)> = probes.iter().filter(|(t, _)| *t <= s.at_ns).collect();
        for (claim, contradicts) in claims(status, &s.spec) {
            if lies.iter().any(|(c, _)| *c == claim) {
                continue;
            }
            // The run of contradicting rounds that ends at the latest round.
            let mut first = None;
            let mut why = None;
            for (t, p) in before.iter().rev() {
                match contradicts(status, &s.spec, p) {
                    Some(w) => {
                        first = Some(*t);
                        why.get_or_insert(w);
                    }
                    None => break,
                }
            }
            // And still after it was read: the second round recorded after
            // the reading started after it (rounds are stamped when they
            // end), so a world that changed between the last round and
            // the reading does not count against it; the first one too,
            // so the contradiction ran through the reading unbroken.
            let after: Vec<&(u64, EnsembleStatus)> = probes.iter().filter(|(t, _)| *t > s.at_ns).take(2).collect();
            let still = after.len() == 2 && after.iter().all(|(_, p)| contradicts(status, &s.spec, p).is_some());
            if let (Some(first), Some(why)) = (first, why)
                && still
                && s.at_ns.saturating_sub(first) >= grace_ns
            {
                lies.push((
                    claim.clone(),
                    format!(
                        "at {:.1}s the status said {claim} while the probes had shown {why} for {:.1}s \
                         (status: phase {:?}, readyReplicas {}, message {:?})",
                        s.at_ns as f64 / 1e9,
                        (s.at_ns - first) as f64 / 1e9,
                        status.phase,
                        status.ready_replicas,
                        status.message.as_deref().unwrap_or("")
                    ),
                ));
            }
        }
    }
    if lies.is_empty() {
        Ok(format!("{judged} status readings agreed with {} probe rounds", probes.len()))
    } else {
        Err(lies.into_iter().map(|(_, l)| l).collect())
    }
}

/// [`check`] with the grace [`GRACE_NS`], as a verdict and the summary of
/// a truthful status (`None` when it lied). With no status reading to
/// judge the verdict is unknown: a scenario that never read its status
/// proves nothing about it.
pub fn verdict(
    probes: &[(u64, EnsembleStatus)],
    statuses: &[StatusSample],
    excluded: &[(u64, u64)],
) -> (Verdict, Option<String>) {
    if !statuses.iter().any(|s| s.status.is_some()) {
        return (
            Verdict::Unknown { reason: "no status was read while the ensemble was up (status.jsonl)".into() },
            None,
        );
    }
    match check(probes, statuses, excluded, GRACE_NS) {
        Ok(summary) => (Verdict::Valid, Some(summary)),
        Err(lies) => (Verdict::Invalid { evidence: lies }, None),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::probe::MemberStatus;
    use crate::probe::parse::{Mode, Srvr};

    const S: u64 = 1_000_000_000;

    fn member(ordinal: u32, version: Option<&str>) -> MemberStatus {
        let mut m = MemberStatus::unprobed(ordinal, Ipv4Addr::new(10, 0, 0, ordinal as u8));
        m.srvr = version.map(|v| Srvr {
            version: v.into(),
            zxid: 1,
            mode: if ordinal == 0 { Mode::Leader } else { Mode::Follower },
            node_count: 1,
            connections: 0,
        });
        m
    }

    /// A probe round: `versions[o]` is what pod o serves (`None`: down).
    fn probe(versions: &[Option<&str>], quorum: bool) -> EnsembleStatus {
        let mut st = EnsembleStatus::judge(versions.iter().enumerate().map(|(o, v)| member(o as u32, *v)).collect());
        st.quorum = quorum;
        st
    }

    fn spec(version: &str) -> ZookeeperClusterSpec {
        ZookeeperClusterSpec::new(3, version)
    }

    fn ready(spec: &ZookeeperClusterSpec, ready_replicas: u32) -> ZookeeperClusterStatus {
        let rev = crate::operator::revision::revision(spec);
        ZookeeperClusterStatus {
            phase: Some(Phase::Ready),
            replicas: 3,
            ready_replicas,
            update_revision: Some(rev.clone()),
            members: (0..3)
                .map(|o| crate::operator::status::MemberStatus {
                    ordinal: o,
                    revision: rev.clone(),
                    version: spec.version.clone(),
                    ready: true,
                    mode: None,
                })
                .collect(),
            ..ZookeeperClusterStatus::default()
        }
    }

    /// Probe rounds every 250 ms over `[from, to)` seconds, all `p`.
    fn rounds(from: u64, to: u64, p: &EnsembleStatus) -> Vec<(u64, EnsembleStatus)> {
        (from * 4..to * 4).map(|i| (i * S / 4, p.clone())).collect()
    }

    fn sample(at_s: u64, status: ZookeeperClusterStatus, spec: &ZookeeperClusterSpec) -> StatusSample {
        StatusSample { at_ns: at_s * S, status: Some(status), spec: spec.clone() }
    }

    #[test]
    fn a_truthful_status_passes_and_a_short_disagreement_is_not_a_lie() {
        let sp = spec("3.9.6");
        let healthy = probe(&[Some("3.9.6"); 3], true);
        let one_down = probe(&[Some("3.9.6"), None, Some("3.9.6")], true);
        let mut probes = rounds(0, 10, &healthy);
        // Pod 1 is down for 3 s (less than the grace) while the status still says Ready.
        probes.extend(rounds(10, 13, &one_down));
        probes.extend(rounds(13, 20, &healthy));
        let statuses: Vec<StatusSample> = (0..20).map(|t| sample(t, ready(&sp, 3), &sp)).collect();
        let ok = check(&probes, &statuses, &[], GRACE_NS).unwrap();
        assert_eq!(ok, "20 status readings agreed with 80 probe rounds");
    }

    #[test]
    fn ready_without_quorum_or_with_a_member_down_for_the_grace_is_a_lie() {
        let sp = spec("3.9.6");
        let no_quorum = probe(&[None, None, Some("3.9.6")], false);
        let mut probes = rounds(0, 5, &probe(&[Some("3.9.6"); 3], true));
        probes.extend(rounds(5, 15, &no_quorum));
        let statuses: Vec<StatusSample> = (0..15).map(|t| sample(t, ready(&sp, 3), &sp)).collect();
        let lies = check(&probes, &statuses, &[], GRACE_NS).unwrap_err();
        assert_eq!(lies.len(), 2, "{lies:?}");
        assert!(
            lies[0].starts_with(
                "at 10.0s the status said phase Ready while the probes had shown the ensemble had no quorum for 5.0s"
            ),
            "{lies:?}"
        );
        assert!(
            lies[1].starts_with(
                "at 10.0s the status said readyReplicas 3 while the probes had shown only 1 member(s) serving"
            ),
            "{lies:?}"
        );
        // The same while the operator was down is not judged.
        assert!(check(&probes, &statuses, &[(4 * S, 15 * S)], GRACE_NS).is_ok());
    }

    #[test]
    fn a_status_read_just_after_a_recovery_is_not_judged_on_the_rounds_before_it() {
        let sp = spec("3.9.6");
        let mut probes = rounds(0, 10, &probe(&[None, None, None], false));
        probes.extend(rounds(10, 12, &probe(&[Some("3.9.6"); 3], true)));
        let statuses = vec![StatusSample { at_ns: 9_900_000_000, status: Some(ready(&sp, 3)), spec: sp.clone() }];
        assert!(check(&probes, &statuses, &[], GRACE_NS).is_ok());
    }

    #[test]
    fn a_trouble_that_ended_around_the_reading_is_not_a_lie_though_a_new_one_follows() {
        // Seen in a rollout: pod 0 restarts for 9 s; the operator, whose
        // probe saw it back, says 3 ready at 9.0 s; the next round (a slow
        // one, started before the reading) sees it back too, and the round
        // after it sees pod 2 down: the operator's next restart, a new trouble.
        let sp = spec("3.9.6");
        let mut probes = rounds(0, 9, &probe(&[None, Some("3.9.6"), Some("3.9.6")], true));
        probes.push((9_300_000_000, probe(&[Some("3.9.6"); 3], true)));
        probes.push((9_600_000_000, probe(&[Some("3.9.6"), Some("3.9.6"), None], true)));
        let mut three = ready(&sp, 3);
        three.phase = Some(Phase::Upgrading);
        let statuses = vec![StatusSample { at_ns: 9_000_000_000, status: Some(three.clone()), spec: sp.clone() }];
        assert!(check(&probes, &statuses, &[], GRACE_NS).is_ok());
        // Had the round in between still seen pod 0 down, it was a lie.
        probes[36].1 = probe(&[None, Some("3.9.6"), None], true);
        let lies = check(&probes, &statuses, &[], GRACE_NS).unwrap_err();
        assert!(
            lies[0].starts_with(
                "at 9.0s the status said readyReplicas 3 while the probes had shown only 2 member(s) serving"
            ),
            "{lies:?}"
        );
    }

    #[test]
    fn rollout_complete_while_a_member_runs_the_old_version_is_a_lie() {
        let sp = spec("3.9.6");
        let mixed = probe(&[Some("3.9.6"), Some("3.8.0"), Some("3.9.6")], true);
        let probes = rounds(0, 10, &mixed);
        let statuses = vec![sample(9, ready(&sp, 3), &sp)];
        let lies = check(&probes, &statuses, &[], GRACE_NS).unwrap_err();
        assert_eq!(lies.len(), 1);
        assert!(
            lies[0].contains(
                "the rollout to 3.9.6 complete while the probes had shown pod 1 running 3.8.0 (the spec asks for 3.9.6)"
            ),
            "{lies:?}"
        );
        // Below the partition an old version is what was asked for.
        let mut partitioned = sp.clone();
        partitioned.update_strategy.partition = 2;
        let statuses = vec![sample(9, ready(&partitioned, 3), &partitioned)];
        assert!(check(&probes, &statuses, &[], GRACE_NS).is_ok());
    }

    #[test]
    fn a_status_that_admits_the_trouble_is_not_judged_on_it() {
        let sp = spec("3.9.6");
        let one_down = probe(&[Some("3.9.6"), None, Some("3.9.6")], true);
        let probes = rounds(0, 10, &one_down);
        let mut critical = ready(&sp, 2);
        critical.phase = Some(Phase::Critical);
        critical.members[1].ready = false;
        assert!(check(&probes, &[sample(9, critical, &sp)], &[], GRACE_NS).is_ok());
    }

    #[test]
    fn the_suite_judges_a_bundles_status_samples_and_a_saved_bundle_is_judged_the_same() {
        use crate::check::linear::Budget;
        use crate::check::suite::{Bundle, RunFacts, check_all};
        let sp = spec("3.9.6");
        let mut probes = rounds(0, 5, &probe(&[Some("3.9.6"); 3], true));
        probes.extend(rounds(5, 15, &probe(&[None, None, Some("3.9.6")], false)));
        let lying: Vec<StatusSample> = (0..15).map(|t| sample(t, ready(&sp, 3), &sp)).collect();
        let bundle = Bundle {
            probes: Some(probes),
            statuses: Some(lying),
            facts: RunFacts { operator_down: Some(Vec::new()), ..RunFacts::default() },
            ..Bundle::default()
        };
        let judged = |b: &Bundle| {
            let r = check_all(b, Budget::default()).unwrap();
            r.results.into_iter().find(|r| r.checker == CHECKER).map(|r| r.verdict)
        };
        let Some(Verdict::Invalid { evidence }) = judged(&bundle) else { panic!("a lying status is invalid") };
        assert!(
            evidence[0].contains("the status said phase Ready while the probes had shown the ensemble had no quorum")
        );
        let dir = tempfile::tempdir().unwrap();
        bundle.save(dir.path()).unwrap();
        assert!(dir.path().join("status.jsonl").is_file());
        let loaded = Bundle::load(dir.path()).unwrap();
        assert_eq!(loaded.statuses, bundle.statuses);
        assert_eq!(judged(&loaded), judged(&bundle), "re-judged offline, the same verdict");
        // The operator down throughout: nothing judged, no lie.
        let mut excused = loaded.clone();
        excused.facts.operator_down = Some(vec![(0, 20 * S)]);
        assert_eq!(judged(&excused), Some(Verdict::Valid));
        // An operated run whose samples are missing cannot pass.
        let mut missing = loaded.clone();
        missing.statuses = None;
        assert!(matches!(judged(&missing), Some(Verdict::Unknown { .. })));
        // No operator: no status to judge, no checker.
        let bare = Bundle { probes: loaded.probes.clone(), ..Bundle::default() };
        assert_eq!(judged(&bare), None);
    }
}
