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
    let cluster: ZookeeperCluster = serde_yaml::from_str(text).map_err(parse_err)?;
    if cluster.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err(LoadError::NoName { path: p() });
    }
    let warnings = validate(&cluster.spec).map_err(|source| {
        let field = match &source {
            SpecError::Replicas(_) => Some("replicas:".to_string()),
            SpecError::Version(_) => Some("version:".to_string()),
            SpecError::OwnedKey(k) | SpecError::InvalidOverride { key: k, .. } => Some(format!("{k}:")),
            _ => None,
        };
        let at = field
            .and_then(|f| {
                text.lines().position(|l| {
                    l.trim_start().trim_start_matches('"').starts_with(f.trim_end_matches(':')) && l.contains(':')
                })
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
}
