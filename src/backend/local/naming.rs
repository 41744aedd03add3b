//! Names and addresses of everything the local backend creates on the host.
//!
//! Every namespace, bridge and veth carries the prefix [`PREFIX`] plus a run
//! id, so parallel runs never collide and cleanup finds exactly ours:
//! namespaces `zkc-<run>-<ordinal>`, bridge `zkc<run>br`, host-side veth
//! `zkc<run>v<ordinal>` (interface names must fit in 15 bytes).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use rand::Rng as _;

/// The prefix of every host object the local backend creates.
pub const PREFIX: &str = "zkc";

/// The pool per-run subnets are allocated from by default.
pub const DEFAULT_POOL: &str = "10.213.0.0/16";

/// Invalid names, ids or subnets.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NamingError {
    /// A run id that is not six lowercase hex digits.
    #[error("invalid run id `{0}`: expected 6 lowercase hex digits")]
    RunId(String),
    /// A cluster name that is not a DNS-1035 label.
    #[error(
        "invalid cluster name `{0}`: expected 1-40 characters of a-z, 0-9 and '-', starting with a letter and not ending with '-'"
    )]
    ClusterName(String),
    /// A subnet that cannot be parsed or is too small.
    #[error("invalid subnet `{0}`: {1}")]
    Subnet(String, &'static str),
    /// More pods than the subnet has addresses for.
    #[error("subnet {subnet} has room for {capacity} pods, {wanted} requested")]
    SubnetFull {
        /// The subnet.
        subnet: Subnet,
        /// How many pods fit.
        capacity: u32,
        /// How many were asked for.
        wanted: u32,
    },
}

/// A run id: six lowercase hex digits, unique per `up`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

impl RunId {
    /// A fresh random run id.
    pub fn generate() -> Self {
        Self(format!("{:06x}", rand::rng().random_range(0..0x100_0000u32)))
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Namespace name of the pod with `ordinal`.
    pub fn netns(&self, ordinal: u32) -> String {
        format!("{PREFIX}-{}-{ordinal}", self.0)
    }
    /// Bridge name of the run.
    pub fn bridge(&self) -> String {
        format!("{PREFIX}{}br", self.0)
    }
    /// The namespace holding the run's bridge (every pod's veth peer is a
    /// port of it), apart from the host's firewall.
    pub fn bridge_netns(&self) -> String {
        format!("{PREFIX}-{}-{BRIDGE_NETNS_SUFFIX}", self.0)
    }
    /// Bridge-side veth name of the pod with `ordinal` (in the bridge
    /// namespace).
    pub fn veth(&self, ordinal: u32) -> String {
        format!("{PREFIX}{}v{ordinal}", self.0)
    }
    /// The marker our server processes carry on their command line.
    pub fn process_marker(&self) -> String {
        format!("{MARKER_PREFIX}{}", self.0)
    }
}

/// The run of a server process of ours, from its argument list: `Some`
/// only for a `java` whose arguments include ZooKeeper's server main class
/// and our marker `-Dzkchaos.run=<run id>` as an argument of its own, with
/// a well-formed run id. A process that merely mentions the marker inside
/// another argument (a shell command, an editor, a grep) is not ours.
pub fn server_run(argv: &[String]) -> Option<RunId> {
    let program = argv.first()?;
    if std::path::Path::new(program).file_name().and_then(|n| n.to_str()) != Some("java") {
        return None;
    }
    if !argv.iter().any(|a| a == crate::dist::MAIN_CLASS) {
        return None;
    }
    let mut runs = argv.iter().filter_map(|a| a.strip_prefix(MARKER_PREFIX));
    let run = RunId::try_from(runs.next()?.to_string()).ok()?;
    // Two markers: not a command line we wrote.
    runs.next().is_none().then_some(run)
}

/// What our marker argument starts with.
const MARKER_PREFIX: &str = "-Dzkchaos.run=";

impl TryFrom<String> for RunId {
    type Error = NamingError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(s))
        } else {
            Err(NamingError::RunId(s))
        }
    }
}

impl From<RunId> for String {
    fn from(r: RunId) -> String {
        r.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The last part of the name of a run's bridge namespace.
const BRIDGE_NETNS_SUFFIX: &str = "br";

/// Whether a network namespace name is one of ours (any run): a pod's or a
/// run's bridge namespace.
pub fn is_our_netns(name: &str) -> bool {
    run_of_netns(name).is_some()
}

/// The run a namespace of ours belongs to (a pod's or the bridge's).
pub fn run_of_netns(name: &str) -> Option<RunId> {
    if let Some((run, _)) = parse_netns(name) {
        return Some(run);
    }
    let rest = name.strip_prefix(PREFIX)?.strip_prefix('-')?;
    let (run, kind) = rest.split_once('-')?;
    (kind == BRIDGE_NETNS_SUFFIX).then(|| RunId::try_from(run.to_string()).ok()).flatten()
}

/// The run id and ordinal of one of our namespace names.
pub fn parse_netns(name: &str) -> Option<(RunId, u32)> {
    let rest = name.strip_prefix(PREFIX)?.strip_prefix('-')?;
    let (run, ord) = rest.split_once('-')?;
    Some((RunId::try_from(run.to_string()).ok()?, ord.parse().ok()?))
}

/// Whether an interface name is one of ours (any run): `zkc<run>br` or
/// `zkc<run>v<n>`.
pub fn is_our_link(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else { return false };
    if rest.len() < 7 || !rest.is_char_boundary(6) {
        return false;
    }
    let (run, kind) = rest.split_at(6);
    RunId::try_from(run.to_string()).is_ok()
        && (kind == "br" || kind.strip_prefix('v').is_some_and(|n| !n.is_empty() && n.parse::<u32>().is_ok()))
}

/// Check a cluster name: a DNS-1035 label of at most 40 characters, so every
/// derived Kubernetes name stays valid.
pub fn validate_cluster_name(name: &str) -> Result<(), NamingError> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(NamingError::ClusterName(name.to_string())) }
}

/// An IPv4 subnet in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    /// The network address (host bits zero).
    pub network: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
}

/// The first host number handed to pods (`.1` is the bridge).
const FIRST_POD_HOST: u32 = 10;

impl Subnet {
    fn mask(&self) -> u32 {
        if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) }
    }
    /// Whether `addr` lies inside this subnet.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & self.mask() == u32::from(self.network)
    }
    /// Whether the two subnets share any address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let shorter = self.prefix.min(other.prefix);
        let m = if shorter == 0 { 0 } else { u32::MAX << (32 - u32::from(shorter)) };
        u32::from(self.network) & m == u32::from(other.network) & m
    }
    /// The host's address on the bridge (`.1`).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }
    /// How many pods fit (from `.10` to the last address before broadcast).
    pub fn pod_capacity(&self) -> u32 {
        let size = 1u64 << (32 - u32::from(self.prefix));
        u32::try_from(size.saturating_sub(u64::from(FIRST_POD_HOST) + 1)).unwrap_or(u32::MAX)
    }
    /// The address of the pod with `ordinal`.
    pub fn pod_addr(&self, ordinal: u32) -> Result<Ipv4Addr, NamingError> {
        if ordinal >= self.pod_capacity() {
            return Err(NamingError::SubnetFull { subnet: *self, capacity: self.pod_capacity(), wanted: ordinal + 1 });
        }
        Ok(Ipv4Addr::from(u32::from(self.network) + FIRST_POD_HOST + ordinal))
    }
    /// The `index`-th /24 inside this (larger) pool, if it exists.
    pub fn nth_24(&self, index: u32) -> Option<Subnet> {
        if self.prefix > 24 || index >= 1 << (24 - u32::from(self.prefix)) {
            return None;
        }
        Some(Subnet { network: Ipv4Addr::from(u32::from(self.network) + (index << 8)), prefix: 24 })
    }
}

impl FromStr for Subnet {
    type Err = NamingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why| NamingError::Subnet(s.to_string(), why);
        let (addr, prefix) = s.split_once('/').ok_or_else(|| bad("expected CIDR form like 10.213.0.0/24"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| bad("prefix length is not a number"))?;
        if !(8..=28).contains(&prefix) {
            return Err(bad("prefix length must be between /8 and /28"));
        }
        let subnet = Subnet { network: addr, prefix };
        if u32::from(addr) & !subnet.mask() != 0 {
            return Err(bad("host bits are set (use the network address)"));
        }
        if addr.is_loopback() || addr.is_multicast() || addr.is_unspecified() {
            return Err(bad("loopback, multicast and 0.0.0.0 ranges are not allowed"));
        }
        Ok(subnet)
    }
}

impl TryFrom<String> for Subnet {
    type Error = NamingError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_our_server_command_lines_are_ours() {
        let main = crate::dist::MAIN_CLASS;
        let run = RunId::try_from("a1b2c3".to_string()).unwrap();
        let ours = argv(&["/usr/lib/jvm/bin/java", "-Xmx96m", "-Dzkchaos.run=a1b2c3", "-cp", "x.jar", main, "zoo.cfg"]);
        assert_eq!(server_run(&ours), Some(run));
        // The marker inside someone else's argument (a shell, an editor, a grep).
        let shell = argv(&["sh", "-c", &format!("sleep 60 # -Dzkchaos.run=a1b2c3 {main}")]);
        assert_eq!(server_run(&shell), None);
        let grep = argv(&["grep", "-Dzkchaos.run=a1b2c3", main]);
        assert_eq!(server_run(&grep), None, "not a java");
        let other_java = argv(&["java", "-Dzkchaos.run=a1b2c3", "-jar", "app.jar"]);
        assert_eq!(server_run(&other_java), None, "not ZooKeeper's main class");
        let prefix = argv(&["java", "-Dzkchaos.run=a1b2c3-and-more", main]);
        assert_eq!(server_run(&prefix), None, "not a run id");
        let quoted = argv(&["java", "-Dfoo=-Dzkchaos.run=a1b2c3", main]);
        assert_eq!(server_run(&quoted), None, "the marker is not its own argument");
    }

    #[test]
    fn names_fit_linux_limits_and_are_recognised() {
        let run = RunId::try_from("a1b2c3".to_string()).unwrap();
        assert_eq!(run.netns(4), "zkc-a1b2c3-4");
        assert_eq!(run.bridge(), "zkca1b2c3br");
        assert_eq!(run.veth(98), "zkca1b2c3v98");
        assert!(run.veth(9999).len() <= 15, "IFNAMSIZ");
        assert!(is_our_netns("zkc-a1b2c3-4"));
        assert_eq!(run.bridge_netns(), "zkc-a1b2c3-br");
        assert!(is_our_netns(&run.bridge_netns()));
        assert_eq!(run_of_netns("zkc-a1b2c3-br"), Some(run.clone()));
        assert_eq!(run_of_netns("zkc-a1b2c3-7"), Some(run.clone()));
        assert_eq!(parse_netns("zkc-a1b2c3-br"), None, "the bridge namespace is no pod's");
        assert_eq!(parse_netns("zkc-a1b2c3-12"), Some((run.clone(), 12)));
        assert!(is_our_link("zkca1b2c3br") && is_our_link("zkca1b2c3v0"));
        for other in [
            "zkc-other",
            "zkcxyzxyzbr",
            "zkca1b2c3",
            "zkca1b2c3v",
            "docker0",
            "zkca1b2c3veth",
            "zkc-a1b2c3-x",
            "zkc-a1b2c3-brr",
        ] {
            assert!(!is_our_link(other) && !is_our_netns(other), "{other}");
        }
        assert!(RunId::try_from("A1B2C3".to_string()).is_err());
    }

    #[test]
    fn cluster_names_follow_dns_1035() {
        for ok in ["zk", "zk-main", "a1"] {
            validate_cluster_name(ok).unwrap();
        }
        for bad in ["", "Zk", "1zk", "zk-", "zk_main", &"z".repeat(41)] {
            assert!(validate_cluster_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subnet_addresses() {
        let s: Subnet = "10.213.7.0/24".parse().unwrap();
        assert_eq!(s.gateway(), Ipv4Addr::new(10, 213, 7, 1));
        assert_eq!(s.pod_addr(0).unwrap(), Ipv4Addr::new(10, 213, 7, 10));
        assert_eq!(s.pod_capacity(), 245);
        assert!(s.pod_addr(245).is_err());
        let pool: Subnet = DEFAULT_POOL.parse().unwrap();
        assert_eq!(pool.nth_24(7), Some(s));
        assert_eq!(pool.nth_24(256), None);
        assert!(pool.overlaps(&s) && s.overlaps(&pool));
        assert!(!s.overlaps(&"10.213.8.0/24".parse().unwrap()));
        let small: Subnet = "10.9.0.16/28".parse().unwrap();
        assert_eq!(small.pod_capacity(), 5);
    }

    #[test]
    fn bad_subnets_say_why() {
        for (bad, why) in [
            ("10.0.0.0", "CIDR"),
            ("10.0.0.1/24", "host bits"),
            ("127.0.0.0/24", "loopback"),
            ("10.0.0.0/30", "between"),
            ("10.0.0.0/x", "number"),
        ] {
            let msg = bad.parse::<Subnet>().unwrap_err().to_string();
            assert!(msg.contains(why), "{bad}: {msg}");
        }
    }

    proptest! {
        #[test]
        fn pod_addresses_are_distinct_inside_and_never_the_gateway(a in (1u8..=223).prop_filter("not loopback", |a| *a != 127), b: u8, ords in proptest::collection::btree_set(0u32..245, 1..20)) {
            let s: Subnet = format!("{a}.{b}.3.0/24").parse().unwrap();
            let addrs: std::collections::BTreeSet<_> = ords.iter().map(|o| s.pod_addr(*o).unwrap()).collect();
            prop_assert_eq!(addrs.len(), ords.len());
            for addr in addrs {
                prop_assert!(s.contains(addr));
                prop_assert_ne!(addr, s.gateway());
                prop_assert_ne!(u32::from(addr) & 0xff, 255);
            }
        }

        #[test]
        fn run_ids_round_trip(_x in 0..10u8) {
            let r = RunId::generate();
            prop_assert!(is_our_link(&r.bridge()));
            prop_assert_eq!(parse_netns(&r.netns(3)), Some((r.clone(), 3)));
        }
    }
}
