//! The Kubernetes backend as the scenario engine sees it
//! (`KubeClusterBackend`: `Cluster` + `FaultTarget`), its preflight, the
//! backend factory, and one scenario's steps end to end, all against the
//! in-memory API server of `tests/support` with scripted exec: for each
//! thing a step does, the exact requests it makes. Refused faults are
//! refused before any request. Nothing reaches a cluster.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;
use zk_chaos::backend::kube::{KubeCluster, KubeClusterBackend, KubeError};
use zk_chaos::backend::local::EnsembleSpec;
use zk_chaos::backend::{self, BackendConfig, Cluster, KubeAccess, KubeBackend, OperatorControl};
use zk_chaos::faults::{Fault, FaultTarget, Selector};
use zk_chaos::operator::crd::{ZookeeperCluster, ZookeeperClusterSpec};
use zk_chaos::operator::revision::revision;
use zk_chaos::scenario::{RunContext, ScenarioWorld};

use support::*;

const EVENTS: &str = "/api/v1/namespaces/default/events";
const OPS: &str = "/api/v1/namespaces/zk-chaos-system/pods";
const SSAR: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

fn event_list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": items})
}

/// A rig's parts, with its `KubeCluster` driven by a `KubeClusterBackend`
/// (whose Events poll finds none unless a test routes some first).
fn backend(with_nodes: bool) -> (Arc<FakeApi>, Arc<ScriptedExec>, KubeClusterBackend) {
    let Rig { api, exec, cluster, .. } = rig(with_nodes);
    api.on("GET", EVENTS, 200, event_list(vec![]));
    let b = KubeClusterBackend::attach(cluster, ZookeeperClusterSpec::new(3, "3.8.0"), "kube");
    (api, exec, b)
}

/// Members 0 and 1 follow, 2 leads.
fn answer_probes(exec: &ScriptedExec, name: &str) {
    exec.answer(&format!("{name}-0"), follower_output());
    exec.answer(&format!("{name}-1"), follower_output());
    exec.answer(&format!("{name}-2"), leader_output());
}

/// Requests that change something (the reads are probes and polls).
fn writes(api: &FakeApi) -> Vec<String> {
    api.lines().into_iter().filter(|l| !l.starts_with("GET ")).collect()
}

fn op_pod(name: &str, ready: bool, terminating: bool) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "zk-chaos-system", "labels": {"app.kubernetes.io/name": "zk-chaos-operator"}},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}});
    if terminating {
        p["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
    }
    p
}

fn policy_item(o: u32) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": format!("zk-chaos-partition-zk-{o}")}})
}

fn policy_list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "metadata": {}, "items": items})
}

fn peers(body: &Value) -> Value {
    body["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"].clone()
}

// ---- faults ----

#[tokio::test]
async fn a_kill_is_a_delete_with_grace_zero_and_its_heal_waits_for_the_statefulset() {
    let (api, exec, b) = backend(false);
    answer_probes(&exec, "zk");
    let mut pending = pod(2, false, "n");
    pending["status"] = json!({"phase": "Pending"});
    api.on("GET", PODS, 200, three_pods())
        .on("GET", ZKC, 200, zkc("Ready", 3))
        .on("DELETE", &format!("{PODS}/zk-2"), 200, pod(2, true, "n"))
        .once("GET", &format!("{PODS}/zk-2"), 404, status(404, "NotFound", "pods \"zk-2\" not found"))
        .once("GET", &format!("{PODS}/zk-2"), 200, pending)
        .on("GET", &format!("{PODS}/zk-2"), 200, pod(2, true, "n"));
    let active = Fault::Kill(Selector::Leader).start(&b, &mut StdRng::seed_from_u64(1)).await.unwrap();
    assert_eq!(active.targets(), [2]);
    assert!(active.description().contains("pod 2"), "{}", active.description());
    let calls = api.calls();
    let delete = calls.iter().find(|c| c.method == "DELETE").unwrap();
    assert_eq!(delete.line(), format!("DELETE {PODS}/zk-2"));
    assert_eq!(delete.body["gracePeriodSeconds"], 0, "{}", delete.body);

    api.calls.lock().unwrap().clear();
    active.heal(&b).await.unwrap();
    assert_eq!(
        api.lines_except(&["/events"]),
        [format!("GET {ZKC}"), format!("GET {PODS}/zk-2"), format!("GET {PODS}/zk-2"), format!("GET {PODS}/zk-2")],
        "start = wait until the StatefulSet's new pod runs"
    );
    // A member scaled away meanwhile needs no wait.
    api.calls.lock().unwrap().clear();
    b.start_pod(7).await.unwrap();
    assert_eq!(api.lines_except(&["/events"]), [format!("GET {ZKC}")]);
}

#[tokio::test]
async fn directional_blocks_become_pairwise_cuts_and_unblocking_both_directions_heals_the_pair() {
    let (api, _exec, b) = backend(false);
    api.on("GET", PODS, 200, three_pods()).on("GET", NETPOL, 200, policy_list((0..3).map(policy_item).collect()));
    for o in 0..3 {
        api.on("PATCH", &format!("{NETPOL}/zk-chaos-partition-zk-{o}"), 200, policy_item(o)).on(
            "DELETE",
            &format!("{NETPOL}/zk-chaos-partition-zk-{o}"),
            200,
            policy_item(o),
        );
    }
    // What isolating member 2 does, then its heal (in reverse).
    for (from, to) in [(2, 0), (0, 2), (2, 1), (1, 2)] {
        b.block(from, to).await.unwrap();
    }
    let patch = |o: u32| format!("PATCH[apply] {NETPOL}/zk-chaos-partition-zk-{o}?fieldManager=zk-chaos&force=true");
    let delete = |o: u32| format!("DELETE {NETPOL}/zk-chaos-partition-zk-{o}");
    assert_eq!(
        writes(&api),
        [patch(0), patch(2), delete(1), patch(0), patch(1), patch(2)],
        "each pair is cut once, when its first direction is blocked"
    );
    let calls = api.calls();
    let last_patch = |o: u32| calls.iter().rev().find(|c| c.line() == patch(o)).unwrap().body.clone();
    assert_eq!(peers(&last_patch(2)), json!(["zk-2"]), "member 2 reaches no other member");
    assert_eq!(peers(&last_patch(0)), json!(["zk-0", "zk-1"]));
    assert_eq!(peers(&last_patch(1)), json!(["zk-0", "zk-1"]));
    b.block(2, 0).await.unwrap();
    assert_eq!(writes(&api).len(), 6, "blocking again changes nothing");

    api.calls.lock().unwrap().clear();
    b.unblock(1, 2).await.unwrap();
    assert!(writes(&api).is_empty(), "the pair stays cut while 2 -> 1 is blocked");
    b.unblock(2, 1).await.unwrap();
    assert_eq!(writes(&api), [patch(0), patch(2), delete(1)]);
    b.unblock(0, 2).await.unwrap();
    b.unblock(2, 0).await.unwrap();
    assert_eq!(writes(&api), [patch(0), patch(2), delete(1), delete(0), delete(1), delete(2)]);
    b.unblock(2, 0).await.unwrap();
    assert_eq!(writes(&api).len(), 6, "unblocking twice is harmless");
}

#[tokio::test]
async fn one_way_cuts_netem_and_stop_are_refused_before_anything_is_done() {
    let (api, _exec, b) = backend(false);
    let netem = Fault::Netem {
        target: Selector::RandomFollower,
        delay_ms: 200,
        jitter_ms: 0,
        loss_pct: 0.0,
        duplicate_pct: 0.0,
        reorder_pct: 0.0,
    };
    for (fault, why) in [
        (Fault::OneWay { from: Selector::RandomFollower }, "NetworkPolicy is stateful"),
        (netem, "need tc inside the pod's network namespace"),
        (Fault::Stop(Selector::Leader), "re-creates a deleted pod at once"),
    ] {
        let name = fault.name();
        let err = fault.start(&b, &mut StdRng::seed_from_u64(1)).await.unwrap_err();
        assert!(err.is_unsupported(), "{err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("unsupported on this backend: {name}: ")) && msg.contains(why), "{msg}");
    }
    assert!(api.lines_except(&["/events"]).is_empty(), "not even a probe: {:?}", api.lines());
    // The primitives themselves refuse too; clearing what was never set is fine.
    assert!(b.netem(0, &["delay".into(), "10ms".into()]).await.unwrap_err().is_unsupported());
    assert!(b.stop_pod(0).await.unwrap_err().is_unsupported());
    b.clear_netem(0).await.unwrap();
    for fault in ["kill", "pause", "isolate", "split", "bridge"] {
        b.check_supported(fault).unwrap();
    }
}

#[tokio::test]
async fn pause_and_resume_signal_from_the_node_and_a_vanished_pod_needs_no_resume() {
    let Rig { api, nodes, cluster, .. } = rig(true);
    api.on("GET", EVENTS, 200, event_list(vec![]));
    let b = KubeClusterBackend::attach(cluster, ZookeeperClusterSpec::new(3, "3.8.0"), "kind");
    api.on("GET", &format!("{PODS}/zk-1"), 200, pod(1, true, "zk-chaos-worker2"));
    *nodes.answer.lock().unwrap() = "State:\tT (stopped)\n".into();
    b.pause_pod(1).await.unwrap();
    *nodes.answer.lock().unwrap() = "State:\tS (sleeping)\n".into();
    b.resume_pod(1).await.unwrap();
    let scripts: Vec<String> = nodes.calls.lock().unwrap().iter().map(|(_, s)| s.clone()).collect();
    assert!(scripts[0].contains("kill -STOP") && scripts[1].contains("kill -CONT"), "{scripts:?}");
    b.resume_pod(5).await.unwrap();
    assert_eq!(nodes.calls.lock().unwrap().len(), 2, "no pod 5: nothing to resume");
}

#[tokio::test]
async fn an_unreadable_cluster_is_a_status_with_the_reason_and_members_fall_back_to_the_last_seen() {
    let (api, _exec, b) = backend(false);
    api.on("GET", PODS, 403, status(403, "Forbidden", "pods is forbidden"));
    let st = b.status().await;
    assert!(!st.quorum);
    assert!(
        st.problems[0].starts_with("cannot probe the members: missing RBAC: list pods in namespace default"),
        "{st:?}"
    );
    assert_eq!(b.members().await, [0, 1, 2], "the spec's members until any were seen");
}

// ---- the Cluster side ----

#[tokio::test]
async fn clients_connect_through_a_local_port_forward_per_member() {
    let (api, _exec, b) = backend(false);
    api.on("GET", PODS, 200, three_pods()).on("GET", &format!("{PODS}/zk-1"), 200, pod(1, true, "n"));
    let one = b.member_connect_string(1).await.unwrap();
    assert!(one.starts_with("127.0.0.1:"), "{one}");
    let all = b.connect_string().await;
    let addrs: Vec<&str> = all.split(',').collect();
    assert_eq!(addrs.len(), 3, "{all}");
    assert_eq!(addrs[1], one, "one forward per member, reused");
    assert!(addrs.iter().all(|a| a.starts_with("127.0.0.1:")));
    // A connection to member 1's port opens a port-forward to pod zk-1.
    let mut conn = tokio::net::TcpStream::connect(one.as_str()).await.unwrap();
    let mut buf = [0u8; 8];
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
    let lines = api.lines();
    assert!(lines.iter().any(|l| l.starts_with(&format!("GET {PODS}/zk-1/portforward"))), "{lines:?}");
    let msg = b.member_connect_string(7).await.unwrap_err().to_string();
    assert_eq!(msg, "no pod zk-7 (ordinal 7) in namespace default");
}

#[tokio::test]
async fn the_spec_is_read_and_applied_server_side_and_the_last_one_seen_serves_when_the_api_cannot() {
    let (api, _exec, b) = backend(false);
    let mut five = zkc("Scaling", 3);
    five["spec"]["replicas"] = json!(5);
    api.once("GET", ZKC, 200, zkc("Ready", 3)).once("GET", ZKC, 200, zkc("Ready", 3)).on(
        "GET",
        ZKC,
        403,
        status(403, "Forbidden", "forbidden"),
    );
    api.on("PATCH", ZKC, 200, five);
    let mut spec = b.spec().await;
    assert_eq!((spec.replicas, spec.version.as_str()), (3, "3.8.0"));
    spec.replicas = 5;
    b.apply(spec).await.unwrap();
    let apply = api.calls().into_iter().find(|c| c.method == "PATCH").unwrap();
    assert_eq!(apply.line(), format!("PATCH[apply] {ZKC}?fieldManager=zk-chaos&force=true"));
    assert_eq!(apply.body["spec"]["replicas"], 5);
    assert_eq!(apply.body["metadata"], json!({"name": "zk", "namespace": "default"}));
    let st = b.resource_status().await.unwrap();
    assert_eq!(st.ready_replicas, 3);
    assert_eq!(b.spec().await.replicas, 5, "the API refuses: the spec last applied");
    assert_eq!(b.resource_status().await, None);
    assert_eq!((b.name(), b.backend()), ("zk", "kube"));
    assert!(b.log_files().is_empty(), "server logs stay with the pods");
}

#[tokio::test]
async fn killing_the_operator_deletes_its_pod_and_starting_it_waits_for_the_replacement() {
    let (api, _exec, b) = backend(false);
    api.once("GET", OPS, 200, pod_list(vec![op_pod("op-old", true, false)]))
        .on("DELETE", &format!("{OPS}/op-old"), 200, op_pod("op-old", true, true))
        .once("GET", OPS, 200, pod_list(vec![op_pod("op-old", true, true), op_pod("op-new", false, false)]))
        .on("GET", OPS, 200, pod_list(vec![op_pod("op-new", true, false)]));
    assert!(b.operator_running());
    b.kill_operator().await.unwrap();
    assert!(!b.operator_running());
    b.start_operator().await.unwrap();
    assert!(b.operator_running());
    let ops_calls: Vec<String> = api.lines_except(&["/events"]);
    assert_eq!(
        ops_calls,
        [
            format!("GET {OPS}?labelSelector=app.kubernetes.io/name=zk-chaos-operator"),
            format!("DELETE {OPS}/op-old"),
            format!("GET {OPS}?labelSelector=app.kubernetes.io/name=zk-chaos-operator"),
            format!("GET {OPS}?labelSelector=app.kubernetes.io/name=zk-chaos-operator"),
        ]
    );
    let texts: Vec<String> = b.operator_events().into_iter().map(|e| e.text).collect();
    assert_eq!(texts, ["operator killed (pod op-old deleted, grace 0)", "operator back (pod op-new Ready)"]);
    // Started while running: nothing to wait for.
    b.start_operator().await.unwrap();
    assert_eq!(api.lines_except(&["/events"]).len(), 4);

    let (api, _exec, b) = backend(false);
    api.on("GET", OPS, 200, pod_list(vec![]));
    let msg = b.kill_operator().await.unwrap_err().to_string();
    assert!(msg.contains("the operator has no pod to kill"), "{msg}");
    assert!(b.operator_running(), "nothing was killed");
}

#[tokio::test]
async fn the_operators_kubernetes_events_are_its_timeline_and_unreadable_events_are_said_once() {
    let Rig { api, cluster, .. } = rig(false);
    let ev = |uid: &str, reason: &str, note: &str, time: &str, count: Option<i32>| {
        let mut e = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("zk.{uid}"), "namespace": "default", "uid": uid},
            "involvedObject": {"kind": "ZookeeperCluster", "name": "zk", "namespace": "default"},
            "reason": reason, "message": note, "type": "Normal", "eventTime": time,
            "reportingComponent": "zk-chaos-operator", "reportingInstance": "x"});
        if let Some(c) = count {
            e["series"] = json!({"count": c, "lastObservedTime": time});
        }
        e
    };
    api.on(
        "GET",
        EVENTS,
        200,
        event_list(vec![
            ev("b", "DeletePod", "deleted zk-2 (upgrade to rev-ab12)", "2025-01-01T00:00:05.000000Z", Some(2)),
            ev("a", "ReconfigAdd", "reconfig -add server.4", "2025-01-01T00:00:01.000000Z", None),
        ]),
    );
    let b = KubeClusterBackend::attach(cluster, ZookeeperClusterSpec::new(3, "3.8.0"), "kube");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let texts: Vec<String> = b.operator_events().into_iter().map(|e| e.text).collect();
    assert_eq!(
        texts,
        ["ReconfigAdd: reconfig -add server.4", "DeletePod: deleted zk-2 (upgrade to rev-ab12)"],
        "oldest first, each observation once however often it is polled"
    );
    let calls = api.calls();
    assert!(calls.len() > 2, "polled repeatedly: {}", calls.len());
    assert_eq!(calls[0].query["fieldSelector"], "involvedObject.kind=ZookeeperCluster,involvedObject.name=zk");

    let Rig { api, cluster, .. } = rig(false);
    api.on("GET", EVENTS, 403, status(403, "Forbidden", "events is forbidden"));
    let b = KubeClusterBackend::attach(cluster, ZookeeperClusterSpec::new(3, "3.8.0"), "kube");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let texts: Vec<String> = b.operator_events().into_iter().map(|e| e.text).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].starts_with("cannot read the operator's events: missing RBAC: list events in namespace default"),
        "{texts:?}"
    );
    assert_eq!(api.calls().len(), 1, "a refusal does not change: no more polling");
}

#[tokio::test]
async fn teardown_heals_deletes_the_resource_and_waits_until_its_pods_are_gone() {
    let (api, _exec, b) = backend(false);
    let registry = Arc::new(Mutex::new(Default::default()));
    let b = b.with_registry(registry.clone());
    assert!(registry.lock().unwrap().contains("zk"));
    api.on("DELETE", NETPOL, 200, policy_list(vec![policy_item(1)]))
        .on("DELETE", ZKC, 200, zkc("Ready", 3))
        .once("GET", PODS, 200, three_pods())
        .on("GET", PODS, 200, pod_list(vec![]));
    b.teardown().await.unwrap();
    assert_eq!(
        api.lines_except(&["/events"]),
        [
            format!("DELETE {NETPOL}?labelSelector=zk-chaos.io/fault=partition,app.kubernetes.io/instance=zk"),
            format!("DELETE {ZKC}"),
            format!("GET {PODS}?labelSelector={SELECTOR}"),
            format!("GET {PODS}?labelSelector={SELECTOR}"),
        ]
    );
    assert!(registry.lock().unwrap().is_empty(), "torn down: nothing left to clean up after an interrupt");
}

// ---- preflight ----

fn version_info() -> Value {
    json!({"major": "1", "minor": "33", "gitVersion": "v1.33.1", "gitCommit": "x", "gitTreeState": "clean",
           "buildDate": "2025-05-15T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"})
}

/// Answer every access review: denied when `deny` says so.
fn reviews(api: &FakeApi, deny: fn(&Value) -> bool) {
    api.respond_with(move |seen, _| {
        (seen.method == "POST" && seen.path == SSAR).then(|| {
            let attrs = &seen.body["spec"]["resourceAttributes"];
            let mut answer = seen.body.clone();
            answer["status"] = json!({"allowed": !deny(attrs)});
            (201, answer)
        })
    });
}

#[tokio::test]
async fn preflight_passes_on_a_ready_cluster_and_asks_for_every_permission() {
    let Rig { api, cluster, .. } = rig(false);
    api.on("GET", "/version", 200, version_info())
        .on(
            "GET",
            "/apis/zk-chaos.io/v1alpha1/namespaces/default/zookeeperclusters",
            200,
            json!({"apiVersion": "zk-chaos.io/v1alpha1", "kind": "ZookeeperClusterList", "metadata": {}, "items": []}),
        )
        .on("GET", OPS, 200, pod_list(vec![op_pod("op-1", true, false)]));
    reviews(&api, |_| false);
    let report = cluster.preflight().await.unwrap();
    assert_eq!((report.server_version.as_str(), report.operator_pod.as_str()), ("v1.33.1", "op-1"));
    let asked: Vec<String> = api
        .calls()
        .iter()
        .filter(|c| c.path == SSAR)
        .map(|c| {
            let a = &c.body["spec"]["resourceAttributes"];
            let sub = a["subresource"].as_str().map(|s| format!("/{s}")).unwrap_or_default();
            format!(
                "{} {}{sub} {} {}",
                a["verb"].as_str().unwrap(),
                a["resource"].as_str().unwrap(),
                a["group"],
                a["namespace"]
            )
        })
        .collect();
    let expected: Vec<String> = zk_chaos::backend::kube::preflight::required("default")
        .iter()
        .map(|p| {
            let sub = p.subresource.map(|s| format!("/{s}")).unwrap_or_default();
            format!("{} {}{sub} \"{}\" \"{}\"", p.verb, p.resource, p.group, p.namespace)
        })
        .collect();
    assert_eq!(asked.len(), 20);
    let mut sorted = asked.clone();
    sorted.sort();
    let mut want = expected;
    want.sort();
    assert_eq!(sorted, want);
    for needed in [
        "create pods/exec \"\" \"default\"",
        "get pods/portforward \"\" \"default\"",
        "deletecollection networkpolicies \"networking.k8s.io\" \"default\"",
        "patch zookeeperclusters \"zk-chaos.io\" \"default\"",
        "list events \"\" \"default\"",
        "delete pods \"\" \"zk-chaos-system\"",
    ] {
        assert!(asked.iter().any(|a| a == needed), "{needed} not asked: {asked:?}");
    }
}

#[tokio::test]
async fn preflight_names_everything_missing_and_how_to_fix_it() {
    let Rig { api, cluster, .. } = rig(false);
    api.on("GET", "/version", 200, version_info()).on("GET", OPS, 200, pod_list(vec![op_pod("op-1", false, false)]));
    reviews(&api, |a| (a["subresource"] == "exec" && a["verb"] == "create") || a["verb"] == "deletecollection");
    let err = cluster.preflight().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("the cluster at https://fake:6443 is not ready for zk-chaos in namespace default:\n"),
        "{msg}"
    );
    let problems: Vec<&str> = msg.lines().skip(1).collect();
    assert_eq!(problems.len(), 3, "{msg}");
    assert!(problems[0].starts_with("  - missing RBAC for your kubeconfig's identity: create pods/exec in namespace default, deletecollection networkpolicies.networking.k8s.io in namespace default; grant"), "{msg}");
    assert!(
        problems[1].contains("the ZookeeperCluster CRD (zookeeperclusters.zk-chaos.io) is not installed")
            && problems[1].contains("zk-chaos manifests | kubectl apply -f -"),
        "{msg}"
    );
    assert!(problems[2].contains("the operator is not running: no Ready pod of Deployment zk-chaos-operator in namespace zk-chaos-system (seen: op-1 not ready)"), "{msg}");
}

#[tokio::test]
async fn preflight_of_an_unreachable_api_server_fails_within_the_bound() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cluster = KubeCluster::new(plain_client(closed), format!("http://127.0.0.1:{closed}"), "default", "zk")
        .with_timeouts(fast());
    let started = Instant::now();
    let err = cluster.preflight().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(matches!(err, KubeError::Unreachable { .. }), "{err:?}");
}

// ---- the factory and a whole scenario ----

/// A kube backend on the in-memory API server, probing through `exec`.
fn kube_backend(api: &Arc<FakeApi>, exec: &Arc<ScriptedExec>, ready_timeout: Duration) -> KubeBackend {
    let access = KubeAccess::Client {
        client: mock_client(api.clone()),
        server: "https://fake:6443".into(),
        namespace: "default".into(),
    };
    let mut k = KubeBackend::new("kube", access);
    k.exec = Some(exec.clone());
    k.timeouts = fast();
    k.ready_timeout = ready_timeout;
    k.restart_timeout = Duration::from_secs(5);
    k
}

#[tokio::test]
async fn the_factory_creates_the_resource_waits_until_ready_and_removes_it_when_it_never_is() {
    let api = Arc::new(FakeApi::default());
    let exec = Arc::new(ScriptedExec::default());
    answer_probes(&exec, "zk");
    api.on("GET", EVENTS, 200, event_list(vec![]))
        .on("PATCH", ZKC, 200, zkc("Provisioning", 0))
        .once("GET", ZKC, 200, zkc("Provisioning", 0))
        .on("GET", ZKC, 200, zkc("Ready", 3))
        .on("GET", PODS, 200, three_pods());
    let k = kube_backend(&api, &exec, Duration::from_secs(5));
    let base = EnsembleSpec::new("zk", 3, "3.8.0");
    let c = backend::create(
        &BackendConfig::Kube(Box::new(k.clone())),
        &base,
        ZookeeperCluster::new("zk", ZookeeperClusterSpec::new(3, "3.8.0")),
    )
    .await
    .unwrap();
    assert_eq!((c.name(), c.backend()), ("zk", "kube"));
    assert_eq!(
        api.lines_except(&["/events", "GET "])[0],
        format!("PATCH[apply] {ZKC}?fieldManager=zk-chaos&force=true")
    );
    assert!(k.live.lock().unwrap().contains("zk"));

    let api = Arc::new(FakeApi::default());
    api.on("GET", EVENTS, 200, event_list(vec![]))
        .on("PATCH", ZKC, 200, zkc("Provisioning", 0))
        .on("GET", ZKC, 200, zkc("Provisioning", 0))
        .on("DELETE", NETPOL, 200, policy_list(vec![]))
        .on("DELETE", ZKC, 200, zkc("Provisioning", 0))
        .on("GET", PODS, 200, pod_list(vec![]));
    let k = kube_backend(&api, &exec, Duration::from_millis(200));
    let err = backend::create(
        &BackendConfig::Kube(Box::new(k.clone())),
        &base,
        ZookeeperCluster::new("zk", ZookeeperClusterSpec::new(3, "3.8.0")),
    )
    .await
    .err()
    .unwrap();
    let msg = err.to_string();
    assert!(
        msg.starts_with("timed out after") && msg.contains("waiting for ZookeeperCluster default/zk to be Ready"),
        "{msg}"
    );
    assert!(writes(&api).contains(&format!("DELETE {ZKC}")), "{:?}", api.lines());
    assert!(k.live.lock().unwrap().is_empty());
}

/// The resource as the operator would show it: Ready, every member at the
/// spec's revision.
fn ready_resource(name: &str) -> Value {
    let spec = ZookeeperClusterSpec::new(3, "3.8.0");
    let rev = revision(&spec);
    let mut zk = serde_json::to_value(ZookeeperCluster::new(name, spec)).unwrap();
    zk["metadata"]["namespace"] = json!("default");
    zk["metadata"]["generation"] = json!(1);
    zk["status"] = json!({
        "observedGeneration": 1, "phase": "Ready", "replicas": 3, "readyReplicas": 3, "updateRevision": rev,
        "currentRevision": rev,
        "members": (0..3).map(|o| json!({"ordinal": o, "revision": rev, "version": "3.8.0", "ready": true})).collect::<Vec<_>>()
    });
    zk
}

#[tokio::test]
async fn a_scenario_on_the_kube_backend_makes_exactly_these_requests() {
    let api = Arc::new(FakeApi::default());
    let exec = Arc::new(ScriptedExec::default());
    let dir = tempfile::tempdir().unwrap();
    let ctx = RunContext::new(7, EnsembleSpec::new("zk", 3, "3.8.0"), dir.path().to_path_buf());
    // The name the world gives its first ensemble.
    let name = format!("zk-{:x}0", std::process::id() & 0xfff);
    let zkc_path = format!("/apis/zk-chaos.io/v1alpha1/namespaces/default/zookeeperclusters/{name}");
    answer_probes(&exec, &name);
    let pods = pod_list((0..3).map(|o| pod_of(&name, o, true, "n")).collect());
    let torn_down = format!("DELETE {zkc_path}");
    // The killed leader comes back as a new server: its uptime starts over
    // (the fault waits until its probes show that).
    let restarted = {
        let mut o = leader_output();
        o.stdout = o
            .stdout
            .lines()
            .map(|l| if l.starts_with("zk_uptime") { "zk_uptime\t1".to_string() } else { l.to_string() })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        o
    };
    let (killed, leader_pod, exec2) = (format!("DELETE {PODS}/{name}-2"), format!("{name}-2"), exec.clone());
    api.respond_with(move |seen, before| {
        if seen.line() == killed && !before.iter().any(|c| c.line() == killed) {
            exec2.answers.lock().unwrap().insert(leader_pod.clone(), vec![Ok(restarted.clone())]);
        }
        let gone = before.iter().any(|c| c.line() == torn_down);
        (seen.method == "GET" && seen.path == PODS && gone).then(|| (200, pod_list(vec![])))
    });
    api.on("GET", EVENTS, 200, event_list(vec![]))
        .on("PATCH", &zkc_path, 200, ready_resource(&name))
        .on("GET", &zkc_path, 200, ready_resource(&name))
        .on("DELETE", &zkc_path, 200, ready_resource(&name))
        .on("GET", PODS, 200, pods)
        .on("DELETE", &format!("{PODS}/{name}-2"), 200, pod_of(&name, 2, true, "n"))
        .on("GET", NETPOL, 200, policy_list(vec![]))
        .on("DELETE", NETPOL, 200, policy_list(vec![]))
        .once("GET", OPS, 200, pod_list(vec![op_pod("op-old", true, false)]))
        .on("DELETE", &format!("{OPS}/op-old"), 200, op_pod("op-old", true, true))
        .on("GET", OPS, 200, pod_list(vec![op_pod("op-new", true, false)]));
    for o in 0..3 {
        api.on("PATCH", &format!("{NETPOL}/zk-chaos-partition-{name}-{o}"), 200, policy_item(o));
    }
    let ctx =
        Arc::new(ctx.with_backend(BackendConfig::Kube(Box::new(kube_backend(&api, &exec, Duration::from_secs(10))))));
    let mut w = ScenarioWorld::new(ctx, "features/x.feature:3");

    let detail = w.given_ensemble("zk", 3, "3.8.0", BTreeMap::new()).await.unwrap();
    assert!(detail.starts_with(&format!("{name}: 3 × ZooKeeper 3.8.0 Ready")), "{detail}");
    let msg = w
        .inject(Fault::OneWay { from: Selector::RandomFollower }, Some(Duration::from_millis(10)))
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("unsupported on this backend: one-way: NetworkPolicy is stateful"), "{msg}");
    w.inject(Fault::Isolate(Selector::Leader), Some(Duration::from_millis(20))).await.unwrap();
    w.inject(Fault::Kill(Selector::Leader), None).await.unwrap();
    w.change_spec("scale to 5", |s| s.replicas = 5).await.unwrap();
    w.kill_operator(Duration::from_millis(10)).await.unwrap();
    let evidence = w.finish().await;
    assert!(evidence.notes.is_empty(), "{:?}", evidence.notes);
    assert_eq!(evidence.cluster.as_deref(), Some(name.as_str()));
    assert!(
        evidence.operator.iter().any(|(_, t)| t == "operator killed (pod op-old deleted, grace 0)"),
        "{:?}",
        evidence.operator
    );
    assert!(evidence.faults.iter().any(|f| f.description.starts_with("isolate the leader")), "{:?}", evidence.faults);

    let patch_zkc = format!("PATCH[apply] {zkc_path}?fieldManager=zk-chaos&force=true");
    let patch =
        |o: u32| format!("PATCH[apply] {NETPOL}/zk-chaos-partition-{name}-{o}?fieldManager=zk-chaos&force=true");
    assert_eq!(
        writes(&api),
        [
            // Given a 3-member ensemble
            patch_zkc.clone(),
            // I partition the leader (pod 2) from the rest for 20ms: cut {0,2}, then {0,2},{1,2}; heal in reverse
            patch(0),
            patch(2),
            patch(0),
            patch(1),
            patch(2),
            patch(0),
            patch(2),
            // I kill the leader
            format!("DELETE {PODS}/{name}-2"),
            // I scale to 5 members
            patch_zkc,
            // I kill the operator
            format!("DELETE {OPS}/op-old"),
            // the end: partitions healed, the resource deleted
            format!("DELETE {NETPOL}?labelSelector=zk-chaos.io/fault=partition,app.kubernetes.io/instance={name}"),
            format!("DELETE {zkc_path}"),
        ]
    );
    let calls = api.calls();
    let scale = calls.iter().filter(|c| c.method == "PATCH" && c.path == zkc_path).nth(1).unwrap();
    assert_eq!(scale.body["spec"]["replicas"], 5);
    let kill = calls.iter().find(|c| c.line() == format!("DELETE {PODS}/{name}-2")).unwrap();
    assert_eq!(kill.body["gracePeriodSeconds"], 0);
}
