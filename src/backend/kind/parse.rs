//! Parsers for what `kind`, `kubectl`, `docker` and a kind node print.
//! Tested against outputs kept under `tests/fixtures/kind/` (see the
//! README there for where each comes from).

use std::fmt;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node;
use serde::Deserialize;

use crate::operator::crd::ZookeeperCluster;

/// Output that did not have the expected shape.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot parse {what}: {detail}; output was: {excerpt}")]
pub struct ParseError {
    /// What was being parsed (`kind version`, ...).
    pub what: &'static str,
    /// What was wrong.
    pub detail: String,
    /// The start of the output.
    pub excerpt: String,
}

fn error(what: &'static str, detail: impl fmt::Display, output: &str) -> ParseError {
    let excerpt: String = output.chars().take(200).collect();
    ParseError { what, detail: detail.to_string(), excerpt: excerpt.trim().to_string() }
}

fn json<'a, T: Deserialize<'a>>(what: &'static str, output: &'a str) -> Result<T, ParseError> {
    serde_json::from_str(output).map_err(|e| error(what, e, output))
}

/// A `major.minor.patch` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl Version {
    /// `v1.2.3`, `1.2.3`, `v1.32.4-dispatcher` (the suffix is ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().trim_start_matches('v');
        let core = s.split(['-', '+']).next()?;
        let mut it = core.split('.').map(|p| p.parse::<u32>());
        let (major, minor) = (it.next()?.ok()?, it.next()?.ok()?);
        let patch = match it.next() {
            Some(p) => p.ok()?,
            None => 0,
        };
        Some(Self { major, minor, patch })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The first kind release whose default CNI (kindnetd, with
/// kube-network-policies) enforces NetworkPolicy: v0.24.0.
pub const KIND_NETWORK_POLICY_SINCE: Version = Version { major: 0, minor: 24, patch: 0 };

/// `kind version`: `kind v0.29.0 go1.24.2 linux/amd64`.
pub fn kind_version(output: &str) -> Result<Version, ParseError> {
    let word = output.split_whitespace().nth(1).ok_or_else(|| error("kind version", "no version word", output))?;
    Version::parse(word).ok_or_else(|| error("kind version", format!("`{word}` is not a version"), output))
}

/// `kind get clusters`: one name a line. With none, kind prints
/// `No kind clusters found.` (on stderr; tolerated on stdout too).
pub fn kind_clusters(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("No kind clusters found"))
        .map(String::from)
        .collect()
}

/// `kind get nodes`: one node (container) name a line, sorted.
pub fn kind_nodes(stdout: &str) -> Vec<String> {
    let mut nodes = kind_clusters(stdout);
    nodes.sort();
    nodes
}

/// Whether `kind create cluster` failed because the cluster exists.
pub fn kind_cluster_exists_error(stderr: &str) -> bool {
    stderr.contains("already exist for a cluster with the name")
}

/// Client and server versions from `kubectl version -o json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubectlVersion {
    /// `clientVersion.gitVersion`.
    pub client: String,
    /// `serverVersion.gitVersion`, when the server answered.
    pub server: Option<String>,
}

/// `kubectl version -o json`. Without a server kubectl still prints the
/// client part (and exits non-zero): pass that stdout too.
pub fn kubectl_version(output: &str) -> Result<KubectlVersion, ParseError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Info {
        git_version: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Doc {
        client_version: Info,
        server_version: Option<Info>,
    }
    let d: Doc = json("kubectl version -o json", output)?;
    Ok(KubectlVersion { client: d.client_version.git_version, server: d.server_version.map(|s| s.git_version) })
}

#[derive(Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

/// One node as `kind status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeState {
    /// Node name (for kind, also the name of its container).
    pub name: String,
    /// `control-plane` or `worker`.
    pub role: String,
    /// The `Ready` condition is `True`.
    pub ready: bool,
    /// kubelet version.
    pub kubelet: String,
    /// Why it is not ready, when it is not.
    pub reason: Option<String>,
}

/// `kubectl get nodes -o json`.
pub fn nodes(output: &str) -> Result<Vec<NodeState>, ParseError> {
    let list: Items<Node> = json("kubectl get nodes -o json", output)?;
    let mut out: Vec<NodeState> = list
        .items
        .into_iter()
        .map(|n| {
            let labels = n.metadata.labels.unwrap_or_default();
            let role =
                if labels.contains_key("node-role.kubernetes.io/control-plane") { "control-plane" } else { "worker" };
            let status = n.status.unwrap_or_default();
            let ready = status.conditions.unwrap_or_default().into_iter().find(|c| c.type_ == "Ready");
            NodeState {
                name: n.metadata.name.unwrap_or_default(),
                role: role.into(),
                ready: ready.as_ref().is_some_and(|c| c.status == "True"),
                kubelet: status.node_info.map(|i| i.kubelet_version).unwrap_or_default(),
                reason: ready.filter(|c| c.status != "True").map(|c| c.message.or(c.reason).unwrap_or_default()),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A Deployment's rollout as `kind status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DeploymentState {
    /// Desired replicas.
    pub replicas: i32,
    /// Ready replicas.
    pub ready: i32,
    /// Replicas at the newest template.
    pub updated: i32,
    /// Available replicas.
    pub available: i32,
}

impl DeploymentState {
    /// Every desired replica is updated, ready and available.
    pub fn rolled_out(&self) -> bool {
        self.replicas > 0
            && self.ready >= self.replicas
            && self.updated >= self.replicas
            && self.available >= self.replicas
    }
}

/// `kubectl get deployment NAME -o json`.
pub fn deployment(output: &str) -> Result<DeploymentState, ParseError> {
    let d: Deployment = json("kubectl get deployment -o json", output)?;
    let replicas = d.spec.and_then(|s| s.replicas).unwrap_or(1);
    let st = d.status.unwrap_or_default();
    Ok(DeploymentState {
        replicas,
        ready: st.ready_replicas.unwrap_or(0),
        updated: st.updated_replicas.unwrap_or(0),
        available: st.available_replicas.unwrap_or(0),
    })
}

/// One `ZookeeperCluster` as `kind status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterState {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The operator's phase (`-` before it reported one).
    pub phase: String,
    /// Ready members.
    pub ready: u32,
    /// Desired members.
    pub replicas: u32,
    /// The version the spec asks for.
    pub version: String,
}

/// `kubectl get zookeeperclusters -A -o json`.
pub fn zookeeper_clusters(output: &str) -> Result<Vec<ClusterState>, ParseError> {
    let list: Items<ZookeeperCluster> = json("kubectl get zookeeperclusters -o json", output)?;
    Ok(list
        .items
        .into_iter()
        .map(|z| {
            let status = z.status.clone().unwrap_or_default();
            ClusterState {
                namespace: z.metadata.namespace.clone().unwrap_or_default(),
                name: z.metadata.name.clone().unwrap_or_default(),
                phase: status.phase.map(|p| format!("{p:?}")).unwrap_or_else(|| "-".into()),
                ready: status.ready_replicas,
                replicas: z.spec.replicas,
                version: z.spec.version.clone(),
            }
        })
        .collect())
}

/// A local image as `docker image inspect` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `sha256:...`.
    pub id: String,
    /// Its tags.
    pub repo_tags: Vec<String>,
    /// Size in bytes.
    pub size: u64,
}

/// `docker image inspect IMAGE` (a JSON array).
pub fn image_inspect(output: &str) -> Result<Vec<ImageInfo>, ParseError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Doc {
        id: String,
        #[serde(default)]
        repo_tags: Option<Vec<String>>,
        #[serde(default)]
        size: u64,
    }
    let docs: Vec<Doc> = json("docker image inspect", output)?;
    Ok(docs
        .into_iter()
        .map(|d| ImageInfo { id: d.id, repo_tags: d.repo_tags.unwrap_or_default(), size: d.size })
        .collect())
}

/// Whether a failed `docker image inspect` means only that the image is
/// not there (as opposed to the engine being unreachable).
pub fn image_missing(stderr: &str) -> bool {
    stderr.to_ascii_lowercase().contains("no such image")
}

/// Whether a docker CLI failure means the engine is not reachable.
pub fn docker_engine_unreachable(stderr: &str) -> bool {
    stderr.contains("Cannot connect to the Docker daemon")
        || stderr.contains("error during connect")
        || stderr.contains("permission denied while trying to connect to the Docker daemon")
}

/// The first container id `crictl ps -q` printed.
pub fn crictl_container_id(stdout: &str) -> Option<String> {
    stdout.lines().map(str::trim).find(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_hexdigit())).map(String::from)
}

/// A process id (`crictl inspect --output go-template --template {{.info.pid}}`).
pub fn pid(stdout: &str) -> Option<u32> {
    stdout.trim().parse().ok().filter(|p| *p > 0)
}

/// The one-letter state of a process from its `/proc/<pid>/status`
/// (`T` stopped, `S` sleeping, `R` running, ...).
pub fn process_state(status: &str) -> Option<char> {
    status.lines().find_map(|l| l.strip_prefix("State:")).and_then(|rest| rest.trim().chars().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(Version::parse("v1.32.4-dispatcher"), Some(Version { major: 1, minor: 32, patch: 4 }));
        assert_eq!(Version::parse("0.24"), Some(Version { major: 0, minor: 24, patch: 0 }));
        assert_eq!(Version::parse("vx.1"), None);
        assert!(Version::parse("v0.23.0").unwrap() < KIND_NETWORK_POLICY_SINCE);
        assert!(Version::parse("v0.24.0").unwrap() >= KIND_NETWORK_POLICY_SINCE);
        assert_eq!(KIND_NETWORK_POLICY_SINCE.to_string(), "v0.24.0");
        assert!(kind_version("kind").is_err());
        assert!(kind_version("kind vnext go1.24").unwrap_err().to_string().contains("`vnext` is not a version"));
    }

    #[test]
    fn empty_outputs() {
        assert!(kind_clusters("").is_empty());
        assert!(crictl_container_id("\n").is_none());
        assert_eq!(pid("0\n"), None);
        assert_eq!(process_state("Name:\tjava\n"), None);
        assert!(image_inspect("[]").unwrap().is_empty());
        assert!(nodes("{}").is_err());
    }
}
