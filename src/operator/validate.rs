//! Checks a spec beyond what the CRD schema enforces. Errors stop the
//! planner; warnings become a `SpecWarning` condition.

use super::crd::{MAX_REPLICAS, ZookeeperClusterSpec};
use super::settings::server_settings;
use crate::zkconfig::ConfigError;

/// Why a spec cannot be acted on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    /// `replicas` outside `1..=99`.
    #[error("replicas must be between 1 and {MAX_REPLICAS}, got {0}")]
    Replicas(u32),
    /// `version` is not `MAJOR.MINOR.PATCH`.
    #[error("version `{0}` is not of the form MAJOR.MINOR.PATCH")]
    Version(String),
    /// A `config` key the operator owns.
    #[error("config key `{0}` is managed by the operator and cannot be overridden")]
    OwnedKey(String),
    /// A malformed `config` entry.
    #[error("config key `{key}` is invalid: {reason}")]
    InvalidOverride {
        /// The key.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// `tickTime` given both as `tickTimeMs` and in `config`.
    #[error("tickTime is set both in tickTimeMs and in config; set it in one place")]
    DuplicateTickTime,
    /// `tickTimeMs` of zero.
    #[error("tickTimeMs must be at least 1")]
    TickTime,
    /// `updateStrategy.maxUnavailable` other than 1.
    #[error("updateStrategy.maxUnavailable must be 1 (the only supported value), got {0}")]
    MaxUnavailable(u32),
    /// `podDisruptionBudget.maxUnavailable` of zero.
    #[error("podDisruptionBudget.maxUnavailable must be at least 1")]
    PdbMaxUnavailable,
    /// `jvm.heapMb` of zero (the JVM refuses `-Xmx0m`).
    #[error("jvm.heapMb must be at least {MIN_HEAP_MB} (MiB), got {0}")]
    HeapMb(u32),
    /// An empty image override.
    #[error("image must not be empty when set")]
    EmptyImage,
}

/// The smallest heap a ZooKeeper server starts with, MiB.
pub const MIN_HEAP_MB: u32 = 16;

/// A non-fatal remark about a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// CamelCase reason for the condition.
    pub reason: &'static str,
    /// Human message.
    pub message: String,
}

/// The warnings of a valid spec.
pub type Warnings = Vec<Warning>;

/// Whether `v` is `MAJOR.MINOR.PATCH` (digits only), as the schema's pattern.
pub fn is_semver_triple(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Validate `spec`: an error when it cannot be acted on, otherwise the
/// warnings (possibly none).
pub fn validate(spec: &ZookeeperClusterSpec) -> Result<Warnings, SpecError> {
    if !(1..=MAX_REPLICAS).contains(&spec.replicas) {
        return Err(SpecError::Replicas(spec.replicas));
    }
    if !is_semver_triple(&spec.version) {
        return Err(SpecError::Version(spec.version.clone()));
    }
    if spec.image.as_deref().is_some_and(|i| i.trim().is_empty()) {
        return Err(SpecError::EmptyImage);
    }
    server_settings(spec).validate().map_err(|e| match e {
        ConfigError::OwnedKey(k) => SpecError::OwnedKey(k),
        ConfigError::InvalidOverride { key, reason } => SpecError::InvalidOverride { key, reason },
        ConfigError::BadServerLine { text, .. } => SpecError::InvalidOverride { key: text, reason: "unexpected" },
    })?;
    match spec.tick_time_ms {
        Some(0) => return Err(SpecError::TickTime),
        Some(_) if spec.config.contains_key("tickTime") => return Err(SpecError::DuplicateTickTime),
        _ => {}
    }
    if let Some(heap) = spec.jvm.as_ref().and_then(|j| j.heap_mb)
        && heap < MIN_HEAP_MB
    {
        return Err(SpecError::HeapMb(heap));
    }
    if spec.update_strategy.max_unavailable != 1 {
        return Err(SpecError::MaxUnavailable(spec.update_strategy.max_unavailable));
    }
    if spec.pod_disruption_budget.max_unavailable == 0 {
        return Err(SpecError::PdbMaxUnavailable);
    }
    Ok(warnings(spec))
}

fn warnings(spec: &ZookeeperClusterSpec) -> Warnings {
    let n = spec.replicas;
    let mut out = Vec::new();
    if n.is_multiple_of(2) {
        out.push(Warning {
            reason: "EvenReplicas",
            message: format!("replicas={n} is even: it tolerates no more failures than {} members", n - 1),
        });
    }
    if n < 3 {
        out.push(Warning {
            reason: "NoRedundancy",
            message: format!("with {n} member(s) any restart loses quorum, so rolling updates wait; use 3 or more"),
        });
    }
    if spec.partition() >= n && spec.partition() > 0 {
        out.push(Warning {
            reason: "PartitionAboveReplicas",
            message: format!("partition {} >= replicas {n}: no member will be updated", spec.partition()),
        });
    }
    let tolerated = (n.saturating_sub(1)) / 2;
    if spec.pod_disruption_budget.enabled && spec.pod_disruption_budget.max_unavailable > tolerated.max(1) {
        out.push(Warning {
            reason: "DisruptionBudgetTooLoose",
            message: format!(
                "podDisruptionBudget.maxUnavailable={} exceeds the {tolerated} member(s) the ensemble can lose",
                spec.pod_disruption_budget.max_unavailable
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ZookeeperClusterSpec {
        ZookeeperClusterSpec::new(3, "3.8.0")
    }

    #[test]
    fn a_plain_spec_is_valid_without_warnings() {
        assert_eq!(validate(&spec()), Ok(vec![]));
    }

    #[test]
    fn owned_keys_are_rejected_by_name() {
        let mut s = spec();
        s.config.insert("dataDir".into(), "/elsewhere".into());
        let err = validate(&s).unwrap_err();
        assert_eq!(err, SpecError::OwnedKey("dataDir".into()));
        assert!(err.to_string().contains("`dataDir`"), "{err}");
    }

    #[test]
    fn malformed_values_are_rejected() {
        let mut s = spec();
        s.version = "3.9".into();
        assert_eq!(validate(&s), Err(SpecError::Version("3.9".into())));
        let mut s = spec();
        s.replicas = 0;
        assert_eq!(validate(&s), Err(SpecError::Replicas(0)));
        let mut s = spec();
        s.update_strategy.max_unavailable = 2;
        assert_eq!(validate(&s), Err(SpecError::MaxUnavailable(2)));
        let mut s = spec();
        s.tick_time_ms = Some(500);
        s.config.insert("tickTime".into(), "200".into());
        assert_eq!(validate(&s), Err(SpecError::DuplicateTickTime));
        let mut s = spec();
        s.config.insert("bad key".into(), "1".into());
        assert!(matches!(validate(&s), Err(SpecError::InvalidOverride { .. })));
        let mut s = spec();
        s.tick_time_ms = Some(0);
        assert_eq!(validate(&s), Err(SpecError::TickTime));
        let mut s = spec();
        s.jvm = Some(super::super::crd::JvmSpec { heap_mb: Some(0) });
        assert_eq!(validate(&s), Err(SpecError::HeapMb(0)));
        for key in ["server.1", "server.12", "Server.3"] {
            let mut s = spec();
            s.config.insert(key.into(), "10.0.0.1:2888:3888:participant".into());
            assert_eq!(validate(&s), Err(SpecError::OwnedKey(key.into())), "{key}");
        }
        let mut s = spec();
        s.config.insert("server.x".into(), "1".into());
        assert!(validate(&s).is_ok(), "not a member line");
    }

    #[test]
    fn even_replicas_is_a_warning_not_an_error() {
        let mut s = spec();
        s.replicas = 4;
        let w = validate(&s).unwrap();
        assert_eq!(w.iter().map(|w| w.reason).collect::<Vec<_>>(), vec!["EvenReplicas"]);
    }

    #[test]
    fn small_ensembles_and_high_partitions_are_warned_about() {
        let mut s = spec();
        s.replicas = 1;
        s.update_strategy.partition = 1;
        let reasons: Vec<_> = validate(&s).unwrap().iter().map(|w| w.reason).collect();
        assert_eq!(reasons, vec!["NoRedundancy", "PartitionAboveReplicas"]);
    }

    #[test]
    fn semver_triples() {
        assert!(is_semver_triple("3.8.0"));
        assert!(is_semver_triple("10.20.30"));
        for bad in ["3.8", "3.8.0.1", "3.8.x", "v3.8.0", "", "3..0"] {
            assert!(!is_semver_triple(bad), "{bad}");
        }
    }
}
