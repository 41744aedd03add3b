//! Real ensembles on the local backend: real JVMs, real namespaces.
//! Needs root and Java; provisions ZooKeeper into the user cache on first
//! use. Tests in this file run one at a time (2-core machines).

use std::time::Duration;

use zk_chaos::backend::local::ensemble::{self, EnsembleError};
use zk_chaos::backend::local::{EnsembleSpec, LocalEnsemble};
use zk_chaos::client::{self, SessionOptions};
use zk_chaos::dist::NoProgress;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    assert!(
        zk_chaos::sys::has_net_admin(),
        "the local backend tests need root (CAP_NET_ADMIN): run `sudo cargo test` or as root"
    );
    SERIAL.lock().await
}

fn spec(name: &str, replicas: u32, version: &str, work: &tempfile::TempDir) -> EnsembleSpec {
    let mut s = EnsembleSpec::new(name, replicas, version);
    s.work_dir = work.path().to_path_buf();
    s
}

const QUORUM: Duration = Duration::from_secs(60);
const SESSION: SessionOptions =
    SessionOptions { session_timeout: Duration::from_secs(6), connect_timeout: Duration::from_secs(15) };

async fn write(e: &LocalEnsemble, ordinal: u32, path: &str, data: &[u8]) {
    let c = client::connect(&e.pod_connect_string(ordinal).unwrap(), SESSION).await.unwrap();
    client::create(&c, path, data).await.unwrap();
}

async fn read(e: &LocalEnsemble, ordinal: u32, path: &str) -> Vec<u8> {
    let c = client::connect(&e.pod_connect_string(ordinal).unwrap(), SESSION).await.unwrap();
    client::sync_read(&c, path).await.unwrap().0
}

async fn quorum_and_read_through_every_member(version: &str, name: &str) {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let mut e = LocalEnsemble::up(&spec(name, 3, version, &work), &NoProgress).await.unwrap();
    let (run, subnet) = (e.state().run.clone(), e.state().subnet);
    let st = e.wait_for_quorum(QUORUM).await.unwrap();
    assert_eq!(st.leaders.len(), 1, "exactly one leader: {st:?}");
    assert_eq!(st.followers_of_leader.len(), 2);
    assert_eq!(st.config_versions.len(), 1, "members agree on the config version");
    for m in &st.members {
        assert_eq!(m.srvr.as_ref().unwrap().version, version);
        let membership = m.membership.as_ref().unwrap();
        assert_eq!(membership.servers.len(), 3);
        assert!(membership.servers[0].host.ends_with(&format!("{name}-0.{name}-pods.default.svc.cluster.local")));
    }
    write(&e, 0, "/through-zero", b"hello").await;
    for o in 0..3 {
        assert_eq!(read(&e, o, "/through-zero").await, b"hello", "member {o}");
    }
    // The hosts file gives each pod the stable peer names.
    let hosts = std::fs::read_to_string(format!("/etc/netns/{}/hosts", run.netns(1))).unwrap();
    assert!(hosts.contains(&format!("{name}-2.{name}-pods.default.svc.cluster.local")), "{hosts}");
    let logs = e.state().run_dir.join("logs");
    e.teardown(false).await.unwrap();
    assert_eq!(ensemble::leftovers_of(&run, subnet), Vec::<String>::new());
    assert!(!std::path::Path::new(&format!("/etc/netns/{}", run.netns(0))).exists());
    let server_log = logs.join(format!("{name}-0")).join("zookeeper.log");
    assert!(std::fs::metadata(&server_log).map(|m| m.len() > 0).unwrap_or(false), "{server_log:?} kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_3_8_0_reaches_quorum_and_serves_through_every_member() {
    quorum_and_read_through_every_member("3.8.0", "q38").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_3_9_3_reaches_quorum_and_serves_through_every_member() {
    quorum_and_read_through_every_member("3.9.3", "q39").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_3_9_6_reaches_quorum_and_serves_through_every_member() {
    quorum_and_read_through_every_member("3.9.6", "q396").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_follower_leaves_a_serving_ensemble_and_rejoins_with_its_data() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let mut e = LocalEnsemble::up(&spec("kill", 3, "3.8.0", &work), &NoProgress).await.unwrap();
    let st = e.wait_for_quorum(QUORUM).await.unwrap();
    let follower = st.followers_of_leader[0];
    let other = (0..3).find(|o| *o != follower).unwrap();
    write(&e, follower, "/before", b"1").await;
    let instance = |st: &zk_chaos::probe::EnsembleStatus, o: u32| {
        st.members.iter().find(|m| m.ordinal == o).and_then(|m| m.instance.clone())
    };
    let before = instance(&st, follower).expect("the local backend knows each server's process");
    e.kill_pod(follower).await.unwrap();
    assert!(!e.pod_running(follower));
    let st = e.status().await;
    assert!(st.quorum, "two of three keep quorum: {:?}", st.problems);
    write(&e, other, "/during", b"2").await;
    e.start_pod(follower).await.unwrap();
    let st = e.wait_for_quorum(QUORUM).await.unwrap();
    let after = instance(&st, follower).expect("the restarted server's process");
    assert_ne!(after, before, "a restart is a new process");
    assert_eq!(read(&e, follower, "/before").await, b"1", "data kept across the kill");
    assert_eq!(read(&e, follower, "/during").await, b"2", "caught up on what it missed");
    e.teardown(false).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_leader_is_replaced_and_rejoins_after_heal() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let mut e = LocalEnsemble::up(&spec("iso", 3, "3.8.0", &work), &NoProgress).await.unwrap();
    e.wait_for_quorum(QUORUM).await.unwrap();
    // Servers up for a while: an election then sets zk_uptime well back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = e.wait_for_quorum(QUORUM).await.unwrap();
    let old = before.leader().unwrap();
    e.isolate(old).unwrap();
    let st = e.wait_until(QUORUM, |s| s.quorum && s.leader().is_some_and(|l| l != old)).await.unwrap();
    let new = st.leader().unwrap();
    assert_ne!(new, old);
    // The election gave the new leader a new ZooKeeper server (its
    // zk_uptime starts again: the old rule took that for a restart) in the
    // same process: not a restart.
    let gone = zk_chaos::faults::Effect::gone(new, Some(&before));
    assert!(!gone.seen_in(&st), "an election is not a new server process: {:?}", st.members);
    let old_member = st.members.iter().find(|m| m.ordinal == old).unwrap();
    assert!(!old_member.serving(), "the isolated old leader stops serving: {old_member:?}");
    write(&e, new, "/after-isolation", b"x").await;
    e.heal();
    let st = e.wait_for_quorum(QUORUM).await.unwrap();
    assert_eq!(st.leader(), Some(new), "healing does not depose the new leader");
    assert_eq!(read(&e, old, "/after-isolation").await, b"x");
    e.teardown(false).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_a_member() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let mut e = LocalEnsemble::up(&spec("pause", 3, "3.8.0", &work), &NoProgress).await.unwrap();
    let st = e.wait_for_quorum(QUORUM).await.unwrap();
    let f = st.followers_of_leader[0];
    e.pause_pod(f).unwrap();
    let st = e.wait_until(QUORUM, |s| s.members.iter().any(|m| m.ordinal == f && m.error.is_some())).await.unwrap();
    assert!(st.quorum, "two of three keep quorum while one is paused");
    e.resume_pod(f).unwrap();
    e.wait_for_quorum(QUORUM).await.unwrap();
    e.teardown(false).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_leaves_nothing_behind() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let s = spec("boom", 1, "3.8.0", &work);
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = tokio::spawn(async move {
        let e = LocalEnsemble::up(&s, &NoProgress).await.unwrap();
        tx.send((e.state().run.clone(), e.state().subnet, e.state().pods[&0].pid.unwrap())).unwrap();
        panic!("a test failing half-way");
    });
    assert!(handle.await.unwrap_err().is_panic());
    let (run, subnet, pid) = rx.recv().unwrap();
    assert!(!zk_chaos::sys::pid_alive(pid), "the JVM is gone");
    assert_eq!(ensemble::leftovers_of(&run, subnet), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_before_anything_starts() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let before = ensemble::leftovers();
    let err = |s: EnsembleSpec| async move { LocalEnsemble::up(&s, &NoProgress).await.err().unwrap() };

    let e = err(spec("zero", 0, "3.8.0", &work)).await;
    assert!(e.to_string().contains("at least 1"), "{e}");
    let e = err(spec("unknown", 3, "3.1.4", &work)).await;
    assert!(e.to_string().contains("3.1.4") && e.to_string().contains("3.8.0"), "{e}");
    let e = err(spec("Bad_Name", 3, "3.8.0", &work)).await;
    assert!(matches!(e, EnsembleError::Naming(_)), "{e}");

    // A subnet that overlaps one of the host's own routes.
    let routes = zk_chaos::backend::local::net::host_routes().unwrap();
    let taken = routes.iter().filter(|r| !r.is_fence() && r.table.is_none()).find_map(|r| r.subnet()).unwrap();
    let mut s = spec("overlap", 3, "3.8.0", &work);
    s.subnet = Some(taken);
    let e = err(s).await;
    assert!(e.to_string().contains("overlaps the host route"), "{e}");

    // A name that a live run already serves.
    let live = LocalEnsemble::up(&spec("taken", 1, "3.8.0", &work), &NoProgress).await.unwrap();
    let e = err(spec("taken", 1, "3.8.0", &work)).await;
    assert!(matches!(e, EnsembleError::NameInUse { .. }), "{e}");
    live.teardown(false).await.unwrap();
    assert_eq!(ensemble::leftovers(), before, "failed preflights created nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_cannot_start_fails_fast_with_its_log() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let mut s = spec("nostart", 1, "3.8.0", &work);
    // A zoo.cfg key the server rejects at parse time.
    s.settings.overrides.insert("initLimit".into(), "not-a-number".into());
    let mut e = LocalEnsemble::up(&s, &NoProgress).await.unwrap();
    let t = std::time::Instant::now();
    let err = e.wait_for_quorum(QUORUM).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(30), "fails fast, took {:?}", t.elapsed());
    let msg = err.to_string();
    assert!(matches!(err, EnsembleError::StartFailed { .. }), "{msg}");
    assert!(msg.contains("nostart-0") && msg.contains("zookeeper.log"), "{msg}");
    e.teardown(false).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_runs_get_distinct_subnets() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let specs: Vec<EnsembleSpec> = (0..4).map(|i| spec(&format!("par{i}"), 0, "3.8.0", &work)).collect();
    let tasks: Vec<_> = specs
        .into_iter()
        .map(|s| {
            // `create` builds the network only, no pods.
            tokio::spawn(async move { LocalEnsemble::create(&s, &NoProgress).await.unwrap() })
        })
        .collect();
    let mut made = Vec::new();
    for t in tasks {
        made.push(t.await.unwrap());
    }
    // The fence is the claim: a second claim of a fenced subnet loses.
    let taken = made[0].state().subnet;
    assert!(!zk_chaos::backend::local::net::claim_fence(taken).unwrap(), "{taken} is already claimed");
    let subnets: std::collections::HashSet<_> = made.iter().map(|e| e.state().subnet).collect();
    assert_eq!(subnets.len(), 4, "each run claimed its own subnet: {subnets:?}");
    for e in made {
        let (run, subnet) = (e.state().run.clone(), e.state().subnet);
        e.teardown(false).await.unwrap();
        assert!(ensemble::leftovers_of(&run, subnet).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_racing_for_one_name_cannot_both_win() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let s = spec("samename", 0, "3.8.0", &work);
            tokio::spawn(async move { LocalEnsemble::create(&s, &NoProgress).await })
        })
        .collect();
    let mut won = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(e) => won.push(e),
            Err(e) => assert!(matches!(e, EnsembleError::NameInUse { .. }), "{e}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one run holds the name");
    let e = won.pop().unwrap();
    let (run, subnet) = (e.state().run.clone(), e.state().subnet);
    e.teardown(false).await.unwrap();
    assert!(ensemble::leftovers_of(&run, subnet).is_empty());
    // Released: the name can be used again.
    let s = spec("samename", 0, "3.8.0", &work);
    LocalEnsemble::create(&s, &NoProgress).await.unwrap().teardown(false).await.unwrap();
}
