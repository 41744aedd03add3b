//! Which members a fault hits, chosen at the moment of the fault from the
//! live status and a seeded RNG. Pure: no I/O.

use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};

use super::FaultError;
use crate::probe::EnsembleStatus;

/// A set of members, named by role rather than by ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Selector {
    /// `pod N`.
    Ordinal(u32),
    /// `the leader`.
    Leader,
    /// `a random follower` (of the current leader).
    RandomFollower,
    /// `a random member`.
    RandomMember,
    /// `a majority`: the leader plus enough followers, when there is a leader.
    Majority,
    /// `a minority`: the complement of a majority (never the leader).
    Minority,
    /// `every member`: the whole ensemble at once (a power loss, a node
    /// pool recycled).
    Every,
    /// `member C`: a member the scenario named earlier (`When I name the
    /// leader A and its followers B and C`), so that later steps hit the
    /// same member whatever role it has by then. Bound to an ordinal with
    /// [`Selector::bind`] before it is resolved.
    Named(char),
}

/// Text that is not a selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot parse selector `{0}`: expected `pod <ordinal>`, `the leader`, `a random follower`, `a random member`, `a majority`, `a minority`, `every member` or `member <A-Z>`"
)]
pub struct SelectorParseError(pub String);

impl FromStr for Selector {
    type Err = SelectorParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
        let err = || SelectorParseError(s.to_string());
        Ok(match norm.as_str() {
            "the leader" | "leader" => Self::Leader,
            "a random follower" | "random follower" => Self::RandomFollower,
            "a random member" | "random member" => Self::RandomMember,
            "a majority" | "majority" => Self::Majority,
            "a minority" | "minority" => Self::Minority,
            "every member" => Self::Every,
            other if other.starts_with("member ") => {
                let name = s.split_whitespace().nth(1).ok_or_else(err)?;
                let mut chars = name.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii_uppercase() => Self::Named(c),
                    _ => return Err(err()),
                }
            }
            other => {
                let n = other.strip_prefix("pod ").ok_or_else(err)?;
                Self::Ordinal(n.trim().parse().map_err(|_| err())?)
            }
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ordinal(o) => write!(f, "pod {o}"),
            Self::Leader => f.write_str("the leader"),
            Self::RandomFollower => f.write_str("a random follower"),
            Self::RandomMember => f.write_str("a random member"),
            Self::Majority => f.write_str("a majority"),
            Self::Minority => f.write_str("a minority"),
            Self::Every => f.write_str("every member"),
            Self::Named(c) => write!(f, "member {c}"),
        }
    }
}

/// What a selector resolved to at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The chosen ordinals, sorted.
    pub ordinals: Vec<u32>,
    /// For the record: how the choice was made, e.g.
    /// `the leader = pod 2`.
    pub description: String,
}

fn pods(ordinals: &[u32]) -> String {
    let v: Vec<String> = ordinals.iter().map(|o| o.to_string()).collect();
    match v.len() {
        0 => "no pods".into(),
        1 => format!("pod {}", v[0]),
        _ => format!("pods {}", v.join(",")),
    }
}

impl Selector {
    /// Replace a named member by the pod it names (other selectors are
    /// unchanged).
    pub fn bind(self, names: &std::collections::BTreeMap<char, u32>) -> Result<Selector, FaultError> {
        match self {
            Self::Named(c) => names.get(&c).map(|o| Self::Ordinal(*o)).ok_or_else(|| FaultError::Resolve {
                selector: self.to_string(),
                reason: format!(
                    "no member is named {c} in this scenario: name it first, e.g. `When I name the leader A and its followers B and C`"
                ),
            }),
            other => Ok(other),
        }
    }

    /// Resolve against the live `status` (its members are the candidates),
    /// drawing from `rng`.
    pub fn resolve(&self, status: &EnsembleStatus, rng: &mut StdRng) -> Result<Resolution, FaultError> {
        let fail = |reason: &str| FaultError::Resolve { selector: self.to_string(), reason: reason.to_string() };
        let mut members: Vec<u32> = status.members.iter().map(|m| m.ordinal).collect();
        members.sort_unstable();
        members.dedup();
        if members.is_empty() {
            return Err(fail("the ensemble has no members"));
        }
        let leader = status.leader().filter(|l| members.contains(l));
        let (mut ordinals, how) = match self {
            Self::Ordinal(o) => {
                if !members.contains(o) {
                    return Err(fail(&format!("no such member (members: {})", pods(&members))));
                }
                (vec![*o], String::new())
            }
            Self::Leader => (vec![leader.ok_or_else(|| fail("there is no single leader"))?], String::new()),
            Self::RandomFollower => {
                let l = leader.ok_or_else(|| fail("there is no single leader"))?;
                let mut followers: Vec<u32> =
                    status.followers_of_leader.iter().copied().filter(|f| *f != l && members.contains(f)).collect();
                followers.sort_unstable();
                let pick = *followers.choose(rng).ok_or_else(|| fail("the leader has no synced follower"))?;
                (vec![pick], format!(" of leader pod {l}"))
            }
            Self::RandomMember => (vec![*members.choose(rng).expect("not empty")], String::new()),
            Self::Every => (members.clone(), String::new()),
            Self::Named(_) => return Err(self.bind(&Default::default()).expect_err("unbound")),
            Self::Majority | Self::Minority => {
                let (majority, how) = pick_majority(&members, leader, rng);
                let side = if *self == Self::Majority {
                    majority
                } else {
                    members.iter().copied().filter(|m| !majority.contains(m)).collect()
                };
                (side, how)
            }
        };
        ordinals.sort_unstable();
        let description = format!("{self} = {}{how}", pods(&ordinals));
        Ok(Resolution { ordinals, description })
    }
}

/// `n/2 + 1` of `members`: the leader (when there is one) plus random others.
fn pick_majority(members: &[u32], leader: Option<u32>, rng: &mut StdRng) -> (Vec<u32>, String) {
    let want = members.len() / 2 + 1;
    let mut others: Vec<u32> = members.iter().copied().filter(|m| Some(*m) != leader).collect();
    others.shuffle(rng);
    let mut majority: Vec<u32> = leader.into_iter().chain(others).take(want).collect();
    majority.sort_unstable();
    let how = match leader {
        Some(l) => format!(" (majority {} holds leader pod {l})", pods(&majority)),
        None => format!(" (no leader; majority {})", pods(&majority)),
    };
    (majority, how)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;

    use proptest::prelude::*;
    use rand::SeedableRng;

    use super::*;
    use crate::probe::MemberStatus;

    /// A status with `n` members, `leader` leading and `followers` synced.
    pub(crate) fn status(n: u32, leader: Option<u32>, followers: &[u32]) -> EnsembleStatus {
        let members = (0..n)
            .map(|ordinal| MemberStatus::unprobed(ordinal, Ipv4Addr::new(10, 213, 0, 10 + ordinal as u8)))
            .collect();
        EnsembleStatus {
            members,
            leaders: leader.into_iter().collect(),
            followers_of_leader: followers.to_vec(),
            config_versions: vec![],
            voters: n as usize,
            quorum: leader.is_some(),
            problems: vec![],
        }
    }

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    #[test]
    fn parses_every_form_and_round_trips() {
        for (text, sel) in [
            ("pod 2", Selector::Ordinal(2)),
            ("the leader", Selector::Leader),
            ("a random follower", Selector::RandomFollower),
            ("a random member", Selector::RandomMember),
            ("a majority", Selector::Majority),
            ("a minority", Selector::Minority),
            ("every member", Selector::Every),
            ("member C", Selector::Named('C')),
        ] {
            assert_eq!(text.parse::<Selector>().unwrap(), sel);
            assert_eq!(sel.to_string(), text);
        }
        assert_eq!("  The   Leader ".parse::<Selector>().unwrap(), Selector::Leader);
        assert_eq!("pod  7".parse::<Selector>().unwrap(), Selector::Ordinal(7));
    }

    #[test]
    fn every_member_is_the_whole_ensemble_with_or_without_a_leader() {
        for leader in [Some(1), None] {
            let r = Selector::Every.resolve(&status(5, leader, &[0, 2]), &mut rng(3)).unwrap();
            assert_eq!(r.ordinals, [0, 1, 2, 3, 4]);
            assert_eq!(r.description, "every member = pods 0,1,2,3,4");
        }
    }

    #[test]
    fn parse_errors_name_what_was_expected() {
        for bad in ["pod", "pod x", "the follower", "", "pod -1", "member c", "member CC", "member"] {
            let e = bad.parse::<Selector>().unwrap_err().to_string();
            assert!(
                e.contains(&format!("`{bad}`")) && e.contains("`pod <ordinal>`") && e.contains("`a minority`"),
                "{e}"
            );
        }
    }

    #[test]
    fn leader_and_follower_resolve_from_the_status() {
        let st = status(3, Some(1), &[0, 2]);
        let r = Selector::Leader.resolve(&st, &mut rng(1)).unwrap();
        assert_eq!(r.ordinals, vec![1]);
        assert_eq!(r.description, "the leader = pod 1");
        for seed in 0..20 {
            let r = Selector::RandomFollower.resolve(&st, &mut rng(seed)).unwrap();
            assert!(r.ordinals == vec![0] || r.ordinals == vec![2], "{r:?}");
            assert!(r.description.contains("of leader pod 1"), "{}", r.description);
        }
        let none = status(3, None, &[]);
        let e = Selector::Leader.resolve(&none, &mut rng(1)).unwrap_err().to_string();
        assert!(e.contains("`the leader`") && e.contains("no single leader"), "{e}");
        assert!(Selector::RandomFollower.resolve(&none, &mut rng(1)).is_err());
        assert!(Selector::Ordinal(5).resolve(&st, &mut rng(1)).unwrap_err().to_string().contains("pods 0,1,2"));
    }

    #[test]
    fn majority_holds_the_leader_and_minority_never_does() {
        let st = status(5, Some(3), &[0, 1, 2, 4]);
        for seed in 0..20 {
            let maj = Selector::Majority.resolve(&st, &mut rng(seed)).unwrap();
            let min = Selector::Minority.resolve(&st, &mut rng(seed)).unwrap();
            assert_eq!(maj.ordinals.len(), 3);
            assert!(maj.ordinals.contains(&3) && !min.ordinals.contains(&3));
            assert_eq!(min.ordinals.len(), 2);
            assert!(min.description.starts_with("a minority = pods "), "{}", min.description);
        }
    }

    #[test]
    fn same_seed_same_choice() {
        let st = status(7, Some(0), &[1, 2, 3, 4, 5, 6]);
        for sel in [Selector::RandomFollower, Selector::RandomMember, Selector::Majority, Selector::Minority] {
            assert_eq!(sel.resolve(&st, &mut rng(9)).unwrap(), sel.resolve(&st, &mut rng(9)).unwrap());
        }
    }

    proptest! {
        #[test]
        fn majority_and_minority_partition_the_members(
            n in 1u32..10,
            leader in proptest::option::of(0u32..10),
            seed in any::<u64>(),
        ) {
            let leader = leader.filter(|l| *l < n);
            let followers: Vec<u32> = (0..n).filter(|o| Some(*o) != leader).collect();
            let st = status(n, leader, if leader.is_some() { &followers } else { &[] });
            let maj = Selector::Majority.resolve(&st, &mut rng(seed)).unwrap().ordinals;
            let min = Selector::Minority.resolve(&st, &mut rng(seed)).unwrap().ordinals;
            prop_assert!(maj.iter().all(|m| !min.contains(m)));
            let mut all: Vec<u32> = maj.iter().chain(&min).copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
            prop_assert!(maj.len() as u32 > n / 2);
            if let Some(l) = leader {
                prop_assert!(maj.contains(&l));
            }
        }
    }
}
