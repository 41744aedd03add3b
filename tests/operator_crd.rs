//! The ZookeeperCluster resource: manifests parse, the generated CRD
//! carries the validation and printer columns.

use kube::CustomResourceExt as _;
use serde_json::Value;
use zk_chaos::operator::crd::{
    AntiAffinity, DeletionPolicy, StorageReclaimPolicy, UpdateStrategyType, ZookeeperCluster, ZookeeperClusterSpec,
};
use zk_chaos::operator::revision::revision;
use zk_chaos::operator::validate::{SpecError, validate};

fn fixture(name: &str) -> ZookeeperCluster {
    let path = format!("{}/tests/fixtures/operator/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn kubedb_manifest_parses_with_only_api_version_and_kind_changed() {
    let zk = fixture("kubedb-zookeeper.yaml");
    assert_eq!(zk.metadata.name.as_deref(), Some("zk-quickstart"));
    assert_eq!(zk.metadata.namespace.as_deref(), Some("demo"));
    let s = &zk.spec;
    assert_eq!((s.replicas, s.version.as_str(), s.admin_server_port), (3, "3.8.3", 8080));
    assert_eq!(s.deletion_policy, DeletionPolicy::WipeOut);
    let storage = s.storage.as_ref().unwrap();
    assert_eq!(storage.storage_class_name.as_deref(), Some("standard"));
    assert_eq!(storage.access_modes.as_deref(), Some(&["ReadWriteOnce".to_string()][..]));
    let requests = storage.resources.as_ref().unwrap().requests.as_ref().unwrap();
    assert_eq!(requests["storage"].0, "1Gi");
    // Our own fields take their defaults.
    assert_eq!(s.storage_reclaim_policy, StorageReclaimPolicy::Delete);
    assert_eq!(s.update_strategy.type_, UpdateStrategyType::OnDelete);
    assert_eq!(s.partition(), 0);
    assert_eq!(validate(s), Ok(vec![]));
}

#[test]
fn full_manifest_parses_every_field() {
    let zk = fixture("full.yaml");
    let s = &zk.spec;
    assert_eq!(s.replicas, 5);
    assert_eq!(s.image.as_deref(), Some("registry.local/zookeeper:3.9.3-custom"));
    assert_eq!(s.storage_reclaim_policy, StorageReclaimPolicy::Retain);
    assert_eq!(s.deletion_policy, DeletionPolicy::Halt);
    assert_eq!(s.config["maxClientCnxns"], "100");
    assert_eq!(s.tick_time_ms, Some(500));
    assert_eq!(s.jvm.as_ref().and_then(|j| j.heap_mb), Some(384));
    assert_eq!(s.update_strategy.partition, 2);
    assert_eq!(s.rolling_restart.as_deref(), Some("2025-01-01T00:00:00Z"));
    assert_eq!(s.affinity.pod_anti_affinity, AntiAffinity::Required);
    assert_eq!(s.labels["team"], "sre");
    assert_eq!(s.resources.as_ref().unwrap().limits.as_ref().unwrap()["memory"].0, "1Gi");
    assert_eq!(validate(s), Ok(vec![]));
    // Serialising and parsing back is lossless.
    let back: ZookeeperCluster = serde_json::from_value(serde_json::to_value(&zk).unwrap()).unwrap();
    assert_eq!(back.spec, zk.spec);
    assert_eq!(revision(&back.spec), revision(&zk.spec));
}

#[test]
fn owned_zoo_cfg_keys_are_rejected_naming_the_key() {
    let zk = fixture("owned-key.yaml");
    let err = validate(&zk.spec).unwrap_err();
    assert_eq!(err, SpecError::OwnedKey("dataDir".into()));
    assert!(err.to_string().contains("dataDir"));
}

fn crd_json() -> Value {
    serde_json::to_value(ZookeeperCluster::crd()).unwrap()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn spec_schema(crd: &Value) -> &Value {
    &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
}

#[test]
fn crd_identity_scope_short_name_and_status_subresource() {
    let crd = crd_json();
    assert_eq!(crd["metadata"]["name"], "zookeeperclusters.zk-chaos.io");
    assert_eq!(crd["spec"]["group"], "zk-chaos.io");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["kind"], "ZookeeperCluster");
    assert_eq!(crd["spec"]["names"]["shortNames"], serde_json::json!(["zkc"]));
    let v = &crd["spec"]["versions"][0];
    assert_eq!(v["name"], "v1alpha1");
    assert!(v["subresources"]["status"].is_object(), "status subresource: {}", v["subresources"]);
}

#[test]
fn crd_schema_carries_the_validation() {
    let crd = crd_json();
    let spec = spec_schema(&crd);
    let props = &spec["properties"];
    assert_eq!(num(&props["replicas"]["minimum"]), 1.0);
    assert_eq!(num(&props["replicas"]["maximum"]), 99.0);
    assert_eq!(props["version"]["pattern"], r"^\d+\.\d+\.\d+$");
    assert_eq!(spec["required"], serde_json::json!(["version"]));
    let strategy = &props["updateStrategy"]["properties"];
    assert_eq!(num(&strategy["maxUnavailable"]["minimum"]), 1.0);
    assert_eq!(num(&strategy["maxUnavailable"]["maximum"]), 1.0);
    assert_eq!(strategy["type"]["enum"], serde_json::json!(["OnDelete"]));
    assert_eq!(props["deletionPolicy"]["enum"], serde_json::json!(["Halt", "Delete", "WipeOut", "DoNotTerminate"]));
    assert_eq!(props["storageReclaimPolicy"]["enum"], serde_json::json!(["Delete", "Retain"]));
    assert_eq!(props["config"]["additionalProperties"]["type"], "string");
    let storage = &props["storage"]["properties"];
    for field in ["storageClassName", "accessModes", "resources"] {
        assert!(storage[field].is_object(), "storage.{field} missing");
    }
    let status = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"];
    for field in ["observedGeneration", "phase", "readyReplicas", "members", "leader", "configVersion", "conditions"] {
        assert!(status[field].is_object(), "status.{field} missing");
    }
    assert_eq!(
        status["phase"]["enum"],
        serde_json::json!(["Provisioning", "Ready", "Critical", "NotReady", "Upgrading", "Scaling"])
    );
}

#[test]
fn crd_has_the_printer_columns() {
    let crd = crd_json();
    let cols = crd["spec"]["versions"][0]["additionalPrinterColumns"].as_array().unwrap().clone();
    let got: Vec<(String, String)> = cols
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["jsonPath"].as_str().unwrap().to_string()))
        .collect();
    let want = [
        ("Version", ".spec.version"),
        ("Replicas", ".spec.replicas"),
        ("Ready", ".status.readyReplicas"),
        ("Phase", ".status.phase"),
        ("Age", ".metadata.creationTimestamp"),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

#[test]
fn crd_renders_as_yaml_for_kubectl() {
    let yaml = serde_yaml::to_string(&ZookeeperCluster::crd()).unwrap();
    assert!(yaml.contains("kind: CustomResourceDefinition"));
    let spec = ZookeeperClusterSpec::new(3, "3.8.0");
    let obj = ZookeeperCluster::new("zk", spec);
    let json = serde_json::to_value(&obj).unwrap();
    assert_eq!(json["apiVersion"], "zk-chaos.io/v1alpha1");
    assert_eq!(json["kind"], "ZookeeperCluster");
}
