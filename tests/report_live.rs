//! A report from a real recorded run: a 3-member ensemble, 8 clients, a
//! follower and then the leader SIGKILLed; the bundle is judged, summarised
//! into a run record as the runner does it (steps, evidence, artifacts),
//! written, and opened in headless Chromium. Needs root and Java.

#[path = "support/chromium.rs"]
mod chromium;
#[path = "support/not_run.rs"]
mod not_run;

use std::time::{Duration, Instant};

use zk_chaos::backend::local::{EnsembleSpec, LocalEnsemble};
use zk_chaos::check::linear::Budget;
use zk_chaos::check::suite;
use zk_chaos::dist::NoProgress;
use zk_chaos::report::artifacts::{local_pod_logs, save_scenario_artifacts};
use zk_chaos::report::{self, Environment, Evidence, FeatureRecord, Outcome, RunRecord, ScenarioRecord, StepRecord};
use zk_chaos::workload::WorkloadSpec;
use zk_chaos::workload::record::{kill_follower_then_leader, record};

const QUORUM: Duration = Duration::from_secs(60);

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn step(keyword: &str, text: &str, started: Instant, ok: bool, line: u32) -> StepRecord {
    StepRecord {
        keyword: keyword.into(),
        text: text.into(),
        line,
        duration_ns: started.elapsed().as_nanos() as u64,
        outcome: if ok { Outcome::Passed } else { Outcome::Failed },
        error: (!ok).then(|| "failed".to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_from_a_real_run_with_follower_and_leader_kills() {
    assert!(zk_chaos::sys::has_net_admin(), "needs root (CAP_NET_ADMIN)");
    let _serial = SERIAL.lock().await;
    let work = tempfile::tempdir().unwrap();
    let run_started = Instant::now();
    let mut run = RunRecord::start(Environment::detect("local", vec!["3.8.0".into()], Some(7)));
    let reports = tempfile::tempdir().unwrap();
    let run_dir = report::run_dir(reports.path(), &run);

    let t = Instant::now();
    let mut spec = EnsembleSpec::new("rp", 3, "3.8.0");
    spec.work_dir = work.path().to_path_buf();
    let mut e = LocalEnsemble::up(&spec, &NoProgress).await.unwrap();
    e.wait_for_quorum(QUORUM).await.unwrap();
    let mut steps = vec![step("Given", "a 3-member ensemble of ZooKeeper 3.8.0", t, true, 4)];

    let t = Instant::now();
    let wl = WorkloadSpec::new("/rp", 8, 20, Duration::from_secs(10), 7);
    let bundle = record(&mut e, &wl, None, QUORUM, async |e, rec| {
        kill_follower_then_leader(e, rec, Duration::from_secs(2), QUORUM).await
    })
    .await
    .unwrap();
    steps.push(step("When", "a follower and then the leader are killed under load", t, true, 5));
    let t = Instant::now();
    let checked = suite::check_all(&bundle, Budget::default()).unwrap();
    steps.push(step("Then", "every checker says valid", t, checked.all_valid(), 6));

    let mut ev = Evidence::from_bundle(&bundle, &checked).unwrap();
    ev.operator_actions.push(zk_chaos::report::OperatorAction {
        at_ns: ev.faults[1].heal_ns.unwrap(),
        text: "restart the killed leader".into(),
    });
    let artifacts = save_scenario_artifacts(
        &run_dir,
        1,
        "kill a follower then the leader",
        Some(&bundle),
        None,
        &local_pod_logs(e.state()),
        zk_chaos::textfile::Storage::Plain,
    )
    .unwrap();
    e.teardown(false).await.unwrap();

    run.features.push(FeatureRecord {
        name: "Member loss".into(),
        path: "features/member_loss.feature".into(),
        line: 1,
        scenarios: vec![ScenarioRecord {
            name: "kill a follower then the leader".into(),
            line: 3,
            duration_ns: run_started.elapsed().as_nanos() as u64,
            outcome: Outcome::of_steps(&steps),
            steps,
            evidence: Some(ev),
            links: artifacts.links,
            logs: artifacts.logs,
            ..ScenarioRecord::default()
        }],
        ..FeatureRecord::default()
    });
    run.finish(run_started.elapsed());
    let w = report::write(&run, &run_dir).unwrap();

    // What the real run shows.
    assert!(checked.all_valid(), "{}", suite::render(&checked));
    assert!(run.passed());
    let ev = run.features[0].scenarios[0].evidence.as_ref().unwrap();
    assert_eq!(ev.faults.len(), 2);
    assert!(ev.ops.ok > 200, "{:?}", ev.ops);
    assert!(ev.series.buckets.iter().filter(|b| b.ok > 0).count() >= 8, "most seconds saw acknowledged operations");
    assert!(!ev.leader_changes.is_empty(), "the leader was killed: {:?}", ev.leader_changes);
    let leader_kill = &ev.recovery[1];
    assert!(leader_kill.leadership_disturbed && leader_kill.time_to_leader_ns.is_some(), "{leader_kill:?}");
    assert_ne!(leader_kill.new_leader, leader_kill.leader_before, "{leader_kill:?}");
    assert!(leader_kill.first_write_after_start_ns.is_some(), "writes resumed: {leader_kill:?}");
    let probes = ev.probes.as_ref().unwrap();
    assert!(probes.states.iter().any(|s| s.members.iter().any(|m| m.role == "down" || m.role == "not-serving")));
    let links = &run.features[0].scenarios[0].links;
    assert!(links.iter().any(|l| l.href.ends_with("bundle/history.jsonl")));
    assert!(links.iter().filter(|l| l.href.ends_with("zookeeper.log")).count() == 3, "{links:?}");
    for l in links {
        assert!(run_dir.join(&l.href).is_file(), "{}", l.href);
    }
    // The record alone re-renders the same page (but for its render time).
    let again = report::html::render(&RunRecord::load(&run_dir).unwrap()).unwrap();
    let strip = |s: &str| s.lines().filter(|l| !l.contains("Rendered ")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&again), strip(&std::fs::read_to_string(&w.html).unwrap()));

    // As a person sees it.
    let Some(bin) = chromium::find(&not_run::test_name!()) else { return };
    let mut browser = chromium::Browser::launch(&bin);
    let page = browser.open(&w.html, chromium::REPORT_DOM_CHECK, true);
    let out = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/report-test");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("live.png"), page.screenshot.unwrap()).unwrap();
    assert!(page.errors.is_empty(), "{:#?}", page.errors);
    assert_eq!(page.dom["verdict"], "PASSED");
    for name in ["timeline", "roles"] {
        let c = page.dom["charts"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
        assert!(c["drawn"].as_u64().unwrap() >= 5, "{name}: {c}");
    }
    eprintln!("live report: {} (screenshot {})", w.html.display(), out.join("live.png").display());
}
