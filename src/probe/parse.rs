//! Parsers for the bodies ZooKeeper answers on its probes: the `srvr`,
//! `mntr` and `conf` four-letter words and the admin server's `leader`
//! command. Bodies are parsed; a server that is up but not serving answers
//! with a sentence instead of a report, and that is a state, not an error.

use std::collections::BTreeMap;

use crate::zkconfig::DynamicConfig;

/// The sentence a server prints instead of a report while it is not serving.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// Probe body parse failures.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// A field every report of this kind carries was missing.
    #[error("`{word}` reply lacks `{field}`: {excerpt}")]
    Missing {
        /// The four-letter word.
        word: &'static str,
        /// The missing field.
        field: &'static str,
        /// The start of the body, for the message.
        excerpt: String,
    },
    /// A field was present but malformed.
    #[error("`{word}` reply has a malformed `{field}`: `{value}`")]
    Malformed {
        /// The four-letter word.
        word: &'static str,
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// The 4lw is not in the server's whitelist.
    #[error("`{0}` is not whitelisted on the server (4lw.commands.whitelist)")]
    NotWhitelisted(&'static str),
}

/// A server's role as it reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The quorum leader.
    Leader,
    /// A voting follower.
    Follower,
    /// A non-voting observer.
    Observer,
    /// A standalone server (never expected here: standaloneEnabled=false).
    Standalone,
    /// A read-only server cut off from its quorum.
    #[serde(rename = "read-only")]
    ReadOnly,
}

impl Mode {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "leader" => Self::Leader,
            "follower" => Self::Follower,
            "observer" => Self::Observer,
            "standalone" => Self::Standalone,
            "read-only" | "read_only" => Self::ReadOnly,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Leader => "leader",
            Self::Follower => "follower",
            Self::Observer => "observer",
            Self::Standalone => "standalone",
            Self::ReadOnly => "read-only",
        })
    }
}

/// A serving server's `srvr` report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Srvr {
    /// The version string up to the first `-` or `,` (for example `3.8.0`).
    pub version: String,
    /// The last zxid the server has seen.
    pub zxid: u64,
    /// Its role.
    pub mode: Mode,
    /// Number of znodes.
    pub node_count: u64,
    /// Open client connections.
    pub connections: u64,
}

impl Srvr {
    /// The epoch, the high 32 bits of the zxid.
    pub fn epoch(&self) -> u32 {
        (self.zxid >> 32) as u32
    }
}

/// What `srvr` (or `stat`) said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SrvrReply {
    /// A report: the server is serving.
    Serving(Srvr),
    /// The server is up but not serving (no quorum, or still syncing).
    NotServing,
}

fn field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
}

fn excerpt(body: &str) -> String {
    body.chars().take(80).collect::<String>().replace('\n', "\\n")
}

fn not_whitelisted(body: &str) -> bool {
    body.contains("is not executed because it is not in the whitelist")
}

/// Parse a hex zxid as printed (`0x100000002`).
pub fn parse_zxid(s: &str) -> Option<u64> {
    let s = s.trim();
    u64::from_str_radix(s.strip_prefix("0x").unwrap_or(s), 16).ok()
}

/// Parse a `srvr` or `stat` reply.
pub fn parse_srvr(body: &str) -> Result<SrvrReply, ParseError> {
    const W: &str = "srvr";
    if body.trim_start().starts_with(NOT_SERVING) {
        return Ok(SrvrReply::NotServing);
    }
    if not_whitelisted(body) {
        return Err(ParseError::NotWhitelisted(W));
    }
    let missing = |f| ParseError::Missing { word: W, field: f, excerpt: excerpt(body) };
    let malformed = |f, v: &str| ParseError::Malformed { word: W, field: f, value: v.to_string() };
    let raw_version = field(body, "Zookeeper version").ok_or_else(|| missing("Zookeeper version"))?;
    let version = raw_version.split(['-', ',']).next().unwrap_or(raw_version).trim().to_string();
    let zxid_s = field(body, "Zxid").ok_or_else(|| missing("Zxid"))?;
    let zxid = parse_zxid(zxid_s).ok_or_else(|| malformed("Zxid", zxid_s))?;
    let mode_s = field(body, "Mode").ok_or_else(|| missing("Mode"))?;
    let mode = Mode::parse(mode_s).ok_or_else(|| malformed("Mode", mode_s))?;
    let count = |f: &'static str| -> Result<u64, ParseError> {
        let v = field(body, f).ok_or_else(|| missing(f))?;
        v.parse().map_err(|_| malformed(f, v))
    };
    Ok(SrvrReply::Serving(Srvr {
        version,
        zxid,
        mode,
        node_count: count("Node count")?,
        connections: count("Connections")?,
    }))
}

/// A `mntr` report: every `key<TAB>value` pair, plus typed views of the
/// keys the harness uses.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Mntr {
    /// All pairs as printed.
    pub values: BTreeMap<String, String>,
}

impl Mntr {
    /// `zk_server_state` (leader, follower, observer, standalone).
    pub fn server_state(&self) -> Option<Mode> {
        Mode::parse(self.values.get("zk_server_state")?)
    }
    /// `zk_uptime` in milliseconds (3.6 and later).
    pub fn uptime_ms(&self) -> Option<u64> {
        self.values.get("zk_uptime")?.parse().ok()
    }
    /// `zk_synced_followers` (leaders only).
    pub fn synced_followers(&self) -> Option<u64> {
        self.values.get("zk_synced_followers")?.parse().ok()
    }
    /// `zk_peer_state`, for example `following - broadcast`.
    pub fn peer_state(&self) -> Option<&str> {
        self.values.get("zk_peer_state").map(String::as_str)
    }
    /// A numeric value by key.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.values.get(key)?.parse().ok()
    }
}

/// What `mntr` said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MntrReply {
    /// A report.
    Serving(Mntr),
    /// The server is up but not serving.
    NotServing,
}

/// Parse a `mntr` reply.
pub fn parse_mntr(body: &str) -> Result<MntrReply, ParseError> {
    if body.trim_start().starts_with(NOT_SERVING) {
        return Ok(MntrReply::NotServing);
    }
    if not_whitelisted(body) {
        return Err(ParseError::NotWhitelisted("mntr"));
    }
    let values: BTreeMap<String, String> = body
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    if !values.contains_key("zk_version") {
        return Err(ParseError::Missing { word: "mntr", field: "zk_version", excerpt: excerpt(body) });
    }
    Ok(MntrReply::Serving(Mntr { values }))
}

/// A `conf` report: the static settings and the membership the server has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conf {
    /// `serverId`.
    pub server_id: u64,
    /// The static `key=value` settings before the membership section.
    pub settings: BTreeMap<String, String>,
    /// The membership (with its `version`).
    pub membership: DynamicConfig,
}

/// Parse a `conf` reply. `None` when the server is not serving.
pub fn parse_conf(body: &str) -> Result<Option<Conf>, ParseError> {
    const W: &str = "conf";
    if body.trim_start().starts_with(NOT_SERVING) {
        return Ok(None);
    }
    if not_whitelisted(body) {
        return Err(ParseError::NotWhitelisted(W));
    }
    let (head, members) = match body.split_once("membership:") {
        Some((h, m)) => (h, m),
        None => (body, ""),
    };
    let settings: BTreeMap<String, String> = head
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let id_s = settings.get("serverId").ok_or_else(|| ParseError::Missing {
        word: W,
        field: "serverId",
        excerpt: excerpt(body),
    })?;
    let server_id =
        id_s.parse().map_err(|_| ParseError::Malformed { word: W, field: "serverId", value: id_s.clone() })?;
    let membership = DynamicConfig::parse(members).map_err(|e| ParseError::Malformed {
        word: W,
        field: "membership",
        value: e.to_string(),
    })?;
    Ok(Some(Conf { server_id, settings, membership }))
}

/// The admin server's `/commands/leader` answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeaderInfo {
    /// Whether the answering server leads.
    pub is_leader: bool,
    /// The id of the leader it follows (or itself).
    pub leader_id: Option<u64>,
}

/// Parse the admin server's `/commands/leader` JSON body.
pub fn parse_admin_leader(body: &str) -> Result<LeaderInfo, ParseError> {
    #[derive(serde::Deserialize)]
    struct Raw {
        is_leader: Option<bool>,
        leader_id: Option<i64>,
        error: Option<String>,
    }
    let raw: Raw = serde_json::from_str(body).map_err(|e| ParseError::Malformed {
        word: "leader",
        field: "body",
        value: format!("{e}: {}", excerpt(body)),
    })?;
    if let Some(err) = raw.error.filter(|e| !e.is_empty()) {
        return Err(ParseError::Malformed { word: "leader", field: "error", value: err });
    }
    let is_leader =
        raw.is_leader.ok_or(ParseError::Missing { word: "leader", field: "is_leader", excerpt: excerpt(body) })?;
    Ok(LeaderInfo { is_leader, leader_id: raw.leader_id.and_then(|i| u64::try_from(i).ok()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(version: &str, name: &str) -> String {
        let path = format!("{}/tests/fixtures/4lw/{version}/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const VERSIONS: [&str; 3] = ["3.8.0", "3.9.3", "3.9.6"];

    #[test]
    fn srvr_and_stat_of_real_servers() {
        for v in VERSIONS {
            for word in ["srvr", "stat"] {
                let SrvrReply::Serving(l) = parse_srvr(&fixture(v, &format!("leader-{word}.txt"))).unwrap() else {
                    panic!("{v} leader {word} serves")
                };
                assert_eq!((l.version.as_str(), l.mode), (v, Mode::Leader), "{v} {word}");
                assert!(l.zxid > 0 && l.epoch() >= 1 && l.node_count > 0);
                let SrvrReply::Serving(f) = parse_srvr(&fixture(v, &format!("follower-{word}.txt"))).unwrap() else {
                    panic!("{v} follower {word} serves")
                };
                assert_eq!(f.mode, Mode::Follower);
            }
            assert_eq!(parse_srvr(&fixture(v, "notserving-srvr.txt")).unwrap(), SrvrReply::NotServing);
        }
    }

    #[test]
    fn mntr_of_real_servers() {
        for v in VERSIONS {
            let MntrReply::Serving(l) = parse_mntr(&fixture(v, "leader-mntr.txt")).unwrap() else { panic!() };
            assert_eq!(l.server_state(), Some(Mode::Leader));
            assert_eq!(l.synced_followers(), Some(2), "{v}");
            assert!(l.uptime_ms().is_some_and(|u| u > 0));
            assert_eq!(l.peer_state(), Some("leading - broadcast"));
            let MntrReply::Serving(f) = parse_mntr(&fixture(v, "follower-mntr.txt")).unwrap() else { panic!() };
            assert_eq!(f.server_state(), Some(Mode::Follower));
            assert_eq!(f.peer_state(), Some("following - broadcast"));
            assert_eq!(parse_mntr(&fixture(v, "notserving-mntr.txt")).unwrap(), MntrReply::NotServing);
        }
    }

    #[test]
    fn conf_of_real_servers() {
        for v in VERSIONS {
            let c = parse_conf(&fixture(v, "leader-conf.txt")).unwrap().unwrap();
            assert_eq!(c.membership.servers.len(), 3, "{v}");
            assert!(c.membership.version.is_some_and(|x| x >= 0x1_0000_0000), "{v}: {:?}", c.membership.version);
            assert!(c.settings.contains_key("tickTime"));
            let f = parse_conf(&fixture(v, "follower-conf.txt")).unwrap().unwrap();
            assert_ne!(f.server_id, c.server_id);
            assert_eq!(f.membership, c.membership, "leader and follower agree");
            assert_eq!(parse_conf(&fixture(v, "notserving-conf.txt")).unwrap(), None);
        }
    }

    #[test]
    fn malformed_bodies_say_what_is_missing() {
        let e = parse_srvr("Zookeeper version: 3.8.0\nMode: leader\n").unwrap_err();
        assert!(e.to_string().contains("Zxid"), "{e}");
        let e = parse_srvr("Zookeeper version: 3.8.0\nZxid: 0xzz\nMode: leader\n").unwrap_err();
        assert!(matches!(e, ParseError::Malformed { field: "Zxid", .. }), "{e}");
        let e = parse_srvr("Zookeeper version: 3.8.0\nZxid: 0x1\nMode: boss\n").unwrap_err();
        assert!(matches!(e, ParseError::Malformed { field: "Mode", .. }), "{e}");
        let e = parse_srvr("srvr is not executed because it is not in the whitelist.\n").unwrap_err();
        assert_eq!(e, ParseError::NotWhitelisted("srvr"));
        assert!(parse_mntr("garbage").is_err());
        assert!(parse_conf("membership: \nserver.1=x\n").is_err());
    }

    #[test]
    fn admin_leader_body() {
        let l = parse_admin_leader(
            r#"{"is_leader":false,"leader_id":3,"leader_ip":"zk-2.zk-pods","command":"leader","error":null}"#,
        )
        .unwrap();
        assert_eq!(l, LeaderInfo { is_leader: false, leader_id: Some(3) });
        assert!(
            parse_admin_leader(
                r#"{"command":"leader","error":"This ZooKeeper instance is not currently serving requests"}"#
            )
            .is_err()
        );
        assert!(parse_admin_leader("<html>").is_err());
    }
}
