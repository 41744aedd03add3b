//! The local backend on a host where Docker runs (bridge netfilter on,
//! `FORWARD` policy `DROP`), and ensembles that cannot form: the failure
//! names its cause within seconds, not at the Ready deadline. Real JVMs in
//! real namespaces; needs root and Java. One test at a time (2 cores).

use std::time::{Duration, Instant};

use zk_chaos::backend::local::ensemble;
use zk_chaos::backend::local::{EnsembleSpec, LocalEnsemble};
use zk_chaos::backend::{self, BackendConfig};
use zk_chaos::dist::NoProgress;
use zk_chaos::operator::crd::{JvmSpec, ZookeeperCluster, ZookeeperClusterSpec};
use zk_chaos::operator::supervisor::{LocalOptions, Supervisor};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The Ready deadline the early diagnosis must beat by far.
const DEADLINE: Duration = Duration::from_secs(120);
/// "Well before the deadline", generous for a noisy 2-core machine.
const WELL_BEFORE: Duration = Duration::from_secs(60);

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    assert!(zk_chaos::sys::has_net_admin(), "needs root (CAP_NET_ADMIN)");
    SERIAL.lock().await
}

fn base(work: &tempfile::TempDir) -> EnsembleSpec {
    let mut b = EnsembleSpec::new("unused", 0, "3.8.0");
    b.work_dir = work.path().to_path_buf();
    b
}

fn resource(name: &str, heap_mb: Option<u32>) -> ZookeeperCluster {
    let mut spec = ZookeeperClusterSpec::new(3, "3.8.0");
    spec.tick_time_ms = Some(500);
    spec.jvm = heap_mb.map(|h| JvmSpec { heap_mb: Some(h) });
    ZookeeperCluster::new(name, spec)
}

/// `iptables -S FORWARD`'s policy line.
fn forward_policy() -> String {
    let out = zk_chaos::sys::run("iptables", ["-S", "FORWARD"]).expect("iptables -S FORWARD");
    out.lines().next().unwrap_or_default().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_forms_while_the_hosts_forward_policy_is_drop() {
    let _g = serial().await;
    // The situation a running Docker leaves, which broke every ensemble
    // before the bridge moved into a namespace of its own.
    assert_eq!(
        forward_policy(),
        "-P FORWARD DROP",
        "this test needs the host's FORWARD policy DROP, as a running dockerd sets it (`.ci/run` starts one)"
    );
    let work = tempfile::tempdir().unwrap();
    let mut spec = EnsembleSpec::new("fwddrop", 3, "3.8.0");
    spec.work_dir = work.path().to_path_buf();
    let mut e = LocalEnsemble::up(&spec, &NoProgress).await.unwrap();
    let (run, subnet) = (e.state().run.clone(), e.state().subnet);
    let st = e.wait_for_startup(DEADLINE).await.unwrap();
    assert_eq!(st.leaders.len(), 1, "{st:?}");
    assert_eq!(st.followers_of_leader.len(), 2, "pod-to-pod traffic flows across the bridge: {st:?}");
    let ns = zk_chaos::sys::ip(["netns", "list"]).unwrap();
    assert!(ns.contains(&run.bridge_netns()), "the bridge lives in {}: {ns}", run.bridge_netns());
    e.teardown(false).await.unwrap();
    assert_eq!(ensemble::leftovers_of(&run, subnet), Vec::<String>::new());
    let ns = zk_chaos::sys::ip(["netns", "list"]).unwrap();
    assert!(!ns.contains(&run.bridge_netns()), "bridge namespace removed: {ns}");
    assert!(zk_chaos::sys::ip(["link", "show", &run.bridge()]).is_err(), "host veth {} removed", run.bridge());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_exits_at_start_fails_the_operator_at_once_with_its_log() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    // A heap no machine has: the JVM exits before ZooKeeper starts.
    let c = resource("badheap", Some(99_999_999));
    let mut s = Supervisor::create(c, &LocalOptions { base: base(&work) }, &NoProgress).await.unwrap();
    let t = Instant::now();
    let err = s.converge(DEADLINE, |_| {}).await.unwrap_err().to_string();
    let took = t.elapsed();
    eprintln!("MEASURE bad heap: error after {:.1}s:\n{err}", took.as_secs_f64());
    assert!(err.contains("badheap-") && err.contains("exited"), "{err}");
    assert!(err.contains("Could not reserve enough space"), "the JVM's own words: {err}");
    assert!(took < WELL_BEFORE, "well before the {DEADLINE:?} deadline: {took:?}");
    let (run, subnet) = (s.ensemble().state().run.clone(), s.ensemble().state().subnet);
    s.into_ensemble().teardown(false).await.unwrap();
    assert_eq!(ensemble::leftovers_of(&run, subnet), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_that_cannot_reach_each_other_are_named_within_seconds() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let c = resource("blackhole", None);
    let mut s = Supervisor::create(c, &LocalOptions { base: base(&work) }, &NoProgress).await.unwrap();
    // The first round creates the StatefulSet and its pods.
    s.reconcile_once().await.unwrap();
    assert_eq!(s.ensemble().ordinals(), vec![0, 1, 2]);
    // Blackhole routes between pod 0 and the others, inside their namespaces.
    s.ensemble_mut().partition(&[0], &[1, 2]).unwrap();
    let t = Instant::now();
    let err = s.converge(DEADLINE, |_| {}).await.unwrap_err().to_string();
    let took = t.elapsed();
    eprintln!("MEASURE blackholed peer: error after {:.1}s:\n{err}", took.as_secs_f64());
    assert!(err.contains("cannot reach each other's election port 3888"), "{err}");
    for pair in ["pod 0 -> pod 1", "pod 0 -> pod 2", "pod 1 -> pod 0", "pod 2 -> pod 0"] {
        assert!(err.contains(pair), "{pair}: {err}");
    }
    assert!(!err.contains("pod 1 -> pod 2"), "1 and 2 reach each other: {err}");
    assert!(err.contains("blackhole route"), "{err}");
    assert!(took < WELL_BEFORE, "{took:?}");
    s.ensemble_mut().heal();
    let (run, subnet) = (s.ensemble().state().run.clone(), s.ensemble().state().subnet);
    s.into_ensemble().teardown(false).await.unwrap();
    assert_eq!(ensemble::leftovers_of(&run, subnet), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_ensemble_that_cannot_start_is_diagnosed_through_the_cluster() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    // What `Given a 3-member ensemble` does on the local backend, with a
    // heap the JVM refuses.
    let c = backend::create(&BackendConfig::Local, &base(&work), resource("scenheap", Some(99_999_999))).await.unwrap();
    let t = Instant::now();
    let err = loop {
        if let Err(e) = c.startup_check().await {
            break e.to_string();
        }
        assert!(t.elapsed() < DEADLINE, "no diagnosis by the deadline");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    eprintln!("MEASURE scenario bad heap: error after {:.1}s", t.elapsed().as_secs_f64());
    assert!(err.contains("scenheap-") && err.contains("Could not reserve enough space"), "{err}");
    assert!(t.elapsed() < WELL_BEFORE);
    c.teardown().await.unwrap();
    assert_eq!(c.leftovers(), Vec::<String>::new());
}
