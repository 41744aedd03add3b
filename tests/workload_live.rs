//! A recorded workload against a real 3-member ensemble while a follower and
//! then the leader are SIGKILLed and restarted; the history must be
//! complete, readable back from its file, and pass every checker. Prints
//! the sustained throughput with full recording. Needs root and Java.

use std::sync::Arc;
use std::time::Duration;

use zk_chaos::dist::NoProgress;
use zk_chaos::history;
use zk_chaos::local::{EnsembleSpec, LocalEnsemble};
use zk_chaos::workload::{Recorder, WorkloadSpec, run, stats};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_workload_survives_follower_and_leader_kills() {
    assert!(zk_chaos::sys::has_net_admin(), "needs root (CAP_NET_ADMIN)");
    let work = tempfile::tempdir().unwrap();
    let mut spec = EnsembleSpec::new("wl", 3, "3.8.0");
    spec.work_dir = work.path().to_path_buf();
    let mut e = LocalEnsemble::up(&spec, &NoProgress).await.unwrap();
    let st = e.wait_for_quorum(Duration::from_secs(60)).await.unwrap();
    let servers = e.connect_string();

    let wl = WorkloadSpec::new("/wl", 8, 20, Duration::from_secs(14), 42);
    run::prepare(&servers, &wl).await.unwrap();
    let file = work.path().join("history.jsonl");
    let rec = Arc::new(Recorder::new(Some(&file)).unwrap());
    let task = {
        let (servers, wl, rec) = (servers.clone(), wl.clone(), rec.clone());
        tokio::spawn(async move { run::run(&servers, &wl, rec).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let follower = st.followers_of_leader[0];
    e.kill_pod(follower).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    e.start_pod(follower).await.unwrap();
    e.wait_for_quorum(Duration::from_secs(60)).await.unwrap();
    let leader = e.status().await.leader().unwrap();
    e.kill_pod(leader).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    e.start_pod(leader).await.unwrap();
    let out = task.await.unwrap();
    e.wait_for_quorum(Duration::from_secs(60)).await.unwrap();

    // The file holds exactly what was recorded, and every op pairs up.
    let from_file = history::read_events(&file).unwrap();
    assert_eq!(from_file, out.events);
    let ops = history::pair(&from_file, "history.jsonl").unwrap();
    let s = stats::stats(&ops);
    assert!(s.outcomes["ok"] > 200, "{s:?}");
    for kind in ["create", "set", "cas", "get", "sync_get", "append", "multi"] {
        assert!(s.latency.contains_key(kind), "no {kind} in {s:?}");
    }
    let final_state = run::read_final_state(&servers, &wl).await.unwrap();
    assert!(final_state.keys().any(|k| k.starts_with("/wl/log/e-")));
    eprintln!(
        "MEASURE workload: {} ops ({} ok, {} fail, {} unknown) in {:.1}s = {:.0} ok ops/s with 8 clients, full recording",
        ops.len(),
        s.outcomes.get("ok").copied().unwrap_or(0),
        s.outcomes.get("fail").copied().unwrap_or(0),
        s.outcomes.get("unknown").copied().unwrap_or(0),
        out.elapsed.as_secs_f64(),
        s.mean_ok_per_second
    );
    e.teardown(false).await.unwrap();
}
