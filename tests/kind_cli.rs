//! `zk-chaos kind up|down|status` as a user runs them, with stand-in
//! `docker`, `kind` and `kubectl` scripts on a private PATH (they log their
//! arguments and answer from `tests/fixtures/kind/`): missing tools, a
//! docker client without an engine, an existing cluster without `--reuse`,
//! status and down. Each must fail fast with a message naming what is
//! missing and how to fix it. No real tool is run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kind")
}

/// A private PATH holding the given tools, each a bash script whose body is
/// `case "$*" in <arms> *) echo unscripted >&2; exit 99;; esac`, logging to `log`.
struct Tools {
    dir: tempfile::TempDir,
}

impl Tools {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn with(self, tool: &str, arms: &str) -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.dir.path().join(tool);
        let script = format!(
            "#!/bin/bash\nPATH=/usr/bin:/bin\necho \"{tool} $*\" >> \"$FAKE_LOG\"\nFIX={}\ncase \"$*\" in\n{arms}\n*) echo \"unscripted: {tool} $*\" >&2; exit 99;;\nesac\n",
            fixtures().display()
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    fn healthy(self) -> Self {
        self.with("docker", "'info --format {{.ServerVersion}}') echo 28.2.2;;")
            .with(
                "kind",
                "'version') cat $FIX/kind-version.txt;;\n\
                 'get clusters') cat $FIX/kind-get-clusters.stdout;;\n\
                 'get kubeconfig --name zk-chaos') cat $FIX/kind-get-kubeconfig.yaml;;\n\
                 'delete cluster'*) echo 'Deleting cluster \"zk-chaos\" ...' >&2;;",
            )
            .with(
                "kubectl",
                "'version --client -o json') cat $FIX/kubectl-version.json;;\n\
                 *' version -o json'*) cat $FIX/kubectl-version.json;;\n\
                 *' get nodes '*) cat $FIX/kubectl-get-nodes.json;;\n\
                 *' get deployment '*) cat $FIX/kubectl-get-deployment-operator.json;;\n\
                 *' get zookeeperclusters'*) cat $FIX/kubectl-get-zookeeperclusters.json;;",
            )
    }

    fn run(&self, args: &[&str]) -> (Output, Vec<String>, Duration) {
        let work = self.dir.path().join("work");
        let log = self.dir.path().join("calls.log");
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_zk-chaos"))
            .args(args)
            .env("PATH", self.dir.path())
            .env("FAKE_LOG", &log)
            .env("ZK_CHAOS_WORK_DIR", &work)
            .env_remove("KUBECONFIG")
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap();
        let calls = std::fs::read_to_string(&log).unwrap_or_default().lines().map(String::from).collect();
        (out, calls, started.elapsed())
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn every_kind_command_has_help_with_examples() {
    for args in
        [&["kind", "--help"][..], &["kind", "up", "--help"], &["kind", "down", "--help"], &["kind", "status", "--help"]]
    {
        let o = Command::new(env!("CARGO_BIN_EXE_zk-chaos")).args(args).output().unwrap();
        assert!(o.status.success() && text(&o).contains("Examples:"), "{args:?}: {}", text(&o));
    }
}

#[test]
fn without_any_tool_up_names_each_and_how_to_install_it() {
    let tools = Tools::new();
    let (o, _, took) = tools.run(&["kind", "up"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let msg = text(&o);
    assert!(msg.contains("the kind backend cannot run here:"), "{msg}");
    for needle in [
        "docker not found on PATH: install Docker Engine",
        "kind not found on PATH: install kind v0.24.0 or newer",
        "kubectl not found on PATH: install kubectl",
    ] {
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    assert!(took < Duration::from_secs(10), "{took:?}");
    for cmd in ["status", "down"] {
        let (o, _, took) = tools.run(&["kind", cmd]);
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        assert!(text(&o).contains("kind not found on PATH: install kind"), "{cmd}: {}", text(&o));
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
}

#[test]
fn a_docker_client_without_an_engine_is_its_own_error() {
    // What this machine has: the docker CLI, no engine; kubectl; no kind.
    let tools = Tools::new()
        .with(
            "docker",
            "'info --format {{.ServerVersion}}') cat $FIX/docker-info-no-engine.stdout; cat $FIX/docker-info-no-engine.stderr >&2; exit 1;;",
        )
        .with("kubectl", "'version --client -o json') cat $FIX/kubectl-version-no-server.json;;");
    let (o, calls, took) = tools.run(&["kind", "up", "--name", "ci"]);
    assert_eq!(o.status.code(), Some(1));
    let msg = text(&o);
    assert!(msg.contains("docker is installed but its engine does not answer"), "{msg}");
    assert!(msg.contains("Cannot connect to the Docker daemon at unix:///var/run/docker.sock"), "{msg}");
    assert!(msg.contains("kind not found on PATH"), "{msg}");
    assert!(!msg.contains("kubectl not found"), "{msg}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(!calls.iter().any(|c| c.contains("create")), "nothing created: {calls:?}");
}

#[test]
fn an_existing_cluster_needs_reuse() {
    let tools = Tools::new().healthy();
    let (o, calls, _) = tools.run(&["kind", "up", "--no-operator"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let msg = text(&o);
    assert!(msg.contains("kind cluster `zk-chaos` already exists; pass --reuse"), "{msg}");
    assert!(calls.contains(&"kind get clusters".to_string()), "{calls:?}");
    assert!(!calls.iter().any(|c| c.starts_with("kind create") || c.starts_with("kind delete")), "{calls:?}");
}

#[test]
fn status_shows_nodes_operator_and_clusters() {
    let tools = Tools::new().healthy();
    let (o, calls, _) = tools.run(&["kind", "status"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("kind cluster `zk-chaos` (server v1.33.1"), "{out}");
    assert!(out.contains(": healthy"), "{out}");
    assert_eq!(out.matches("zk-chaos-worker").count(), 3, "{out}");
    assert!(out.contains("operator: 1/1 ready"), "{out}");
    assert!(out.contains("chaos            zk-upgrade       Upgrading    2/3"), "{out}");
    let kubeconfig = tools.dir.path().join("work/kind/zk-chaos.kubeconfig");
    assert!(
        calls
            .iter()
            .any(|c| c.contains(&format!("--kubeconfig {} --context kind-zk-chaos get nodes", kubeconfig.display())))
    );
    assert!(kubeconfig.is_file(), "the kubeconfig is exported to the work dir");

    let (o, _, _) = tools.run(&["kind", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(v["operator"]["ready"], 1);
    assert_eq!(v["zookeeper_clusters"][1]["phase"], "Upgrading");

    let (o, _, _) = tools.run(&["kind", "status", "--name", "other"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no kind cluster named `other`; create it with `zk-chaos kind up --name other`"));
}

#[test]
fn down_deletes_what_exists_and_says_when_there_is_nothing() {
    let tools = Tools::new().healthy();
    let (o, calls, _) = tools.run(&["kind", "down"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("kind cluster `zk-chaos` deleted"));
    let kubeconfig = tools.dir.path().join("work/kind/zk-chaos.kubeconfig");
    assert!(
        calls.contains(&format!("kind delete cluster --name zk-chaos --kubeconfig {}", kubeconfig.display())),
        "{calls:?}"
    );
    let (o, _, _) = tools.run(&["kind", "down", "--name", "gone"]);
    assert!(o.status.success());
    assert!(text(&o).contains("no kind cluster named `gone`; nothing to delete"));
}

#[test]
fn run_on_kind_without_the_tools_fails_fast_with_the_preflight_message() {
    let tools = Tools::new();
    let features = Path::new(env!("CARGO_MANIFEST_DIR")).join("features/leader_loss.feature");
    let (o, calls, took) = tools.run(&["run", "--backend", "kind", "--reuse", features.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let msg = text(&o);
    assert!(msg.contains("the kind backend cannot run here:"), "{msg}");
    assert!(msg.contains("docker not found on PATH") && msg.contains("kind not found on PATH"), "{msg}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(calls.is_empty(), "no tool there to call: {calls:?}");
}

#[test]
fn run_on_a_kubeconfig_checks_the_cluster_first_within_a_bound() {
    let tools = Tools::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kubeconfig = tools.dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{closed}\n\
             contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\ncurrent-context: ctx\n\
             users:\n- name: u\n  user:\n    token: t\n"
        ),
    )
    .unwrap();
    let features = Path::new(env!("CARGO_MANIFEST_DIR")).join("features/leader_loss.feature");
    let kc = kubeconfig.to_str().unwrap();
    let (o, _, took) = tools.run(&[
        "run",
        "--backend",
        "kube",
        "--kubeconfig",
        kc,
        "--namespace",
        "chaos",
        features.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let msg = text(&o);
    assert!(msg.contains(&format!("API server unreachable at http://127.0.0.1:{closed}")), "{msg}");
    assert!(took < Duration::from_secs(20), "{took:?}");

    // Bad input is refused before any cluster is asked anything.
    let (o, _, _) =
        tools.run(&["run", "--backend", "kube", "--kubeconfig", kc, "--tags", "@nothing", features.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(
            "no scenario in the given paths matches the tags `(@nothing) and not @local-only and not @no-kube`"
        ),
        "{}",
        text(&o)
    );
    for (args, flags) in [
        (&["run", "--reuse"][..], "--reuse cannot be used with --backend local"),
        (&["run", "--backend", "kube", "--reuse", "--name", "x"], "--name, --reuse cannot be used with --backend kube"),
        (&["run", "--backend", "kind", "--context", "c"], "--context cannot be used with --backend kind"),
    ] {
        let (o, _, _) = tools.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(flags), "{args:?}: {}", text(&o));
    }
}
