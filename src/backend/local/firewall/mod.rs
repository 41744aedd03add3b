//! A small model of a host's packet filter, enough to answer one question
//! for the local backend's preflight: would the host's own rules drop the
//! traffic between the harness and its pods?
//!
//! Rules come from `iptables-save` ([`iptables`]) or `nft -j list ruleset`
//! ([`nft`]) and are turned into one model: chains of rules, each a list of
//! conditions and an action. A condition the model does not understand
//! ("maybe") never produces a verdict: the evaluator reports a drop only
//! when every condition on the path to it is understood, so it stays quiet
//! rather than guess.

pub mod iptables;
pub mod nft;

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use super::naming::Subnet;

/// The netfilter hooks the preflight looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hook {
    /// Packets for this host.
    Input,
    /// Packets this host sends.
    Output,
    /// Packets this host forwards.
    Forward,
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Input => "INPUT",
            Self::Output => "OUTPUT",
            Self::Forward => "FORWARD",
        })
    }
}

/// A TCP packet to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Input interface (INPUT, FORWARD).
    pub iif: Option<String>,
    /// Output interface (OUTPUT, FORWARD).
    pub oif: Option<String>,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Whether the packet belongs to an established connection (a reply),
    /// rather than opening a new one.
    pub established: bool,
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Source address in any of the subnets.
    Src(Vec<Subnet>, bool),
    /// Destination address in any of the subnets.
    Dst(Vec<Subnet>, bool),
    /// Input interface matches any of the patterns (`+`/`*` suffix: prefix).
    Iif(Vec<String>, bool),
    /// Output interface matches any of the patterns.
    Oif(Vec<String>, bool),
    /// The layer 4 protocol is one of these (`tcp`, `udp`, `icmp`...).
    Proto(Vec<String>, bool),
    /// Destination port in any of the ranges.
    Dport(Vec<(u16, u16)>, bool),
    /// Source port in any of the ranges.
    Sport(Vec<(u16, u16)>, bool),
    /// Conntrack state is one of these (`new`, `established`, ...).
    CtState(Vec<String>, bool),
    /// Something the model does not understand: may or may not match.
    Unknown(String),
}

/// Whether a condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Maybe,
}

fn tri(b: bool, negated: bool) -> Tri {
    if b != negated { Tri::Yes } else { Tri::No }
}

/// Whether interface `name` matches pattern `pat` (iptables `+` and nft `*`
/// suffixes are prefix matches).
pub fn iface_matches(pat: &str, name: &str) -> bool {
    match pat.strip_suffix('+').or_else(|| pat.strip_suffix('*')) {
        Some(prefix) => name.starts_with(prefix),
        None => pat == name,
    }
}

impl Cond {
    fn eval(&self, p: &Packet) -> Tri {
        let in_ranges = |rs: &[(u16, u16)], v: u16| rs.iter().any(|(a, b)| (*a..=*b).contains(&v));
        let iface = |pats: &[String], name: &Option<String>, neg: bool| match name {
            Some(n) => tri(pats.iter().any(|pat| iface_matches(pat, n)), neg),
            None => tri(false, neg),
        };
        match self {
            Self::Src(nets, neg) => tri(nets.iter().any(|n| n.contains(p.src)), *neg),
            Self::Dst(nets, neg) => tri(nets.iter().any(|n| n.contains(p.dst)), *neg),
            Self::Iif(pats, neg) => iface(pats, &p.iif, *neg),
            Self::Oif(pats, neg) => iface(pats, &p.oif, *neg),
            Self::Proto(ps, neg) => tri(ps.iter().any(|x| x == "tcp" || x == "6"), *neg),
            Self::Dport(rs, neg) => tri(in_ranges(rs, p.dport), *neg),
            Self::Sport(rs, neg) => tri(in_ranges(rs, p.sport), *neg),
            Self::CtState(states, neg) => {
                let want = if p.established { "established" } else { "new" };
                tri(states.iter().any(|s| s.eq_ignore_ascii_case(want)), *neg)
            }
            Self::Unknown(_) => Tri::Maybe,
        }
    }
}

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Accept (ends this base chain).
    Accept,
    /// Drop or reject.
    Drop,
    /// Back to the calling chain.
    Return,
    /// Evaluate another chain, then continue here.
    Jump(String),
    /// Evaluate another chain instead of the rest of this one.
    Goto(String),
    /// Nothing that decides (counters, logging, marks): continue.
    Continue,
    /// A verdict the model does not understand (a queue, say).
    Unknown,
}

/// One rule: all conditions must hold for the action to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule as the tool printed it, for messages.
    pub text: String,
    /// Its conditions.
    pub conds: Vec<Cond>,
    /// Its action.
    pub action: Action,
}

/// One chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// Its rules, in order.
    pub rules: Vec<Rule>,
    /// For a base chain: whether its policy accepts (`None` for others).
    pub policy_accepts: Option<bool>,
}

/// One table: its chains and which of them are base chains on which hook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// `filter`, or `inet filter` for nft (family and name).
    pub name: String,
    /// Chains by name.
    pub chains: BTreeMap<String, Chain>,
    /// Base chains: the hook and the chain's name.
    pub bases: Vec<(Hook, String)>,
}

/// The verdict on one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted (or nothing in the way).
    Accept,
    /// Dropped: where and by what.
    Drop {
        /// The table.
        table: String,
        /// The chain holding the rule (or the base chain, for a policy).
        chain: String,
        /// The rule, or `policy DROP`.
        rule: String,
        /// The base chain the packet entered by.
        base: String,
    },
    /// Cannot tell: a condition on the path is not understood.
    Unknown,
}

/// The result of walking one chain.
enum Walk {
    Accept,
    Drop {
        chain: String,
        rule: String,
    },
    /// Fell off the end or returned.
    Return,
    Unknown,
}

/// How deep jumps may nest before the walk gives up (loops are invalid in
/// netfilter, but the input may be anything).
const MAX_DEPTH: usize = 32;

impl Table {
    fn walk(&self, name: &str, p: &Packet, depth: usize) -> Walk {
        let Some(chain) = self.chains.get(name) else { return Walk::Unknown };
        if depth > MAX_DEPTH {
            return Walk::Unknown;
        }
        let mut uncertain = false;
        for rule in &chain.rules {
            let mut m = Tri::Yes;
            for c in &rule.conds {
                match c.eval(p) {
                    Tri::No => {
                        m = Tri::No;
                        break;
                    }
                    Tri::Maybe => m = Tri::Maybe,
                    Tri::Yes => {}
                }
            }
            if m == Tri::No || rule.action == Action::Continue {
                continue;
            }
            if m == Tri::Maybe {
                // It may or may not decide: whatever comes later is no
                // longer certain.
                uncertain = true;
                continue;
            }
            let decided = match &rule.action {
                Action::Accept => Walk::Accept,
                Action::Drop => Walk::Drop { chain: name.to_string(), rule: rule.text.clone() },
                Action::Return => Walk::Return,
                Action::Unknown => Walk::Unknown,
                Action::Continue => continue,
                Action::Jump(to) => match self.walk(to, p, depth + 1) {
                    Walk::Return => continue,
                    other => other,
                },
                Action::Goto(to) => self.walk(to, p, depth + 1),
            };
            return match decided {
                Walk::Drop { .. } | Walk::Accept if uncertain => Walk::Unknown,
                other => other,
            };
        }
        if uncertain { Walk::Unknown } else { Walk::Return }
    }

    /// Judge `p` through this table's base chains on `hook`.
    pub fn judge(&self, hook: Hook, p: &Packet) -> Verdict {
        let mut verdict = Verdict::Accept;
        for (h, name) in &self.bases {
            if *h != hook {
                continue;
            }
            let policy_accepts = self.chains.get(name).and_then(|c| c.policy_accepts).unwrap_or(true);
            let v = match self.walk(name, p, 0) {
                Walk::Accept => Verdict::Accept,
                Walk::Drop { chain, rule } => {
                    Verdict::Drop { table: self.name.clone(), chain, rule, base: name.clone() }
                }
                Walk::Return if policy_accepts => Verdict::Accept,
                Walk::Return => Verdict::Drop {
                    table: self.name.clone(),
                    chain: name.clone(),
                    rule: "policy DROP".into(),
                    base: name.clone(),
                },
                Walk::Unknown => Verdict::Unknown,
            };
            // Every base chain on the hook must accept: one drop drops.
            match v {
                Verdict::Drop { .. } => return v,
                Verdict::Unknown => verdict = Verdict::Unknown,
                Verdict::Accept => {}
            }
        }
        verdict
    }
}

/// Judge `p` through every table: the first definite drop, else unknown
/// when any table could not tell, else accept.
pub fn judge(tables: &[Table], hook: Hook, p: &Packet) -> Verdict {
    let mut verdict = Verdict::Accept;
    for t in tables {
        match t.judge(hook, p) {
            d @ Verdict::Drop { .. } => return d,
            Verdict::Unknown => verdict = Verdict::Unknown,
            Verdict::Accept => {}
        }
    }
    verdict
}

/// Parse `a` or `a:b` / `a-b` as a port range.
pub(crate) fn port_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once([':', '-']) {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => {
            let p = s.parse().ok()?;
            Some((p, p))
        }
    }
}

/// Parse `a.b.c.d` or `a.b.c.d/n` as a subnet (host bits dropped).
pub(crate) fn net(s: &str) -> Option<Subnet> {
    let (addr, prefix) = s.split_once('/').unwrap_or((s, "32"));
    let addr: Ipv4Addr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
    Some(Subnet { network: Ipv4Addr::from(u32::from(addr) & mask), prefix })
}

/// A new connection from the host to pod 10.213.0.10's `dport` out of our
/// bridge (the packet the tests judge rule sets against).
#[cfg(test)]
pub(crate) fn outbound_packet(dport: u16) -> Packet {
    Packet {
        src: "10.213.0.1".parse().expect("an address"),
        dst: "10.213.0.10".parse().expect("an address"),
        iif: None,
        oif: Some("zkc000000br".into()),
        sport: 40000,
        dport,
        established: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt() -> Packet {
        outbound_packet(2181)
    }

    fn rule(conds: Vec<Cond>, action: Action) -> Rule {
        Rule { text: format!("{conds:?} {action:?}"), conds, action }
    }

    fn table(policy_accepts: bool, rules: Vec<Rule>, extra: Vec<(&str, Vec<Rule>)>) -> Table {
        let mut chains =
            BTreeMap::from([("OUTPUT".to_string(), Chain { rules, policy_accepts: Some(policy_accepts) })]);
        for (n, r) in extra {
            chains.insert(n.to_string(), Chain { rules: r, policy_accepts: None });
        }
        Table { name: "filter".into(), chains, bases: vec![(Hook::Output, "OUTPUT".into())] }
    }

    #[test]
    fn a_drop_policy_drops_unless_a_rule_accepts_first() {
        assert!(
            matches!(table(false, vec![], vec![]).judge(Hook::Output, &pkt()), Verdict::Drop { rule, .. } if rule == "policy DROP")
        );
        let t = table(false, vec![rule(vec![Cond::Oif(vec!["zkc+".into()], false)], Action::Accept)], vec![]);
        assert_eq!(t.judge(Hook::Output, &pkt()), Verdict::Accept);
        // Other hooks are not this chain's business.
        assert_eq!(table(false, vec![], vec![]).judge(Hook::Input, &pkt()), Verdict::Accept);
    }

    #[test]
    fn jumps_return_and_drop_in_user_chains() {
        let sub = vec![rule(vec![Cond::Dst(vec![net("10.213.0.0/16").unwrap()], false)], Action::Drop)];
        let t = table(true, vec![rule(vec![], Action::Jump("fw".into()))], vec![("fw", sub)]);
        assert!(matches!(t.judge(Hook::Output, &pkt()), Verdict::Drop { chain, .. } if chain == "fw"));
        let ret = vec![rule(vec![], Action::Return), rule(vec![], Action::Drop)];
        let t = table(true, vec![rule(vec![], Action::Jump("fw".into()))], vec![("fw", ret)]);
        assert_eq!(t.judge(Hook::Output, &pkt()), Verdict::Accept);
    }

    #[test]
    fn what_is_not_understood_never_yields_a_drop() {
        let t = table(false, vec![rule(vec![Cond::Unknown("-m owner --uid-owner 0".into())], Action::Accept)], vec![]);
        assert_eq!(t.judge(Hook::Output, &pkt()), Verdict::Unknown);
        let t = table(true, vec![rule(vec![Cond::Unknown("-m addrtype".into())], Action::Drop)], vec![]);
        assert_eq!(t.judge(Hook::Output, &pkt()), Verdict::Unknown);
        // A loop gives up instead of recursing forever.
        let t = table(
            true,
            vec![rule(vec![], Action::Jump("a".into()))],
            vec![("a", vec![rule(vec![], Action::Jump("a".into()))])],
        );
        assert_eq!(t.judge(Hook::Output, &pkt()), Verdict::Unknown);
    }

    #[test]
    fn conditions_match_as_netfilter_does() {
        let p = Packet { established: true, ..pkt() };
        assert_eq!(Cond::CtState(vec!["RELATED".into(), "ESTABLISHED".into()], false).eval(&p), Tri::Yes);
        assert_eq!(Cond::CtState(vec!["new".into()], false).eval(&p), Tri::No);
        assert_eq!(Cond::Oif(vec!["docker0".into()], true).eval(&p), Tri::Yes);
        assert_eq!(Cond::Iif(vec!["lo".into()], false).eval(&p), Tri::No, "no input interface on OUTPUT");
        assert_eq!(Cond::Dport(vec![(2000, 3000)], false).eval(&p), Tri::Yes);
        assert_eq!(Cond::Proto(vec!["udp".into()], false).eval(&p), Tri::No);
        assert!(iface_matches("zkc*", "zkcabc123br") && !iface_matches("zkc", "zkcabc123br"));
        assert_eq!(port_range("80:90"), Some((80, 90)));
        assert_eq!(net("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
    }
}
