//! What the Kubernetes backend's tests share: an in-memory API server
//! (kube's `tower_test` pattern) recording every request and answering from
//! routes, scripted exec and node shells, and fixtures (pods, the
//! `ZookeeperCluster`, probe outputs from captured 3.8.0 answers).
#![allow(dead_code)] // each test crate uses its own part

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use zk_chaos::backend::kube::exec::{ExecOutput, PodExec};
use zk_chaos::backend::kube::{KubeCluster, KubeError, NodeShell, Timeouts};

pub const PODS: &str = "/api/v1/namespaces/default/pods";
pub const ZKC: &str = "/apis/zk-chaos.io/v1alpha1/namespaces/default/zookeeperclusters/zk";
pub const NETPOL: &str = "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies";
pub const SELECTOR: &str = "app.kubernetes.io/instance=zk,app.kubernetes.io/name=zookeeper";

// ---- the in-memory API server ----

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub patch: Option<&'static str>,
    pub body: Value,
}

impl Seen {
    pub fn line(&self) -> String {
        let kind = self.patch.map(|p| format!("[{p}]")).unwrap_or_default();
        let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}{kind} {}{}{}", self.method, self.path, if q.is_empty() { "" } else { "?" }, q.join("&"))
    }
}

pub struct Route {
    pub method: &'static str,
    pub path: String,
    pub status: u16,
    pub body: Value,
    pub once: bool,
}

/// Answers a request from what it is and every request before it, or
/// leaves it to the routes (`None`).
pub type Responder = Box<dyn Fn(&Seen, &[Seen]) -> Option<(u16, Value)> + Send + Sync>;

/// The in-memory API server: answers from [`FakeApi::respond_with`]
/// responders first, then from routes by method and path (404 otherwise),
/// and records every request.
#[derive(Default)]
pub struct FakeApi {
    pub routes: Mutex<Vec<Route>>,
    pub calls: Mutex<Vec<Seen>>,
    pub responders: Mutex<Vec<Responder>>,
}

impl FakeApi {
    pub fn on(&self, method: &'static str, path: &str, status: u16, body: Value) -> &Self {
        self.routes.lock().unwrap().push(Route { method, path: path.into(), status, body, once: false });
        self
    }

    pub fn once(&self, method: &'static str, path: &str, status: u16, body: Value) -> &Self {
        self.routes.lock().unwrap().push(Route { method, path: path.into(), status, body, once: true });
        self
    }

    pub fn lines(&self) -> Vec<String> {
        self.calls.lock().unwrap().iter().map(Seen::line).collect()
    }

    pub fn calls(&self) -> Vec<Seen> {
        self.calls.lock().unwrap().clone()
    }

    /// Answer with `f` when it has an answer (it sees the request and every earlier one).
    pub fn respond_with(&self, f: impl Fn(&Seen, &[Seen]) -> Option<(u16, Value)> + Send + Sync + 'static) -> &Self {
        self.responders.lock().unwrap().push(Box::new(f));
        self
    }

    /// The request lines, without those containing any of `noise`.
    pub fn lines_except(&self, noise: &[&str]) -> Vec<String> {
        self.lines().into_iter().filter(|l| !noise.iter().any(|n| l.contains(n))).collect()
    }

    pub fn respond(&self, seen: &Seen) -> (u16, Value) {
        {
            let before = self.calls.lock().unwrap().clone();
            for f in self.responders.lock().unwrap().iter() {
                if let Some(answer) = f(seen, &before) {
                    return answer;
                }
            }
        }
        let mut routes = self.routes.lock().unwrap();
        match routes.iter().position(|r| r.method == seen.method && r.path == seen.path) {
            Some(i) if routes[i].once => {
                let r = routes.remove(i);
                (r.status, r.body)
            }
            Some(i) => (routes[i].status, routes[i].body.clone()),
            None => (404, status(404, "NotFound", &format!("{} not found", seen.path))),
        }
    }
}

pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "reason": reason, "code": code, "message": message})
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

pub fn query_of(q: &str) -> BTreeMap<String, String> {
    q.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), percent_decode(v))).collect()
}

pub fn mock_client(api: Arc<FakeApi>) -> Client {
    let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let ct = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            let patch = match ct.as_str() {
                t if t.contains("apply-patch") => Some("apply"),
                t if t.contains("merge-patch") => Some("merge"),
                _ => None,
            };
            let seen = Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query: query_of(parts.uri.query().unwrap_or_default()),
                patch,
                body: if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() },
            };
            let (code, value) = api.respond(&seen);
            api.calls.lock().unwrap().push(seen);
            send.send_response(
                Response::builder()
                    .status(StatusCode::from_u16(code).unwrap())
                    .body(Body::from(serde_json::to_vec(&value).unwrap()))
                    .unwrap(),
            );
        }
    });
    Client::new(svc, "default")
}

/// A client of a plain-HTTP API server on loopback `port` (none there, or a silent one).
pub fn plain_client(port: u16) -> Client {
    let mut config = kube::Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
    config.connect_timeout = Some(Duration::from_secs(2));
    Client::try_from(config).unwrap()
}

// ---- scripted exec and node shell ----

#[derive(Default)]
pub struct ScriptedExec {
    /// Answers by pod (the last one repeats).
    pub answers: Mutex<BTreeMap<String, Vec<Result<ExecOutput, String>>>>,
    pub calls: Mutex<Vec<(String, String, Vec<String>)>>,
    pub forbid: Mutex<bool>,
}

impl ScriptedExec {
    pub fn answer(&self, pod: &str, out: ExecOutput) {
        self.answers.lock().unwrap().entry(pod.into()).or_default().push(Ok(out));
    }
}

impl PodExec for ScriptedExec {
    fn exec<'a>(
        &'a self,
        namespace: &'a str,
        pod: &'a str,
        container: &'a str,
        command: &'a [String],
        _timeout: Duration,
    ) -> BoxFuture<'a, Result<ExecOutput, KubeError>> {
        self.calls.lock().unwrap().push((format!("{namespace}/{pod}"), container.into(), command.to_vec()));
        let forbidden = *self.forbid.lock().unwrap();
        let answer = {
            let mut all = self.answers.lock().unwrap();
            let list = all.entry(pod.into()).or_default();
            if list.len() > 1 { Some(list.remove(0)) } else { list.first().cloned() }
        };
        Box::pin(async move {
            if forbidden {
                return Err(KubeError::Forbidden {
                    call: zk_chaos::backend::kube::Call::new("create/get", "pods/exec", namespace, Some(pod)),
                    message: "pods \"zk-0\" is forbidden".into(),
                });
            }
            match answer {
                Some(Ok(out)) => Ok(out),
                Some(Err(detail)) => Err(KubeError::Exec { pod: pod.into(), detail }),
                None => Err(KubeError::Exec { pod: pod.into(), detail: "unscripted".into() }),
            }
        })
    }
}

#[derive(Default)]
pub struct ScriptedNodes {
    pub calls: Mutex<Vec<(String, String)>>,
    pub answer: Mutex<String>,
}

impl NodeShell for ScriptedNodes {
    fn run<'a>(&'a self, node: &'a str, script: &'a str, _t: Duration) -> BoxFuture<'a, Result<String, KubeError>> {
        self.calls.lock().unwrap().push((node.into(), script.into()));
        let answer = self.answer.lock().unwrap().clone();
        Box::pin(async move { Ok(answer) })
    }
}

// ---- fixtures ----

/// Member `ordinal` of the ensemble `zk`, running on `node`.
pub fn pod(ordinal: u32, ready: bool, node: &str) -> Value {
    pod_of("zk", ordinal, ready, node)
}

/// Member `ordinal` of the ensemble `name`, running on `node`.
pub fn pod_of(name: &str, ordinal: u32, ready: bool, node: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{name}-{ordinal}"), "namespace": "default", "uid": format!("uid-{ordinal}"),
                     "labels": {"app.kubernetes.io/name": "zookeeper", "app.kubernetes.io/instance": name,
                                "zk-chaos.io/revision": "5c1e0a7f", "app.kubernetes.io/version": "3.8.0",
                                "statefulset.kubernetes.io/pod-name": format!("{name}-{ordinal}")}},
        "spec": {"nodeName": node, "containers": [{"name": "zookeeper", "image": "zookeeper:3.8.0"}]},
        "status": {"phase": "Running", "podIP": format!("10.244.{}.5", ordinal + 1),
                   "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                   "containerStatuses": [{"name": "zookeeper", "ready": ready, "restartCount": ordinal,
                                          "image": "zookeeper:3.8.0", "imageID": "", "started": true}]}
    })
}

pub fn pod_list(pods: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": pods})
}

pub fn three_pods() -> Value {
    pod_list(vec![pod(2, true, "zk-chaos-worker3"), pod(0, true, "zk-chaos-worker"), pod(1, false, "zk-chaos-worker2")])
}

pub fn zkc(phase: &str, ready: u32) -> Value {
    json!({"apiVersion": "zk-chaos.io/v1alpha1", "kind": "ZookeeperCluster",
           "metadata": {"name": "zk", "namespace": "default", "generation": 2},
           "spec": {"replicas": 3, "version": "3.8.0"},
           "status": {"observedGeneration": 2, "phase": phase, "replicas": 3, "readyReplicas": ready,
                      "message": "rolling member 1"}})
}

pub fn fourlw(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/4lw/3.8.0/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// What the probe script prints for a member whose answers are these.
pub fn probe_output(srvr: &str, conf: &str, mntr: &str, leader_json: &str) -> String {
    let http = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{leader_json}");
    [("srvr", srvr), ("conf", conf), ("mntr", mntr), ("leader", http.as_str())]
        .iter()
        .map(|(w, body)| format!("@@zk-chaos-begin {w}\n{body}\n@@zk-chaos-end {w} 0\n"))
        .collect()
}

/// The probe output of the captured 3.8.0 `role` (`leader` or `follower`),
/// server 3 leading.
pub fn member_output(role: &str) -> ExecOutput {
    let leader = format!(r#"{{"is_leader":{},"leader_id":3,"command":"leader","error":null}}"#, role == "leader");
    let [srvr, conf, mntr] = ["srvr", "conf", "mntr"].map(|w| fourlw(&format!("{role}-{w}.txt")));
    ExecOutput { stdout: probe_output(&srvr, &conf, &mntr, &leader), stderr: String::new(), exit_code: 0 }
}

pub fn leader_output() -> ExecOutput {
    member_output("leader")
}

pub fn follower_output() -> ExecOutput {
    member_output("follower")
}

pub struct Rig {
    pub api: Arc<FakeApi>,
    pub exec: Arc<ScriptedExec>,
    pub nodes: Arc<ScriptedNodes>,
    pub cluster: KubeCluster,
}

pub fn fast() -> Timeouts {
    Timeouts { api: Duration::from_secs(2), exec: Duration::from_secs(2), poll: Duration::from_millis(20) }
}

pub fn rig(with_nodes: bool) -> Rig {
    let api = Arc::new(FakeApi::default());
    let exec = Arc::new(ScriptedExec::default());
    let nodes = Arc::new(ScriptedNodes::default());
    let mut cluster = KubeCluster::new(mock_client(api.clone()), "https://fake:6443", "default", "zk")
        .with_timeouts(fast())
        .with_exec(exec.clone());
    if with_nodes {
        cluster = cluster.with_node_shell(nodes.clone());
    }
    Rig { api, exec, nodes, cluster }
}
