//! Proof that the features catch operator bugs: the embedded operator is
//! run with a deliberately broken planner (`ZK_CHAOS_SABOTAGE`), and the
//! guarding scenario must fail at the step that guards against that bug.
//! (The same scenarios pass unsabotaged in `tests/features.rs`.) Needs root
//! and Java; the runs go one after another (`output()` waits for each),
//! about three minutes in all.

use std::path::Path;
use std::process::Command;

struct Case {
    sabotage: &'static str,
    tags: &'static str,
    /// The guarding steps, one of which must catch it (their texts start
    /// so); which one fires first depends on timing.
    caught_by: &'static [&'static str],
}

const CASES: [Case; 6] = [
    Case { sabotage: "leader-first", tags: "@guards-rollout", caught_by: &["the leader changed at most"] },
    Case {
        sabotage: "no-wait-for-ready",
        tags: "@guards-rollout",
        caught_by: &["at most 1 member was down", "the leader changed at most"],
    },
    Case {
        sabotage: "scale-down-without-reconfig",
        tags: "@guards-reconfig",
        caught_by: &["within 90s the ensemble has 3 voting members"],
    },
    Case {
        sabotage: "ready-when-pods-exist",
        tags: "@guards-status",
        caught_by: &["the status told the truth throughout"],
    },
    Case {
        sabotage: "config-without-restart",
        tags: "@guards-config",
        caught_by: &["every member runs with \"maxClientCnxns\" = \"100\""],
    },
    Case {
        sabotage: "scratch-data",
        tags: "@guards-durability",
        caught_by: &["every restarted member came back with its own data"],
    },
];

#[test]
fn every_planner_bug_is_caught_by_its_guarding_scenario() {
    assert!(zk_chaos::sys::has_net_admin(), "needs root (CAP_NET_ADMIN)");
    let out = tempfile::tempdir().unwrap();
    let runs: Vec<_> = CASES
        .iter()
        .map(|c| {
            let child = Command::new(env!("CARGO_BIN_EXE_zk-chaos"))
                .args(["run", "features", "--tags", c.tags, "--seed", "1", "--concurrency", "1", "--out"])
                .arg(out.path().join(c.sabotage))
                .env("ZK_CHAOS_SABOTAGE", c.sabotage)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output();
            (c, child)
        })
        .collect();
    for (c, output) in runs {
        let output = output.expect("zk-chaos runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        eprintln!("--- {} ---\n{stdout}", c.sabotage);
        assert_eq!(output.status.code(), Some(1), "{}: the run must fail\n{stdout}", c.sabotage);
        let outcome = outcome_json(&out.path().join(c.sabotage));
        let failed: Vec<(String, String)> = outcome["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["steps"].as_array().unwrap().iter())
            .filter(|st| st["status"] == "failed")
            .map(|st| (st["text"].as_str().unwrap().to_string(), st["error"].as_str().unwrap_or("").to_string()))
            .collect();
        assert_eq!(failed.len(), 1, "{}: exactly one step fails: {failed:?}", c.sabotage);
        assert!(
            c.caught_by.iter().any(|g| failed[0].0.starts_with(g)),
            "{}: caught by `{}`, expected one of {:?}",
            c.sabotage,
            failed[0].0,
            c.caught_by
        );
    }
}

fn outcome_json(parent: &Path) -> serde_json::Value {
    let run =
        std::fs::read_dir(parent).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).expect("a run directory");
    serde_json::from_slice(&std::fs::read(run.join("outcome.json")).unwrap()).unwrap()
}
