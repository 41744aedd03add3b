//! `kind/` holds exactly what `zk_chaos::operator::k8s::manifests` renders:
//! the CRD, RBAC and operator Deployment under `kind/manifests/`, the kind
//! cluster config and the operator image's Dockerfile. A drift fails with
//! the differing lines; `ZK_CHAOS_BLESS=1 cargo test --test
//! operator_k8s_manifests` rewrites the files.

use std::path::Path;

use kube::CustomResourceExt as _;
use serde_yaml::Value;
use zk_chaos::operator::crd::ZookeeperCluster;
use zk_chaos::operator::k8s::manifests::{self, kind_files, render};

fn blessing() -> bool {
    std::env::var_os("ZK_CHAOS_BLESS").is_some_and(|v| v != "0")
}

fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    (0..e.len().max(a.len()))
        .filter(|&i| e.get(i) != a.get(i))
        .map(|i| {
            format!("{:>4} - {}\n     + {}\n", i + 1, e.get(i).unwrap_or(&"<none>"), a.get(i).unwrap_or(&"<none>"))
        })
        .collect()
}

#[test]
fn kind_directory_matches_the_rendered_files() {
    let kind = Path::new(env!("CARGO_MANIFEST_DIR")).join("kind");
    let mut drifted = Vec::new();
    for (rel, text) in kind_files() {
        let path = kind.join(&rel);
        if blessing() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(on_disk) if on_disk == text => {}
            Ok(on_disk) => drifted.push(format!("kind/{rel} drifted:\n{}", diff(&on_disk, &text))),
            Err(e) => drifted.push(format!("kind/{rel}: {e}")),
        }
    }
    assert!(drifted.is_empty(), "{}\n(ZK_CHAOS_BLESS=1 to rewrite kind/)", drifted.join("\n"));
}

fn documents() -> Vec<Value> {
    render().split("---\n").map(|d| serde_yaml::from_str(d).unwrap()).collect()
}

#[test]
fn render_is_every_manifest_file_in_apply_order() {
    let files: Vec<String> = manifests::files().into_iter().map(|(_, t)| t).collect();
    assert_eq!(render(), files.join("---\n"));
    let kinds: Vec<String> = documents().iter().map(|d| d["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        kinds,
        ["CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"]
    );
}

#[test]
fn the_crd_is_the_derived_one() {
    let crd = &documents()[0];
    let derived: Value = serde_yaml::from_str(&serde_yaml::to_string(&ZookeeperCluster::crd()).unwrap()).unwrap();
    assert_eq!(crd, &derived);
    assert_eq!(crd["metadata"]["name"], "zookeeperclusters.zk-chaos.io");
}

#[test]
fn the_operator_runs_the_dev_image_as_its_service_account() {
    let docs = documents();
    let deploy = &docs[5];
    assert_eq!(deploy["metadata"]["namespace"], "zk-chaos-system");
    assert_eq!(deploy["spec"]["replicas"], 1);
    assert_eq!(deploy["spec"]["strategy"]["type"], "Recreate", "no leader election: never two at once");
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "zk-chaos-operator");
    assert_eq!(pod["containers"][0]["image"], "zk-chaos-operator:dev");
    assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
    let binding = &docs[4];
    assert_eq!(binding["roleRef"]["name"], "zk-chaos-operator");
    assert_eq!(binding["subjects"][0]["namespace"], "zk-chaos-system");
    assert_eq!(docs[2]["metadata"]["namespace"], "zk-chaos-system");
}

#[test]
fn rbac_is_least_privilege() {
    let role = &documents()[3];
    let mut grants = Vec::new();
    for rule in role["rules"].as_sequence().unwrap() {
        let group = rule["apiGroups"][0].as_str().unwrap();
        for res in rule["resources"].as_sequence().unwrap() {
            let verbs: Vec<&str> = rule["verbs"].as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            grants.push(format!("{group}/{}: {}", res.as_str().unwrap(), verbs.join(",")));
        }
    }
    assert_eq!(
        grants,
        [
            "zk-chaos.io/zookeeperclusters: list,watch",
            "zk-chaos.io/zookeeperclusters/status: patch",
            "apps/statefulsets: get,list,watch,create,patch",
            "/services: list,watch,create,patch",
            "/configmaps: get,list,watch,create,patch",
            "policy/poddisruptionbudgets: list,watch,create,patch,delete",
            "/secrets: get,create,patch",
            "/pods: get,list,watch,delete",
            "/persistentvolumeclaims: list,delete",
            "events.k8s.io/events: create,patch",
        ]
    );
}

#[test]
fn the_kind_cluster_has_three_workers_and_the_image_builds_the_operator() {
    let cluster: Value = serde_yaml::from_str(&manifests::kind_cluster()).unwrap();
    let roles: Vec<&str> =
        cluster["nodes"].as_sequence().unwrap().iter().map(|n| n["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["control-plane", "worker", "worker", "worker"]);
    let docker = manifests::dockerfile();
    assert!(docker.contains("cargo build --release --locked --bin zk-operator"));
    assert!(docker.contains("FROM debian:bookworm-slim"));
    assert!(docker.contains("ENTRYPOINT [\"/usr/local/bin/zk-operator\"]"));
}
