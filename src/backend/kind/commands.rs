//! Pure builders for every command line the kind backend runs. Each
//! returns a [`Cmd`] with its own timeout; nothing here runs anything, so
//! each argv is unit-tested exactly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::runner::{Cmd, Tool};

/// Bound on quick queries (`version`, `get`, `image inspect`).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on `kind delete cluster`.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(180);
/// Bound on `kind load docker-image` (an image is copied into every node).
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// Bound on the operator image build (a cold release build of the operator).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// Bound on `kubectl apply`.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(120);
/// Head room a command gets beyond the wait it is told to do itself.
pub const MARGIN: Duration = Duration::from_secs(30);

/// The field manager of everything the harness applies.
pub const FIELD_MANAGER: &str = "zk-chaos";

/// `90s` for 90 seconds: the duration syntax kind and kubectl take.
pub fn go_duration(d: Duration) -> String {
    format!("{}s", d.as_secs().max(1))
}

/// Which cluster a `kubectl` call talks to: a kubeconfig file (default:
/// `$KUBECONFIG` or `~/.kube/config`) and a context in it (default: its
/// current context).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeTarget {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
}

impl KubeTarget {
    /// The kind cluster `name` through the kubeconfig file `kubeconfig`
    /// (kind names its context `kind-<name>`).
    pub fn kind(name: &str, kubeconfig: &Path) -> Self {
        Self { kubeconfig: Some(kubeconfig.to_path_buf()), context: Some(kind_context(name)) }
    }

    fn kubectl(&self, args: &[&str], timeout: Duration) -> Cmd {
        let mut argv: Vec<String> = Vec::new();
        if let Some(k) = &self.kubeconfig {
            argv.extend(["--kubeconfig".to_string(), k.display().to_string()]);
        }
        if let Some(c) = &self.context {
            argv.extend(["--context".to_string(), c.clone()]);
        }
        argv.extend(args.iter().map(|a| a.to_string()));
        Cmd::new(Tool::Kubectl, argv, timeout)
    }
}

/// The kubeconfig context kind creates for cluster `name`.
pub fn kind_context(name: &str) -> String {
    format!("kind-{name}")
}

// ---- docker ----

/// `docker info --format {{.ServerVersion}}`: succeeds only when the
/// engine answers (the client alone prints its own part and fails).
pub fn docker_info() -> Cmd {
    Cmd::new(Tool::Docker, ["info", "--format", "{{.ServerVersion}}"], QUERY_TIMEOUT)
}

/// `docker build -f <dockerfile> -t <tag> <context>` with BuildKit (the
/// Dockerfile uses cache mounts and `<Dockerfile>.dockerignore`).
pub fn docker_build(dockerfile: &Path, tag: &str, context: &Path) -> Cmd {
    let args =
        ["build", "-f", &dockerfile.display().to_string(), "-t", tag, &context.display().to_string()].map(String::from);
    Cmd::new(Tool::Docker, args, BUILD_TIMEOUT).with_env("DOCKER_BUILDKIT", "1")
}

/// `docker image inspect <image>` (a JSON array; fails when absent).
pub fn docker_image_inspect(image: &str) -> Cmd {
    Cmd::new(Tool::Docker, ["image", "inspect", image], QUERY_TIMEOUT)
}

/// `docker pull <image>`.
pub fn docker_pull(image: &str) -> Cmd {
    Cmd::new(Tool::Docker, ["pull", image], LOAD_TIMEOUT)
}

/// `docker exec <container> <command...>`: a command on a kind node (each
/// node is a container named after the node).
pub fn docker_exec(container: &str, command: &[String], timeout: Duration) -> Cmd {
    let mut args = vec!["exec".to_string(), container.to_string()];
    args.extend(command.iter().cloned());
    Cmd::new(Tool::Docker, args, timeout)
}

// ---- kind ----

/// `kind version`.
pub fn kind_version() -> Cmd {
    Cmd::new(Tool::Kind, ["version"], QUERY_TIMEOUT)
}

/// What `kind create cluster` is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCluster {
    /// `--name` (wins over the config's `name`).
    pub name: String,
    /// `--config`.
    pub config: PathBuf,
    /// `--image`: the node image (default: the one the kind release pins).
    pub node_image: Option<String>,
    /// `--wait`: how long kind waits for the control plane.
    pub wait: Duration,
    /// `--kubeconfig`: where kind writes the cluster's kubeconfig (so the
    /// user's own `~/.kube/config` is left alone).
    pub kubeconfig: PathBuf,
}

/// `kind create cluster --name N --config C --wait Ws [--image I] --kubeconfig K`.
pub fn kind_create(c: &CreateCluster) -> Cmd {
    let mut args = vec![
        "create".to_string(),
        "cluster".into(),
        "--name".into(),
        c.name.clone(),
        "--config".into(),
        c.config.display().to_string(),
        "--wait".into(),
        go_duration(c.wait),
    ];
    if let Some(image) = &c.node_image {
        args.extend(["--image".into(), image.clone()]);
    }
    args.extend(["--kubeconfig".into(), c.kubeconfig.display().to_string()]);
    Cmd::new(Tool::Kind, args, c.wait + Duration::from_secs(300))
}

/// `kind delete cluster --name N [--kubeconfig K]`.
pub fn kind_delete(name: &str, kubeconfig: Option<&Path>) -> Cmd {
    let mut args = vec!["delete".to_string(), "cluster".into(), "--name".into(), name.into()];
    if let Some(k) = kubeconfig {
        args.extend(["--kubeconfig".into(), k.display().to_string()]);
    }
    Cmd::new(Tool::Kind, args, DELETE_TIMEOUT)
}

/// `kind get clusters`.
pub fn kind_get_clusters() -> Cmd {
    Cmd::new(Tool::Kind, ["get", "clusters"], QUERY_TIMEOUT)
}

/// `kind get kubeconfig --name N` (printed on stdout).
pub fn kind_get_kubeconfig(name: &str) -> Cmd {
    Cmd::new(Tool::Kind, ["get", "kubeconfig", "--name", name], QUERY_TIMEOUT)
}

/// `kind get nodes --name N`.
pub fn kind_get_nodes(name: &str) -> Cmd {
    Cmd::new(Tool::Kind, ["get", "nodes", "--name", name], QUERY_TIMEOUT)
}

/// `kind load docker-image <image> --name N`.
pub fn kind_load(image: &str, name: &str) -> Cmd {
    Cmd::new(Tool::Kind, ["load", "docker-image", image, "--name", name], LOAD_TIMEOUT)
}

// ---- kubectl ----

/// `kubectl version --client -o json` (no server needed).
pub fn kubectl_client_version() -> Cmd {
    Cmd::new(Tool::Kubectl, ["version", "--client", "-o", "json"], QUERY_TIMEOUT)
}

/// `kubectl version -o json --request-timeout=10s` (client and server).
pub fn kubectl_version(t: &KubeTarget) -> Cmd {
    t.kubectl(&["version", "-o", "json", "--request-timeout=10s"], QUERY_TIMEOUT)
}

/// `kubectl apply --server-side --force-conflicts --field-manager=zk-chaos -f -`
/// with `manifests` on stdin. Server-side: the CRD is too large for the
/// last-applied annotation of a client-side apply.
pub fn kubectl_apply(t: &KubeTarget, manifests: &str) -> Cmd {
    let fm = format!("--field-manager={FIELD_MANAGER}");
    t.kubectl(&["apply", "--server-side", "--force-conflicts", &fm, "-f", "-"], APPLY_TIMEOUT).with_stdin(manifests)
}

/// `kubectl wait --for=condition=<condition> --timeout=Ws [-n NS] <what...>`.
pub fn kubectl_wait(t: &KubeTarget, namespace: Option<&str>, condition: &str, what: &[&str], timeout: Duration) -> Cmd {
    let cond = format!("--for=condition={condition}");
    let to = format!("--timeout={}", go_duration(timeout));
    let mut args: Vec<&str> = Vec::new();
    if let Some(ns) = namespace {
        args.extend(["-n", ns]);
    }
    args.extend(["wait", &cond, &to]);
    args.extend(what);
    t.kubectl(&args, timeout + MARGIN)
}

/// `kubectl -n NS rollout status deployment/NAME --timeout=Ws`.
pub fn kubectl_rollout_status(t: &KubeTarget, namespace: &str, deployment: &str, timeout: Duration) -> Cmd {
    let what = format!("deployment/{deployment}");
    let to = format!("--timeout={}", go_duration(timeout));
    t.kubectl(&["-n", namespace, "rollout", "status", &what, &to], timeout + MARGIN)
}

/// `kubectl -n NS rollout restart deployment/NAME`.
pub fn kubectl_rollout_restart(t: &KubeTarget, namespace: &str, deployment: &str) -> Cmd {
    let what = format!("deployment/{deployment}");
    t.kubectl(&["-n", namespace, "rollout", "restart", &what], QUERY_TIMEOUT)
}

/// `kubectl get <what...> -o json [-n NS | -A]`.
pub fn kubectl_get_json(t: &KubeTarget, namespace: Scope<'_>, what: &[&str]) -> Cmd {
    let mut args: Vec<&str> = match namespace {
        Scope::Cluster => Vec::new(),
        Scope::Namespace(ns) => vec!["-n", ns],
        Scope::All => vec!["-A"],
    };
    args.push("get");
    args.extend(what);
    args.extend(["-o", "json", "--request-timeout=20s"]);
    t.kubectl(&args, QUERY_TIMEOUT)
}

/// Which namespaces a `kubectl get` looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// A cluster-scoped resource.
    Cluster,
    /// One namespace.
    Namespace(&'a str),
    /// Every namespace (`-A`).
    All,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(c: &Cmd) -> String {
        c.argv().join(" ")
    }

    #[test]
    fn docker_calls() {
        assert_eq!(argv(&docker_info()), "docker info --format {{.ServerVersion}}");
        let b = docker_build(Path::new("kind/Dockerfile"), "zk-chaos-operator:dev", Path::new("."));
        assert_eq!(argv(&b), "docker build -f kind/Dockerfile -t zk-chaos-operator:dev .");
        assert_eq!(b.env, [("DOCKER_BUILDKIT".to_string(), "1".to_string())]);
        assert_eq!(b.timeout, BUILD_TIMEOUT);
        assert_eq!(argv(&docker_image_inspect("zookeeper:3.8.0")), "docker image inspect zookeeper:3.8.0");
        assert_eq!(argv(&docker_pull("zookeeper:3.9.3")), "docker pull zookeeper:3.9.3");
        let e = docker_exec("zk-chaos-worker2", &["crictl".into(), "ps".into()], Duration::from_secs(9));
        assert_eq!((argv(&e).as_str(), e.timeout), ("docker exec zk-chaos-worker2 crictl ps", Duration::from_secs(9)));
    }

    #[test]
    fn kind_calls() {
        assert_eq!(argv(&kind_version()), "kind version");
        let mut c = CreateCluster {
            name: "zk".into(),
            config: "kind/cluster.yaml".into(),
            node_image: None,
            wait: Duration::from_secs(180),
            kubeconfig: "/w/kind/zk.kubeconfig".into(),
        };
        let cmd = kind_create(&c);
        assert_eq!(
            argv(&cmd),
            "kind create cluster --name zk --config kind/cluster.yaml --wait 180s --kubeconfig /w/kind/zk.kubeconfig"
        );
        assert!(cmd.timeout > c.wait, "the command outlives its own wait");
        c.node_image = Some("kindest/node:v1.33.1".into());
        assert_eq!(
            argv(&kind_create(&c)),
            "kind create cluster --name zk --config kind/cluster.yaml --wait 180s \
             --image kindest/node:v1.33.1 --kubeconfig /w/kind/zk.kubeconfig"
        );
        assert_eq!(argv(&kind_delete("zk", None)), "kind delete cluster --name zk");
        assert_eq!(argv(&kind_delete("zk", Some(Path::new("/k")))), "kind delete cluster --name zk --kubeconfig /k");
        assert_eq!(argv(&kind_get_clusters()), "kind get clusters");
        assert_eq!(argv(&kind_get_kubeconfig("zk")), "kind get kubeconfig --name zk");
        assert_eq!(argv(&kind_get_nodes("zk")), "kind get nodes --name zk");
        assert_eq!(
            argv(&kind_load("zk-chaos-operator:dev", "zk")),
            "kind load docker-image zk-chaos-operator:dev --name zk"
        );
    }

    #[test]
    fn kubectl_calls_name_their_cluster() {
        let t = KubeTarget::kind("zk", Path::new("/w/zk.kubeconfig"));
        assert_eq!(argv(&kubectl_client_version()), "kubectl version --client -o json");
        let pre = "kubectl --kubeconfig /w/zk.kubeconfig --context kind-zk";
        assert_eq!(argv(&kubectl_version(&t)), format!("{pre} version -o json --request-timeout=10s"));
        let apply = kubectl_apply(&t, "kind: List\n");
        assert_eq!(argv(&apply), format!("{pre} apply --server-side --force-conflicts --field-manager=zk-chaos -f -"));
        assert_eq!(apply.stdin.as_deref(), Some("kind: List\n"));
        let w = kubectl_wait(&t, None, "Established", &["crd/zookeeperclusters.zk-chaos.io"], Duration::from_secs(60));
        assert_eq!(
            argv(&w),
            format!("{pre} wait --for=condition=Established --timeout=60s crd/zookeeperclusters.zk-chaos.io")
        );
        assert_eq!(w.timeout, Duration::from_secs(60) + MARGIN);
        let w = kubectl_wait(&t, Some("kube-system"), "Ready", &["nodes", "--all"], Duration::from_secs(5));
        assert_eq!(argv(&w), format!("{pre} -n kube-system wait --for=condition=Ready --timeout=5s nodes --all"));
        assert_eq!(
            argv(&kubectl_rollout_status(&t, "zk-chaos-system", "zk-chaos-operator", Duration::from_secs(120))),
            format!("{pre} -n zk-chaos-system rollout status deployment/zk-chaos-operator --timeout=120s")
        );
        assert_eq!(
            argv(&kubectl_rollout_restart(&t, "zk-chaos-system", "zk-chaos-operator")),
            format!("{pre} -n zk-chaos-system rollout restart deployment/zk-chaos-operator")
        );
        assert_eq!(
            argv(&kubectl_get_json(&t, Scope::Cluster, &["nodes"])),
            format!("{pre} get nodes -o json --request-timeout=20s")
        );
        assert_eq!(
            argv(&kubectl_get_json(&t, Scope::All, &["zookeeperclusters"])),
            format!("{pre} -A get zookeeperclusters -o json --request-timeout=20s")
        );
        assert_eq!(
            argv(&kubectl_get_json(&t, Scope::Namespace("ns"), &["deployment", "op"])),
            format!("{pre} -n ns get deployment op -o json --request-timeout=20s")
        );
        let plain = KubeTarget::default();
        assert_eq!(argv(&kubectl_version(&plain)), "kubectl version -o json --request-timeout=10s");
        let ctx = KubeTarget { kubeconfig: None, context: Some("prod".into()) };
        assert_eq!(argv(&kubectl_version(&ctx)), "kubectl --context prod version -o json --request-timeout=10s");
    }

    #[test]
    fn durations_use_the_go_syntax() {
        assert_eq!(go_duration(Duration::from_millis(1500)), "1s");
        assert_eq!(go_duration(Duration::from_millis(10)), "1s");
        assert_eq!(go_duration(Duration::from_secs(300)), "300s");
    }
}
