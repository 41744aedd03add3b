//! The revision of a spec: a short stable hash of everything whose change
//! needs a member restart. Replicas, partition, storage, labels and the
//! other scheduling-only fields are left out, so changing them never rolls
//! the ensemble.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use serde::Serialize;
use sha1::{Digest as _, Sha1};

use super::crd::ZookeeperClusterSpec;
use super::settings::DEFAULT_TICK_TIME_MS;

/// Hex digits in a revision.
pub const REVISION_LEN: usize = 10;

/// The restart-relevant part of a spec, normalised so that equivalent
/// spellings (an absent `jvm` and an empty one) hash alike.
#[derive(Serialize)]
struct RevisionInput<'a> {
    version: &'a str,
    image: Option<&'a str>,
    admin_server_port: u16,
    tick_time_ms: u32,
    config: &'a BTreeMap<String, String>,
    heap_mb: Option<u32>,
    resources: Option<&'a ResourceRequirements>,
    rolling_restart: Option<&'a str>,
}

/// The revision of `spec`: the first [`REVISION_LEN`] hex digits of the
/// SHA-1 of its restart-relevant fields in a canonical JSON form.
pub fn revision(spec: &ZookeeperClusterSpec) -> String {
    let input = RevisionInput {
        version: &spec.version,
        image: spec.image.as_deref(),
        admin_server_port: spec.admin_server_port,
        tick_time_ms: spec.tick_time_ms.unwrap_or(DEFAULT_TICK_TIME_MS),
        config: &spec.config,
        heap_mb: spec.jvm.as_ref().and_then(|j| j.heap_mb),
        resources: spec.resources.as_ref().filter(|r| **r != ResourceRequirements::default()),
        rolling_restart: spec.rolling_restart.as_deref(),
    };
    let bytes = serde_json::to_vec(&input).expect("revision input serialises");
    let digest = Sha1::digest(&bytes);
    let mut hex = String::with_capacity(REVISION_LEN);
    for b in digest.iter() {
        hex.push_str(&format!("{b:02x}"));
        if hex.len() >= REVISION_LEN {
            break;
        }
    }
    hex.truncate(REVISION_LEN);
    hex
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use super::*;
    use crate::operator::crd::{AntiAffinity, JvmSpec};

    fn spec() -> ZookeeperClusterSpec {
        ZookeeperClusterSpec::new(3, "3.8.0")
    }

    #[test]
    fn same_spec_same_revision_and_it_is_short_hex() {
        let r = revision(&spec());
        assert_eq!(r, revision(&spec()));
        assert_eq!(r.len(), REVISION_LEN);
        assert!(r.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn the_revision_is_stable_across_builds() {
        // Pods carry this string; it must not change between operator releases.
        assert_eq!(revision(&spec()), "b1e64033e9");
    }

    #[test]
    fn scale_and_scheduling_fields_do_not_change_the_revision() {
        let base = revision(&spec());
        let mut s = spec();
        s.replicas = 5;
        s.update_strategy.partition = 2;
        s.labels.insert("team".into(), "sre".into());
        s.affinity.pod_anti_affinity = AntiAffinity::Required;
        s.pod_disruption_budget.enabled = false;
        assert_eq!(revision(&s), base);
        s.jvm = Some(JvmSpec { heap_mb: None });
        s.tick_time_ms = Some(DEFAULT_TICK_TIME_MS);
        s.resources = Some(ResourceRequirements::default());
        assert_eq!(revision(&s), base, "equivalent spellings hash alike");
    }

    #[test]
    fn restart_relevant_fields_change_the_revision() {
        let base = revision(&spec());
        type Change = Box<dyn Fn(&mut ZookeeperClusterSpec)>;
        let changes: Vec<Change> = vec![
            Box::new(|s| s.version = "3.9.3".into()),
            Box::new(|s| s.image = Some("zk:custom".into())),
            Box::new(|s| {
                s.config.insert("maxClientCnxns".into(), "9".into());
            }),
            Box::new(|s| s.jvm = Some(JvmSpec { heap_mb: Some(512) })),
            Box::new(|s| s.rolling_restart = Some("2024-01-01".into())),
            Box::new(|s| s.tick_time_ms = Some(500)),
            Box::new(|s| s.admin_server_port = 9090),
            Box::new(|s| {
                s.resources = Some(ResourceRequirements {
                    limits: Some([("memory".to_string(), Quantity("1Gi".into()))].into()),
                    ..Default::default()
                });
            }),
        ];
        let mut seen = std::collections::BTreeSet::from([base.clone()]);
        for change in &changes {
            let mut s = spec();
            change(&mut s);
            let r = revision(&s);
            assert_ne!(r, base);
            assert!(seen.insert(r), "distinct changes give distinct revisions");
        }
    }
}
