//! The kind backend's tool side without the tools: parsers against the
//! outputs kept in `tests/fixtures/kind/`, and every flow (preflight, up
//! with and without `--reuse`, waits, down, status, images, deploy) against
//! a scripted runner, asserting the exact commands run and the errors a
//! user sees. Nothing here needs docker, kind or kubectl.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use zk_chaos::backend::kind::cluster::{Kind, UpOptions, UpOutcome};
use zk_chaos::backend::kind::deploy::{self, manifests_with_image};
use zk_chaos::backend::kind::images::{self, Loaded};
use zk_chaos::backend::kind::node::KindNodes;
use zk_chaos::backend::kind::parse::{self, Version};
use zk_chaos::backend::kind::preflight::preflight;
use zk_chaos::backend::kind::setup::{self, OperatorImage, Setup};
use zk_chaos::backend::kind::testkit::{Reply, ScriptedRunner};
use zk_chaos::backend::kind::{KindError, Tool};
use zk_chaos::backend::kube::NodeShell as _;
use zk_chaos::operator::k8s::manifests;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kind").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---- parsers on captured outputs ----

#[test]
fn kind_outputs_parse() {
    assert_eq!(parse::kind_version(&fixture("kind-version.txt")).unwrap(), Version { major: 0, minor: 29, patch: 0 });
    assert_eq!(parse::kind_clusters(&fixture("kind-get-clusters.stdout")), ["kind", "zk-chaos"]);
    assert!(parse::kind_clusters(&fixture("kind-get-clusters-none.stderr")).is_empty());
    assert_eq!(
        parse::kind_nodes(&fixture("kind-get-nodes.stdout")),
        ["zk-chaos-control-plane", "zk-chaos-worker", "zk-chaos-worker2", "zk-chaos-worker3"]
    );
    assert!(parse::kind_cluster_exists_error(&fixture("kind-create-exists.stderr")));
    assert!(!parse::kind_cluster_exists_error(&fixture("kind-create-ok.stderr")));
    let kc = kube::config::Kubeconfig::from_yaml(&fixture("kind-get-kubeconfig.yaml")).unwrap();
    assert_eq!(kc.current_context.as_deref(), Some("kind-zk-chaos"));
}

#[test]
fn kubectl_outputs_parse() {
    let v = parse::kubectl_version(&fixture("kubectl-version.json")).unwrap();
    assert_eq!((v.client.as_str(), v.server.as_deref()), ("v1.33.1", Some("v1.33.1")));
    // Captured here: kubectl without a server prints its own part and fails.
    let v = parse::kubectl_version(&fixture("kubectl-version-no-server.json")).unwrap();
    assert_eq!((v.client.as_str(), v.server), ("v1.32.4-dispatcher", None));
    assert!(fixture("kubectl-version-no-server.stderr").contains("was refused"));

    let nodes = parse::nodes(&fixture("kubectl-get-nodes.json")).unwrap();
    let summary: Vec<(&str, &str, bool)> = nodes.iter().map(|n| (n.name.as_str(), n.role.as_str(), n.ready)).collect();
    assert_eq!(
        summary,
        [
            ("zk-chaos-control-plane", "control-plane", true),
            ("zk-chaos-worker", "worker", true),
            ("zk-chaos-worker2", "worker", true),
            ("zk-chaos-worker3", "worker", true)
        ]
    );
    assert!(nodes.iter().all(|n| n.kubelet == "v1.33.1" && n.reason.is_none()));
    let nodes = parse::nodes(&fixture("kubectl-get-nodes-one-not-ready.json")).unwrap();
    let bad: Vec<_> = nodes.iter().filter(|n| !n.ready).collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].name, "zk-chaos-worker3");
    assert!(bad[0].reason.as_deref().unwrap().contains("cni plugin not initialized"));

    let d = parse::deployment(&fixture("kubectl-get-deployment-operator.json")).unwrap();
    assert_eq!((d.replicas, d.ready, d.updated, d.available), (1, 1, 1, 1));
    assert!(d.rolled_out());

    let zkcs = parse::zookeeper_clusters(&fixture("kubectl-get-zookeeperclusters.json")).unwrap();
    let rows: Vec<String> = zkcs
        .iter()
        .map(|z| format!("{}/{} {} {}/{} {}", z.namespace, z.name, z.phase, z.ready, z.replicas, z.version))
        .collect();
    assert_eq!(rows, ["default/zk Ready 3/3 3.8.0", "chaos/zk-upgrade Upgrading 2/3 3.9.3"]);
}

#[test]
fn docker_and_node_outputs_parse() {
    let imgs = parse::image_inspect(&fixture("docker-image-inspect-zookeeper.json")).unwrap();
    assert_eq!(imgs.len(), 1);
    assert_eq!(imgs[0].repo_tags, ["zookeeper:3.8.0"]);
    assert!(imgs[0].id.starts_with("sha256:") && imgs[0].size > 100_000_000);
    assert!(parse::image_missing(&fixture("docker-image-inspect-missing.stderr")));
    // Captured here: a docker client with no engine behind it.
    for f in
        ["docker-info-no-engine.stderr", "docker-image-inspect-no-engine.stderr", "docker-version-no-engine.stderr"]
    {
        assert!(parse::docker_engine_unreachable(&fixture(f)), "{f}");
        assert!(!parse::image_missing(&fixture(f)), "{f}");
    }
    assert!(parse::image_inspect(&fixture("docker-image-inspect-no-engine.stdout")).unwrap().is_empty());
    assert!(fixture("docker-version-no-engine.stdout").contains("Version:           28.2.2"));
    assert_eq!(
        parse::crictl_container_id(&fixture("crictl-ps-q.stdout")).as_deref(),
        Some("4b1f0e2c9d8a7f6e5d4c3b2a19081726354453627180910a1b2c3d4e5f60718")
    );
    assert_eq!(parse::pid(&fixture("crictl-inspect-pid.stdout")), Some(48213));
    assert_eq!(parse::process_state(&fixture("proc-status-stopped.txt")), Some('T'));
    assert_eq!(parse::process_state(&fixture("proc-status-running.txt")), Some('S'));
}

// ---- manifests: every document is exactly a valid object of its type ----

fn round_trips<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &serde_yaml::Value) {
    let typed: T = serde_yaml::from_value(doc.clone()).unwrap();
    let back: serde_yaml::Value = serde_yaml::to_value(&typed).unwrap();
    assert_eq!(&back, doc, "a field the type does not know, or a wrong shape");
}

#[test]
fn manifests_are_valid_typed_objects_and_the_image_can_be_swapped() {
    let rendered = manifests_with_image("registry.example/zk-operator:1.2");
    let docs: Vec<serde_yaml::Value> = rendered.split("---\n").map(|d| serde_yaml::from_str(d).unwrap()).collect();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"]
    );
    round_trips::<CustomResourceDefinition>(&docs[0]);
    round_trips::<Namespace>(&docs[1]);
    round_trips::<ServiceAccount>(&docs[2]);
    round_trips::<ClusterRole>(&docs[3]);
    round_trips::<ClusterRoleBinding>(&docs[4]);
    round_trips::<Deployment>(&docs[5]);
    assert_eq!(docs[5]["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/zk-operator:1.2");
    // Everything but the image is what `kind/manifests/` holds.
    assert_eq!(manifests_with_image(images::OPERATOR_IMAGE), manifests::render());
    let original: Vec<serde_yaml::Value> =
        manifests::render().split("---\n").map(|d| serde_yaml::from_str(d).unwrap()).collect();
    assert_eq!(docs[..5], original[..5]);
}

// ---- preflight ----

fn healthy_tools(r: &ScriptedRunner) {
    r.on("docker info", Reply::stdout("28.2.2\n"))
        .on("kind version", Reply::stdout(fixture("kind-version.txt")))
        .on("kubectl version --client", Reply::stdout(fixture("kubectl-version.json")));
}

#[tokio::test]
async fn preflight_finds_the_tools_and_their_versions() {
    let r = ScriptedRunner::new();
    healthy_tools(&r);
    let p = preflight(&r).await.unwrap();
    assert_eq!(p.docker_engine, "28.2.2");
    assert_eq!(p.kind, Version { major: 0, minor: 29, patch: 0 });
    assert_eq!(p.kubectl, "v1.33.1");
    let mut calls = r.calls();
    calls.sort();
    assert_eq!(calls, ["docker info --format {{.ServerVersion}}", "kind version", "kubectl version --client -o json"]);
}

#[tokio::test]
async fn preflight_lists_every_problem_with_its_fix() {
    // This machine's situation: a docker client without an engine, no kind.
    let r = ScriptedRunner::new();
    r.missing(Tool::Kind)
        .on(
            "docker info",
            Reply::Fail {
                code: 1,
                stdout: fixture("docker-info-no-engine.stdout"),
                stderr: fixture("docker-info-no-engine.stderr"),
            },
        )
        .on("kubectl version --client", Reply::stdout(fixture("kubectl-version-no-server.json")));
    let msg = preflight(&r).await.unwrap_err().to_string();
    assert!(msg.starts_with("the kind backend cannot run here:"), "{msg}");
    assert!(msg.contains("docker is installed but its engine does not answer"), "{msg}");
    assert!(msg.contains("Cannot connect to the Docker daemon") && msg.contains("systemctl start docker"), "{msg}");
    assert!(msg.contains("kind not found on PATH: install kind v0.24.0 or newer"), "{msg}");
    assert!(!msg.contains("kubectl"), "kubectl is fine here: {msg}");

    let r = ScriptedRunner::new();
    r.missing(Tool::Docker)
        .missing(Tool::Kubectl)
        .on("kind version", Reply::stdout("kind v0.23.0 go1.22.2 linux/amd64"));
    let msg = preflight(&r).await.unwrap_err().to_string();
    for needle in ["docker not found on PATH", "kubectl not found on PATH", "kind v0.23.0 is older than v0.24.0"] {
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    assert!(msg.contains("NetworkPolicy"), "{msg}");

    // A hung engine costs one bounded call, and says which.
    let r = ScriptedRunner::new();
    r.once("docker info", Reply::TimedOut { stderr: String::new() });
    healthy_tools(&r);
    let msg = preflight(&r).await.unwrap_err().to_string();
    assert!(msg.contains("`docker info --format '{{.ServerVersion}}'` did not finish within 30s"), "{msg}");
}

// ---- cluster lifecycle ----

fn up_options(dir: &Path, reuse: bool) -> UpOptions {
    let mut o = UpOptions::new("zk-chaos", Path::new("kind/cluster.yaml"));
    o.reuse = reuse;
    o.wait = Duration::from_secs(120);
    o.kubeconfig = dir.join("kind/zk-chaos.kubeconfig");
    o
}

fn kubectl(dir: &Path) -> String {
    format!("kubectl --kubeconfig {}/kind/zk-chaos.kubeconfig --context kind-zk-chaos", dir.display())
}

#[tokio::test]
async fn up_creates_a_missing_cluster_and_waits_for_its_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let r = ScriptedRunner::new();
    r.on("kind get clusters", Reply::Ok { stdout: String::new(), stderr: fixture("kind-get-clusters-none.stderr") })
        .on("kind create cluster", Reply::Ok { stdout: String::new(), stderr: fixture("kind-create-ok.stderr") })
        .on("wait --for=condition=Ready", Reply::stdout("node/zk-chaos-control-plane condition met\n"))
        .on("get nodes", Reply::stdout(fixture("kubectl-get-nodes.json")));
    let (cluster, outcome) = Kind::new(&r).up(&up_options(dir.path(), false)).await.unwrap();
    assert_eq!(outcome, UpOutcome::Created);
    assert_eq!(cluster.context(), "kind-zk-chaos");
    let k = kubectl(dir.path());
    assert_eq!(
        r.calls(),
        [
            "kind get clusters".to_string(),
            format!(
                "kind create cluster --name zk-chaos --config kind/cluster.yaml --wait 120s --kubeconfig {}/kind/zk-chaos.kubeconfig",
                dir.path().display()
            ),
            format!("{k} wait --for=condition=Ready --timeout=120s nodes --all"),
            format!("{k} get nodes -o json --request-timeout=20s"),
        ]
    );
    assert!(dir.path().join("kind").is_dir(), "the kubeconfig's directory exists for kind to write into");
}

#[tokio::test]
async fn an_existing_cluster_is_an_error_without_reuse_and_reused_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let r = ScriptedRunner::new();
    r.on("kind get clusters", Reply::stdout(fixture("kind-get-clusters.stdout")));
    let err = Kind::new(&r).up(&up_options(dir.path(), false)).await.unwrap_err();
    assert!(matches!(err, KindError::ClusterExists { .. }), "{err:?}");
    assert!(err.to_string().contains("pass --reuse") && err.to_string().contains("zk-chaos kind down --name zk-chaos"));
    assert_eq!(r.calls(), ["kind get clusters"], "nothing created, nothing deleted");

    r.on("kind get kubeconfig", Reply::stdout(fixture("kind-get-kubeconfig.yaml")))
        .on("wait --for=condition=Ready", Reply::stdout(""))
        .on("get nodes", Reply::stdout(fixture("kubectl-get-nodes.json")));
    let (cluster, outcome) = Kind::new(&r).up(&up_options(dir.path(), true)).await.unwrap();
    assert_eq!(outcome, UpOutcome::Reused);
    assert!(!r.calls().iter().any(|c| c.starts_with("kind create")), "{:?}", r.calls());
    assert!(r.calls().contains(&"kind get kubeconfig --name zk-chaos".to_string()));
    let written = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    assert_eq!(written, fixture("kind-get-kubeconfig.yaml"));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&cluster.kubeconfig).unwrap().permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn a_create_race_is_reused_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let r = ScriptedRunner::new();
    r.on("kind get clusters", Reply::stdout(""))
        .on("kind create cluster", Reply::fail(fixture("kind-create-exists.stderr")));
    let err = Kind::new(&r).up(&up_options(dir.path(), false)).await.unwrap_err();
    assert!(matches!(err, KindError::ClusterExists { .. }), "{err:?}");
}

#[tokio::test]
async fn nodes_that_do_not_come_up_are_named_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let r = ScriptedRunner::new();
    r.on("kind get clusters", Reply::stdout(""))
        .on("kind create cluster", Reply::stdout(""))
        .on(
            "wait --for=condition=Ready",
            Reply::fail("error: timed out waiting for the condition on nodes/zk-chaos-worker3\n"),
        )
        .on("get nodes", Reply::stdout(fixture("kubectl-get-nodes-one-not-ready.json")));
    let err = Kind::new(&r).up(&up_options(dir.path(), false)).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("nodes of kind cluster `zk-chaos` not ready after 120s"), "{msg}");
    assert!(msg.contains("zk-chaos-worker3 (container runtime network not ready"), "{msg}");
    assert!(msg.contains("docker logs zk-chaos-control-plane"), "{msg}");

    // kind itself giving up is reported with its command line and stderr.
    let r = ScriptedRunner::new();
    r.on("kind get clusters", Reply::stdout("")).on(
        "kind create cluster",
        Reply::fail("ERROR: failed to create cluster: failed to init node with kubeadm: exit status 1\n"),
    );
    let msg = Kind::new(&r).up(&up_options(dir.path(), false)).await.unwrap_err().to_string();
    assert!(msg.contains("`kind create cluster --name zk-chaos --config kind/cluster.yaml"), "{msg}");
    assert!(msg.contains("failed to init node with kubeadm"), "{msg}");
}

#[tokio::test]
async fn down_deletes_only_what_exists_and_removes_the_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("zk-chaos.kubeconfig");
    std::fs::write(&kc, "x").unwrap();
    let r = ScriptedRunner::new();
    r.once("kind get clusters", Reply::stdout(fixture("kind-get-clusters.stdout"))).on(
        "kind delete cluster",
        Reply::Ok { stdout: String::new(), stderr: "Deleting cluster \"zk-chaos\" ...\n".into() },
    );
    assert!(Kind::new(&r).down("zk-chaos", Some(&kc)).await.unwrap());
    assert_eq!(
        r.calls(),
        ["kind get clusters".to_string(), format!("kind delete cluster --name zk-chaos --kubeconfig {}", kc.display())]
    );
    assert!(!kc.exists());
    r.on("kind get clusters", Reply::stdout("kind\n"));
    assert!(!Kind::new(&r).down("zk-chaos", Some(&kc)).await.unwrap());
    assert_eq!(r.calls().iter().filter(|c| c.starts_with("kind delete")).count(), 1);
}

#[tokio::test]
async fn status_reads_nodes_operator_and_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kind/zk-chaos.kubeconfig");
    let r = ScriptedRunner::new();
    r.on("kind get clusters", Reply::stdout(fixture("kind-get-clusters.stdout")))
        .on("kind get kubeconfig", Reply::stdout(fixture("kind-get-kubeconfig.yaml")))
        .on("version -o json", Reply::stdout(fixture("kubectl-version.json")))
        .on("get nodes", Reply::stdout(fixture("kubectl-get-nodes.json")))
        .on("get deployment", Reply::stdout(fixture("kubectl-get-deployment-operator.json")))
        .on("get zookeeperclusters", Reply::stdout(fixture("kubectl-get-zookeeperclusters.json")));
    let st = Kind::new(&r).status("zk-chaos", &kc).await.unwrap();
    assert!(st.healthy());
    assert_eq!(st.server_version.as_deref(), Some("v1.33.1"));
    assert_eq!(st.nodes.len(), 4);
    assert_eq!(st.zookeeper_clusters.len(), 2);
    let k = kubectl(dir.path());
    assert!(
        r.calls().contains(&format!(
            "{k} -n zk-chaos-system get deployment zk-chaos-operator -o json --request-timeout=20s"
        ))
    );
    assert!(r.calls().contains(&format!("{k} -A get zookeeperclusters.zk-chaos.io -o json --request-timeout=20s")));

    // Without the operator installed: still a status, just no operator.
    let r = ScriptedRunner::new();
    r.on("kind get clusters", Reply::stdout("zk-chaos\n"))
        .on("kind get kubeconfig", Reply::stdout(fixture("kind-get-kubeconfig.yaml")))
        .on("version -o json", Reply::stdout(fixture("kubectl-version.json")))
        .on("get nodes", Reply::stdout(fixture("kubectl-get-nodes-one-not-ready.json")))
        .on("get deployment", Reply::fail("Error from server (NotFound): namespaces \"zk-chaos-system\" not found\n"))
        .on(
            "get zookeeperclusters",
            Reply::fail("error: the server doesn't have a resource type \"zookeeperclusters\"\n"),
        );
    let st = Kind::new(&r).status("zk-chaos", &kc).await.unwrap();
    assert!(st.operator.is_none() && st.zookeeper_clusters.is_empty());
    assert!(!st.healthy(), "a node is not ready");

    let r = ScriptedRunner::new();
    r.on("kind get clusters", Reply::stdout("kind\n"));
    let err = Kind::new(&r).status("zk-chaos", &kc).await.unwrap_err();
    assert_eq!(err.to_string(), "no kind cluster named `zk-chaos`; create it with `zk-chaos kind up --name zk-chaos`");
}

// ---- images and deploy ----

#[tokio::test]
async fn zookeeper_images_are_loaded_only_when_local() {
    assert_eq!(images::zookeeper_image("3.9.3", None), "zookeeper:3.9.3");
    assert_eq!(images::zookeeper_image("3.9.3", Some("mirror.example/zk")), "mirror.example/zk:3.9.3");
    let r = ScriptedRunner::new();
    r.on("docker image inspect zookeeper:3.8.0", Reply::stdout(fixture("docker-image-inspect-zookeeper.json")))
        .on(
            "docker image inspect zookeeper:3.9.3",
            Reply::Fail {
                code: 1,
                stdout: fixture("docker-image-inspect-missing.stdout"),
                stderr: fixture("docker-image-inspect-missing.stderr"),
            },
        )
        .on("kind load docker-image", Reply::stdout(""));
    assert_eq!(images::load_if_local(&r, "zk-chaos", "zookeeper:3.8.0").await.unwrap(), Loaded::Loaded);
    assert_eq!(images::load_if_local(&r, "zk-chaos", "zookeeper:3.9.3").await.unwrap(), Loaded::NotLocal);
    assert_eq!(
        r.calls(),
        [
            "docker image inspect zookeeper:3.8.0",
            "kind load docker-image zookeeper:3.8.0 --name zk-chaos",
            "docker image inspect zookeeper:3.9.3"
        ]
    );
    let r = ScriptedRunner::new();
    r.on(
        "docker image inspect",
        Reply::Fail {
            code: 1,
            stdout: fixture("docker-image-inspect-no-engine.stdout"),
            stderr: fixture("docker-image-inspect-no-engine.stderr"),
        },
    );
    let err = images::load_if_local(&r, "zk-chaos", "zookeeper:3.8.0").await.unwrap_err();
    assert!(matches!(err, KindError::DockerEngineDown { .. }), "{err:?}");
}

#[tokio::test]
async fn the_operator_image_is_built_from_a_checkout_only() {
    let r = ScriptedRunner::new();
    r.on("docker build", Reply::stdout(""));
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    images::build_operator_image(&r, src, "zk-chaos-operator:dev").await.unwrap();
    assert_eq!(r.calls(), [format!("docker build -f {0}/kind/Dockerfile -t zk-chaos-operator:dev {0}", src.display())]);
    assert_eq!(r.commands()[0].env, [("DOCKER_BUILDKIT".to_string(), "1".to_string())]);
    let elsewhere = tempfile::tempdir().unwrap();
    let err = images::build_operator_image(&r, elsewhere.path(), "zk-chaos-operator:dev").await.unwrap_err();
    assert!(err.to_string().contains("is not a zk-chaos checkout"), "{err}");
    assert_eq!(r.calls().len(), 1, "no build attempted");
}

#[tokio::test]
async fn deploy_applies_the_manifests_and_waits_for_the_rollout() {
    let target = zk_chaos::backend::kind::commands::KubeTarget::kind("zk-chaos", Path::new("/k"));
    let r = ScriptedRunner::new();
    r.on(
        "apply --server-side",
        Reply::stdout(
            "customresourcedefinition.apiextensions.k8s.io/zookeeperclusters.zk-chaos.io serverside-applied\n",
        ),
    )
    .on("wait --for=condition=Established", Reply::stdout(""))
    .on("rollout status", Reply::stdout("deployment \"zk-chaos-operator\" successfully rolled out\n"))
    .on("get deployment", Reply::stdout(fixture("kubectl-get-deployment-operator.json")));
    let state = deploy::deploy_operator(&r, &target, images::OPERATOR_IMAGE, Duration::from_secs(90)).await.unwrap();
    assert!(state.rolled_out());
    let k = "kubectl --kubeconfig /k --context kind-zk-chaos";
    assert_eq!(
        r.calls(),
        [
            format!("{k} apply --server-side --force-conflicts --field-manager=zk-chaos -f -"),
            format!("{k} wait --for=condition=Established --timeout=60s crd/zookeeperclusters.zk-chaos.io"),
            format!("{k} -n zk-chaos-system rollout status deployment/zk-chaos-operator --timeout=90s"),
            format!("{k} -n zk-chaos-system get deployment zk-chaos-operator -o json --request-timeout=20s"),
        ]
    );
    assert_eq!(r.commands()[0].stdin.as_deref(), Some(manifests::render().as_str()));

    let r = ScriptedRunner::new();
    r.on("apply --server-side", Reply::stdout(""))
        .on("wait --for=condition=Established", Reply::stdout(""))
        .on("rollout status", Reply::fail("error: timed out waiting for the condition\n"))
        .on(
            "get deployment",
            Reply::stdout(
                fixture("kubectl-get-deployment-operator.json").replace("\"readyReplicas\": 1", "\"readyReplicas\": 0"),
            ),
        );
    let msg = deploy::deploy_operator(&r, &target, "my/op:1", Duration::from_secs(5)).await.unwrap_err().to_string();
    assert!(msg.starts_with("operator Deployment zk-chaos-system/zk-chaos-operator not ready after 5s"), "{msg}");
    assert!(msg.contains("ready: 0") && msg.contains("is image my/op:1 loaded"), "{msg}");
}

#[tokio::test]
async fn stand_up_runs_every_step_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let r = ScriptedRunner::new();
    healthy_tools(&r);
    r.on("kind get clusters", Reply::stdout(""))
        .on("kind create cluster", Reply::stdout(""))
        .on("wait --for=condition=Ready", Reply::stdout(""))
        .on("get nodes", Reply::stdout(fixture("kubectl-get-nodes.json")))
        .on("docker build", Reply::stdout(""))
        .on("kind load docker-image", Reply::stdout(""))
        .on("docker image inspect zookeeper:3.8.0", Reply::stdout(fixture("docker-image-inspect-zookeeper.json")))
        .on("docker image inspect", Reply::fail(fixture("docker-image-inspect-missing.stderr")))
        .on("apply --server-side", Reply::stdout(""))
        .on("wait --for=condition=Established", Reply::stdout(""))
        .on("rollout status", Reply::stdout(""))
        .on("get deployment", Reply::stdout(fixture("kubectl-get-deployment-operator.json")));
    let setup = Setup {
        cluster: up_options(dir.path(), false),
        operator: OperatorImage::Build {
            source: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            tag: "zk-chaos-operator:dev".into(),
        },
        zookeeper_versions: vec!["3.8.0".into(), "3.9.3".into()],
        zookeeper_repository: None,
        rollout_timeout: Duration::from_secs(60),
    };
    let steps = std::sync::Mutex::new(Vec::new());
    let report = setup::stand_up(&r, &setup, &|s| steps.lock().unwrap().push(s.to_string())).await.unwrap();
    assert_eq!(report.outcome, UpOutcome::Created);
    assert_eq!(
        report.images,
        [
            ("zk-chaos-operator:dev".to_string(), Loaded::Loaded),
            ("zookeeper:3.8.0".to_string(), Loaded::Loaded),
            ("zookeeper:3.9.3".to_string(), Loaded::NotLocal)
        ]
    );
    let order: Vec<String> = r
        .calls()
        .into_iter()
        .filter_map(|c| {
            [
                "kind create",
                "docker build",
                "kind load docker-image zk-chaos-operator",
                "kind load docker-image zookeeper",
                "apply --server-side",
                "rollout status",
            ]
            .into_iter()
            .find(|n| c.contains(n))
            .map(String::from)
        })
        .collect();
    assert_eq!(
        order,
        [
            "kind create",
            "docker build",
            "kind load docker-image zk-chaos-operator",
            "kind load docker-image zookeeper",
            "apply --server-side",
            "rollout status"
        ]
    );
    assert!(!r.calls().iter().any(|c| c.contains("rollout restart")), "a fresh cluster needs no restart");
    assert!(steps.lock().unwrap().iter().any(|s| s.contains("zookeeper:3.9.3: not local")));

    // Preflight failures stop before anything is created.
    let r = ScriptedRunner::new();
    r.missing(Tool::Kind).missing(Tool::Docker).missing(Tool::Kubectl);
    let err = setup::stand_up(&r, &setup, &|_| {}).await.unwrap_err();
    assert!(matches!(err, KindError::Prerequisites { ref problems } if problems.len() == 3), "{err:?}");
    assert_eq!(r.calls().len(), 3);
}

#[tokio::test]
async fn kind_nodes_run_scripts_through_docker_exec() {
    let r = std::sync::Arc::new(ScriptedRunner::new());
    r.on("docker exec zk-chaos-worker2 sh -c", Reply::stdout("State:\tT (stopped)\n")).on(
        "docker exec zk-chaos-worker3",
        Reply::fail("Error response from daemon: container zk-chaos-worker3 is not running\n"),
    );
    let nodes = KindNodes::new(r.clone());
    let out = nodes.run("zk-chaos-worker2", "echo hi", Duration::from_secs(3)).await.unwrap();
    assert_eq!(out, "State:\tT (stopped)\n");
    assert_eq!(r.commands()[0].argv(), ["docker", "exec", "zk-chaos-worker2", "sh", "-c", "echo hi"]);
    assert_eq!(r.commands()[0].timeout, Duration::from_secs(3));
    let err = nodes.run("zk-chaos-worker3", "true", Duration::from_secs(3)).await.unwrap_err().to_string();
    assert!(err.starts_with("on node zk-chaos-worker3:") && err.contains("is not running"), "{err}");
}
