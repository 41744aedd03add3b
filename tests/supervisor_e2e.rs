//! The operator's planner driving real ensembles on the local backend
//! through the embedded supervisor: rolling upgrade 3.8.0 -> 3.9.3 with
//! partitions, scale 3 -> 5 -> 3 through reconfig, a config change, and a
//! supervisor killed in the middle of a scale-down. A writer runs
//! throughout; no acknowledged write may be lost. Needs root and Java.

use std::time::{Duration, Instant};

use zk_chaos::backend::local::EnsembleSpec;
use zk_chaos::dist::NoProgress;
use zk_chaos::operator::action::Action;
use zk_chaos::operator::crd::{ZookeeperCluster, ZookeeperClusterSpec};
use zk_chaos::operator::supervisor::{LocalOptions, Round, Supervisor};
use zk_chaos::probe::EnsembleStatus;
use zk_chaos::workload::{Writer, WriterReport, writer::missing_writes};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const CONVERGE: Duration = Duration::from_secs(180);

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    assert!(zk_chaos::sys::has_net_admin(), "needs root (CAP_NET_ADMIN)");
    SERIAL.lock().await
}

fn cluster(name: &str, replicas: u32, version: &str) -> ZookeeperCluster {
    let mut spec = ZookeeperClusterSpec::new(replicas, version);
    spec.tick_time_ms = Some(500);
    ZookeeperCluster::new(name, spec)
}

async fn supervisor(c: ZookeeperCluster, work: &tempfile::TempDir) -> Supervisor {
    let mut base = EnsembleSpec::new("unused", 0, &c.spec.version);
    base.work_dir = work.path().to_path_buf();
    let mut s = Supervisor::create(c, &LocalOptions { base }, &NoProgress).await.unwrap();
    s.converge(CONVERGE, |_| {}).await.unwrap();
    s
}

/// What happened during one convergence.
#[derive(Debug, Default)]
struct Trace {
    deleted: Vec<u32>,
    leader_deletes: Vec<u32>,
    config_versions: Vec<u64>,
    took: Duration,
}

async fn converge(s: &mut Supervisor) -> Trace {
    let mut t = Trace::default();
    let start = Instant::now();
    s.converge(CONVERGE, |r: &Round| {
        for a in &r.plan.actions {
            if let Action::DeletePod { ordinal, .. } = a {
                t.deleted.push(*ordinal);
                if r.probe.leader() == Some(*ordinal) {
                    t.leader_deletes.push(*ordinal);
                }
            }
        }
        if let Some(v) = r.probe.config_versions.last()
            && t.config_versions.last() != Some(v)
        {
            t.config_versions.push(*v);
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    t.took = start.elapsed();
    t
}

fn versions(st: &EnsembleStatus) -> Vec<String> {
    st.members.iter().map(|m| m.srvr.as_ref().map(|s| s.version.clone()).unwrap_or_default()).collect()
}

async fn finish(s: Supervisor, w: Writer) -> WriterReport {
    let report = w.stop().await;
    let ens = s.into_ensemble();
    assert!(report.acked.len() >= 10, "the writer made progress: {report:?}");
    let missing = missing_writes(&ens.connect_string(), &report.dir, &report.acked).await.unwrap();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    ens.teardown(false).await.unwrap();
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_upgrade_with_partitions_2_1_0() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let mut s = supervisor(cluster("up", 3, "3.8.0"), &work).await;
    let w = Writer::start(s.ensemble().connect_string(), "/upgrade", Duration::from_millis(50));
    let mut spec = s.cluster().spec.clone();
    spec.version = "3.9.3".into();
    let mut total = Duration::ZERO;
    for (partition, expect) in [(2, ["3.8.0", "3.8.0", "3.9.3"]), (1, ["3.8.0", "3.9.3", "3.9.3"]), (0, ["3.9.3"; 3])] {
        spec.update_strategy.partition = partition;
        s.apply(spec.clone()).unwrap();
        let t = converge(&mut s).await;
        total += t.took;
        let st = s.ensemble().status().await;
        assert!(st.all_healthy(), "partition {partition}: {:?}", st.problems);
        assert_eq!(versions(&st), expect, "partition {partition}: mixed versions serve in between");
        let mut once = t.deleted.clone();
        once.dedup();
        assert_eq!(once, t.deleted, "each member restarted once");
        assert!(t.deleted.iter().all(|o| *o >= partition), "only ordinals >= {partition}: {:?}", t.deleted);
        if let Some(l) = t.leader_deletes.first() {
            assert_eq!(t.deleted.last(), Some(l), "the leader goes last: {t:?}");
        }
    }
    let status = s.status().unwrap().clone();
    assert_eq!(status.current_version.as_deref(), Some("3.9.3"));
    let r = finish(s, w).await;
    eprintln!(
        "MEASURE rolling upgrade 3.8.0->3.9.3 (3 members, partitions 2,1,0): {:.1}s, longest write gap {:.2}s, {} writes acked, {} failed",
        total.as_secs_f64(),
        r.longest_gap.as_secs_f64(),
        r.acked.len(),
        r.failed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_3_to_5_to_3_through_reconfig() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let mut s = supervisor(cluster("sc", 3, "3.8.0"), &work).await;
    let v0 = s.ensemble().status().await.config_versions[0];
    let w = Writer::start(s.ensemble().connect_string(), "/scale", Duration::from_millis(50));
    let mut spec = s.cluster().spec.clone();
    let mut total = Duration::ZERO;
    let mut last = v0;
    for replicas in [5u32, 3] {
        spec.replicas = replicas;
        s.apply(spec.clone()).unwrap();
        let t = converge(&mut s).await;
        total += t.took;
        let st = s.ensemble().status().await;
        assert!(st.all_healthy(), "{replicas}: {:?}", st.problems);
        assert_eq!(st.members.len() as u32, replicas);
        assert_eq!(st.voters as u32, replicas, "every member votes");
        assert_eq!(st.config_versions.len(), 1, "every member agrees on the config");
        // Two reconfigs per direction: the version rises at each.
        let steps: Vec<u64> = t.config_versions.iter().copied().filter(|v| *v > last).collect();
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:x?}");
        assert_eq!(steps.len(), 2, "one reconfig per member: {:x?}", t.config_versions);
        last = st.config_versions[0];
        assert!(t.deleted.is_empty(), "scaling restarts nobody: {:?}", t.deleted);
    }
    let volumes = s.ensemble().volumes();
    assert_eq!(volumes.into_iter().collect::<Vec<_>>(), vec![0, 1, 2], "removed members' volumes released");
    let r = finish(s, w).await;
    eprintln!(
        "MEASURE scale 3->5->3: {:.1}s, longest write gap {:.2}s, {} writes acked, {} failed",
        total.as_secs_f64(),
        r.longest_gap.as_secs_f64(),
        r.acked.len(),
        r.failed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_change_rolls_through_every_member_leader_last() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let mut s = supervisor(cluster("cfg", 3, "3.8.0"), &work).await;
    let w = Writer::start(s.ensemble().connect_string(), "/config", Duration::from_millis(50));
    let mut spec = s.cluster().spec.clone();
    spec.config.insert("maxClientCnxns".into(), "77".into());
    s.apply(spec).unwrap();
    let t = converge(&mut s).await;
    assert_eq!(t.deleted.len(), 3, "every member restarted once: {t:?}");
    assert_eq!(t.leader_deletes.len(), 1, "the leader restarted exactly once: {t:?}");
    assert_eq!(t.deleted.last(), t.leader_deletes.first(), "and last");
    for o in s.ensemble().ordinals() {
        let addr = std::net::SocketAddr::from((s.ensemble().addr(o).unwrap(), 2181));
        let conf = zk_chaos::probe::wire::four_letter(addr, "conf", Duration::from_secs(2)).await.unwrap();
        assert!(conf.lines().any(|l| l == "maxClientCnxns=77"), "member {o} runs the new config:\n{conf}");
    }
    let r = finish(s, w).await;
    eprintln!(
        "MEASURE config change roll (3 members): {:.1}s, longest write gap {:.2}s",
        t.took.as_secs_f64(),
        r.longest_gap.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_killed_mid_scale_down_is_resumed_and_completes() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let mut s = supervisor(cluster("kill", 5, "3.8.0"), &work).await;
    let w = Writer::start(s.ensemble().connect_string(), "/killed", Duration::from_millis(50));
    let mut spec = s.cluster().spec.clone();
    spec.replicas = 3;
    s.apply(spec).unwrap();
    // Run until the first member has been removed from the config, then
    // "kill" the supervisor: drop it, keeping only the world.
    let deadline = Instant::now() + CONVERGE;
    loop {
        let r = s.reconcile_once().await.unwrap();
        if r.plan.actions.iter().any(|a| matches!(a, Action::ReconfigRemove { .. })) {
            break;
        }
        assert!(Instant::now() < deadline, "never started the scale-down");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ens = s.into_ensemble();
    let dist = zk_chaos::dist::DistConfig::from_env();
    let mut s = Supervisor::resume(ens, dist).unwrap();
    converge(&mut s).await;
    let st = s.ensemble().status().await;
    assert!(st.all_healthy(), "{:?}", st.problems);
    assert_eq!(st.members.len(), 3);
    assert_eq!(st.voters, 3);
    finish(s, w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_semantics_deleted_and_crashed_pods_come_back_at_their_revision() {
    let _g = serial().await;
    let work = tempfile::tempdir().unwrap();
    let mut s = supervisor(cluster("sts", 3, "3.8.0"), &work).await;
    let mut spec = s.cluster().spec.clone();
    spec.version = "3.9.3".into();
    spec.update_strategy.partition = 2;
    s.apply(spec).unwrap();
    converge(&mut s).await;
    let old_rev = s.ensemble().state().pods[&0].template.revision.clone();
    let new_rev = s.ensemble().state().pods[&2].template.revision.clone();
    assert_ne!(old_rev, new_rev);

    // A pod below the partition that is deleted comes back at the old revision.
    s.delete_pod(0).await.unwrap();
    assert!(!s.ensemble().state().pods.contains_key(&0));
    let t = converge(&mut s).await;
    assert!(t.deleted.is_empty(), "nothing else was rolled: {t:?}");
    let st = s.ensemble().status().await;
    assert!(st.all_healthy(), "{:?}", st.problems);
    assert_eq!(versions(&st), ["3.8.0", "3.8.0", "3.9.3"]);
    assert_eq!(s.ensemble().state().pods[&0].template.revision, old_rev);

    // A crashed server is restarted (kubelet) at the revision it had.
    s.ensemble_mut().kill_pod(2).await.unwrap();
    converge(&mut s).await;
    let st = s.ensemble().status().await;
    assert!(st.all_healthy(), "{:?}", st.problems);
    assert_eq!(versions(&st), ["3.8.0", "3.8.0", "3.9.3"]);
    assert_eq!(s.ensemble().state().pods[&2].template.revision, new_rev);
    s.into_ensemble().teardown(false).await.unwrap();
}
