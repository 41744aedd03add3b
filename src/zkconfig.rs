//! The one place that renders what a ZooKeeper server reads at start:
//! `myid`, `zoo.cfg`, the dynamic config file, and the JVM flags that carry
//! the super-user digest. Both backends (local processes and the Kubernetes
//! operator) render through here, so a zoo.cfg is the same in both.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use rand::Rng as _;
use sha1::{Digest as _, Sha1};

/// Default client port.
pub const CLIENT_PORT: u16 = 2181;
/// Default quorum (follower to leader) port.
pub const QUORUM_PORT: u16 = 2888;
/// Default leader election port.
pub const ELECTION_PORT: u16 = 3888;
/// Default admin server port.
pub const ADMIN_PORT: u16 = 8080;

/// Four-letter words the harness (and the operator's probes) rely on.
pub const FOUR_LETTER_WORDS: &[&str] = &["srvr", "stat", "mntr", "conf", "ruok", "cons", "envi", "isro"];

/// zoo.cfg keys the operator owns; a user override of any of them is rejected.
pub const OPERATOR_OWNED_KEYS: &[&str] = &[
    "dataDir",
    "dataLogDir",
    "clientPort",
    "dynamicConfigFile",
    "standaloneEnabled",
    "reconfigEnabled",
    "skipACL",
    "4lw.commands.whitelist",
    "admin.enableServer",
    "admin.serverPort",
    "quorumListenOnAllIPs",
    "DigestAuthenticationProvider.superDigest",
];

/// Errors from rendering or parsing ZooKeeper configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A user override names a key the operator owns.
    #[error("zoo.cfg key `{0}` is managed by zk-chaos and cannot be overridden")]
    OwnedKey(String),
    /// A user override has an empty key or a key/value with a newline or `=`.
    #[error("invalid zoo.cfg override `{key}`: {reason}")]
    InvalidOverride {
        /// The offending key.
        key: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A dynamic config line could not be parsed.
    #[error("line {line}: expected `server.<id>=<host>:<quorum>:<election>[:role];[<addr>:]<client>`, got `{text}`")]
    BadServerLine {
        /// 1-based line number.
        line: usize,
        /// The text of the line.
        text: String,
    },
}

/// Names that mirror the Kubernetes objects of one ensemble (the KubeDB
/// layout): pods `<name>-<ordinal>`, client Service `<name>`, headless
/// Service `<name>-pods`, admin Service `<name>-admin-server`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EnsembleNames {
    /// The cluster name (`metadata.name` of the ZookeeperCluster).
    pub name: String,
    /// The Kubernetes namespace (on the local backend, a label only).
    pub namespace: String,
}

impl EnsembleNames {
    /// Names for cluster `name` in Kubernetes namespace `namespace`.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self { name: name.into(), namespace: namespace.into() }
    }
    /// `<name>-<ordinal>`, the pod name.
    pub fn pod(&self, ordinal: u32) -> String {
        format!("{}-{ordinal}", self.name)
    }
    /// `<name>-pods`, the headless Service.
    pub fn headless_service(&self) -> String {
        format!("{}-pods", self.name)
    }
    /// `<name>`, the client Service.
    pub fn client_service(&self) -> String {
        self.name.clone()
    }
    /// `<name>-admin-server`, the admin server Service.
    pub fn admin_service(&self) -> String {
        format!("{}-admin-server", self.name)
    }
    /// `<name>-<ordinal>.<name>-pods`, the short stable peer name.
    pub fn pod_short_host(&self, ordinal: u32) -> String {
        format!("{}.{}", self.pod(ordinal), self.headless_service())
    }
    /// `<name>-<ordinal>.<name>-pods.<namespace>.svc.cluster.local`, the
    /// fully qualified stable peer name used in the dynamic config.
    pub fn pod_fqdn(&self, ordinal: u32) -> String {
        format!("{}.{}.svc.cluster.local", self.pod_short_host(ordinal), self.namespace)
    }
}

/// The ZooKeeper server id of the pod with `ordinal` (ids start at 1).
pub fn server_id(ordinal: u32) -> u64 {
    u64::from(ordinal) + 1
}

/// The pod ordinal of ZooKeeper server id `id` (inverse of [`server_id`]).
pub fn ordinal_of(id: u64) -> Option<u32> {
    id.checked_sub(1).and_then(|o| u32::try_from(o).ok())
}

/// Voting role of a member in the dynamic config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A voting member.
    Participant,
    /// A non-voting member that follows the leader.
    Observer,
}

/// One `server.N=` line of the dynamic config.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerEntry {
    /// The server id (`myid`).
    pub id: u64,
    /// The peer host name or address.
    pub host: String,
    /// Quorum port.
    pub quorum_port: u16,
    /// Election port.
    pub election_port: u16,
    /// Voting role.
    pub role: Role,
    /// Client address (`0.0.0.0` when listening on all addresses).
    pub client_addr: String,
    /// Client port.
    pub client_port: u16,
}

impl ServerEntry {
    /// The entry for the pod with `ordinal`, with default ports, listening
    /// for clients on all addresses.
    pub fn for_pod(names: &EnsembleNames, ordinal: u32, role: Role) -> Self {
        Self {
            id: server_id(ordinal),
            host: names.pod_fqdn(ordinal),
            quorum_port: QUORUM_PORT,
            election_port: ELECTION_PORT,
            role,
            client_addr: "0.0.0.0".into(),
            client_port: CLIENT_PORT,
        }
    }

    /// The right-hand side of `server.N=`, as `reconfig -add` also takes it.
    pub fn spec(&self) -> String {
        let role = match self.role {
            Role::Participant => "participant",
            Role::Observer => "observer",
        };
        format!(
            "{}:{}:{}:{role};{}:{}",
            self.host, self.quorum_port, self.election_port, self.client_addr, self.client_port
        )
    }

    /// The whole `server.N=...` line.
    pub fn line(&self) -> String {
        format!("server.{}={}", self.id, self.spec())
    }
}

/// A dynamic configuration: the members, and the config version when known
/// (ZooKeeper prints it as `version=<hex>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct DynamicConfig {
    /// Members sorted by id.
    pub servers: Vec<ServerEntry>,
    /// The config version (a zxid), when the text carried one.
    pub version: Option<u64>,
}

impl DynamicConfig {
    /// Participants for ordinals `0..replicas`.
    pub fn for_replicas(names: &EnsembleNames, replicas: u32) -> Self {
        let servers = (0..replicas).map(|o| ServerEntry::for_pod(names, o, Role::Participant)).collect();
        Self { servers, version: None }
    }

    /// Render the dynamic config file body (without a version line: the
    /// server assigns versions itself).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.servers {
            let _ = writeln!(out, "{}", s.line());
        }
        out
    }

    /// Parse the body of a dynamic config file, the `conf` 4lw membership
    /// section, or the `/zookeeper/config` znode. Unrelated `key=value`
    /// lines are ignored; `version=<hex>` is kept.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut servers = Vec::new();
        let mut version = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if let Some(v) = line.strip_prefix("version=") {
                version = u64::from_str_radix(v.trim(), 16).ok();
                continue;
            }
            let Some(rest) = line.strip_prefix("server.") else {
                continue;
            };
            let bad = || ConfigError::BadServerLine { line: i + 1, text: raw.to_string() };
            let (id, spec) = rest.split_once('=').ok_or_else(bad)?;
            let id: u64 = id.parse().map_err(|_| bad())?;
            servers.push(parse_server_spec(id, spec).ok_or_else(bad)?);
        }
        servers.sort_by_key(|s| s.id);
        Ok(Self { servers, version })
    }

    /// Ids of the voting members.
    pub fn voters(&self) -> impl Iterator<Item = u64> + '_ {
        self.servers.iter().filter(|s| s.role == Role::Participant).map(|s| s.id)
    }

    /// How many voters make a majority of this config.
    pub fn majority(&self) -> usize {
        self.voters().count() / 2 + 1
    }
}

fn parse_server_spec(id: u64, spec: &str) -> Option<ServerEntry> {
    let (peer, client) = match spec.split_once(';') {
        Some((p, c)) => (p, Some(c)),
        None => (spec, None),
    };
    let mut parts = peer.split(':');
    let host = parts.next()?.to_string();
    let quorum_port = parts.next()?.parse().ok()?;
    let election_port = parts.next()?.parse().ok()?;
    let role = match parts.next() {
        None | Some("participant") => Role::Participant,
        Some("observer") => Role::Observer,
        Some(_) => return None,
    };
    if parts.next().is_some() || host.is_empty() {
        return None;
    }
    let (client_addr, client_port) = match client {
        None => ("0.0.0.0".to_string(), CLIENT_PORT),
        Some(c) => match c.rsplit_once(':') {
            Some((a, p)) => (a.to_string(), p.parse().ok()?),
            None => ("0.0.0.0".to_string(), c.parse().ok()?),
        },
    };
    Some(ServerEntry { id, host, quorum_port, election_port, role, client_addr, client_port })
}

/// Settings that shape `zoo.cfg` beyond the members.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerSettings {
    /// `tickTime` in milliseconds.
    pub tick_time_ms: u32,
    /// `initLimit` in ticks.
    pub init_limit: u32,
    /// `syncLimit` in ticks.
    pub sync_limit: u32,
    /// Admin server port.
    pub admin_port: u16,
    /// User overrides, validated against [`OPERATOR_OWNED_KEYS`].
    pub overrides: BTreeMap<String, String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { tick_time_ms: 2000, init_limit: 10, sync_limit: 5, admin_port: ADMIN_PORT, overrides: BTreeMap::new() }
    }
}

impl ServerSettings {
    /// Check user overrides: no owned keys, no empty keys, no newlines.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (k, v) in &self.overrides {
            if OPERATOR_OWNED_KEYS.iter().any(|o| o.eq_ignore_ascii_case(k)) || is_member_key(k) {
                return Err(ConfigError::OwnedKey(k.clone()));
            }
            let reason = if k.trim().is_empty() {
                Some("empty key")
            } else if k.contains(['=', '\n', '\r', ' ']) {
                Some("key contains `=`, a space or a newline")
            } else if v.contains(['\n', '\r']) {
                Some("value contains a newline")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(ConfigError::InvalidOverride { key: k.clone(), reason });
            }
        }
        Ok(())
    }
}

/// Whether `key` is a member line of the dynamic config (`server.N`,
/// `group.N`, `weight.N`): the operator writes those.
fn is_member_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    ["server.", "group.", "weight."]
        .iter()
        .any(|p| lower.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

/// Render `zoo.cfg` for a server whose data lives in `data_dir` and whose
/// dynamic config is `dynamic_file` (both as the server sees them).
pub fn render_zoo_cfg(settings: &ServerSettings, data_dir: &str, dynamic_file: &str) -> Result<String, ConfigError> {
    settings.validate()?;
    let mut out = String::from("# rendered by zk-chaos; the server rewrites dynamicConfigFile on reconfig\n");
    let base: [(&str, String); 11] = [
        ("tickTime", settings.tick_time_ms.to_string()),
        ("initLimit", settings.init_limit.to_string()),
        ("syncLimit", settings.sync_limit.to_string()),
        ("dataDir", data_dir.to_string()),
        ("standaloneEnabled", "false".into()),
        ("reconfigEnabled", "true".into()),
        ("quorumListenOnAllIPs", "true".into()),
        ("4lw.commands.whitelist", FOUR_LETTER_WORDS.join(",")),
        ("admin.enableServer", "true".into()),
        ("admin.serverPort", settings.admin_port.to_string()),
        ("dynamicConfigFile", dynamic_file.to_string()),
    ];
    for (k, v) in base.iter() {
        if !settings.overrides.contains_key(*k) {
            let _ = writeln!(out, "{k}={v}");
        }
    }
    for (k, v) in &settings.overrides {
        let _ = writeln!(out, "{k}={v}");
    }
    Ok(out)
}

/// The body of the `myid` file for the pod with `ordinal`.
pub fn render_myid(ordinal: u32) -> String {
    format!("{}\n", server_id(ordinal))
}

/// The super-user credential that authorises `reconfig` (never `skipACL`).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SuperCredential {
    /// The user name (`super`).
    pub user: String,
    /// The clear-text password, kept by the harness (a Secret in Kubernetes).
    pub password: String,
}

impl std::fmt::Debug for SuperCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuperCredential").field("user", &self.user).field("password", &"<redacted>").finish()
    }
}

impl Default for SuperCredential {
    /// The `super` user without a password: what a run's state holds once
    /// its secret is gone (the ensemble was removed).
    fn default() -> Self {
        Self { user: "super".into(), password: String::new() }
    }
}

impl SuperCredential {
    /// A fresh credential with a random 24-character password.
    pub fn generate() -> Self {
        let password: String = rand::rng().sample_iter(&rand::distr::Alphanumeric).take(24).map(char::from).collect();
        Self { user: "super".into(), password }
    }

    /// ZooKeeper's digest form, `user:base64(sha1(user:password))`.
    pub fn digest(&self) -> String {
        let hash = Sha1::digest(format!("{}:{}", self.user, self.password).as_bytes());
        format!("{}:{}", self.user, base64::engine::general_purpose::STANDARD.encode(hash))
    }

    /// The bytes a client passes to `addauth digest`.
    pub fn auth_bytes(&self) -> Vec<u8> {
        format!("{}:{}", self.user, self.password).into_bytes()
    }

    /// The JVM system property that installs the digest on a server.
    pub fn jvm_flag(&self) -> String {
        format!("-Dzookeeper.DigestAuthenticationProvider.superDigest={}", self.digest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> EnsembleNames {
        EnsembleNames::new("zk", "default")
    }

    #[test]
    fn names_mirror_the_statefulset_layout() {
        let n = names();
        assert_eq!(n.pod(2), "zk-2");
        assert_eq!(n.headless_service(), "zk-pods");
        assert_eq!(n.admin_service(), "zk-admin-server");
        assert_eq!(n.pod_short_host(0), "zk-0.zk-pods");
        assert_eq!(n.pod_fqdn(1), "zk-1.zk-pods.default.svc.cluster.local");
    }

    #[test]
    fn dynamic_config_renders_and_parses_back() {
        let cfg = DynamicConfig::for_replicas(&names(), 3);
        let text = cfg.render();
        assert_eq!(
            text.lines().next().unwrap(),
            "server.1=zk-0.zk-pods.default.svc.cluster.local:2888:3888:participant;0.0.0.0:2181"
        );
        assert_eq!(DynamicConfig::parse(&text).unwrap(), cfg);
        assert_eq!(cfg.majority(), 2);
    }

    #[test]
    fn dynamic_config_parses_server_output_with_version() {
        // As printed by `conf` and stored in /zookeeper/config.
        let text = "server.1=10.0.0.2:2888:3888:participant;0.0.0.0:2181\n\
                    server.2=10.0.0.3:2888:3888:observer;2181\n\
                    server.3=10.0.0.4:2888:3888\n\
                    version=100000003\n";
        let cfg = DynamicConfig::parse(text).unwrap();
        assert_eq!(cfg.version, Some(0x1_0000_0003));
        assert_eq!(cfg.servers[1].role, Role::Observer);
        assert_eq!(cfg.servers[1].client_port, 2181);
        assert_eq!(cfg.servers[2].role, Role::Participant);
        assert_eq!(cfg.voters().collect::<Vec<_>>(), vec![1, 3]);
    }

    #[test]
    fn bad_server_line_names_the_line() {
        let err = DynamicConfig::parse("# c\nserver.x=h:1:2\n").unwrap_err();
        assert_eq!(err, ConfigError::BadServerLine { line: 2, text: "server.x=h:1:2".into() });
        assert!(DynamicConfig::parse("server.1=h:1:2:voter").is_err());
    }

    #[test]
    fn zoo_cfg_has_the_required_settings() {
        let cfg = render_zoo_cfg(&ServerSettings::default(), "/data", "/conf/zoo.cfg.dynamic").unwrap();
        for needle in [
            "standaloneEnabled=false",
            "reconfigEnabled=true",
            "admin.enableServer=true",
            "admin.serverPort=8080",
            "dataDir=/data",
            "dynamicConfigFile=/conf/zoo.cfg.dynamic",
        ] {
            assert!(cfg.lines().any(|l| l == needle), "missing {needle} in\n{cfg}");
        }
        let wl = cfg.lines().find_map(|l| l.strip_prefix("4lw.commands.whitelist=")).unwrap();
        for w in ["srvr", "stat", "mntr", "conf", "ruok"] {
            assert!(wl.split(',').any(|x| x == w));
        }
        assert!(!cfg.contains("skipACL"));
        assert!(!cfg.contains("clientPort"), "client port belongs in the dynamic config");
    }

    #[test]
    fn overrides_replace_defaults_and_owned_keys_are_rejected() {
        let mut s = ServerSettings::default();
        s.overrides.insert("maxClientCnxns".into(), "17".into());
        s.overrides.insert("tickTime".into(), "500".into());
        let cfg = render_zoo_cfg(&s, "/d", "/c").unwrap();
        assert!(cfg.contains("maxClientCnxns=17"));
        assert_eq!(cfg.matches("tickTime=").count(), 1);
        assert!(cfg.contains("tickTime=500"));
        s.overrides.insert("skipACL".into(), "yes".into());
        assert_eq!(render_zoo_cfg(&s, "/d", "/c").unwrap_err(), ConfigError::OwnedKey("skipACL".into()));
        let mut s = ServerSettings::default();
        s.overrides.insert("a b".into(), "1".into());
        assert!(matches!(s.validate(), Err(ConfigError::InvalidOverride { .. })));
    }

    #[test]
    fn super_digest_matches_zookeeper_algorithm() {
        // Known value: DigestAuthenticationProvider.generateDigest("super:secret").
        let c = SuperCredential { user: "super".into(), password: "secret".into() };
        assert_eq!(c.digest(), "super:lK75jTNcA+U9vtVEw5vB51mj/w4=");
        assert!(c.jvm_flag().starts_with("-Dzookeeper.DigestAuthenticationProvider.superDigest=super:"));
        assert!(!format!("{c:?}").contains("secret"));
        let g = SuperCredential::generate();
        assert_eq!(g.password.len(), 24);
    }

    #[test]
    fn ids_and_ordinals_round_trip() {
        assert_eq!(server_id(0), 1);
        assert_eq!(ordinal_of(server_id(7)), Some(7));
        assert_eq!(ordinal_of(0), None);
    }
}
