//! The host-network preflight of the local backend: before anything is
//! created, check what would still block the harness's traffic to its
//! pods, and say so with the fix.
//!
//! Pod-to-pod traffic never touches the host's packet filter: the bridge
//! lives in a namespace of its own (see [`super::net::add_bridge`]). What
//! can still break a run is
//! - no network namespace support (kernel or `ip`);
//! - a host rule on INPUT or OUTPUT that drops the harness's connections to
//!   the pods' client and admin ports, or their replies (a host firewall,
//!   iptables legacy or nft, native nftables);
//! - inside our bridge namespace, bridged frames passing an iptables
//!   FORWARD chain that drops them (bridge netfilter that could not be
//!   turned off there).
//!
//! Reading the rules costs a few milliseconds (`nft -j list ruleset`,
//! `iptables-legacy-save`); when all is well nothing is printed.

use std::net::Ipv4Addr;

use super::firewall::{self, Hook, Packet, Table, Verdict};
use super::naming::{RunId, Subnet};
use crate::sys;
use crate::zkconfig::CLIENT_PORT;

/// An interface name standing for any run's host veth (`zkc<run>br`).
const ANY_OUR_VETH: &str = "zkc000000br";
/// An ephemeral port on the harness's side.
const EPHEMERAL: u16 = 40000;

/// What would block the local backend's traffic.
#[derive(Debug, thiserror::Error)]
pub enum HostNetError {
    /// Network namespaces cannot be used.
    #[error("network namespaces are not available: {0}")]
    NoNetns(String),
    /// The host's rules drop traffic between the harness and its pods.
    #[error("{}", blocked_message(.0))]
    Blocked(Vec<Finding>),
}

fn blocked_message(findings: &[Finding]) -> String {
    let mut s = String::from("the host's packet filter would drop the local backend's traffic:");
    for f in findings {
        s.push_str(&format!("\n  - {f}"));
    }
    s
}

/// One blocked path, where, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The traffic (for example "the harness's connections to the pods' client port 2181").
    pub traffic: String,
    /// The table, chain and rule that drop it.
    pub dropped_by: String,
    /// A command that lets it through, or what else to do.
    pub fix: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is dropped by {}\n    fix: {}", self.traffic, self.dropped_by, self.fix)
    }
}

/// The packets the harness exchanges with pods in `subnet` through the host
/// veth `veth`: a new connection to each of `ports` on OUTPUT, and its
/// replies on INPUT, with what each is called in messages.
fn host_packets(subnet: Subnet, veth: &str, ports: &[u16]) -> Vec<(Hook, Packet, String)> {
    let gw = subnet.gateway();
    let pod = subnet.pod_addr(0).unwrap_or(Ipv4Addr::from(u32::from(subnet.network) + 10));
    let mut out = Vec::new();
    for port in ports {
        out.push((
            Hook::Output,
            Packet {
                src: gw,
                dst: pod,
                iif: None,
                oif: Some(veth.into()),
                sport: EPHEMERAL,
                dport: *port,
                established: false,
            },
            format!("the harness's connections to the pods' port {port} ({subnet}, OUTPUT)"),
        ));
        out.push((
            Hook::Input,
            Packet {
                src: pod,
                dst: gw,
                iif: Some(veth.into()),
                oif: None,
                sport: *port,
                dport: EPHEMERAL,
                established: true,
            },
            format!("the pods' replies from port {port} ({subnet}, INPUT)"),
        ));
    }
    out
}

/// The fix for a drop of `hook` traffic to or from `subnet`.
fn fix_for(table: &str, base: &str, hook: Hook, subnet: Subnet) -> String {
    let (dir, addr) = match hook {
        Hook::Input => ("-i", "-s"),
        _ => ("-o", "-d"),
    };
    let (nft_dir, nft_addr) = match hook {
        Hook::Input => ("iifname", "saddr"),
        _ => ("oifname", "daddr"),
    };
    // `ip filter` on nft is iptables' own table (iptables-nft): say it in
    // iptables' words.
    let native = table.strip_prefix("nft ").filter(|t| *t != "ip filter");
    let allow = match native {
        Some(family_table) => {
            format!("nft insert rule {family_table} {base} {nft_dir} \"zkc*\" ip {nft_addr} {subnet} accept")
        }
        None => {
            let cmd = if table.contains("legacy") { "iptables-legacy" } else { "iptables" };
            format!("{cmd} -I {hook} {dir} zkc+ {addr} {subnet} -j ACCEPT")
        }
    };
    format!("let it through ahead of that rule (`{allow}`), or run on a subnet it does not drop (--subnet/--pool)")
}

/// Judge the harness's traffic to `subnet` (client and admin ports)
/// through `tables`: the definite drops, each once.
pub fn judge_host(tables: &[Table], subnet: Subnet, admin_port: u16) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    for (hook, pkt, traffic) in host_packets(subnet, ANY_OUR_VETH, &[CLIENT_PORT, admin_port]) {
        let Verdict::Drop { table, chain, rule, base } = firewall::judge(tables, hook, &pkt) else { continue };
        let dropped_by = if rule == "policy DROP" {
            format!("the {chain} chain's DROP policy ({table})")
        } else {
            format!("`{rule}` ({table}, chain {chain})")
        };
        if let Some(f) = findings.iter_mut().find(|f| f.dropped_by == dropped_by) {
            f.traffic.push_str(&format!("; {traffic}"));
            continue;
        }
        findings.push(Finding { traffic, dropped_by, fix: fix_for(&table, &base, hook, subnet) });
    }
    findings
}

/// The host's IPv4 filter rules: every nftables table (which includes the
/// rules of `iptables` on its nft backend) and the legacy iptables filter
/// table; without `nft`, whatever `iptables-save` shows. Tools that are
/// missing or fail contribute nothing.
pub fn host_tables() -> Vec<Table> {
    let mut tables = Vec::new();
    let have_nft = match sys::run("nft", ["-j", "list", "ruleset"]) {
        Ok(json) => {
            tables.extend(firewall::nft::parse_ruleset(&json).unwrap_or_default());
            true
        }
        Err(_) => false,
    };
    let save = if have_nft { "iptables-legacy-save" } else { "iptables-save" };
    if let Ok(text) = sys::run(save, ["-t", "filter"])
        && let Some(mut t) = firewall::iptables::parse_filter(&text)
    {
        if have_nft {
            t.name = "iptables-legacy filter".into();
        }
        tables.push(t);
    }
    tables
}

/// Whether network namespaces work: the kernel has them and `ip netns`
/// answers.
pub fn check_netns() -> Result<(), HostNetError> {
    if !std::path::Path::new("/proc/self/ns/net").exists() {
        return Err(HostNetError::NoNetns(
            "this kernel has no network namespaces (CONFIG_NET_NS); the local backend needs them".into(),
        ));
    }
    sys::ip(["netns", "list"]).map_err(|e| {
        HostNetError::NoNetns(format!("`ip netns list` failed ({e}); install iproute2 (`apt-get install iproute2`)"))
    })?;
    Ok(())
}

/// The preflight: namespaces work and the host's rules let the harness
/// reach pods in `subnet` on the client and admin ports.
pub fn check(subnet: Subnet, admin_port: u16) -> Result<(), HostNetError> {
    check_netns()?;
    let findings = judge_host(&host_tables(), subnet, admin_port);
    if findings.is_empty() { Ok(()) } else { Err(HostNetError::Blocked(findings)) }
}

/// Judge bridged pod-to-pod traffic inside a bridge namespace whose
/// `bridge-nf-call-iptables` reads `nf_call` and whose own filter rules are
/// `tables`.
pub fn judge_bridge(nf_call: bool, tables: &[Table], subnet: Subnet, ns: &str) -> Vec<Finding> {
    if !nf_call {
        return Vec::new();
    }
    let (a, b) = (subnet.pod_addr(0).unwrap_or(subnet.gateway()), subnet.pod_addr(1).unwrap_or(subnet.gateway()));
    let pkt = Packet {
        src: a,
        dst: b,
        iif: Some("br0".into()),
        oif: Some("br0".into()),
        sport: EPHEMERAL,
        dport: crate::zkconfig::ELECTION_PORT,
        established: false,
    };
    match firewall::judge(tables, Hook::Forward, &pkt) {
        Verdict::Drop { table, chain, rule, .. } => vec![Finding {
            traffic: format!("pod-to-pod traffic across the bridge in namespace {ns}"),
            dropped_by: format!("`{rule}` ({table}, chain {chain}; bridge-nf-call-iptables is 1 there)"),
            fix: format!(
                "turn bridge netfilter off in that namespace only (`ip netns exec {ns} sysctl -w net.bridge.bridge-nf-call-iptables=0`), or let the bridge forward (`ip netns exec {ns} iptables -P FORWARD ACCEPT`)"
            ),
        }],
        _ => Vec::new(),
    }
}

/// After the run's bridge namespace exists: check bridged frames there do
/// not meet a dropping FORWARD chain.
pub fn check_bridge(run: &RunId, subnet: Subnet) -> Result<(), HostNetError> {
    let ns = run.bridge_netns();
    let nf = sys::ip(["netns", "exec", &ns, "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"]).unwrap_or_default();
    if nf.trim() != "1" {
        return Ok(());
    }
    let mut tables = Vec::new();
    if let Ok(json) = sys::ip(["netns", "exec", &ns, "nft", "-j", "list", "ruleset"]) {
        tables.extend(firewall::nft::parse_ruleset(&json).unwrap_or_default());
    }
    let findings = judge_bridge(true, &tables, subnet, &ns);
    if findings.is_empty() { Ok(()) } else { Err(HostNetError::Blocked(findings)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPT_DOCKER: &str = include_str!("../../../tests/fixtures/firewall/iptables-docker.txt");
    const IPT_BLOCKING: &str = include_str!("../../../tests/fixtures/firewall/iptables-blocking.txt");
    const NFT_DOCKER: &str = include_str!("../../../tests/fixtures/firewall/nft-docker.json");
    const NFT_BLOCKING: &str = include_str!("../../../tests/fixtures/firewall/nft-blocking.json");

    fn pool() -> Subnet {
        "10.213.0.0/16".parse().unwrap()
    }

    #[test]
    fn docker_alone_is_quiet() {
        let mut tables = firewall::nft::parse_ruleset(NFT_DOCKER).unwrap();
        tables.push(firewall::iptables::parse_filter(IPT_DOCKER).unwrap());
        assert_eq!(judge_host(&tables, pool(), 8080), vec![]);
    }

    #[test]
    fn an_iptables_reject_of_the_pool_names_the_rule_and_the_fix() {
        let tables = vec![firewall::iptables::parse_filter(IPT_BLOCKING).unwrap()];
        let f = judge_host(&tables, pool(), 8080);
        assert_eq!(f.len(), 1, "one rule, reported once: {f:?}");
        assert!(f[0].traffic.contains("port 2181") && f[0].traffic.contains("port 8080"), "{}", f[0]);
        assert!(f[0].dropped_by.contains("-A host-out -d 10.213.0.0/16"), "{}", f[0]);
        assert!(f[0].fix.contains("iptables -I OUTPUT -o zkc+ -d 10.213.0.0/16 -j ACCEPT"), "{}", f[0]);
        let msg = HostNetError::Blocked(f).to_string();
        assert!(msg.starts_with("the host's packet filter would drop"), "{msg}");
    }

    #[test]
    fn an_nft_drop_gets_an_nft_fix_in_its_base_chain() {
        let tables = firewall::nft::parse_ruleset(NFT_BLOCKING).unwrap();
        let f = judge_host(&tables, pool(), 8080);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].fix.contains("nft insert rule inet hostfw out oifname \"zkc*\" ip daddr 10.213.0.0/16 accept"),
            "{}",
            f[0]
        );
        // A subnet outside the dropped range is fine.
        assert_eq!(judge_host(&tables, "10.99.0.0/24".parse().unwrap(), 8080), vec![]);
    }

    #[test]
    fn bridged_traffic_matters_only_with_bridge_netfilter_on() {
        let docker_like = vec![firewall::iptables::parse_filter(IPT_DOCKER).unwrap()];
        let s: Subnet = "10.213.4.0/24".parse().unwrap();
        assert_eq!(judge_bridge(false, &docker_like, s, "zkc-a1b2c3-br"), vec![]);
        let f = judge_bridge(true, &docker_like, s, "zkc-a1b2c3-br");
        assert_eq!(f.len(), 1);
        assert!(f[0].fix.contains("ip netns exec zkc-a1b2c3-br sysctl -w net.bridge.bridge-nf-call-iptables=0"));
        assert_eq!(judge_bridge(true, &[], s, "zkc-a1b2c3-br"), vec![], "an empty namespace forwards");
    }
}
