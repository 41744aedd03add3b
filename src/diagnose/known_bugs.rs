//! The catalogue of known upstream ZooKeeper bugs that lose data, each
//! with the versions it affects and a signature over the diagnosis, so a
//! violation is reported as that bug (on an affected version), as a
//! regression of it (on a version marked fixed), or as new.

use serde::{Deserialize, Serialize};

use super::explain::{Diagnosis, Truncation};

/// How a bug shows in the diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signature {
    /// A member truncated acknowledged writes to follow a leader elected
    /// with a log that ended at or below the truncation point: the leader
    /// never had them.
    ElectedWithOlderLog,
    /// A member truncated acknowledged writes to follow a leader whose own
    /// log went past them (the leader had the transactions, but its
    /// committed log, from which it syncs learners, had a hole); or
    /// acknowledged writes were lost without any truncation after a DIFF
    /// served by a leader that had itself joined by DIFF.
    CommittedLogHole,
}

/// One known upstream bug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownBug {
    /// The issue id, e.g. `ZOOKEEPER-4643`.
    pub id: &'static str,
    /// Related issues of the same family.
    pub related: &'static [&'static str],
    /// Its title.
    pub title: &'static str,
    /// Affected version ranges, `[from, to)` (to is the first fixed release
    /// of that line).
    pub affected: &'static [(&'static str, &'static str)],
    /// The releases that fixed it.
    pub fixed_in: &'static [&'static str],
    /// How it shows.
    pub signature: Signature,
    /// The mechanism, for the report.
    pub mechanism: &'static str,
}

/// Every known bug, newest-first within a family.
pub const CATALOGUE: &[KnownBug] = &[
    KnownBug {
        id: "ZOOKEEPER-4643",
        related: &["ZOOKEEPER-4646", "ZOOKEEPER-4785", "ZOOKEEPER-4394"],
        title: "Committed txns may be improperly truncated if a follower crashes right after updating currentEpoch but before persisting txns to disk",
        affected: &[("3.4.0", "3.8.4"), ("3.9.0", "3.9.2")],
        fixed_in: &["3.8.4", "3.9.2"],
        signature: Signature::ElectedWithOlderLog,
        mechanism: "A follower that syncs by DIFF applies the leader's transactions in memory and writes the new epoch \
                    to disk before the transactions; killed then, it restarts with the new epoch and an older log, wins \
                    the next election on its epoch, and every other member truncates committed transactions to match it.",
    },
    KnownBug {
        id: "ZOOKEEPER-4925",
        related: &["ZOOKEEPER-4394", "ZOOKEEPER-3484"],
        title: "Data loss due to propagation of discontinuous committedLog",
        affected: &[("3.9.3", "3.9.4")],
        fixed_in: &["3.9.4"],
        signature: Signature::CommittedLogHole,
        mechanism: "A stale follower's in-memory committed log has a hole after it syncs; once it leads, it sends other \
                    stale members a DIFF with that hole, and they serve without the missing transactions.",
    },
];

/// How a violation relates to a known bug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attribution {
    /// The evidence matches a bug that affects this version.
    Known {
        /// The bug.
        id: &'static str,
        /// The version run.
        version: String,
    },
    /// The evidence matches a bug this version is marked fixed for.
    Regression {
        /// The bug.
        id: &'static str,
        /// The version run.
        version: String,
    },
    /// Nothing in the catalogue matches.
    New,
}

impl Attribution {
    /// One line for summaries, JUnit messages and the report.
    pub fn headline(&self) -> String {
        let (lead, id) = match self {
            Self::Known { id, version } => (format!("known upstream bug {id} on ZooKeeper {version}"), id),
            Self::Regression { id, version } => {
                (format!("REGRESSION: matches {id} on ZooKeeper {version}, a version marked fixed"), id)
            }
            Self::New => return "matches no known upstream bug: a new finding".to_string(),
        };
        let bug = find(id).expect("catalogued");
        format!("{lead} (fixed in {}): {}", bug.fixed_in.join(", "), bug.title)
    }
}

/// The bug with this id.
pub fn find(id: &str) -> Option<&'static KnownBug> {
    CATALOGUE.iter().find(|b| b.id.eq_ignore_ascii_case(id) || b.related.iter().any(|r| r.eq_ignore_ascii_case(id)))
}

/// `a < b` for dotted versions (missing parts count as 0).
pub fn version_lt(a: &str, b: &str) -> bool {
    let parse = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (mut x, mut y) = (parse(a), parse(b));
    let n = x.len().max(y.len());
    x.resize(n, 0);
    y.resize(n, 0);
    x < y
}

impl KnownBug {
    /// Whether `version` is in an affected range.
    pub fn affects(&self, version: &str) -> bool {
        self.affected.iter().any(|(from, to)| !version_lt(version, from) && version_lt(version, to))
    }

    /// Whether the diagnosis (and whether the checkers found lost
    /// acknowledged writes) shows this bug's signature.
    pub fn matches(&self, diagnosis: &Diagnosis, checkers_found_loss: bool) -> bool {
        let below_own_log = |t: &&Truncation| t.leader_log_end.is_some_and(|end| end > t.to_zxid);
        match self.signature {
            Signature::ElectedWithOlderLog => diagnosis.lossy().any(|t| !below_own_log(&t)),
            Signature::CommittedLogHole => {
                diagnosis.lossy().any(|t| below_own_log(&t))
                    || (checkers_found_loss
                        && diagnosis.lossy().next().is_none()
                        && !diagnosis.diff_from_diffed_leader.is_empty())
            }
        }
    }
}

/// Attribute a violation seen on `versions` (every version the ensemble
/// ran; a rolling upgrade runs two): a bug whose signature matches and
/// that affects one of them is known; one whose signature matches on
/// versions it does not affect is a regression; else new. Among signatures
/// that match, affecting ones win.
pub fn attribute(diagnosis: &Diagnosis, checkers_found_loss: bool, versions: &[String]) -> Attribution {
    let matching: Vec<&KnownBug> = CATALOGUE.iter().filter(|b| b.matches(diagnosis, checkers_found_loss)).collect();
    for bug in &matching {
        if let Some(v) = versions.iter().find(|v| bug.affects(v)) {
            return Attribution::Known { id: bug.id, version: v.clone() };
        }
    }
    // A truncation of acknowledged writes is specific evidence: on a
    // version marked fixed it is a regression. A loss without one proves
    // too little to name a bug.
    if diagnosis.lossy().next().is_some()
        && let Some(bug) = matching.first()
    {
        return Attribution::Regression { id: bug.id, version: versions.join(", ") };
    }
    Attribution::New
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::explain::AckedWrite;

    fn lossy() -> Diagnosis {
        Diagnosis {
            truncations: vec![Truncation {
                member: 0,
                at_ms: 1,
                to_zxid: 0x1_0000_0010,
                had_until: Some(0x1_0000_0050),
                leader: Some(2),
                leader_log_end: Some(0x1_0000_0010),
                leader_restarted_after_diff: true,
                acked_lost: vec![AckedWrite { id: 7, zxid: 0x1_0000_0011, what: "set /k1".into() }],
                holders: vec![],
            }],
            diff_from_diffed_leader: vec![],
            events: 10,
        }
    }

    #[test]
    fn version_ranges() {
        let bug = find("ZOOKEEPER-4643").unwrap();
        for v in ["3.8.0", "3.8.3", "3.9.0", "3.9.1", "3.7.2", "3.6.4"] {
            assert!(bug.affects(v), "{v}");
        }
        for v in ["3.8.4", "3.9.2", "3.9.3", "3.9.6", "3.10.0"] {
            assert!(!bug.affects(v), "{v}");
        }
        assert!(find("ZOOKEEPER-4925").unwrap().affects("3.9.3"));
        assert!(!find("ZOOKEEPER-4925").unwrap().affects("3.9.6"));
        assert_eq!(find("zookeeper-4785").unwrap().id, "ZOOKEEPER-4643", "related ids find their family");
        assert!(version_lt("3.9.10", "3.10.0") && !version_lt("3.9.10", "3.9.9"));
    }

    #[test]
    fn a_truncation_of_acknowledged_writes_is_the_4643_family_on_an_affected_version() {
        assert_eq!(
            attribute(&lossy(), true, &["3.8.0".into()]),
            Attribution::Known { id: "ZOOKEEPER-4643", version: "3.8.0".into() }
        );
    }

    #[test]
    fn the_same_evidence_on_a_fixed_version_is_a_regression() {
        let a = attribute(&lossy(), true, &["3.9.6".into()]);
        assert_eq!(a, Attribution::Regression { id: "ZOOKEEPER-4643", version: "3.9.6".into() });
        assert!(a.headline().starts_with("REGRESSION"));
    }

    #[test]
    fn a_truncation_below_the_leaders_own_log_is_a_committed_log_hole() {
        let mut d = lossy();
        d.truncations[0].leader_log_end = Some(0x1_0000_0040);
        assert_eq!(
            attribute(&d, true, &["3.9.3".into()]),
            Attribution::Known { id: "ZOOKEEPER-4925", version: "3.9.3".into() }
        );
        assert_eq!(
            attribute(&d, true, &["3.9.6".into()]),
            Attribution::Regression { id: "ZOOKEEPER-4925", version: "3.9.6".into() }
        );
        assert!(!find("ZOOKEEPER-4643").unwrap().matches(&d, true));
    }

    #[test]
    fn loss_without_truncation_is_4925_only_on_3_9_3_and_new_elsewhere() {
        let clean = Diagnosis { diff_from_diffed_leader: vec![(2, 1)], ..Diagnosis::default() };
        assert_eq!(attribute(&Diagnosis::default(), true, &["3.9.3".into()]), Attribution::New, "no DIFF chain");
        assert_eq!(
            attribute(&clean, true, &["3.9.3".into()]),
            Attribution::Known { id: "ZOOKEEPER-4925", version: "3.9.3".into() }
        );
        assert_eq!(attribute(&clean, true, &["3.9.6".into()]), Attribution::New);
        assert_eq!(attribute(&clean, false, &["3.9.3".into()]), Attribution::New);
    }
}
