//! `KubeCluster` against an in-memory API server (kube's `tower_test`
//! pattern), scripted exec and node shells: for each method, the exact
//! requests (method, path, query, patch type, body) and what comes back;
//! the error paths (403 -> missing RBAC, refused -> unreachable, a silent
//! server -> a bounded timeout). The scripts the backend runs in pods are
//! also run for real here, against loopback servers and a process of the
//! test's own; exec and port-forward go through a loopback WebSocket
//! server speaking the Kubernetes channel protocol. Nothing reaches a
//! cluster.

mod support;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;
use zk_chaos::backend::kube::exec::{ApiExec, ExecOutput, PodExec};
use zk_chaos::backend::kube::netpol::{self, reachability};
use zk_chaos::backend::kube::pause::{self, Signal};
use zk_chaos::backend::kube::probe::{
    four_letter_script, member_from_output, probe_script, probe_script_for, server_process, split_answers,
};
use zk_chaos::backend::kube::{ConnectOptions, KubeCluster, KubeError};
use zk_chaos::probe::Mode;
use zk_chaos::zkconfig::EnsembleNames;

use support::*;

// ---- pods and pod faults ----

#[tokio::test]
async fn pods_come_with_ordinal_revision_readiness_address_and_node() {
    let r = rig(false);
    r.api.on("GET", PODS, 200, three_pods());
    let pods = r.cluster.pods().await.unwrap();
    assert_eq!(r.api.lines(), [format!("GET {PODS}?labelSelector={SELECTOR}")]);
    let rows: Vec<String> = pods
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {} {} {} {}",
                p.ordinal,
                p.name,
                p.revision.as_deref().unwrap(),
                p.ready,
                p.ip.unwrap(),
                p.node.as_deref().unwrap(),
                p.restarts
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "0 zk-0 5c1e0a7f true 10.244.1.5 zk-chaos-worker 0",
            "1 zk-1 5c1e0a7f false 10.244.2.5 zk-chaos-worker2 1",
            "2 zk-2 5c1e0a7f true 10.244.3.5 zk-chaos-worker3 2"
        ]
    );
}

#[tokio::test]
async fn kill_is_a_delete_with_grace_zero_and_delete_is_graceful() {
    let r = rig(false);
    r.api.on("DELETE", &format!("{PODS}/zk-1"), 200, pod(1, true, "n"));
    r.cluster.kill_pod(1).await.unwrap();
    r.cluster.delete_pod(1).await.unwrap();
    let calls = r.api.calls();
    assert_eq!(
        calls.iter().map(Seen::line).collect::<Vec<_>>(),
        [format!("DELETE {PODS}/zk-1"), format!("DELETE {PODS}/zk-1")]
    );
    assert_eq!(calls[0].body["gracePeriodSeconds"], 0, "{}", calls[0].body);
    assert!(calls[1].body.get("gracePeriodSeconds").is_none(), "{}", calls[1].body);
    let err = r.cluster.kill_pod(7).await.unwrap_err();
    assert_eq!(err.to_string(), "no pod zk-7 (ordinal 7) in namespace default");
}

#[tokio::test]
async fn killing_the_operator_deletes_its_pods() {
    let r = rig(false);
    let ops = "/api/v1/namespaces/zk-chaos-system/pods";
    let op_pod = |name: &str| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "zk-chaos-system"}});
    r.api.on("GET", ops, 200, pod_list(vec![op_pod("zk-chaos-operator-7d9c5b6f8d-x2x9q")])).on(
        "DELETE",
        &format!("{ops}/zk-chaos-operator-7d9c5b6f8d-x2x9q"),
        200,
        op_pod("x"),
    );
    assert_eq!(r.cluster.kill_operator().await.unwrap(), ["zk-chaos-operator-7d9c5b6f8d-x2x9q"]);
    let calls = r.api.calls();
    assert_eq!(
        calls.iter().map(Seen::line).collect::<Vec<_>>(),
        [
            format!("GET {ops}?labelSelector=app.kubernetes.io/name=zk-chaos-operator"),
            format!("DELETE {ops}/zk-chaos-operator-7d9c5b6f8d-x2x9q")
        ]
    );
    assert_eq!(calls[1].body["gracePeriodSeconds"], 0);
}

#[tokio::test]
async fn a_403_names_the_missing_verb_and_resource() {
    let r = rig(false);
    let forbidden = status(
        403,
        "Forbidden",
        "pods is forbidden: User \"system:serviceaccount:ci:runner\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"",
    );
    r.api.on("GET", PODS, 403, forbidden.clone()).on("DELETE", &format!("{PODS}/zk-0"), 403, forbidden);
    let msg = r.cluster.pods().await.unwrap_err().to_string();
    assert!(msg.starts_with("missing RBAC: list pods in namespace default"), "{msg}");
    assert!(
        msg.contains("cannot list resource \\\"pods\\\"") || msg.contains("cannot list resource \"pods\""),
        "{msg}"
    );
    let msg = r.cluster.kill_pod(0).await.unwrap_err().to_string();
    assert!(msg.starts_with("missing RBAC: delete pods in namespace default"), "{msg}");
    let msg = r.cluster.heal().await.unwrap_err().to_string();
    assert!(msg.contains("404") || msg.contains("not found"), "unrouted: {msg}");
}

// ---- member status through exec ----

#[tokio::test]
async fn status_probes_every_member_through_exec() {
    let r = rig(false);
    r.api.on("GET", PODS, 200, three_pods()).on("GET", ZKC, 200, zkc("Ready", 3));
    r.exec.answer("zk-0", follower_output());
    r.exec.answer("zk-1", follower_output());
    let mut leader = leader_output();
    leader.stdout = format!("@@zk-chaos-begin proc\n1 4242\n\n@@zk-chaos-end proc 0\n{}", leader.stdout);
    r.exec.answer("zk-2", leader);
    let st = r.cluster.status().await.unwrap();
    assert!(st.quorum, "{:?}", st.problems);
    assert_eq!(st.leader(), Some(2));
    // The server process, told apart from a recreated pod's by the pod's uid.
    assert_eq!(st.members[2].instance.as_deref(), Some("pod uid-2 pid 1 started at tick 4242"));
    assert_eq!(st.members[0].instance, None, "no process section, no instance");
    assert_eq!(st.followers_of_leader, [0, 1]);
    assert_eq!(st.members[2].addr, Ipv4Addr::new(10, 244, 3, 5));
    assert_eq!(st.members[2].config_version, Some(0x1_0000_0000));
    assert_eq!(st.members[0].peer_state.as_deref(), Some("following - broadcast"));
    let calls = r.exec.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    for (pod, container, command) in &calls {
        assert!(pod.starts_with("default/zk-"), "{pod}");
        assert_eq!(container, "zookeeper");
        assert_eq!(command[..2], ["/bin/bash", "-c"]);
        assert_eq!(command[2], probe_script(2181, 8080));
    }
}

#[tokio::test]
async fn a_member_that_does_not_serve_or_run_is_a_state_and_missing_rbac_is_an_error() {
    let r = rig(false);
    let mut pending = pod(2, false, "zk-chaos-worker3");
    pending["status"] = json!({"phase": "Pending"});
    r.api.on("GET", PODS, 200, pod_list(vec![pod(0, true, "a"), pod(1, true, "b"), pending])).on(
        "GET",
        ZKC,
        200,
        zkc("Critical", 1),
    );
    let not_serving = format!(
        "@@zk-chaos-begin srvr\n{}\n@@zk-chaos-end srvr 0\n@@zk-chaos-begin conf\n\n@@zk-chaos-end conf refused\n",
        fourlw("notserving-srvr.txt")
    );
    r.exec.answer("zk-0", ExecOutput { stdout: not_serving, stderr: String::new(), exit_code: 0 });
    r.exec.answer(
        "zk-1",
        ExecOutput {
            stdout: "@@zk-chaos-begin srvr\n\n@@zk-chaos-end srvr refused\n".into(),
            stderr: String::new(),
            exit_code: 0,
        },
    );
    let st = r.cluster.status().await.unwrap();
    assert!(!st.quorum);
    assert_eq!(st.members[0].state_word(), "not-serving");
    assert_eq!(st.members[1].state_word(), "down");
    assert_eq!(st.members[1].error.as_deref(), Some("srvr: connection refused"));
    assert_eq!(st.members[2].error.as_deref(), Some("pod zk-2 is Pending"));
    assert_eq!(r.exec.calls.lock().unwrap().len(), 2, "no exec into a pod that does not run");

    *r.exec.forbid.lock().unwrap() = true;
    let msg = r.cluster.status().await.unwrap_err().to_string();
    assert!(msg.starts_with("missing RBAC: create/get pods/exec in namespace default"), "{msg}");
}

#[tokio::test]
async fn four_letter_words_go_through_exec() {
    let r = rig(false);
    r.api.on("GET", &format!("{PODS}/zk-1"), 200, pod(1, true, "n"));
    r.exec.answer(
        "zk-1",
        ExecOutput {
            stdout: "@@zk-chaos-begin ruok\nimok\n@@zk-chaos-end ruok 0\n".into(),
            stderr: String::new(),
            exit_code: 0,
        },
    );
    assert_eq!(r.cluster.four_letter(1, "ruok").await.unwrap(), "imok");
    let (pod, container, command) = r.exec.calls.lock().unwrap()[0].clone();
    assert_eq!((pod.as_str(), container.as_str()), ("default/zk-1", "zookeeper"));
    assert_eq!(command, ["/bin/bash", "-c", &four_letter_script(2181, "ruok")]);
    let msg = r.cluster.four_letter(1, "srvr; rm -rf /").await.unwrap_err().to_string();
    assert!(msg.contains("is not a four-letter word"), "{msg}");
    assert_eq!(r.exec.calls.lock().unwrap().len(), 1, "nothing run");
}

/// A loopback server answering every connection with `reply` once the
/// request is in (a blank line ends an HTTP request; a 4lw is 4 bytes), or
/// holding it open, silent.
async fn serve(reply: Option<String>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 512];
                while let Ok(n) = s.read(&mut buf).await {
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if n == 0 || text.contains("\r\n\r\n") || (!text.starts_with("GET") && request.len() >= 4) {
                        break;
                    }
                }
                match reply {
                    Some(r) => {
                        let _ = s.write_all(r.as_bytes()).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn the_probe_script_really_reads_a_member() {
    // Two loopback servers standing in for a member's client and admin
    // ports (each answers one request per connection, as ZooKeeper does).
    let answers = ["srvr", "conf", "mntr"].map(|w| fourlw(&format!("leader-{w}.txt")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client_port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let answers = answers.clone();
            tokio::spawn(async move {
                let mut word = [0u8; 4];
                s.read_exact(&mut word).await.unwrap();
                let i = ["srvr", "conf", "mntr"].iter().position(|w| w.as_bytes() == word).unwrap();
                s.write_all(answers[i].as_bytes()).await.unwrap();
            });
        }
    });
    let admin = serve(Some(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"is_leader\":true,\"leader_id\":3,\"error\":null}"
            .into(),
    ))
    .await;
    let out =
        tokio::process::Command::new("bash").args(["-c", &probe_script(client_port, admin)]).output().await.unwrap();
    let st = member_from_output(2, Ipv4Addr::new(10, 0, 0, 2), &String::from_utf8_lossy(&out.stdout));
    assert_eq!(st.mode(), Some(Mode::Leader), "{st:?}");
    assert_eq!(st.srvr.as_ref().unwrap().zxid, 0x100000007);
    assert_eq!(st.config_version, Some(0x1_0000_0000));
    assert_eq!(st.peer_state.as_deref(), Some("leading - broadcast"));
    assert_eq!(st.leader_id, Some(3));
    assert_eq!(st.error, None);

    let out = tokio::process::Command::new("bash")
        .args(["-c", &four_letter_script(client_port, "mntr")])
        .output()
        .await
        .unwrap();
    let answers = split_answers(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(answers["mntr"].as_deref(), Ok(fourlw("leader-mntr.txt").as_str()));

    // Refused, and a server that accepts but never answers (paused): both bounded states.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let silent = serve(None).await;
    let started = Instant::now();
    let out = tokio::process::Command::new("bash").args(["-c", &probe_script(closed, silent)]).output().await.unwrap();
    let st = member_from_output(0, Ipv4Addr::LOCALHOST, &String::from_utf8_lossy(&out.stdout));
    assert_eq!(st.state_word(), "down");
    assert_eq!(st.error.as_deref(), Some("srvr: connection refused"));
    let out = tokio::process::Command::new("bash").args(["-c", &probe_script(silent, closed)]).output().await.unwrap();
    let st = member_from_output(0, Ipv4Addr::LOCALHOST, &String::from_utf8_lossy(&out.stdout));
    assert_eq!(st.error.as_deref(), Some("srvr: no answer within 3s"));
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

/// A stand-in server process: `sleep` run under the name `argv0`, with a
/// duration unique to the test as its command line's needle; returned once
/// its command line is in place.
fn stand_in(argv0: &str, needle: &str) -> std::process::Child {
    let child =
        std::process::Command::new("bash").args(["-c", &format!("exec -a {argv0} sleep {needle}")]).spawn().unwrap();
    let want = format!("{argv0}\0{needle}\0");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{}/cmdline", child.id())).ok().as_deref() != Some(want.as_str()) {
        assert!(Instant::now() < deadline, "the stand-in {argv0} never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

async fn probed_instance(needle: &str) -> Option<String> {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let script = probe_script_for(closed, closed, needle);
    let out = tokio::process::Command::new("bash").args(["-c", &script]).output().await.unwrap();
    let st = member_from_output(0, Ipv4Addr::LOCALHOST, &String::from_utf8_lossy(&out.stdout));
    // The server process is named even when it does not answer.
    assert_eq!(st.error.as_deref(), Some("srvr: connection refused"));
    st.instance
}

#[tokio::test]
async fn the_probe_script_names_the_server_process_it_finds() {
    let needle = format!("86400.{}", std::process::id());
    // Not a java process: never the server, though it carries the needle.
    let mut other = stand_in("sleep", &needle);
    assert_eq!(probed_instance(&needle).await, None, "only java processes are servers");

    let mut server = stand_in("/usr/lib/jvm/bin/java", &needle);
    let pid = server.id();
    let ticks = zk_chaos::sys::process_start_ticks(pid).unwrap();
    assert_eq!(probed_instance(&needle).await, Some(format!("pid {pid} started at tick {ticks}")));

    // Two candidates: which one answered cannot be told, so none is named.
    let mut twin = stand_in("java", &needle);
    assert_eq!(probed_instance(&needle).await, None, "two java servers are ambiguous");
    for c in [&mut other, &mut server, &mut twin] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

#[test]
fn a_proc_answer_names_exactly_one_process() {
    assert_eq!(server_process("1 4242\n").as_deref(), Some("pid 1 started at tick 4242"));
    assert_eq!(server_process("\n"), None);
    assert_eq!(server_process("1 4242\n7 99\n"), None);
    assert_eq!(server_process("1 soon\n"), None);
}

// ---- pause / resume ----

#[tokio::test]
async fn pause_signals_from_the_node_and_checks_the_process_stopped() {
    let r = rig(true);
    r.api.on("GET", &format!("{PODS}/zk-1"), 200, pod(1, true, "zk-chaos-worker2"));
    *r.nodes.answer.lock().unwrap() = "State:\tT (stopped)\n".into();
    r.cluster.pause(1).await.unwrap();
    let (node, script) = r.nodes.calls.lock().unwrap()[0].clone();
    assert_eq!(node, "zk-chaos-worker2");
    assert_eq!(script, pause::node_script("default", "zk-1", Signal::Stop));
    assert!(script.contains("crictl ps -q --name '^zookeeper$' --label io.kubernetes.pod.name=zk-1 --label io.kubernetes.pod.namespace=default --state running"), "{script}");
    assert!(script.contains("crictl inspect --output go-template --template '{{.info.pid}}'"), "{script}");
    assert!(script.contains("kill -STOP \"$pid\""), "{script}");
    // A signal that did not take is an error, never a silent success.
    let msg = r.cluster.resume(1).await.unwrap_err().to_string();
    assert!(msg.contains("sent SIGCONT but the process state is T; the signal did not take"), "{msg}");
    *r.nodes.answer.lock().unwrap() = "State:\tS (sleeping)\n".into();
    r.cluster.resume(1).await.unwrap();
    assert!(r.nodes.calls.lock().unwrap()[2].1.contains("kill -CONT \"$pid\""));
    assert!(r.exec.calls.lock().unwrap().is_empty(), "no exec into the pod");
}

#[tokio::test]
async fn without_a_node_shell_pausing_a_pid_1_jvm_is_unsupported_not_skipped() {
    let r = rig(false);
    r.api.on("GET", &format!("{PODS}/zk-0"), 200, pod(0, true, "n"));
    r.exec.answer(
        "zk-0",
        ExecOutput { stdout: String::new(), stderr: "the ZooKeeper JVM is PID 1\n".into(), exit_code: 4 },
    );
    let err = r.cluster.pause(0).await.unwrap_err();
    assert!(matches!(err, KubeError::Unsupported { fault: "pause", .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("unsupported on this backend: pause: the ZooKeeper JVM is PID 1"), "{msg}");
    assert!(msg.contains("shareProcessNamespace"), "{msg}");
    let (pod, container, command) = r.exec.calls.lock().unwrap()[0].clone();
    assert_eq!((pod.as_str(), container.as_str()), ("default/zk-0", "zookeeper"));
    assert_eq!(command, ["/bin/sh", "-c", &pause::container_script(Signal::Stop, pause::SERVER_MAIN_CLASS)]);

    r.exec.answers.lock().unwrap().clear();
    r.exec
        .answer("zk-0", ExecOutput { stdout: String::new(), stderr: "sh: 1: tr: not found\n".into(), exit_code: 127 });
    let msg = r.cluster.pause(0).await.unwrap_err().to_string();
    assert!(msg.starts_with("unsupported on this backend: pause: the image has no usable"), "{msg}");
}

#[tokio::test]
async fn the_in_container_pause_script_really_stops_and_resumes_a_process() {
    // A process of our own, named by a pattern nothing else on the machine has.
    let pattern = format!("zk-chaos-pause-test-{}", std::process::id());
    let mut child = tokio::process::Command::new("bash")
        .args(["-c", &format!("exec -a {pattern} sleep 60")])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let run = |signal| {
        let script = pause::container_script(signal, &pattern);
        async move { tokio::process::Command::new("sh").args(["-c", &script]).output().await.unwrap() }
    };
    let out = run(Signal::Stop).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(zk_chaos::backend::kind::parse::process_state(&String::from_utf8_lossy(&out.stdout)), Some('T'));
    let pid = child.id().unwrap();
    let state = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(zk_chaos::backend::kind::parse::process_state(&state), Some('T'), "the process itself is stopped");
    let out = run(Signal::Cont).await;
    assert!(out.status.success());
    assert_ne!(zk_chaos::backend::kind::parse::process_state(&String::from_utf8_lossy(&out.stdout)), Some('T'));
    child.kill().await.unwrap();
    let out = run(Signal::Stop).await;
    assert_eq!(out.status.code(), Some(3), "gone: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn faults_this_backend_cannot_do_say_so() {
    let r = rig(false);
    for fault in ["kill", "pause", "resume", "isolate", "split", "bridge"] {
        assert!(r.cluster.check_supported(fault).is_ok(), "{fault}");
    }
    for (fault, why) in [("one-way", "stateful"), ("netem", "tc inside"), ("stop", "re-creates")] {
        let msg = r.cluster.check_supported(fault).unwrap_err().to_string();
        assert!(msg.starts_with(&format!("unsupported on this backend: {fault}: ")) && msg.contains(why), "{msg}");
    }
}

// ---- partitions ----

#[test]
fn sides_become_reachability_and_policies() {
    let r = reachability(&[vec![0, 1, 2], vec![2, 3, 4]]);
    assert_eq!(r[&0].iter().copied().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(r[&2].iter().copied().collect::<Vec<_>>(), [0, 1, 2, 3, 4], "the bridge reaches both sides");
    assert_eq!(r[&4].iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(netpol::isolated(&[1, 3]), [vec![1], vec![3]]);
    let names = EnsembleNames::new("zk", "chaos");
    let ps = netpol::policies(&names, &[vec![0], vec![1, 2]]);
    assert_eq!(ps.len(), 3);
    let p: Value = serde_json::to_value(&ps[1]).unwrap();
    assert_eq!(
        p,
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "zk-chaos-partition-zk-1", "namespace": "chaos",
                         "labels": {"app.kubernetes.io/instance": "zk", "app.kubernetes.io/managed-by": "zk-chaos",
                                    "zk-chaos.io/fault": "partition"}},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/instance": "zk", "app.kubernetes.io/name": "zookeeper",
                                                "statefulset.kubernetes.io/pod-name": "zk-1"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [
                    {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "zk", "app.kubernetes.io/name": "zookeeper"},
                                     "matchExpressions": [{"key": "statefulset.kubernetes.io/pod-name", "operator": "In", "values": ["zk-1", "zk-2"]}]}},
                    {"podSelector": {"matchExpressions": [{"key": "app.kubernetes.io/instance", "operator": "NotIn", "values": ["zk"]}]}},
                    {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["chaos"]}]}}
                ]}],
                "egress": [{"to": [
                    {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "zk", "app.kubernetes.io/name": "zookeeper"},
                                     "matchExpressions": [{"key": "statefulset.kubernetes.io/pod-name", "operator": "In", "values": ["zk-1", "zk-2"]}]}},
                    {"podSelector": {"matchExpressions": [{"key": "app.kubernetes.io/instance", "operator": "NotIn", "values": ["zk"]}]}},
                    {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["chaos"]}]}}
                ]}]
            }
        })
    );
    // The typed object is exactly the JSON (no field lost or unknown).
    let back: k8s_openapi::api::networking::v1::NetworkPolicy = serde_json::from_value(p.clone()).unwrap();
    assert_eq!(serde_json::to_value(back).unwrap(), p);
}

#[tokio::test]
async fn isolate_applies_one_policy_per_member_and_drops_established_connections() {
    let r = rig(true);
    r.api
        .on("PATCH", &format!("{NETPOL}/zk-chaos-partition-zk-0"), 200, json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "zk-chaos-partition-zk-0"}}))
        .on("GET", PODS, 200, three_pods());
    r.cluster.isolate(&[0]).await.unwrap();
    let calls = r.api.calls();
    assert_eq!(
        calls.iter().map(Seen::line).collect::<Vec<_>>(),
        [
            format!("PATCH[apply] {NETPOL}/zk-chaos-partition-zk-0?fieldManager=zk-chaos&force=true"),
            format!("GET {PODS}?labelSelector={SELECTOR}"),
        ]
    );
    let expected = serde_json::to_value(netpol::policy(&EnsembleNames::new("zk", "default"), 0, &[0].into())).unwrap();
    assert_eq!(calls[0].body, expected);
    let nodes = r.nodes.calls.lock().unwrap().clone();
    let hosts: Vec<&str> = nodes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(hosts, ["zk-chaos-worker", "zk-chaos-worker2", "zk-chaos-worker3"], "every node hosting a member");
    assert!(nodes.iter().all(|(_, s)| *s == netpol::conntrack_script(&["10.244.1.5".to_string()])));
    assert!(nodes[0].1.contains("conntrack -D -s \"$ip\"") && nodes[0].1.contains("for ip in 10.244.1.5;"));
}

#[tokio::test]
async fn split_and_heal() {
    let r = rig(false);
    for o in 0..3 {
        r.api.on(
            "PATCH",
            &format!("{NETPOL}/zk-chaos-partition-zk-{o}"),
            200,
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {}}),
        );
    }
    r.api.on("DELETE", NETPOL, 200, json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "metadata": {}, "items": [
        {"metadata": {"name": "zk-chaos-partition-zk-0"}}, {"metadata": {"name": "zk-chaos-partition-zk-1"}}, {"metadata": {"name": "zk-chaos-partition-zk-2"}}]}));
    r.cluster.partition(&[vec![0], vec![1, 2]]).await.unwrap();
    let lines = r.api.lines();
    assert_eq!(lines.len(), 3, "no node shell: policies only, no pod list: {lines:?}");
    assert_eq!(
        r.api.calls()[2].body["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"],
        json!(["zk-1", "zk-2"])
    );
    assert_eq!(r.cluster.heal().await.unwrap(), 3);
    assert_eq!(
        r.api.lines().last().unwrap(),
        &format!("DELETE {NETPOL}?labelSelector=zk-chaos.io/fault=partition,app.kubernetes.io/instance=zk")
    );
}

#[tokio::test]
async fn pairwise_cuts_keep_exactly_the_policies_they_need() {
    let r = rig(false);
    let item = |o: u32| json!({"metadata": {"name": format!("zk-chaos-partition-zk-{o}")}});
    r.api
        .on("GET", PODS, 200, three_pods())
        .on("PATCH", &format!("{NETPOL}/zk-chaos-partition-zk-0"), 200, item(0))
        .on("PATCH", &format!("{NETPOL}/zk-chaos-partition-zk-1"), 200, item(1))
        .on("GET", NETPOL, 200, json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "metadata": {}, "items": [item(0), item(1), item(2)]}))
        .on("DELETE", &format!("{NETPOL}/zk-chaos-partition-zk-2"), 200, item(2));
    r.cluster.set_cuts(&[(0, 1)].into()).await.unwrap();
    let calls = r.api.calls();
    assert_eq!(
        calls.iter().map(Seen::line).collect::<Vec<_>>(),
        [
            format!("GET {PODS}?labelSelector={SELECTOR}"),
            format!("PATCH[apply] {NETPOL}/zk-chaos-partition-zk-0?fieldManager=zk-chaos&force=true"),
            format!("PATCH[apply] {NETPOL}/zk-chaos-partition-zk-1?fieldManager=zk-chaos&force=true"),
            format!("GET {NETPOL}?labelSelector=zk-chaos.io/fault=partition,app.kubernetes.io/instance=zk"),
            format!("DELETE {NETPOL}/zk-chaos-partition-zk-2"),
        ]
    );
    let peers = |i: usize| {
        calls[i].body["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"].clone()
    };
    assert_eq!(peers(1), json!(["zk-0", "zk-2"]));
    assert_eq!(peers(2), json!(["zk-1", "zk-2"]));
    let p = netpol::peers_from_cuts(&[0, 1, 2, 3, 4], &[(0, 3), (1, 3), (2, 3), (3, 4)].into());
    assert_eq!(p[&3].iter().copied().collect::<Vec<_>>(), [3], "cut from everyone: isolated");
    assert_eq!(p[&0].iter().copied().collect::<Vec<_>>(), [0, 1, 2, 4]);
    assert!(!p.contains_key(&5));
}

// ---- the ZookeeperCluster ----

#[tokio::test]
async fn spec_changes_are_merge_patches_and_creation_a_server_side_apply() {
    let r = rig(false);
    r.api.on("PATCH", ZKC, 200, zkc("Upgrading", 3));
    r.cluster.set_version("3.9.3").await.unwrap();
    r.cluster.set_replicas(5).await.unwrap();
    r.cluster.set_partition(1).await.unwrap();
    r.cluster
        .set_config(&BTreeMap::from([
            ("maxClientCnxns".to_string(), Some("200".to_string())),
            ("autopurge.purgeInterval".to_string(), None),
        ]))
        .await
        .unwrap();
    r.cluster.create_cluster(zk_chaos::operator::crd::ZookeeperClusterSpec::new(3, "3.8.0")).await.unwrap();
    let calls = r.api.calls();
    let lines: Vec<String> = calls.iter().map(Seen::line).collect();
    assert_eq!(
        lines[..4],
        [
            format!("PATCH[merge] {ZKC}"),
            format!("PATCH[merge] {ZKC}"),
            format!("PATCH[merge] {ZKC}"),
            format!("PATCH[merge] {ZKC}")
        ]
    );
    assert_eq!(lines[4], format!("PATCH[apply] {ZKC}?fieldManager=zk-chaos&force=true"));
    assert_eq!(calls[0].body, json!({"spec": {"version": "3.9.3"}}));
    assert_eq!(calls[1].body, json!({"spec": {"replicas": 5}}));
    assert_eq!(calls[2].body, json!({"spec": {"updateStrategy": {"partition": 1}}}));
    assert_eq!(calls[3].body, json!({"spec": {"config": {"autopurge.purgeInterval": null, "maxClientCnxns": "200"}}}));
    assert_eq!(calls[4].body["apiVersion"], "zk-chaos.io/v1alpha1");
    assert_eq!(calls[4].body["kind"], "ZookeeperCluster");
    assert_eq!(calls[4].body["metadata"], json!({"name": "zk", "namespace": "default"}));
    assert_eq!(calls[4].body["spec"]["replicas"], 3);
    assert_eq!(calls[4].body["spec"]["version"], "3.8.0");
}

#[tokio::test]
async fn wait_ready_needs_the_operator_and_the_members_and_says_what_it_saw() {
    let r = rig(false);
    r.api.once("GET", ZKC, 200, zkc("Upgrading", 2)).on("GET", ZKC, 200, zkc("Ready", 3)).on(
        "GET",
        PODS,
        200,
        pod_list(vec![pod(0, true, "a"), pod(1, true, "b"), pod(2, true, "c")]),
    );
    r.exec.answer("zk-0", follower_output());
    r.exec.answer("zk-1", follower_output());
    r.exec.answer("zk-2", leader_output());
    let st = r.cluster.wait_ready(Duration::from_secs(5)).await.unwrap();
    assert_eq!(st.leader(), Some(2));

    let r = rig(false);
    r.api.on("GET", ZKC, 200, zkc("Upgrading", 2));
    let started = Instant::now();
    let msg = r.cluster.wait_ready(Duration::from_millis(300)).await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(msg.starts_with("timed out after"), "{msg}");
    assert!(msg.contains("waiting for ZookeeperCluster default/zk to be Ready"), "{msg}");
    assert!(msg.contains("operator: phase Some(Upgrading), 2/3 ready, rolling member 1"), "{msg}");

    // A forbidden look ends the wait at once.
    let r = rig(false);
    r.api.on("GET", ZKC, 403, status(403, "Forbidden", "zookeeperclusters.zk-chaos.io \"zk\" is forbidden"));
    let started = Instant::now();
    let msg = r.cluster.wait_ready(Duration::from_secs(30)).await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(msg.starts_with("missing RBAC: get zookeeperclusters.zk-chaos.io in namespace default"), "{msg}");
}

// ---- an API server that is not there, or does not answer ----

#[tokio::test]
async fn an_unreachable_or_silent_api_server_fails_within_the_bound() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cluster = KubeCluster::new(plain_client(closed), format!("http://127.0.0.1:{closed}"), "default", "zk")
        .with_timeouts(fast());
    let started = Instant::now();
    let err = cluster.pods().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(matches!(err, KubeError::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("API server unreachable at http://127.0.0.1:{closed}")), "{msg}");
    assert!(msg.contains("kubectl cluster-info"), "{msg}");

    let silent = serve(None).await;
    let cluster = KubeCluster::new(plain_client(silent), "http://silent", "default", "zk").with_timeouts(fast());
    let started = Instant::now();
    let msg = cluster.kill_pod(0).await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(msg, "the API server at http://silent did not answer `delete pods zk-0 in namespace default` within 2s");
}

#[tokio::test]
async fn connecting_with_a_kubeconfig_checks_the_server_and_names_problems() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kc = dir.path().join("config");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{closed}\n\
             contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n    namespace: chaos\ncurrent-context: ctx\n\
             users:\n- name: u\n  user:\n    token: t\n"
        ),
    )
    .unwrap();
    let opts = ConnectOptions { kubeconfig: Some(kc.clone()), context: None, namespace: None };
    let started = Instant::now();
    let err = KubeCluster::connect(&opts, "zk", fast()).await.err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(err, KubeError::Unreachable { .. }), "{err:?}");
    let opts = ConnectOptions { kubeconfig: Some(kc.clone()), context: Some("nope".into()), namespace: None };
    let msg = KubeCluster::connect(&opts, "zk", fast()).await.err().unwrap().to_string();
    assert!(msg.starts_with("kubeconfig:") && msg.contains("nope"), "{msg}");
    let opts = ConnectOptions { kubeconfig: Some(dir.path().join("missing")), context: None, namespace: None };
    let msg = KubeCluster::connect(&opts, "zk", fast()).await.err().unwrap().to_string();
    assert!(msg.starts_with("kubeconfig:") && msg.contains("missing"), "{msg}");
}

// ---- exec and port-forward over a loopback WebSocket API server ----

/// A loopback API server for upgrades: records the request line, answers
/// 403 when `forbid`, else speaks `v4.channel.k8s.io` and runs `session`.
#[allow(clippy::result_large_err)] // tungstenite's handshake callback type
async fn ws_server<F, Fut>(forbid: bool, session: F) -> (u16, Arc<Mutex<Vec<String>>>)
where
    F: Fn(tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let session = Arc::new(session);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            if forbid {
                let mut buf = vec![0u8; 4096];
                let n = stream.read(&mut buf).await.unwrap();
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                log.lock().unwrap().push(head.lines().next().unwrap_or_default().to_string());
                let body = status(403, "Forbidden", "pods \"zk-0\" is forbidden: cannot create resource \"pods/exec\"")
                    .to_string();
                let reply = format!(
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(reply.as_bytes()).await.unwrap();
                continue;
            }
            let log = log.clone();
            let callback =
                move |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                      mut resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                    log.lock().unwrap().push(format!("{} {}", req.method(), req.uri()));
                    resp.headers_mut().insert("Sec-WebSocket-Protocol", "v4.channel.k8s.io".parse().unwrap());
                    Ok(resp)
                };
            let ws = tokio_tungstenite::accept_hdr_async(stream, callback).await.unwrap();
            let session = session.clone();
            tokio::spawn(async move { session(ws).await });
        }
    });
    (port, seen)
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = vec![channel];
    v.extend_from_slice(data);
    Message::binary(v)
}

#[tokio::test]
async fn api_exec_runs_over_the_channel_protocol() {
    let (port, seen) = ws_server(false, |mut ws| async move {
        ws.send(frame(1, b"Mode: leader\n")).await.unwrap();
        ws.send(frame(2, b"warning\n")).await.unwrap();
        let st = json!({"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                        "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
                        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}});
        ws.send(frame(3, st.to_string().as_bytes())).await.unwrap();
        let _ = ws.close(None).await;
    })
    .await;
    let exec = ApiExec::new(plain_client(port), format!("http://127.0.0.1:{port}"));
    let cmd = vec!["/bin/bash".to_string(), "-c".to_string(), "echo hi".to_string()];
    let out = exec.exec("default", "zk-0", "zookeeper", &cmd, Duration::from_secs(5)).await.unwrap();
    assert_eq!(out, ExecOutput { stdout: "Mode: leader\n".into(), stderr: "warning\n".into(), exit_code: 3 });
    let line = seen.lock().unwrap()[0].clone();
    assert_eq!(
        line,
        "GET /api/v1/namespaces/default/pods/zk-0/exec?&stdout=true&stderr=true&container=zookeeper&command=%2Fbin%2Fbash&command=-c&command=echo+hi"
    );

    let (port, _) = ws_server(false, |mut ws| async move {
        ws.send(frame(1, b"ok")).await.unwrap();
        ws.send(frame(3, json!({"metadata": {}, "status": "Success"}).to_string().as_bytes())).await.unwrap();
        let _ = ws.close(None).await;
    })
    .await;
    let exec = ApiExec::new(plain_client(port), "x");
    let out = exec.exec("default", "zk-0", "zookeeper", &cmd, Duration::from_secs(5)).await.unwrap();
    assert_eq!((out.stdout.as_str(), out.exit_code), ("ok", 0));

    // A process that never ends is cut at the bound.
    let (port, _) = ws_server(false, |ws| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(ws);
    })
    .await;
    let exec = ApiExec::new(plain_client(port), "x");
    let started = Instant::now();
    let msg =
        exec.exec("default", "zk-0", "zookeeper", &cmd, Duration::from_millis(500)).await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(msg.contains("did not finish within 500ms"), "{msg}");

    let (port, seen) = ws_server(true, |_ws| async {}).await;
    let exec = ApiExec::new(plain_client(port), "x");
    let msg = exec.exec("default", "zk-0", "zookeeper", &cmd, Duration::from_secs(5)).await.unwrap_err().to_string();
    assert!(msg.starts_with("missing RBAC: create/get pods/exec in namespace default"), "{msg}");
    assert!(seen.lock().unwrap()[0].starts_with("GET /api/v1/namespaces/default/pods/zk-0/exec?"));
}

#[tokio::test]
async fn client_traffic_is_port_forwarded_per_member() {
    // The pod side: announce port 2181 on the data and error channels, then
    // answer what arrives on the data channel.
    let (port, seen) = ws_server(false, |mut ws| async move {
        let p = 2181u16.to_le_bytes();
        ws.send(frame(0, &p)).await.unwrap();
        ws.send(frame(1, &p)).await.unwrap();
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Binary(b) = msg
                && b.len() > 1
                && b[0] == 0
            {
                let reply = format!("answer to {}", String::from_utf8_lossy(&b[1..]));
                ws.send(frame(0, reply.as_bytes())).await.unwrap();
            }
        }
    })
    .await;
    let cluster = KubeCluster::new(plain_client(port), "x", "default", "zk");
    let fwd = cluster.forward_clients(&[0, 1]).await.unwrap();
    let addrs: Vec<_> = fwd.addrs().values().copied().collect();
    assert_eq!(fwd.connect_string(), format!("{},{}", addrs[0], addrs[1]));
    assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    let mut conn = tokio::net::TcpStream::connect(fwd.addr(1).unwrap()).await.unwrap();
    conn.write_all(b"srvr").await.unwrap();
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf[..n], b"answer to srvr");
    assert_eq!(seen.lock().unwrap()[0], "GET /api/v1/namespaces/default/pods/zk-1/portforward?&ports=2181");
    drop(fwd);
}
