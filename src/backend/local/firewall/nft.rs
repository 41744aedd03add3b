//! `nft -j list ruleset` into the [`super`] model: the IPv4 (`ip` and
//! `inet`) tables' filter base chains on input, output and forward, with
//! the expressions the model understands and everything else as unknown.

use std::collections::BTreeMap;

use serde_json::Value;

use super::iptables::NON_TERMINATING;
use super::{Action, Chain, Cond, Hook, Rule, Table, net, port_range};
use crate::backend::local::naming::Subnet;

/// Parse the JSON ruleset into one [`Table`] per IPv4 table.
pub fn parse_ruleset(json: &str) -> Result<Vec<Table>, serde_json::Error> {
    let v: Value = serde_json::from_str(json)?;
    let items = v.get("nftables").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut tables: BTreeMap<(String, String), Table> = BTreeMap::new();
    let key = |o: &Value| {
        let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        (s("family"), s("table"))
    };
    let ipv4 = |family: &str| family == "ip" || family == "inet";
    for item in &items {
        if let Some(c) = item.get("chain") {
            let (family, table) = key(c);
            if !ipv4(&family) {
                continue;
            }
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let t = tables
                .entry((family.clone(), table.clone()))
                .or_insert_with(|| Table { name: format!("nft {family} {table}"), ..Table::default() });
            let hook = match c.get("hook").and_then(Value::as_str) {
                Some("input") => Some(Hook::Input),
                Some("output") => Some(Hook::Output),
                Some("forward") => Some(Hook::Forward),
                _ => None,
            };
            let is_filter = c.get("type").and_then(Value::as_str) == Some("filter");
            let mut chain = Chain::default();
            if let (Some(h), true) = (hook, is_filter) {
                chain.policy_accepts = Some(c.get("policy").and_then(Value::as_str) != Some("drop"));
                t.bases.push((h, name.clone()));
            }
            t.chains.insert(name, chain);
        } else if let Some(r) = item.get("rule") {
            let (family, table) = key(r);
            if !ipv4(&family) {
                continue;
            }
            let chain = r.get("chain").and_then(Value::as_str).unwrap_or_default().to_string();
            let exprs = r.get("expr").and_then(Value::as_array).cloned().unwrap_or_default();
            let rule = parse_rule(&family, &table, &chain, r.get("handle").and_then(Value::as_u64), &exprs);
            if let Some(t) = tables.get_mut(&(family, table)) {
                t.chains.entry(chain).or_default().rules.push(rule);
            }
        }
    }
    Ok(tables.into_values().collect())
}

fn parse_rule(family: &str, table: &str, chain: &str, handle: Option<u64>, exprs: &[Value]) -> Rule {
    let mut conds = Vec::new();
    let mut action = Action::Continue;
    for e in exprs {
        let Some((kind, body)) = e.as_object().and_then(|o| o.iter().next()) else { continue };
        match kind.as_str() {
            "match" => conds.push(parse_match(body)),
            "counter" | "log" | "mangle" | "comment" | "notrack" => {}
            "accept" => action = Action::Accept,
            "drop" | "reject" => action = Action::Drop,
            "return" => action = Action::Return,
            "continue" => action = Action::Continue,
            "jump" | "goto" => {
                let to = body.get("target").and_then(Value::as_str).unwrap_or_default().to_string();
                action = if kind == "jump" { Action::Jump(to) } else { Action::Goto(to) };
            }
            "xt" => {
                let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
                // iptables-nft keeps what nft cannot express as `xt`
                // extensions: comments and REJECT are common and harmless
                // to model.
                match (body.get("type").and_then(Value::as_str), name) {
                    (Some("target"), "REJECT" | "DROP") => action = Action::Drop,
                    (Some("target"), "ACCEPT") => action = Action::Accept,
                    (Some("target"), n) if NON_TERMINATING.contains(&n) => {}
                    (Some("target"), _) => action = Action::Unknown,
                    (_, "comment") => {}
                    _ => conds.push(Cond::Unknown(format!("xt {name}"))),
                }
            }
            other => {
                // A statement or verdict we do not model (limit, queue,
                // set updates...): it may match, and it may decide.
                conds.push(Cond::Unknown(other.to_string()));
            }
        }
    }
    let text = match handle {
        Some(h) => format!("rule handle {h} of `nft -a list chain {family} {table} {chain}`"),
        None => format!("a rule of `nft list chain {family} {table} {chain}`"),
    };
    Rule { text, conds, action }
}

/// The leaves of a match's right-hand side: a value, a set or a list.
fn leaves(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.iter().flat_map(leaves).collect(),
        Value::Object(o) if o.contains_key("set") => leaves(&o["set"]),
        other => vec![other.clone()],
    }
}

fn leaf_net(v: &Value) -> Option<Subnet> {
    match v {
        Value::String(s) => net(s),
        Value::Object(o) => {
            let p = o.get("prefix")?;
            net(&format!("{}/{}", p.get("addr")?.as_str()?, p.get("len")?.as_u64()?))
        }
        _ => None,
    }
}

fn leaf_ports(v: &Value) -> Option<(u16, u16)> {
    match v {
        Value::Number(n) => {
            let p = u16::try_from(n.as_u64()?).ok()?;
            Some((p, p))
        }
        Value::String(s) => port_range(s),
        Value::Object(o) => {
            let r = o.get("range")?.as_array()?;
            Some((u16::try_from(r.first()?.as_u64()?).ok()?, u16::try_from(r.get(1)?.as_u64()?).ok()?))
        }
        _ => None,
    }
}

fn parse_match(m: &Value) -> Cond {
    let unknown = || Cond::Unknown(serde_json::to_string(m).unwrap_or_default());
    let neg = match m.get("op").and_then(Value::as_str) {
        Some("==" | "in") => false,
        Some("!=") => true,
        _ => return unknown(),
    };
    let (Some(left), Some(right)) = (m.get("left"), m.get("right")) else { return unknown() };
    let right = leaves(right);
    let strings = || right.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<Vec<_>>>();
    let field = |obj: &str, k: &str| left.get(obj).and_then(|o| o.get(k)).and_then(Value::as_str);
    let payload = (field("payload", "protocol"), field("payload", "field"));
    let parsed = match (payload, field("meta", "key"), field("ct", "key")) {
        ((Some("ip"), Some("saddr")), _, _) => {
            right.iter().map(leaf_net).collect::<Option<_>>().map(|n| Cond::Src(n, neg))
        }
        ((Some("ip"), Some("daddr")), _, _) => {
            right.iter().map(leaf_net).collect::<Option<_>>().map(|n| Cond::Dst(n, neg))
        }
        ((Some("tcp"), Some("dport")), _, _) => {
            right.iter().map(leaf_ports).collect::<Option<_>>().map(|p| Cond::Dport(p, neg))
        }
        ((Some("tcp"), Some("sport")), _, _) => {
            right.iter().map(leaf_ports).collect::<Option<_>>().map(|p| Cond::Sport(p, neg))
        }
        ((Some("udp"), Some("dport" | "sport")), _, _) => Some(Cond::Proto(vec!["udp".into()], neg)),
        (_, Some("iifname"), _) => strings().map(|s| Cond::Iif(s, neg)),
        (_, Some("oifname"), _) => strings().map(|s| Cond::Oif(s, neg)),
        (_, Some("l4proto"), _) => strings().map(|s| Cond::Proto(s, neg)),
        (_, _, Some("state")) => strings().map(|s| Cond::CtState(s, neg)),
        _ => None,
    };
    parsed.unwrap_or_else(unknown)
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, Verdict, judge};
    use super::*;

    /// What Docker 20.10 on iptables-nft leaves (this project's machines).
    const DOCKER: &str = include_str!("../../../../tests/fixtures/firewall/nft-docker.json");
    /// A native nftables host firewall (made with `nft -f` in a scratch
    /// namespace) with an output chain that drops the pool.
    const BLOCKING: &str = include_str!("../../../../tests/fixtures/firewall/nft-blocking.json");

    fn out() -> Packet {
        super::super::outbound_packet(8080)
    }

    #[test]
    fn docker_rules_leave_input_and_output_alone() {
        let tables = parse_ruleset(DOCKER).unwrap();
        assert!(tables.iter().any(|t| t.name == "nft ip filter"));
        assert_eq!(judge(&tables, Hook::Output, &out()), Verdict::Accept);
        let fwd = Packet { iif: Some("zkc000000br".into()), ..out() };
        assert!(matches!(judge(&tables, Hook::Forward, &fwd), Verdict::Drop { rule, .. } if rule == "policy DROP"));
    }

    #[test]
    fn a_native_drop_of_the_pool_is_found() {
        let tables = parse_ruleset(BLOCKING).unwrap();
        match judge(&tables, Hook::Output, &out()) {
            Verdict::Drop { table, chain, rule, .. } => {
                assert_eq!((table.as_str(), chain.as_str()), ("nft inet hostfw", "out"));
                assert!(rule.contains("rule handle 8 of `nft -a list chain inet hostfw out`"), "{rule}");
            }
            v => panic!("{v:?}"),
        }
        let elsewhere = Packet { dst: "192.0.2.9".parse().unwrap(), ..out() };
        assert_eq!(judge(&tables, Hook::Output, &elsewhere), Verdict::Accept);
        let reply = Packet {
            src: "10.213.0.10".parse().unwrap(),
            dst: "10.213.0.1".parse().unwrap(),
            iif: Some("zkc000000br".into()),
            oif: None,
            sport: 8080,
            dport: 40000,
            established: true,
        };
        assert_eq!(judge(&tables, Hook::Input, &reply), Verdict::Accept, "ct state established is accepted");
    }

    #[test]
    fn iptables_nft_rules_with_comments_and_reject_are_understood() {
        // `iptables -I OUTPUT -d 10.77.9.0/24 -m comment --comment ... -j REJECT`
        // on the nft backend, as `nft -j` printed it on this project's machine.
        const RULE: &str = include_str!("../../../../tests/fixtures/firewall/nft-iptables-reject.json");
        let tables = parse_ruleset(RULE).unwrap();
        let p = Packet { dst: "10.77.9.10".parse().unwrap(), ..out() };
        assert!(matches!(judge(&tables, Hook::Output, &p), Verdict::Drop { table, .. } if table == "nft ip filter"));
        assert_eq!(judge(&tables, Hook::Output, &out()), Verdict::Accept, "another subnet passes");
    }

    #[test]
    fn matches_understood_and_not() {
        let m: Value =
            serde_json::from_str(r#"{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}"#)
                .unwrap();
        assert_eq!(parse_match(&m), Cond::CtState(vec!["established".into(), "related".into()], false));
        let m: Value = serde_json::from_str(
            r#"{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":{"set":[22,{"range":[2000,3000]}]}}"#,
        )
        .unwrap();
        assert_eq!(parse_match(&m), Cond::Dport(vec![(22, 22), (2000, 3000)], false));
        let m: Value = serde_json::from_str(r#"{"op":"==","left":{"meta":{"key":"skuid"}},"right":0}"#).unwrap();
        assert!(matches!(parse_match(&m), Cond::Unknown(_)));
    }
}
