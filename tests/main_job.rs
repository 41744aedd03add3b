//! The built-in acceptance job, `zk-chaos smoke`, as a user runs it: it must
//! pass every step, print its measurements and leave nothing behind.
//! Needs root and Java.

use std::process::Command;

#[test]
fn the_main_job_passes_and_reports_its_measurements() {
    let work = tempfile::tempdir().unwrap();
    let json = work.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_zk-chaos"))
        .args(["smoke", "--name", "mainjob", "--json"])
        .arg(&json)
        .env("ZK_CHAOS_WORK_DIR", work.path())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("0 failed, 0 skipped"), "{text}");
    for needle in
        ["time to quorum:", "longest write gap", "peak memory of the ensemble", "no acknowledged write was lost"]
    {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let steps = summary["steps"].as_array().unwrap();
    assert!(steps.len() >= 10, "{summary}");
    assert!(steps.iter().all(|s| s["outcome"] == "passed"), "{summary}");
    assert!(summary["quorum_ms"].as_u64().is_some());
    let run = summary["run"].as_str().unwrap();
    let leftovers: Vec<String> =
        zk_chaos::backend::local::ensemble::leftovers().into_iter().filter(|l| l.contains(run)).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
