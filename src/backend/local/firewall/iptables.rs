//! `iptables-save` output (the `filter` table) into the [`super`] model.

use super::{Action, Chain, Cond, Hook, Rule, Table, net, port_range};

/// Targets that never decide a packet's fate.
pub(crate) const NON_TERMINATING: &[&str] =
    &["LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "CT", "TRACE", "AUDIT", "CLASSIFY", "TCPMSS", "CHECKSUM"];

/// Split a rule line like a shell would (double quotes group words).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            '\\' if quoted => cur.extend(chars.next()),
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn nets(s: &str) -> Option<Vec<super::super::naming::Subnet>> {
    s.split(',').map(net).collect()
}

fn ports(s: &str) -> Option<Vec<(u16, u16)>> {
    s.split(',').map(port_range).collect()
}

fn states(s: &str) -> Vec<String> {
    s.split(',').map(|x| x.to_ascii_lowercase()).collect()
}

/// Parse one `-A CHAIN ...` line (without the `-A CHAIN`).
fn parse_rule(text: &str, ws: &[String]) -> Rule {
    let mut conds = Vec::new();
    let mut action = Action::Continue;
    let mut neg = false;
    let mut i = 0;
    let arg = |i: usize| ws.get(i + 1).map(String::as_str).unwrap_or("");
    while i < ws.len() {
        let w = ws[i].as_str();
        let mut used = 2;
        let cond = match w {
            "!" => {
                neg = true;
                i += 1;
                continue;
            }
            "-s" | "--source" => Some(nets(arg(i)).map_or_else(|| Cond::Unknown(w.into()), |n| Cond::Src(n, neg))),
            "-d" | "--destination" => Some(nets(arg(i)).map_or_else(|| Cond::Unknown(w.into()), |n| Cond::Dst(n, neg))),
            "-i" | "--in-interface" => Some(Cond::Iif(vec![arg(i).to_string()], neg)),
            "-o" | "--out-interface" => Some(Cond::Oif(vec![arg(i).to_string()], neg)),
            "-p" | "--protocol" => Some(Cond::Proto(vec![arg(i).to_ascii_lowercase()], neg)),
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                Some(ports(arg(i)).map_or_else(|| Cond::Unknown(w.into()), |p| Cond::Dport(p, neg)))
            }
            "--sport" | "--source-port" | "--sports" | "--source-ports" => {
                Some(ports(arg(i)).map_or_else(|| Cond::Unknown(w.into()), |p| Cond::Sport(p, neg)))
            }
            "--ctstate" | "--state" => Some(Cond::CtState(states(arg(i)), neg)),
            // Modules that only enable the options above, and comments.
            "-m" | "--match" if matches!(arg(i), "tcp" | "udp" | "conntrack" | "state" | "multiport" | "comment") => {
                None
            }
            "--comment" => None,
            "-j" | "--jump" | "-g" | "--goto" => {
                let t = arg(i);
                action = match t {
                    "ACCEPT" => Action::Accept,
                    "DROP" | "REJECT" => Action::Drop,
                    "RETURN" => Action::Return,
                    t if NON_TERMINATING.contains(&t) => Action::Continue,
                    // User chains are named by the rule set; anything else
                    // in capitals is an extension target we do not know.
                    t if w.starts_with("-g") || w == "--goto" => Action::Goto(t.to_string()),
                    t => Action::Jump(t.to_string()),
                };
                // What follows the target are its own options.
                break;
            }
            _ => {
                // An option we do not model: it and its arguments (up to the
                // next option) may match anything.
                let mut j = i + 1;
                while j < ws.len() && !ws[j].starts_with('-') && ws[j] != "!" {
                    j += 1;
                }
                used = j - i;
                Some(Cond::Unknown(ws[i..j].join(" ")))
            }
        };
        if let Some(c) = cond {
            conds.push(c);
        }
        neg = false;
        i += used;
    }
    Rule { text: text.to_string(), conds, action }
}

/// Parse the `filter` table of `iptables-save` output. Jumps to chains the
/// table does not define (extension targets) become [`Action::Unknown`].
pub fn parse_filter(text: &str) -> Option<Table> {
    let mut in_filter = false;
    let mut table = Table { name: "iptables filter".into(), ..Table::default() };
    let mut seen = false;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('*') {
            in_filter = name == "filter";
            seen |= in_filter;
            continue;
        }
        if !in_filter {
            continue;
        }
        if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split_whitespace();
            let (Some(name), Some(policy)) = (parts.next(), parts.next()) else { continue };
            let hook = match name {
                "INPUT" => Some(Hook::Input),
                "OUTPUT" => Some(Hook::Output),
                "FORWARD" => Some(Hook::Forward),
                _ => None,
            };
            let policy_accepts = (policy != "-").then_some(policy == "ACCEPT");
            table.chains.insert(name.to_string(), Chain { rules: Vec::new(), policy_accepts });
            if let Some(h) = hook {
                table.bases.push((h, name.to_string()));
            }
        } else if let Some(rest) = line.strip_prefix("-A ") {
            let ws = words(rest);
            let Some((chain, args)) = ws.split_first() else { continue };
            let rule = parse_rule(line, args);
            table.chains.entry(chain.clone()).or_default().rules.push(rule);
        }
    }
    let defined: Vec<String> = table.chains.keys().cloned().collect();
    for chain in table.chains.values_mut() {
        for r in &mut chain.rules {
            if let Action::Jump(t) | Action::Goto(t) = &r.action
                && !defined.contains(t)
            {
                r.action = Action::Unknown;
            }
        }
    }
    seen.then_some(table)
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, Verdict};
    use super::*;

    /// What Docker 20.10 leaves in the filter table (this project's machines).
    const DOCKER: &str = include_str!("../../../../tests/fixtures/firewall/iptables-docker.txt");
    /// A ufw-like host firewall that drops our subnet on OUTPUT in a user chain.
    const BLOCKING: &str = include_str!("../../../../tests/fixtures/firewall/iptables-blocking.txt");

    fn out(dst: &str) -> Packet {
        Packet {
            src: "10.213.0.1".parse().unwrap(),
            dst: dst.parse().unwrap(),
            iif: None,
            oif: Some("zkc000000br".into()),
            sport: 40000,
            dport: 2181,
            established: false,
        }
    }

    fn reply() -> Packet {
        Packet {
            src: "10.213.0.10".parse().unwrap(),
            dst: "10.213.0.1".parse().unwrap(),
            iif: Some("zkc000000br".into()),
            oif: None,
            sport: 2181,
            dport: 40000,
            established: true,
        }
    }

    #[test]
    fn docker_leaves_input_and_output_alone() {
        let t = parse_filter(DOCKER).unwrap();
        assert_eq!(t.judge(Hook::Output, &out("10.213.0.10")), Verdict::Accept);
        assert_eq!(t.judge(Hook::Input, &reply()), Verdict::Accept);
        // Forwarding through the host would be dropped: why the bridge
        // lives in a namespace of its own.
        let fwd = Packet { iif: Some("zkc000000br".into()), oif: Some("zkc000000br".into()), ..out("10.213.0.11") };
        assert!(matches!(t.judge(Hook::Forward, &fwd), Verdict::Drop { rule, .. } if rule == "policy DROP"));
    }

    #[test]
    fn a_drop_for_our_subnet_in_a_user_chain_is_found_with_its_rule() {
        let t = parse_filter(BLOCKING).unwrap();
        match t.judge(Hook::Output, &out("10.213.0.10")) {
            Verdict::Drop { chain, rule, .. } => {
                assert_eq!(chain, "host-out");
                assert!(rule.contains("-d 10.213.0.0/16") && rule.contains("REJECT"), "{rule}");
            }
            v => panic!("{v:?}"),
        }
        // Other destinations pass; replies are accepted by conntrack first.
        assert_eq!(t.judge(Hook::Output, &out("192.0.2.7")), Verdict::Accept);
        assert_eq!(t.judge(Hook::Input, &reply()), Verdict::Accept);
        // A new connection from a pod to the host hits INPUT's DROP policy.
        let new_in = Packet { established: false, ..reply() };
        assert!(matches!(t.judge(Hook::Input, &new_in), Verdict::Drop { rule, .. } if rule == "policy DROP"));
    }

    #[test]
    fn words_keep_quoted_comments_together_and_negations_apply_to_one_option() {
        let ws = words(r#"-A X -m comment --comment "a b \"c\"" ! -o docker0 -j ACCEPT"#);
        assert_eq!(ws[5], r#"a b "c""#);
        let r = parse_rule("", &ws[2..]);
        assert_eq!(r.conds, vec![Cond::Oif(vec!["docker0".into()], true)]);
        assert_eq!(r.action, Action::Accept);
        let r = parse_rule("", &words("-m owner --uid-owner 0 -p tcp -j DROP"));
        assert_eq!(
            r.conds,
            vec![
                Cond::Unknown("-m owner".into()),
                Cond::Unknown("--uid-owner 0".into()),
                Cond::Proto(vec!["tcp".into()], false)
            ]
        );
    }

    #[test]
    fn no_filter_table_is_none() {
        assert_eq!(parse_filter("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n"), None);
    }
}
