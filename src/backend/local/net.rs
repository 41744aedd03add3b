//! The host network of one local ensemble: a fence route, a bridge, and one
//! namespace with a veth per pod, plus the hosts files that give pods their
//! stable peer names.
//!
//! Fail closed: before the bridge exists, an `unreachable` route (metric
//! [`FENCE_METRIC`], protocol [`FENCE_PROTO`]) covers the whole subnet, so a
//! packet meant for a pod can never leave through the host's default route,
//! not even while the bridge is being set up or after it is gone. Pod
//! namespaces have no default route at all.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::naming::{self, RunId, Subnet};
use crate::sys::{self, SysError};
use crate::zkconfig::EnsembleNames;

/// Route metric of our fence routes (higher than any connected route).
pub const FENCE_METRIC: u32 = 4242;
/// Route protocol number that marks a route as ours.
pub const FENCE_PROTO: u32 = 213;
/// Where `ip netns exec` finds per-namespace files.
const NETNS_ETC: &str = "/etc/netns";

/// Network set-up failures.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// An `ip` command failed.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// The requested subnet overlaps a route that is not ours.
    #[error(
        "subnet {subnet} overlaps the host route `{route}`; pick another with --subnet (for example one inside {pool})"
    )]
    SubnetInUse {
        /// The requested subnet.
        subnet: Subnet,
        /// The conflicting route, as `ip route` prints it.
        route: String,
        /// The default pool, as a hint.
        pool: &'static str,
    },
    /// No free /24 is left in the pool.
    #[error("no free /24 left in {0}; run `zk-chaos down --all` or pass --subnet")]
    PoolExhausted(Subnet),
    /// After set-up, the route to a pod does not go through our bridge.
    #[error("route to {addr} goes via `{dev}`, not our bridge {bridge}: refusing to send traffic")]
    RouteNotOurs {
        /// The pod address.
        addr: Ipv4Addr,
        /// The device the kernel picked.
        dev: String,
        /// Our bridge.
        bridge: String,
    },
    /// Writing a hosts file failed.
    #[error("cannot write {path}: {source}")]
    Hosts {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The output of `ip -j` could not be read.
    #[error("cannot parse `ip -j` output: {0}")]
    Json(#[from] serde_json::Error),
}

/// One route of the host's routing tables, as far as we need it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct HostRoute {
    /// `dst` as printed (`default`, `10.0.0.0/8`, or a bare address).
    pub dst: String,
    /// Route type (`unicast` when absent).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Output device.
    #[serde(default)]
    pub dev: Option<String>,
    /// Routing protocol.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Routing table.
    #[serde(default)]
    pub table: Option<String>,
}

impl HostRoute {
    /// The destination as a subnet (`None` for `default` and non-IPv4).
    pub fn subnet(&self) -> Option<Subnet> {
        if self.dst == "default" {
            return None;
        }
        let (addr, prefix) = self.dst.split_once('/').unwrap_or((&self.dst, "32"));
        Some(Subnet { network: addr.parse().ok()?, prefix: prefix.parse().ok()? })
    }
    /// Whether this is one of our fence routes.
    pub fn is_fence(&self) -> bool {
        self.kind.as_deref() == Some("unreachable") && self.protocol.as_deref() == Some(&FENCE_PROTO.to_string())
    }
    fn describe(&self) -> String {
        let mut s = self.dst.clone();
        for (k, v) in [("dev", &self.dev), ("proto", &self.protocol), ("table", &self.table)] {
            if let Some(v) = v {
                let _ = write!(s, " {k} {v}");
            }
        }
        s
    }
}

/// Every IPv4 route in every table.
pub fn host_routes() -> Result<Vec<HostRoute>, NetError> {
    let out = sys::ip(["-j", "-4", "route", "show", "table", "all"])?;
    Ok(serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out })?)
}

/// Fail unless `subnet` is free: no route of the host overlaps it, except
/// local/broadcast entries of loopback and none of our own fences.
pub fn check_subnet_free(subnet: Subnet, routes: &[HostRoute]) -> Result<(), NetError> {
    for r in routes {
        let Some(dst) = r.subnet() else { continue };
        if r.table.as_deref() == Some("local") && r.dev.as_deref() == Some("lo") {
            continue;
        }
        if dst.overlaps(&subnet) {
            return Err(NetError::SubnetInUse { subnet, route: r.describe(), pool: naming::DEFAULT_POOL });
        }
    }
    Ok(())
}

/// The first /24 of `pool` that no host route overlaps (our fences count as
/// taken: they belong to other runs, live or crashed).
pub fn allocate_subnet(pool: Subnet, routes: &[HostRoute]) -> Result<Subnet, NetError> {
    allocate_subnet_from(pool, routes, 0)
}

/// The first free /24 of `pool` at or after the `start`-th, wrapping
/// around. Runs start at a random place, so a subnet another run just
/// released is seldom taken again at once (that run's check for leftovers
/// would otherwise find the new run's fence on it).
pub fn allocate_subnet_from(pool: Subnet, routes: &[HostRoute], start: u32) -> Result<Subnet, NetError> {
    let count = (0..).map_while(|i| pool.nth_24(i)).count() as u32;
    (0..count)
        .filter_map(|i| pool.nth_24((start % count.max(1) + i) % count.max(1)))
        .find(|s| check_subnet_free(*s, routes).is_ok())
        .ok_or(NetError::PoolExhausted(pool))
}

/// Install the fence for `subnet`, which also claims the subnet: `false`
/// when a fence for it exists already (another run got there first).
pub fn claim_fence(subnet: Subnet) -> Result<bool, NetError> {
    let (m, p) = (FENCE_METRIC.to_string(), FENCE_PROTO.to_string());
    match sys::ip(["route", "add", "unreachable", &subnet.to_string(), "metric", &m, "proto", &p]) {
        Ok(_) => Ok(true),
        Err(SysError::Failed { stderr, .. }) if stderr.contains("File exists") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Pick a free subnet (`wanted`, or the first free /24 of `pool`) and
/// claim it with its fence, atomically against parallel runs: two runs that
/// pick the same subnet race on the fence, and the loser picks again.
pub fn claim_subnet(wanted: Option<Subnet>, pool: Subnet) -> Result<Subnet, NetError> {
    for _ in 0..64 {
        let routes = host_routes()?;
        let subnet = match wanted {
            Some(s) => {
                check_subnet_free(s, &routes)?;
                s
            }
            None => allocate_subnet_from(pool, &routes, rand::random::<u32>())?,
        };
        if claim_fence(subnet)? {
            return Ok(subnet);
        }
    }
    Err(NetError::PoolExhausted(pool))
}

/// Remove the fence for `subnet` (missing is fine).
pub fn remove_fence(subnet: Subnet) {
    let (m, p) = (FENCE_METRIC.to_string(), FENCE_PROTO.to_string());
    let _ = sys::ip(["route", "del", "unreachable", &subnet.to_string(), "metric", &m, "proto", &p]);
}

/// Name of the bridge inside the run's bridge namespace.
const INNER_BRIDGE: &str = "br0";
/// Name of the uplink (the bridge port that leads to the host) inside the
/// run's bridge namespace.
const INNER_UPLINK: &str = "up0";

/// Create the run's network: a namespace of its own holding the bridge
/// (so bridged pod-to-pod traffic never passes the host's firewall: a
/// running Docker turns on `bridge-nf-call-iptables` and sets `FORWARD` to
/// `DROP` in the host namespace only), and a veth from the host into that
/// bridge carrying the gateway address, so the harness reaches every pod
/// without forwarding on the host.
///
/// Nothing of the host's own settings changes: the only host objects are
/// the veth `zkc<run>br` and its connected route.
pub fn add_bridge(run: &RunId, subnet: Subnet) -> Result<(), NetError> {
    let ns = run.bridge_netns();
    let host = run.bridge();
    sys::ip(["netns", "add", &ns])?;
    // Belt and braces: the namespace's own iptables are empty, but keep
    // bridged frames away from them entirely. Per network namespace; the
    // host's value is untouched.
    for knob in ["bridge-nf-call-iptables", "bridge-nf-call-ip6tables", "bridge-nf-call-arptables"] {
        let _ = sys::ip(["netns", "exec", &ns, "sh", "-c", &format!("echo 0 > /proc/sys/net/bridge/{knob}")]);
    }
    sys::ip(["-n", &ns, "link", "add", INNER_BRIDGE, "type", "bridge"])?;
    sys::ip(["-n", &ns, "link", "set", "lo", "up"])?;
    sys::ip(["-n", &ns, "link", "set", INNER_BRIDGE, "up"])?;
    sys::ip(["link", "add", &host, "type", "veth", "peer", "name", INNER_UPLINK, "netns", &ns])?;
    sys::ip(["-n", &ns, "link", "set", INNER_UPLINK, "master", INNER_BRIDGE, "up"])?;
    sys::ip(["addr", "add", &format!("{}/{}", subnet.gateway(), subnet.prefix), "dev", &host])?;
    sys::ip(["link", "set", &host, "up"])?;
    Ok(())
}

/// Delete the run's bridge namespace and host veth (missing is fine).
pub fn remove_bridge(run: &RunId) {
    remove_netns_by_name(&run.bridge_netns());
    let _ = sys::ip(["link", "del", &run.bridge()]);
}

/// Create the namespace of pod `ordinal`, wire it to the bridge with a veth
/// (`eth0` inside, its peer a port of the bridge in the run's bridge
/// namespace) and give it its address. No default route inside.
pub fn add_pod_netns(run: &RunId, subnet: Subnet, ordinal: u32) -> Result<(), NetError> {
    let ns = run.netns(ordinal);
    let veth = run.veth(ordinal);
    let br_ns = run.bridge_netns();
    let addr = subnet.pod_addr(ordinal).map_err(|e| SysError::Failed {
        command: "allocate pod address".into(),
        status: "error".into(),
        stderr: e.to_string(),
    })?;
    sys::ip(["netns", "add", &ns])?;
    sys::ip(["-n", &br_ns, "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
    sys::ip(["-n", &br_ns, "link", "set", &veth, "master", INNER_BRIDGE, "up"])?;
    sys::ip(["-n", &ns, "addr", "add", &format!("{addr}/{}", subnet.prefix), "dev", "eth0"])?;
    sys::ip(["-n", &ns, "link", "set", "lo", "up"])?;
    sys::ip(["-n", &ns, "link", "set", "eth0", "up"])?;
    Ok(())
}

/// Delete the namespace of pod `ordinal`, its veth and its hosts file
/// (missing pieces are fine).
pub fn remove_pod_netns(run: &RunId, ordinal: u32) {
    remove_netns_by_name(&run.netns(ordinal));
    let _ = sys::ip(["-n", &run.bridge_netns(), "link", "del", &run.veth(ordinal)]);
}

/// Delete a namespace and its `/etc/netns` directory by name.
pub fn remove_netns_by_name(ns: &str) {
    let _ = sys::ip(["netns", "del", ns]);
    let _ = std::fs::remove_dir_all(PathBuf::from(NETNS_ETC).join(ns));
}

/// Render the hosts file every pod sees: loopback plus each pod's address
/// under its FQDN, its short `<pod>.<name>-pods` name and its pod name.
pub fn render_hosts(names: &EnsembleNames, pods: &[(u32, Ipv4Addr)]) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (ord, addr) in pods {
        let _ = writeln!(out, "{addr}\t{} {} {}", names.pod_fqdn(*ord), names.pod_short_host(*ord), names.pod(*ord));
    }
    out
}

/// Write `hosts` into `/etc/netns/<ns>/hosts` in place (the same inode, so
/// processes already running in the namespace see the change).
pub fn write_hosts(ns: &str, hosts: &str) -> Result<(), NetError> {
    let dir = PathBuf::from(NETNS_ETC).join(ns);
    let path = dir.join("hosts");
    let io = |source| NetError::Hosts { path: path.clone(), source };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&path).map_err(io)?;
    f.write_all(hosts.as_bytes()).map_err(io)?;
    Ok(())
}

/// Check the kernel routes `addr` through our bridge.
pub fn verify_route(run: &RunId, addr: Ipv4Addr) -> Result<(), NetError> {
    #[derive(serde::Deserialize)]
    struct Got {
        #[serde(default)]
        dev: Option<String>,
    }
    let out = sys::ip(["-j", "route", "get", &addr.to_string()])?;
    let got: Vec<Got> = serde_json::from_str(&out)?;
    let dev = got.into_iter().next().and_then(|g| g.dev).unwrap_or_default();
    if dev != run.bridge() {
        return Err(NetError::RouteNotOurs { addr, dev, bridge: run.bridge() });
    }
    Ok(())
}

/// Drop all traffic between pod `ordinal` and `peer` by blackhole routes on
/// both sides (inside the two namespaces). Idempotent.
pub fn block(run: &RunId, ordinal: u32, own: Ipv4Addr, peer_ordinal: u32, peer: Ipv4Addr) -> Result<(), NetError> {
    sys::ip(["-n", &run.netns(ordinal), "route", "replace", "blackhole", &format!("{peer}/32")])?;
    sys::ip(["-n", &run.netns(peer_ordinal), "route", "replace", "blackhole", &format!("{own}/32")])?;
    Ok(())
}

/// Undo [`block`]. Missing routes are fine.
pub fn unblock(run: &RunId, ordinal: u32, own: Ipv4Addr, peer_ordinal: u32, peer: Ipv4Addr) {
    let _ = sys::ip(["-n", &run.netns(ordinal), "route", "del", "blackhole", &format!("{peer}/32")]);
    let _ = sys::ip(["-n", &run.netns(peer_ordinal), "route", "del", "blackhole", &format!("{own}/32")]);
}

/// Names of all existing network namespaces that are ours.
pub fn our_namespaces() -> Vec<String> {
    let out = sys::ip(["netns", "list"]).unwrap_or_default();
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| naming::is_our_netns(n))
        .map(String::from)
        .collect()
}

/// Names of all existing links that are ours.
pub fn our_links() -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Link {
        ifname: String,
    }
    let out = sys::ip(["-j", "link", "show"]).unwrap_or_default();
    let links: Vec<Link> = serde_json::from_str(&out).unwrap_or_default();
    links.into_iter().map(|l| l.ifname).filter(|n| naming::is_our_link(n)).collect()
}

/// Directories under `/etc/netns` that are ours (their namespace may be gone).
pub fn our_hosts_dirs() -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(NETNS_ETC) else { return Vec::new() };
    dir.filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(naming::is_our_netns))
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(json: &str) -> Vec<HostRoute> {
        serde_json::from_str(json).unwrap()
    }

    const HOST: &str = r#"[
        {"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},
        {"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.0.2.2","flags":[]},
        {"type":"unreachable","dst":"10.213.0.0/24","protocol":"213","metric":4242,"flags":[]},
        {"type":"local","dst":"127.0.0.0/8","table":"local","protocol":"kernel","scope":"host","dev":"lo","flags":[]},
        {"dst":"10.213.1.0/24","dev":"zkca1b2c3br","protocol":"kernel","flags":[]}
    ]"#;

    #[test]
    fn overlapping_host_route_is_rejected_with_the_route() {
        let r = routes(HOST);
        let err = check_subnet_free("192.0.2.128/25".parse().unwrap(), &r).unwrap_err().to_string();
        assert!(err.contains("192.0.2.0/24 dev eth0"), "{err}");
        check_subnet_free("10.50.0.0/24".parse().unwrap(), &r).unwrap();
        assert!(check_subnet_free("10.213.0.0/16".parse().unwrap(), &r).is_err());
    }

    #[test]
    fn allocation_skips_fenced_and_used_subnets() {
        let r = routes(HOST);
        assert!(r[2].is_fence() && !r[1].is_fence());
        let pool = naming::DEFAULT_POOL.parse().unwrap();
        assert_eq!(allocate_subnet(pool, &r).unwrap().to_string(), "10.213.2.0/24");
        let full: Vec<HostRoute> =
            routes(r#"[{"type":"unreachable","dst":"10.213.0.0/16","protocol":"213","flags":[]}]"#);
        assert!(matches!(allocate_subnet(pool, &full), Err(NetError::PoolExhausted(_))));
        // From a start, wrapping around, still skipping what is taken.
        assert_eq!(allocate_subnet_from(pool, &r, 255).unwrap().to_string(), "10.213.255.0/24");
        assert_eq!(allocate_subnet_from(pool, &r, 256 + 1).unwrap().to_string(), "10.213.2.0/24");
        assert!(matches!(allocate_subnet_from(pool, &full, 7), Err(NetError::PoolExhausted(_))));
    }

    #[test]
    fn hosts_file_lists_every_name_form() {
        let names = EnsembleNames::new("zk", "default");
        let h = render_hosts(&names, &[(0, Ipv4Addr::new(10, 213, 2, 10)), (1, Ipv4Addr::new(10, 213, 2, 11))]);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.213.2.11\tzk-1.zk-pods.default.svc.cluster.local zk-1.zk-pods zk-1\n"), "{h}");
    }
}
