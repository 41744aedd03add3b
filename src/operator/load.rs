//! Read a `ZookeeperCluster` manifest from a file, with errors that name the
//! file, the line and what was expected.

use std::path::{Path, PathBuf};

use super::crd::ZookeeperCluster;
use super::validate::{SpecError, Warnings, validate};

/// API version and kind a manifest must carry.
pub const API_VERSION: &str = "zk-chaos.io/v1alpha1";
/// The resource kind.
pub const KIND: &str = "ZookeeperCluster";

/// Why a manifest could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The YAML does not parse or does not fit the resource's shape.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What was expected.
        message: String,
    },
    /// Fields the resource does not have (misspelt, or from elsewhere):
    /// every one of them, each with where it is and the closest known field.
    #[error("{}", unknown_fields_message(path, fields))]
    UnknownFields {
        /// The file.
        path: PathBuf,
        /// Each unknown field.
        fields: Vec<UnknownField>,
    },
    /// Wrong `apiVersion` or `kind`.
    #[error("{path}: expected apiVersion `{API_VERSION}` and kind `{KIND}`, found `{api_version}` / `{kind}`")]
    Kind {
        /// The file.
        path: PathBuf,
        /// What it had.
        api_version: String,
        /// What it had.
        kind: String,
    },
    /// No `metadata.name`.
    #[error("{path}: metadata.name is required")]
    NoName {
        /// The file.
        path: PathBuf,
    },
    /// The spec is invalid.
    #[error("{path}{at}: spec: {source}")]
    Spec {
        /// The file.
        path: PathBuf,
        /// `:line` of the offending field when it can be found.
        at: String,
        /// The validation error.
        source: SpecError,
    },
}

/// A field a manifest has that its resource does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Where it sits, e.g. `spec.jvm`.
    pub parent: String,
    /// The field as written.
    pub name: String,
    /// 1-based line and column (0 when it cannot be found).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The known field closest to it, if any is close.
    pub suggestion: Option<String>,
    /// Every field known there.
    pub known: Vec<String>,
}

fn unknown_fields_message(path: &Path, fields: &[UnknownField]) -> String {
    let mut lines = Vec::new();
    for f in fields {
        let hint = match &f.suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("known fields: {}", f.known.join(", ")),
        };
        lines.push(format!(
            "{}:{}:{}: unknown field `{}` in {} ({hint})",
            path.display(),
            f.line,
            f.column,
            f.name,
            f.parent
        ));
    }
    lines.join("\n")
}

/// The top-level fields of a resource.
const TOP_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];

/// The resource's schema (the CRD's OpenAPI v3 schema) as JSON.
fn schema() -> serde_json::Value {
    use kube::CustomResourceExt as _;
    let crd = ZookeeperCluster::crd();
    crd.spec
        .versions
        .first()
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Every field of `text` (a manifest) the resource does not know.
fn unknown_fields(text: &str) -> Vec<UnknownField> {
    let Ok(value) = serde_yaml::from_str::<serde_json::Value>(text) else { return Vec::new() };
    let Some(top) = value.as_object() else { return Vec::new() };
    let mut out = Vec::new();
    let known: Vec<String> = TOP_FIELDS.iter().map(|s| s.to_string()).collect();
    let schema = schema();
    for (k, v) in top {
        if !TOP_FIELDS.contains(&k.as_str()) {
            out.push((vec![], k.clone(), known.clone()));
        } else if let Some(sub) = schema.pointer(&format!("/properties/{k}")) {
            walk(v, sub, &mut vec![k.clone()], &mut out);
        }
    }
    let mut fields: Vec<UnknownField> = out
        .into_iter()
        .map(|(parents, name, known)| {
            let (line, column) = locate(text, &parents, &name);
            UnknownField {
                parent: if parents.is_empty() { "the manifest".into() } else { parents.join(".") },
                suggestion: closest(&name, &known),
                name,
                line,
                column,
                known,
            }
        })
        .collect();
    // In the order of the file (unknown lines last).
    fields.sort_by_key(|f| (f.line == 0, f.line, f.column));
    fields
}

type Found = (Vec<String>, String, Vec<String>);

fn walk(value: &serde_json::Value, schema: &serde_json::Value, at: &mut Vec<String>, out: &mut Vec<Found>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
                let free = schema.get("additionalProperties").is_some()
                    || schema.get("x-kubernetes-preserve-unknown-fields").is_some();
                for (k, v) in map {
                    match props.get(k) {
                        Some(sub) => {
                            at.push(k.clone());
                            walk(v, sub, at, out);
                            at.pop();
                        }
                        None if !free => out.push((at.clone(), k.clone(), props.keys().cloned().collect())),
                        None => {}
                    }
                }
            } else if let Some(sub) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for (k, v) in map {
                    at.push(k.clone());
                    walk(v, sub, at, out);
                    at.pop();
                }
            }
        }
        serde_json::Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for v in items {
                    walk(v, sub, at, out);
                }
            }
        }
        _ => {}
    }
}

/// The known field `name` most probably meant: the same but for case, or
/// one close in spelling.
fn closest(name: &str, known: &[String]) -> Option<String> {
    let lower = name.to_lowercase();
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&lower, &k.to_lowercase()), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.clone())
}

/// Line and column (1-based) of key `name` under the keys `parents` in
/// block-style YAML; `(0, 0)` when not found.
fn locate(text: &str, parents: &[String], name: &str) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let key_at = |line: &str, key: &str| {
        let t = line.trim_start();
        let t = t.strip_prefix("- ").map_or(t, str::trim_start);
        [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")].iter().any(|p| t.starts_with(p.as_str()))
    };
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut from = 0;
    let mut min_indent = 0;
    for p in parents {
        match (from..lines.len()).find(|&i| indent(lines[i]) >= min_indent && key_at(lines[i], p)) {
            Some(i) => {
                from = i + 1;
                min_indent = indent(lines[i]) + 1;
            }
            None => return (0, 0),
        }
    }
    if let Some(i) = (from..lines.len()).find(|&i| indent(lines[i]) >= min_indent && key_at(lines[i], name)) {
        return (i + 1, lines[i].find(name).unwrap_or(indent(lines[i])) + 1);
    }
    // Flow style (`{a: 1}`): the first mention after the parent.
    (from..lines.len()).find_map(|i| lines[i].find(&format!("{name}:")).map(|c| (i + 1, c + 1))).unwrap_or((0, 0))
}

/// Parse and validate a manifest's text; `path` is only used in messages.
pub fn parse_cluster(path: &Path, text: &str) -> Result<(ZookeeperCluster, Warnings), LoadError> {
    let p = || path.to_path_buf();
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head {
        #[serde(default)]
        api_version: String,
        #[serde(default)]
        kind: String,
    }
    let parse_err = |e: serde_yaml::Error| {
        let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        LoadError::Parse { path: p(), line, column, message: e.to_string() }
    };
    let head: Head = serde_yaml::from_str(text).map_err(parse_err)?;
    if head.api_version != API_VERSION || head.kind != KIND {
        return Err(LoadError::Kind { path: p(), api_version: head.api_version, kind: head.kind });
    }
    let unknown = unknown_fields(text);
    if !unknown.is_empty() {
        return Err(LoadError::UnknownFields { path: p(), fields: unknown });
    }
    let cluster: ZookeeperCluster = serde_yaml::from_str(text).map_err(parse_err)?;
    if cluster.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err(LoadError::NoName { path: p() });
    }
    let warnings = validate(&cluster.spec).map_err(|source| {
        let field = match &source {
            SpecError::Replicas(_) => Some("replicas:".to_string()),
            SpecError::Version(_) => Some("version:".to_string()),
            SpecError::OwnedKey(k) | SpecError::InvalidOverride { key: k, .. } => Some(format!("{k}:")),
            SpecError::HeapMb(_) => Some("heapMb:".to_string()),
            SpecError::TickTime => Some("tickTimeMs:".to_string()),
            _ => None,
        };
        let at = field
            .and_then(|f| {
                text.lines()
                    .position(|l| {
                        l.trim_start().trim_start_matches('"').starts_with(f.trim_end_matches(':')) && l.contains(':')
                    })
                    // Flow style: `config: {server.1: ...}`.
                    .or_else(|| text.lines().position(|l| l.contains(&f)))
            })
            .map(|i| format!(":{}", i + 1))
            .unwrap_or_default();
        LoadError::Spec { path: p(), at, source }
    })?;
    Ok((cluster, warnings))
}

/// Read, parse and validate a manifest file.
pub fn load_cluster(path: &Path) -> Result<(ZookeeperCluster, Warnings), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
    parse_cluster(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ZookeeperCluster, String> {
        parse_cluster(Path::new("c.yaml"), text).map(|(c, _)| c).map_err(|e| e.to_string())
    }

    const HEAD: &str = "apiVersion: zk-chaos.io/v1alpha1\nkind: ZookeeperCluster\nmetadata:\n  name: zk\n";

    #[test]
    fn a_good_manifest_loads() {
        let c = parse(&format!("{HEAD}spec:\n  version: 3.8.0\n  replicas: 5\n")).unwrap();
        assert_eq!(c.spec.replicas, 5);
        assert_eq!(c.metadata.name.as_deref(), Some("zk"));
    }

    #[test]
    fn errors_name_file_line_and_expectation() {
        let e = parse(&format!("{HEAD}spec:\n  version: 3.8.0\n  replicas: three\n")).unwrap_err();
        assert!(e.starts_with("c.yaml:7:"), "{e}");
        assert!(e.contains("u32") || e.contains("integer"), "{e}");
        let e = parse(&format!("{HEAD}spec:\n  version: 3.8.0\n  replicas: 0\n")).unwrap_err();
        assert!(e.starts_with("c.yaml:7: spec: replicas"), "{e}");
        let e = parse(&format!("{HEAD}spec:\n  version: 3.8.0\n  config:\n    dataDir: /x\n")).unwrap_err();
        assert!(e.starts_with("c.yaml:8: spec:") && e.contains("dataDir"), "{e}");
        let e = parse("apiVersion: v1\nkind: Pod\n").unwrap_err();
        assert!(e.contains("expected apiVersion `zk-chaos.io/v1alpha1`"), "{e}");
        let e =
            parse("apiVersion: zk-chaos.io/v1alpha1\nkind: ZookeeperCluster\nmetadata: {}\nspec:\n  version: 3.8.0\n")
                .unwrap_err();
        assert!(e.contains("metadata.name"), "{e}");
        let e = parse(&format!("{HEAD}spec:\n  version: [\n")).unwrap_err();
        assert!(e.starts_with("c.yaml:"), "{e}");
    }

    #[test]
    fn every_unknown_field_is_named_with_its_place_and_the_closest_known_one() {
        let text = format!(
            "{HEAD}spec:\n  version: 3.9.6\n  replikas: 5\n  updateStrategey:\n    partition: 1\n  jvm:\n    heapMB: 128\n"
        );
        let e = parse(&text).unwrap_err();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 3, "{e}");
        assert_eq!(lines[0], "c.yaml:7:3: unknown field `replikas` in spec (did you mean `replicas`?)");
        assert_eq!(lines[1], "c.yaml:8:3: unknown field `updateStrategey` in spec (did you mean `updateStrategy`?)");
        assert_eq!(lines[2], "c.yaml:11:5: unknown field `heapMB` in spec.jvm (did you mean `heapMb`?)");
        let e = parse(&format!("{HEAD}spce:\n  version: 3.9.6\n")).unwrap_err();
        assert!(e.starts_with("c.yaml:5:1: unknown field `spce` in the manifest (did you mean `spec`?)"), "{e}");
        let e = parse(&format!("{HEAD}spec:\n  version: 3.9.6\n  zzz: 1\n")).unwrap_err();
        assert!(e.contains("known fields: ") && e.contains("replicas"), "{e}");
    }

    #[test]
    fn values_zookeeper_or_the_jvm_would_refuse_are_refused_with_their_line() {
        let e = parse(&format!("{HEAD}spec:\n  version: 3.9.6\n  config: {{server.1: \"10.0.0.1:2888:3888\"}}\n"))
            .unwrap_err();
        assert!(e.starts_with("c.yaml:7: spec: config key `server.1`"), "{e}");
        let e = parse(&format!("{HEAD}spec:\n  version: 3.9.6\n  jvm:\n    heapMb: 0\n")).unwrap_err();
        assert!(e.starts_with("c.yaml:8: spec: jvm.heapMb must be at least 16"), "{e}");
        let e = parse(&format!("{HEAD}spec:\n  version: 3.9.6\n  tickTimeMs: 0\n")).unwrap_err();
        assert!(e.starts_with("c.yaml:7: spec: tickTimeMs must be at least 1"), "{e}");
    }

    #[test]
    fn the_shipped_manifests_have_no_unknown_field() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("examples/cluster.yaml")];
        for d in std::fs::read_dir(root.join("tests/fixtures/operator/k8s")).unwrap() {
            files.push(d.unwrap().path().join("cluster.yaml"));
        }
        for f in files.iter().filter(|f| f.is_file()) {
            load_cluster(f).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn free_form_maps_take_any_key() {
        let text = format!(
            "{HEAD}  labels:\n    team: a\nspec:\n  version: 3.9.6\n  config:\n    autopurge.snapRetainCount: \"3\"\n  labels:\n    anything: x\n  resources:\n    limits:\n      memory: 1Gi\n"
        );
        parse(&text).unwrap();
    }
}
