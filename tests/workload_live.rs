//! A recorded workload against a real 3-member ensemble while a follower and
//! then the leader are SIGKILLed and restarted; the history must be
//! complete, readable back from its file, and pass every checker (in the
//! library and through `zk-chaos check`). Prints the sustained throughput
//! with full recording. Needs root and Java.

use std::time::Duration;

use zk_chaos::backend::local::{EnsembleSpec, LocalEnsemble};
use zk_chaos::check::linear::Budget;
use zk_chaos::check::suite::{self, Bundle};
use zk_chaos::dist::NoProgress;
use zk_chaos::history;
use zk_chaos::workload::record::{kill_follower_then_leader, record};
use zk_chaos::workload::{WorkloadSpec, stats};

const QUORUM: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_workload_survives_follower_and_leader_kills() {
    assert!(zk_chaos::sys::has_net_admin(), "needs root (CAP_NET_ADMIN)");
    let work = tempfile::tempdir().unwrap();
    let mut spec = EnsembleSpec::new("wl", 3, "3.8.0");
    spec.work_dir = work.path().to_path_buf();
    let mut e = LocalEnsemble::up(&spec, &NoProgress).await.unwrap();
    e.wait_for_quorum(QUORUM).await.unwrap();

    let wl = WorkloadSpec::new("/wl", 8, 20, Duration::from_secs(12), 42);
    let file = work.path().join("streamed.jsonl");
    let bundle = record(&mut e, &wl, Some(&file), QUORUM, async |e, rec| {
        kill_follower_then_leader(e, rec, Duration::from_secs(2), QUORUM).await
    })
    .await
    .unwrap();

    // The streamed file holds exactly what was recorded, and every op pairs up.
    assert_eq!(history::read_events(&file).unwrap(), bundle.events);
    // ... and was closed properly: its end-of-history marker is there.
    assert_eq!(history::read_events_tolerant(&file).unwrap().1, None, "the recorder closed the history");
    let ops = history::pair(&bundle.events, "history.jsonl").unwrap();
    let s = stats::stats(&ops);
    assert!(s.outcomes["ok"] > 200, "{s:?}");
    for kind in ["create", "set", "cas", "get", "sync_get", "append", "multi"] {
        assert!(s.latency.contains_key(kind), "no {kind} in {s:?}");
    }
    let final_state = bundle.final_state.as_ref().unwrap();
    assert!(final_state.keys().any(|k| k.starts_with("/wl/log/e-")));
    assert_eq!(bundle.facts.faults.len(), 2);

    // Every checker passes, on the bundle as saved and read back.
    let dir = work.path().join("bundle");
    bundle.save(&dir).unwrap();
    let report = suite::check_all(&Bundle::load(&dir).unwrap(), Budget::default()).unwrap();
    eprintln!("{}", suite::render(&report));
    assert!(report.all_valid(), "{}", suite::render(&report));
    assert_eq!(report.availability.faults.len(), 2);
    assert!(report.quorum.as_ref().unwrap().leader_changes >= 1, "the leader was killed");
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_zk-chaos")).arg("check").arg(&dir).output().unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stdout));
    eprintln!(
        "MEASURE workload: {} ops ({} ok, {} fail, {} unknown) = {:.0} ok ops/s with 8 clients, full recording",
        ops.len(),
        s.outcomes.get("ok").copied().unwrap_or(0),
        s.outcomes.get("fail").copied().unwrap_or(0),
        s.outcomes.get("unknown").copied().unwrap_or(0),
        s.mean_ok_per_second
    );
    e.teardown(false).await.unwrap();
}
