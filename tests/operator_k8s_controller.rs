//! The Kubernetes executor against an in-memory API server (kube-rs's
//! `tower_test::mock` pattern) and scripted members: for each phase, the
//! exact API calls `reconcile` makes (method, path, query, patch type) and
//! the key parts of their bodies. Nothing here reaches a cluster or a
//! ZooKeeper server.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodStatus, Secret};
use kube::Client;
use kube::client::Body;
use kube::runtime::controller::Action as Requeue;
use serde_json::{Value, json};
use zk_chaos::operator::crd::{DeletionPolicy, ZookeeperCluster, ZookeeperClusterSpec};
use zk_chaos::operator::k8s::access::{AccessError, EnsembleAccess, Reconfig};
use zk_chaos::operator::k8s::build::{self, BuildContext};
use zk_chaos::operator::k8s::manifests::policy_rules;
use zk_chaos::operator::k8s::observe::{Snapshot, observe};
use zk_chaos::operator::k8s::{Context, Error, error_policy, reconcile};
use zk_chaos::operator::planner::plan;
use zk_chaos::operator::revision::revision;
use zk_chaos::probe::MemberStatus;
use zk_chaos::probe::parse::{Mode, Srvr};
use zk_chaos::zkconfig::{DynamicConfig, EnsembleNames, SuperCredential};

use support::percent_decode;

const CORE: &str = "/api/v1/namespaces/default";
const APPS: &str = "/apis/apps/v1/namespaces/default";
const POLICY: &str = "/apis/policy/v1/namespaces/default";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";
const CLUSTERS: &str = "/apis/zk-chaos.io/v1alpha1/namespaces/default/zookeeperclusters";
const SELECTOR: &str = "labelSelector=app.kubernetes.io/instance=zk,app.kubernetes.io/name=zookeeper";
const APPLY: &str = "fieldManager=zk-chaos-operator force=true";
/// Config version of the committed config in these fixtures.
const V: u64 = 0x1_0000_0000;

// ---- the in-memory API server ----

/// One request as the API server saw it.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    patch: Option<&'static str>,
    body: Value,
}

impl Call {
    /// `METHOD[patch type] path key=value...` (the query keys that matter).
    fn line(&self) -> String {
        let kind = self.patch.map(|p| format!("[{p}]")).unwrap_or_default();
        let mut line = format!("{}{kind} {}", self.method, self.path);
        for k in ["labelSelector", "fieldManager", "force"] {
            if let Some(v) = self.query.get(k) {
                line.push_str(&format!(" {k}={v}"));
            }
        }
        line
    }
}

fn status_body(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "reason": reason, "code": code, "message": format!("{reason} (fake API server)")})
}

/// Objects by path, and the calls made.
#[derive(Default)]
struct FakeApi {
    objects: Mutex<BTreeMap<String, Value>>,
    /// Paths whose DELETE answers 409 (a failed precondition).
    conflicts: Mutex<BTreeSet<String>>,
    /// Objects that appear when their path is first read on its own
    /// (something created them between the list and the re-check).
    appear_on_get: Mutex<BTreeMap<String, Value>>,
    calls: Mutex<Vec<Call>>,
}

impl FakeApi {
    fn put(&self, path: &str, object: Value) {
        self.objects.lock().unwrap().insert(path.to_string(), object);
    }

    fn get(&self, path: &str) -> Option<Value> {
        self.objects.lock().unwrap().get(path).cloned()
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn lines(&self) -> Vec<String> {
        self.calls().iter().map(Call::line).collect()
    }

    fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    fn respond(&self, call: &Call) -> (u16, Value) {
        let mut objects = self.objects.lock().unwrap();
        match call.method.as_str() {
            "GET" if call.query.contains_key("labelSelector") => {
                let prefix = format!("{}/", call.path);
                let items: Vec<Value> = objects
                    .iter()
                    .filter(|(p, _)| p.starts_with(&prefix) && !p[prefix.len()..].contains('/'))
                    .map(|(_, o)| o.clone())
                    .collect();
                (200, json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}))
            }
            "GET" => {
                if let Some(o) = self.appear_on_get.lock().unwrap().remove(&call.path) {
                    objects.insert(call.path.clone(), o);
                }
                match objects.get(&call.path) {
                    Some(o) => (200, o.clone()),
                    None => (404, status_body(404, "NotFound")),
                }
            }
            "POST" => {
                let name = call.body["metadata"]["name"].as_str().unwrap_or("unnamed").to_string();
                let path = format!("{}/{name}", call.path);
                if objects.contains_key(&path) {
                    return (409, status_body(409, "AlreadyExists"));
                }
                objects.insert(path, call.body.clone());
                (201, call.body.clone())
            }
            "PATCH" => {
                if let Some(parent) = call.path.strip_suffix("/status") {
                    let mut o = objects.get(parent).cloned().unwrap_or_else(|| json!({}));
                    o["status"] = call.body["status"].clone();
                    objects.insert(parent.to_string(), o.clone());
                    return (200, o);
                }
                let mut o = call.body.clone();
                if let Some(old) = objects.get(&call.path) {
                    if call.patch == Some("merge") {
                        let mut merged = old.clone();
                        merge(&mut merged, &call.body);
                        o = merged;
                    } else {
                        o["metadata"]["uid"] = old["metadata"]["uid"].clone();
                    }
                }
                objects.insert(call.path.clone(), o.clone());
                (200, o)
            }
            "DELETE" => {
                if self.conflicts.lock().unwrap().contains(&call.path) {
                    return (409, status_body(409, "Conflict"));
                }
                match objects.remove(&call.path) {
                    Some(o) => (200, o),
                    None => (404, status_body(404, "NotFound")),
                }
            }
            m => panic!("unexpected method {m}"),
        }
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// A client whose requests the fake answers.
fn client(api: Arc<FakeApi>) -> Client {
    let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let query = parts
                .uri
                .query()
                .unwrap_or_default()
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), percent_decode(v)))
                .collect();
            let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let patch = match content_type {
                t if t.contains("apply-patch") => Some("apply"),
                t if t.contains("merge-patch") => Some("merge"),
                t if t.contains("json-patch") => Some("json"),
                _ => None,
            };
            let call = Call {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query,
                patch,
                body: if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() },
            };
            let (status, value) = api.respond(&call);
            api.calls.lock().unwrap().push(call);
            let response = Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .body(Body::from(serde_json::to_vec(&value).unwrap()))
                .unwrap();
            send.send_response(response);
        }
    });
    Client::new(svc, "default")
}

// ---- scripted members ----

#[derive(Default)]
struct FakeMembers {
    probes: Mutex<Vec<MemberStatus>>,
    calls: Mutex<Vec<String>>,
    write_zxid: Mutex<i64>,
}

impl EnsembleAccess for FakeMembers {
    fn probe<'a>(&'a self, members: &'a [(u32, Ipv4Addr)], _admin_port: u16) -> BoxFuture<'a, Vec<MemberStatus>> {
        let probes = self.probes.lock().unwrap().clone();
        let asked: Vec<u32> = members.iter().map(|(o, _)| *o).collect();
        Box::pin(async move { probes.into_iter().filter(|p| asked.contains(&p.ordinal)).collect() })
    }

    fn reconfig<'a>(
        &'a self,
        servers: &'a str,
        credential: &'a SuperCredential,
        change: Reconfig,
        expected_version: u64,
    ) -> BoxFuture<'a, Result<(), AccessError>> {
        let line = format!("reconfig {change:?} if {expected_version:x} via {servers} as {}", credential.user);
        self.calls.lock().unwrap().push(line);
        Box::pin(async { Ok(()) })
    }

    fn probe_write<'a>(
        &'a self,
        servers: &'a str,
        _credential: &'a SuperCredential,
    ) -> BoxFuture<'a, Result<i64, AccessError>> {
        self.calls.lock().unwrap().push(format!("probe write via {servers}"));
        let zxid = *self.write_zxid.lock().unwrap();
        Box::pin(async move { Ok(zxid) })
    }
}

// ---- fixtures ----

fn names() -> EnsembleNames {
    EnsembleNames::new("zk", "default")
}

fn cluster(spec: ZookeeperClusterSpec) -> ZookeeperCluster {
    let mut zk = ZookeeperCluster::new("zk", spec);
    zk.metadata.namespace = Some("default".into());
    zk.metadata.uid = Some("uid-zk".into());
    zk.metadata.generation = Some(1);
    zk
}

fn credential() -> SuperCredential {
    SuperCredential { user: "super".into(), password: "fixture-password".into() }
}

fn ip(ordinal: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, 0, 10 + ordinal as u8)
}

/// Member `ordinal` serving in `mode`, following server `leader_id`, on a
/// config of `members` voters at version `version`.
fn member(ordinal: u32, mode: Option<Mode>, leader_id: u64, members: u32, version: u64) -> MemberStatus {
    let mut membership = DynamicConfig::for_replicas(&names(), members);
    membership.version = Some(version);
    MemberStatus {
        ordinal,
        addr: ip(ordinal),
        srvr: mode.map(|mode| Srvr { version: "3.8.0".into(), zxid: version + 5, mode, node_count: 5, connections: 1 }),
        not_serving: mode.is_none(),
        config_version: mode.map(|_| version),
        membership: mode.map(|_| membership),
        uptime_ms: Some(1000),
        instance: None,
        synced_followers: None,
        peer_state: mode
            .map(|m| if m == Mode::Leader { "leading - broadcast" } else { "following - broadcast" }.into()),
        leader_id: mode.map(|_| leader_id),
        error: None,
    }
}

/// Healthy members `0..n`, `leader` leading, on an `n`-voter config.
fn healthy(n: u32, leader: u32) -> Vec<MemberStatus> {
    (0..n)
        .map(|o| member(o, Some(if o == leader { Mode::Leader } else { Mode::Follower }), u64::from(leader) + 1, n, V))
        .collect()
}

fn pod(zk: &ZookeeperCluster, ordinal: u32, rev: &str) -> Value {
    let mut labels = build::labels(zk);
    labels.insert("zk-chaos.io/revision".into(), rev.into());
    labels.insert("app.kubernetes.io/version".into(), zk.spec.version.clone());
    let mut p = Pod::default();
    p.metadata.name = Some(names().pod(ordinal));
    p.metadata.namespace = Some("default".into());
    p.metadata.uid = Some(format!("uid-pod-{ordinal}"));
    p.metadata.resource_version = Some(format!("{}", 100 + ordinal));
    p.metadata.labels = Some(labels);
    p.status = Some(PodStatus { pod_ip: Some(ip(ordinal).to_string()), ..PodStatus::default() });
    serde_json::to_value(p).unwrap()
}

fn claim(zk: &ZookeeperCluster, ordinal: u32) -> Value {
    let mut c = PersistentVolumeClaim::default();
    c.metadata.name = Some(build::pvc_name(&names(), ordinal));
    c.metadata.namespace = Some("default".into());
    c.metadata.uid = Some(format!("uid-pvc-{ordinal}"));
    c.metadata.labels = Some(build::labels(zk));
    serde_json::to_value(c).unwrap()
}

/// A world where `zk` runs: Secret, StatefulSet (`replicas`, built from
/// `built_from`), pods `0..pods` at that spec's revision.
fn running(api: &FakeApi, zk: &ZookeeperCluster, built_from: &ZookeeperCluster, replicas: u32, pods: u32) {
    let mut ctx = BuildContext::initial(built_from, credential());
    ctx.replicas = replicas;
    api.put(&format!("{CORE}/secrets/zk-auth"), serde_json::to_value(build::secret(zk, &ctx)).unwrap());
    api.put(
        &format!("{APPS}/statefulsets/zk"),
        serde_json::to_value(build::statefulset(built_from, &ctx).unwrap()).unwrap(),
    );
    api.put(
        &format!("{CORE}/configmaps/zk-config"),
        serde_json::to_value(build::config_map(zk, &ctx).unwrap()).unwrap(),
    );
    let rev = revision(&built_from.spec);
    for o in 0..pods {
        api.put(&format!("{CORE}/pods/zk-{o}"), pod(built_from, o, &rev));
    }
}

/// A world mid-rollout from `from` to `to`: Secret, StatefulSet built from
/// `to` with `from` as its current revision (and its zoo.cfg recorded),
/// pods `0..3` at `to`'s revision when listed in `updated`, else at `from`'s.
fn rolling(api: &FakeApi, from: &ZookeeperCluster, to: &ZookeeperCluster, updated: &[u32]) {
    let mut ctx = BuildContext::initial(to, credential());
    ctx.current_revision = revision(&from.spec);
    ctx.current_zoo_cfg = Some(build::zoo_cfg(from).unwrap());
    api.put(&format!("{CORE}/secrets/zk-auth"), serde_json::to_value(build::secret(to, &ctx)).unwrap());
    api.put(&format!("{APPS}/statefulsets/zk"), serde_json::to_value(build::statefulset(to, &ctx).unwrap()).unwrap());
    for o in 0..3 {
        let at = if updated.contains(&o) { to } else { from };
        api.put(&format!("{CORE}/pods/zk-{o}"), pod(at, o, &revision(&at.spec)));
    }
}

/// The `zoo.cfg.*` keys of a ConfigMap body, with their text.
fn zoo_cfgs(cm: &Value) -> BTreeMap<String, String> {
    cm["data"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("zoo.cfg.") && *k != "zoo.cfg.dynamic")
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

/// A spec whose only difference from the default is a `maxClientCnxns` override.
fn with_max_cnxns(n: &str) -> ZookeeperCluster {
    let mut spec = ZookeeperClusterSpec::new(3, "3.8.0");
    spec.config.insert("maxClientCnxns".into(), n.into());
    cluster(spec)
}

/// Give `zk` the status the planner publishes for the current world,
/// stamped `t0` (as if the previous reconcile had published it).
async fn settle_status(zk: &mut ZookeeperCluster, api: &FakeApi, members: &FakeMembers) {
    fn get<T: serde::de::DeserializeOwned>(api: &FakeApi, p: &str) -> Option<T> {
        api.get(p).map(|v| serde_json::from_value(v).unwrap())
    }
    let pods: Vec<Pod> = (0..5).filter_map(|o| get(api, &format!("{CORE}/pods/zk-{o}"))).collect();
    let snapshot = Snapshot {
        statefulset: get(api, &format!("{APPS}/statefulsets/zk")),
        pods,
        claims: vec![],
        probes: members.probes.lock().unwrap().clone(),
        last_write_ok_after_config: None,
    };
    let mut status = plan(&zk.spec, &observe(zk, &snapshot)).status;
    status.stamp("t0");
    zk.status = Some(status);
}

struct Harness {
    api: Arc<FakeApi>,
    members: Arc<FakeMembers>,
    ctx: Arc<Context>,
}

fn harness() -> Harness {
    let api = Arc::new(FakeApi::default());
    let members = Arc::new(FakeMembers::default());
    let ctx = Context::new(client(api.clone()), members.clone()).with_clock(|| "t1".to_string());
    Harness { api, members, ctx: Arc::new(ctx) }
}

impl Harness {
    /// Reconcile `zk` (stored in the fake API server first, as the watch found it).
    async fn reconcile(&self, zk: &ZookeeperCluster) -> Result<Requeue, Error> {
        self.api.put(&format!("{CLUSTERS}/zk"), serde_json::to_value(zk).unwrap());
        let result = reconcile(Arc::new(zk.clone()), self.ctx.clone()).await;
        for call in self.api.calls() {
            assert_rbac_allows(&call);
        }
        result
    }

    fn find(&self, line: &str) -> Call {
        let calls = self.api.calls();
        calls
            .iter()
            .find(|c| c.line() == line)
            .cloned()
            .unwrap_or_else(|| panic!("no call `{line}` in {:#?}", self.api.lines()))
    }
}

/// The operator's ClusterRole grants `call` (group, resource[/subresource], verb).
fn assert_rbac_allows(call: &Call) {
    let parts: Vec<&str> = call.path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", "namespaces", _, rest @ ..] => ("", rest),
        ["apis", group, _, "namespaces", _, rest @ ..] => (*group, rest),
        _ => panic!("unexpected path {}", call.path),
    };
    let (resource, named) = match rest {
        [res] => (res.to_string(), false),
        [res, _name] => (res.to_string(), true),
        [res, _name, sub] => (format!("{res}/{sub}"), true),
        _ => panic!("unexpected path {}", call.path),
    };
    let verb = match (call.method.as_str(), named) {
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        (m, _) => panic!("unexpected method {m}"),
    };
    let allowed = policy_rules().iter().any(|r| {
        r.api_groups.as_ref().is_some_and(|g| g.iter().any(|g| g == group))
            && r.resources.as_ref().is_some_and(|rs| rs.contains(&resource))
            && r.verbs.iter().any(|v| v == verb)
    });
    assert!(allowed, "the ClusterRole does not allow `{verb}` on {group}/{resource} ({})", call.line());
}

fn reads() -> Vec<String> {
    vec![
        format!("GET {CORE}/secrets/zk-auth"),
        format!("GET {APPS}/statefulsets/zk"),
        format!("GET {CORE}/configmaps/zk-config"),
        format!("GET {CORE}/pods {SELECTOR}"),
        format!("GET {CORE}/persistentvolumeclaims {SELECTOR}"),
    ]
}

fn children() -> Vec<String> {
    vec![
        format!("PATCH[apply] {CORE}/configmaps/zk-config {APPLY}"),
        format!("PATCH[apply] {CORE}/services/zk-pods {APPLY}"),
        format!("PATCH[apply] {CORE}/services/zk {APPLY}"),
        format!("PATCH[apply] {CORE}/services/zk-admin-server {APPLY}"),
        format!("PATCH[apply] {POLICY}/poddisruptionbudgets/zk {APPLY}"),
    ]
}

fn status_patch() -> String {
    format!("PATCH[apply] {CLUSTERS}/zk/status {APPLY}")
}

fn seq(parts: &[Vec<String>]) -> Vec<String> {
    parts.concat()
}

fn one(s: String) -> Vec<String> {
    vec![s]
}

fn busy() -> Requeue {
    Requeue::requeue(Duration::from_secs(3))
}

// ---- phases ----

#[tokio::test]
async fn create_from_nothing() {
    let h = harness();
    let zk = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    assert_eq!(h.reconcile(&zk).await.unwrap(), busy());
    assert_eq!(
        h.api.lines(),
        seq(&[
            reads(),
            one(format!("POST {CORE}/secrets fieldManager=zk-chaos-operator")),
            children(),
            one(format!("PATCH[apply] {APPS}/statefulsets/zk {APPLY}")),
            one(format!("POST {EVENTS}")),
            one(status_patch()),
        ])
    );
    // The Secret: a fresh credential whose digest the servers get.
    let secret: Secret =
        serde_json::from_value(h.find(&format!("POST {CORE}/secrets fieldManager=zk-chaos-operator")).body).unwrap();
    let cred = build::credential_of(&secret).unwrap();
    assert_eq!(cred.password.len(), 24);
    assert_eq!(String::from_utf8(secret.data.unwrap()["digest"].0.clone()).unwrap(), cred.digest());
    assert!(secret.metadata.owner_references.is_none(), "deletionPolicy Delete keeps the Secret");
    // The seed: the three initial members.
    let cm = h.find(&children()[0]).body;
    assert_eq!(cm["data"]["zoo.cfg.dynamic"], DynamicConfig::for_replicas(&names(), 3).render());
    assert_eq!(cm["metadata"]["ownerReferences"][0]["uid"], "uid-zk");
    let rev = revision(&zk.spec);
    assert_eq!(zoo_cfgs(&cm), BTreeMap::from([(format!("zoo.cfg.{rev}"), build::zoo_cfg(&zk).unwrap())]));
    assert_eq!(cm["data"]["update-revision"], rev);
    // The StatefulSet at the spec's revision.
    let sts = h.find(&format!("PATCH[apply] {APPS}/statefulsets/zk {APPLY}")).body;
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["spec"]["updateStrategy"]["type"], "OnDelete");
    assert_eq!(sts["metadata"]["annotations"]["zk-chaos.io/update-revision"], revision(&zk.spec));
    assert_eq!(sts["spec"]["template"]["metadata"]["labels"]["zk-chaos.io/revision"], revision(&zk.spec));
    let event = h.find(&format!("POST {EVENTS}")).body;
    assert_eq!((event["reason"].as_str(), event["action"].as_str()), (Some("Creating"), Some("CreateStatefulSet")));
    assert_eq!(event["regarding"]["kind"], "ZookeeperCluster");
    assert_eq!(event["reportingController"], "zk-chaos-operator");
    let status = h.find(&status_patch()).body;
    assert_eq!(status["apiVersion"], "zk-chaos.io/v1alpha1");
    assert_eq!(status["kind"], "ZookeeperCluster");
    assert_eq!(status["status"]["phase"], "Provisioning");
    assert_eq!(status["status"]["observedGeneration"], 1);
    assert!(status["status"]["conditions"].as_array().unwrap().iter().all(|c| c["lastTransitionTime"] == "t1"));
}

#[tokio::test]
async fn a_second_reconcile_reuses_the_secret_it_created() {
    let h = harness();
    let zk = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    h.reconcile(&zk).await.unwrap();
    let first = h.api.get(&format!("{CORE}/secrets/zk-auth")).unwrap();
    h.api.take_calls();
    h.reconcile(&zk).await.unwrap();
    assert!(!h.api.lines().iter().any(|l| l.contains("secrets") && !l.starts_with("GET")), "{:#?}", h.api.lines());
    assert_eq!(h.api.get(&format!("{CORE}/secrets/zk-auth")).unwrap(), first, "never rotated");
}

#[tokio::test]
async fn steady_state_only_reapplies_the_children() {
    let h = harness();
    let mut zk = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    running(&h.api, &zk, &zk, 3, 3);
    *h.members.probes.lock().unwrap() = healthy(3, 2);
    settle_status(&mut zk, &h.api, &h.members).await;
    let requeue = h.reconcile(&zk).await.unwrap();
    assert_eq!(requeue, Requeue::requeue(Duration::from_secs(60)), "converged: the slow requeue");
    assert_eq!(h.api.lines(), seq(&[reads(), children()]));
    let cm = h.find(&children()[0]).body;
    assert_eq!(cm["data"]["zoo.cfg.dynamic"], DynamicConfig::for_replicas(&names(), 3).render(), "seed = committed");
    assert_eq!(zoo_cfgs(&cm).into_keys().collect::<Vec<_>>(), [format!("zoo.cfg.{}", revision(&zk.spec))]);
    assert!(h.members.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_rollout_updates_the_template_then_deletes_the_highest_follower() {
    let h = harness();
    let old = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    let zk = cluster(ZookeeperClusterSpec::new(3, "3.9.3"));
    running(&h.api, &zk, &old, 3, 3);
    *h.members.probes.lock().unwrap() = healthy(3, 2);
    assert_eq!(h.reconcile(&zk).await.unwrap(), busy());
    let delete = format!("DELETE {CORE}/pods/zk-1");
    assert_eq!(
        h.api.lines(),
        seq(&[
            reads(),
            children(),
            one(format!("PATCH[apply] {APPS}/statefulsets/zk {APPLY}")),
            one(delete.clone()),
            one(format!("POST {EVENTS}")),
            one(status_patch()),
        ])
    );
    let sts = h.find(&format!("PATCH[apply] {APPS}/statefulsets/zk {APPLY}")).body;
    assert_eq!(sts["metadata"]["annotations"]["zk-chaos.io/update-revision"], revision(&zk.spec));
    assert_eq!(sts["metadata"]["annotations"]["zk-chaos.io/current-revision"], revision(&old.spec));
    assert_eq!(sts["spec"]["template"]["spec"]["containers"][0]["image"], "zookeeper:3.9.3");
    let annotations = &sts["metadata"]["annotations"];
    assert_eq!(annotations["zk-chaos.io/current-zoo-cfg"], build::zoo_cfg(&old).unwrap(), "from the StatefulSet");
    assert_eq!(annotations["zk-chaos.io/update-zoo-cfg"], build::zoo_cfg(&zk).unwrap());
    // The ConfigMap, applied before the template changed, already serves both revisions.
    let cm = h.find(&children()[0]).body;
    assert_eq!(zoo_cfgs(&cm).len(), 2, "{cm}");
    assert_eq!(cm["data"]["update-revision"], revision(&zk.spec));
    // Deleted only if still the pod observed: uid and resourceVersion preconditions.
    let body = h.find(&delete).body;
    assert_eq!(body["preconditions"], json!({"uid": "uid-pod-1", "resourceVersion": "101"}));
    let event = h.find(&format!("POST {EVENTS}")).body;
    assert_eq!(event["reason"], "RestartingMember");
    assert!(event["note"].as_str().unwrap().contains("deleted zk-1: rolling update"), "{event}");
    assert_eq!(h.find(&status_patch()).body["status"]["phase"], "Upgrading");
}

#[tokio::test]
async fn mid_rollout_the_config_map_serves_each_revision_its_own_settings() {
    // Current revision A (no override), update revision B (maxClientCnxns=7);
    // a fresh operator (nothing in memory) reads it all from the API server.
    let h = harness();
    let a = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    let b = with_max_cnxns("7");
    let (rev_a, rev_b) = (revision(&a.spec), revision(&b.spec));
    assert_ne!(rev_a, rev_b);
    rolling(&h.api, &a, &b, &[2]);
    *h.members.probes.lock().unwrap() = healthy(3, 2);
    h.reconcile(&b).await.unwrap();
    let cm = h.find(&children()[0]).body;
    let cfgs = zoo_cfgs(&cm);
    assert_eq!(cfgs.len(), 2, "{cm}");
    let (old, new) = (&cfgs[&format!("zoo.cfg.{rev_a}")], &cfgs[&format!("zoo.cfg.{rev_b}")]);
    assert!(!old.contains("maxClientCnxns"), "{old}");
    assert!(new.contains("\nmaxClientCnxns=7\n"), "{new}");
    assert_eq!((old, new), (&build::zoo_cfg(&a).unwrap(), &build::zoo_cfg(&b).unwrap()));
    assert_eq!(cm["data"]["update-revision"], rev_b);
    assert!(cm["data"].get("zoo.cfg").is_none(), "no shared zoo.cfg for every revision");
}

#[tokio::test]
async fn once_every_pod_runs_the_update_revision_the_old_key_goes() {
    let h = harness();
    let a = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    let b = with_max_cnxns("7");
    rolling(&h.api, &a, &b, &[0, 1, 2]);
    *h.members.probes.lock().unwrap() = healthy(3, 2);
    h.reconcile(&b).await.unwrap();
    let cm = h.find(&children()[0]).body;
    let rev_b = revision(&b.spec);
    assert_eq!(zoo_cfgs(&cm), BTreeMap::from([(format!("zoo.cfg.{rev_b}"), build::zoo_cfg(&b).unwrap())]));
    // The StatefulSet records the catch-up (re-applied as drift).
    let sts = h.find(&format!("PATCH[apply] {APPS}/statefulsets/zk {APPLY}")).body;
    let annotations = &sts["metadata"]["annotations"];
    assert_eq!(annotations["zk-chaos.io/current-revision"], rev_b);
    assert_eq!(annotations["zk-chaos.io/current-zoo-cfg"], build::zoo_cfg(&b).unwrap());
}

#[tokio::test]
async fn a_caught_up_revision_keeps_its_settings_when_the_spec_moves_on() {
    // The StatefulSet still says current A, update B, every pod runs B, and
    // the spec is at C already: B's zoo.cfg comes from the StatefulSet.
    let h = harness();
    let a = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    let b = with_max_cnxns("7");
    let c = with_max_cnxns("9");
    rolling(&h.api, &a, &b, &[0, 1, 2]);
    *h.members.probes.lock().unwrap() = healthy(3, 2);
    h.reconcile(&c).await.unwrap();
    let cm = h.find(&children()[0]).body;
    let (rev_b, rev_c) = (revision(&b.spec), revision(&c.spec));
    assert_eq!(
        zoo_cfgs(&cm),
        BTreeMap::from([
            (format!("zoo.cfg.{rev_b}"), build::zoo_cfg(&b).unwrap()),
            (format!("zoo.cfg.{rev_c}"), build::zoo_cfg(&c).unwrap()),
        ])
    );
    assert_eq!(cm["data"]["update-revision"], rev_c);
}

#[tokio::test]
async fn a_pod_that_changed_since_observed_is_not_deleted() {
    let h = harness();
    let old = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    let zk = cluster(ZookeeperClusterSpec::new(3, "3.9.3"));
    running(&h.api, &zk, &old, 3, 3);
    *h.members.probes.lock().unwrap() = healthy(3, 2);
    h.api.conflicts.lock().unwrap().insert(format!("{CORE}/pods/zk-1"));
    assert_eq!(h.reconcile(&zk).await.unwrap(), busy(), "a failed precondition is not an error: re-plan");
    let lines = h.api.lines();
    assert!(lines.contains(&format!("DELETE {CORE}/pods/zk-1")));
    assert!(!lines.contains(&format!("POST {EVENTS}")), "no event for a delete that did not happen");
    assert_eq!(lines.last().unwrap(), &status_patch());
}

#[tokio::test]
async fn a_member_going_down_patches_only_the_status() {
    let h = harness();
    let mut zk = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    running(&h.api, &zk, &zk, 3, 3);
    *h.members.probes.lock().unwrap() = healthy(3, 2);
    settle_status(&mut zk, &h.api, &h.members).await;
    assert_eq!(zk.status.as_ref().unwrap().phase, Some(zk_chaos::operator::status::Phase::Ready));
    h.members.probes.lock().unwrap()[0] = member(0, None, 3, 3, V);
    assert_eq!(h.reconcile(&zk).await.unwrap(), busy());
    assert_eq!(h.api.lines(), seq(&[reads(), children(), one(status_patch())]));
    let call = h.find(&status_patch());
    assert_eq!(call.query["fieldManager"], "zk-chaos-operator");
    let status = &call.body["status"];
    assert_eq!(status["phase"], "Critical");
    assert_eq!(status["readyReplicas"], 2);
    assert_eq!(status["leader"], 2);
    let cond = |t: &str| status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == t).unwrap().clone();
    assert_eq!(
        (cond("Degraded")["status"].as_str(), cond("Degraded")["lastTransitionTime"].as_str()),
        (Some("True"), Some("t1"))
    );
    assert_eq!(cond("Available")["lastTransitionTime"], "t0", "unchanged conditions keep their time");
    // The fake applied it: the API object now carries the new status.
    assert_eq!(h.api.get(&format!("{CLUSTERS}/zk")).unwrap()["status"]["phase"], "Critical");
}

#[tokio::test]
async fn scale_down_removes_the_top_member_through_reconfig() {
    let h = harness();
    let three = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    let mut zk = cluster(ZookeeperClusterSpec::new(2, "3.8.0"));
    running(&h.api, &zk, &three, 3, 3);
    *h.members.probes.lock().unwrap() = healthy(3, 0);
    settle_status(&mut zk, &h.api, &h.members).await;
    assert_eq!(h.reconcile(&zk).await.unwrap(), busy());
    assert_eq!(
        *h.members.calls.lock().unwrap(),
        vec![format!("reconfig Remove(3) if {V:x} via 10.244.0.10:2181,10.244.0.11:2181,10.244.0.12:2181 as super")]
    );
    // The status already says so (settled above): no status patch.
    assert_eq!(h.api.lines(), seq(&[reads(), children(), one(format!("POST {EVENTS}"))]));
    let event = h.find(&format!("POST {EVENTS}")).body;
    assert_eq!((event["reason"].as_str(), event["action"].as_str()), (Some("Reconfig"), Some("ReconfigRemove")));
}

#[tokio::test]
async fn after_the_remove_a_probe_write_then_the_statefulset_shrinks() {
    let h = harness();
    let three = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    let mut zk = cluster(ZookeeperClusterSpec::new(2, "3.8.0"));
    running(&h.api, &zk, &three, 3, 3);
    // Committed: two voters at a newer version; zk-2 is out and not serving.
    let v2 = V + 0x10;
    *h.members.probes.lock().unwrap() = vec![
        member(0, Some(Mode::Leader), 1, 2, v2),
        member(1, Some(Mode::Follower), 1, 2, v2),
        member(2, None, 1, 2, v2),
    ];
    settle_status(&mut zk, &h.api, &h.members).await;
    *h.members.write_zxid.lock().unwrap() = (v2 + 1) as i64;
    h.reconcile(&zk).await.unwrap();
    assert_eq!(*h.members.calls.lock().unwrap(), vec!["probe write via 10.244.0.10:2181,10.244.0.11:2181".to_string()]);
    assert!(!h.api.lines().iter().any(|l| l.contains("statefulsets/zk ")), "{:#?}", h.api.lines());
    // The write went through after the config: the next reconcile stops zk-2.
    h.api.take_calls();
    h.reconcile(&zk).await.unwrap();
    let sts = h.find(&format!("PATCH[apply] {APPS}/statefulsets/zk {APPLY}")).body;
    assert_eq!(sts["spec"]["replicas"], 2);
    let event = h.find(&format!("POST {EVENTS}")).body;
    assert_eq!(event["reason"], "Scaling");
    assert_eq!(event["note"], "StatefulSet replicas 3 -> 2");
}

#[tokio::test]
async fn a_released_volume_is_deleted_only_without_its_pod() {
    let h = harness();
    let mut spec = ZookeeperClusterSpec::new(2, "3.8.0");
    spec.storage =
        Some(serde_yaml::from_str("accessModes: [ReadWriteOnce]\nresources: {requests: {storage: 1Gi}}\n").unwrap());
    let zk = cluster(spec);
    running(&h.api, &zk, &zk, 2, 2);
    for o in 0..3 {
        h.api.put(&format!("{CORE}/persistentvolumeclaims/data-zk-{o}"), claim(&zk, o));
    }
    *h.members.probes.lock().unwrap() = healthy(2, 1);
    h.reconcile(&zk).await.unwrap();
    let delete = format!("DELETE {CORE}/persistentvolumeclaims/data-zk-2");
    assert_eq!(
        h.api.lines(),
        seq(&[
            reads(),
            children(),
            one(format!("GET {CORE}/pods/zk-2")),
            one(delete.clone()),
            one(format!("POST {EVENTS}")),
            one(status_patch()),
        ])
    );
    assert_eq!(h.find(&delete).body["preconditions"], json!({"uid": "uid-pvc-2"}));
    assert_eq!(h.find(&format!("POST {EVENTS}")).body["reason"], "ReleasedVolume");
    assert!(h.api.get(&format!("{CORE}/persistentvolumeclaims/data-zk-2")).is_none());
    assert!(h.api.get(&format!("{CORE}/persistentvolumeclaims/data-zk-1")).is_some());
}

#[tokio::test]
async fn a_volume_whose_pod_came_back_is_kept() {
    let h = harness();
    let mut spec = ZookeeperClusterSpec::new(2, "3.8.0");
    spec.storage = Some(serde_yaml::from_str("resources: {requests: {storage: 1Gi}}\n").unwrap());
    let zk = cluster(spec);
    running(&h.api, &zk, &zk, 2, 2);
    for o in 0..3 {
        h.api.put(&format!("{CORE}/persistentvolumeclaims/data-zk-{o}"), claim(&zk, o));
    }
    *h.members.probes.lock().unwrap() = healthy(2, 1);
    // The pod appears between the list and the release (the re-check sees it).
    h.api.appear_on_get.lock().unwrap().insert(format!("{CORE}/pods/zk-2"), pod(&zk, 2, "x"));
    h.reconcile(&zk).await.unwrap();
    assert!(h.api.lines().contains(&format!("GET {CORE}/pods/zk-2")));
    assert!(!h.api.lines().iter().any(|l| l.starts_with("DELETE")), "{:#?}", h.api.lines());
}

#[tokio::test]
async fn drift_without_a_new_revision_reapplies_the_statefulset() {
    let h = harness();
    let mut zk = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    running(&h.api, &zk, &zk, 3, 3);
    *h.members.probes.lock().unwrap() = healthy(3, 2);
    settle_status(&mut zk, &h.api, &h.members).await;
    zk.spec.labels.insert("team".into(), "sre".into()); // not restart-relevant: same revision
    h.reconcile(&zk).await.unwrap();
    assert_eq!(h.api.lines(), seq(&[reads(), children(), one(format!("PATCH[apply] {APPS}/statefulsets/zk {APPLY}"))]));
    let sts = h.find(&format!("PATCH[apply] {APPS}/statefulsets/zk {APPLY}")).body;
    assert_eq!(sts["spec"]["template"]["metadata"]["labels"]["team"], "sre");
    assert_eq!(sts["spec"]["replicas"], 3);
}

#[tokio::test]
async fn the_secret_and_the_volumes_follow_the_deletion_policy() {
    let h = harness();
    let mut zk = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    running(&h.api, &zk, &zk, 3, 3);
    *h.members.probes.lock().unwrap() = healthy(3, 2);
    settle_status(&mut zk, &h.api, &h.members).await;
    let secret_patch = format!("PATCH[merge] {CORE}/secrets/zk-auth fieldManager=zk-chaos-operator");
    // WipeOut: the Secret goes with the resource (volumes already do under Delete).
    zk.spec.deletion_policy = DeletionPolicy::WipeOut;
    h.reconcile(&zk).await.unwrap();
    assert_eq!(h.api.lines(), seq(&[reads(), one(secret_patch.clone()), children()]));
    let patch = h.find(&secret_patch);
    assert_eq!(patch.body["metadata"]["ownerReferences"][0]["uid"], "uid-zk");
    assert!(patch.body.get("data").is_none(), "the credential is never rewritten");
    // Halt: the Secret and the volumes stay.
    h.api.take_calls();
    zk.spec.deletion_policy = DeletionPolicy::Halt;
    h.reconcile(&zk).await.unwrap();
    let sts_apply = format!("PATCH[apply] {APPS}/statefulsets/zk {APPLY}");
    assert_eq!(h.api.lines(), seq(&[reads(), one(secret_patch.clone()), children(), one(sts_apply.clone())]));
    assert_eq!(h.find(&secret_patch).body, json!({"metadata": {"ownerReferences": null}}));
    let sts = h.find(&sts_apply).body;
    assert_eq!(sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"], "Retain");
    assert!(h.api.get(&format!("{CORE}/secrets/zk-auth")).unwrap()["metadata"].get("ownerReferences").is_none());
}

#[tokio::test]
async fn a_lost_secret_is_an_error_not_a_new_password() {
    let h = harness();
    let zk = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    running(&h.api, &zk, &zk, 3, 3);
    h.api.objects.lock().unwrap().remove(&format!("{CORE}/secrets/zk-auth"));
    *h.members.probes.lock().unwrap() = healthy(3, 2);
    let err = h.reconcile(&zk).await.unwrap_err();
    assert!(matches!(err, Error::CredentialLost(ref s) if s == "zk-auth"), "{err}");
    assert_eq!(h.api.lines(), reads(), "nothing written");
    // Retries back off: 1s, 2s, 4s.
    let zk = Arc::new(zk);
    let delays: Vec<Requeue> = (0..3).map(|_| error_policy(zk.clone(), &err, h.ctx.clone())).collect();
    assert_eq!(delays, [1, 2, 4].map(|s| Requeue::requeue(Duration::from_secs(s))));
}

#[tokio::test]
async fn a_resource_being_deleted_is_left_to_garbage_collection() {
    let h = harness();
    let mut zk = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    zk.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
    assert_eq!(h.reconcile(&zk).await.unwrap(), Requeue::await_change());
    assert!(h.api.lines().is_empty());
}

#[tokio::test]
async fn an_invalid_spec_publishes_only_its_status() {
    let h = harness();
    let mut zk = cluster(ZookeeperClusterSpec::new(3, "3.8.0"));
    zk.spec.config.insert("skipACL".into(), "yes".into());
    h.reconcile(&zk).await.unwrap();
    assert_eq!(
        h.api.lines(),
        seq(&[reads(), one(format!("POST {CORE}/secrets fieldManager=zk-chaos-operator")), one(status_patch())])
    );
    let status = h.find(&status_patch()).body;
    assert!(status["status"]["message"].as_str().unwrap().contains("spec rejected"), "{status}");
}
