//! Proof that the features catch operator bugs: the embedded operator is
//! run with a deliberately broken planner (`ZK_CHAOS_SABOTAGE`), and the
//! guarding scenario must fail at the step that guards against that bug.
//! (The same scenarios pass unsabotaged in `tests/features.rs`.) Needs root
//! and Java; the runs go one after another (`output()` waits for each),
//! about three minutes in all.
//!
//! The planted bugs exist only with the cargo feature `sabotage`, which the
//! crate's dev-dependency on itself turns on for every `cargo test`; a
//! build without it prints NOT RUN here, never a silent pass.

#[path = "support/not_run.rs"]
mod not_run;

use std::path::Path;
use std::process::Command;

use not_run::not_run;

struct Case {
    sabotage: &'static str,
    /// The guarantee the bug breaks (for the README's table).
    guarantee: &'static str,
    /// The bug, in a few words.
    bug: &'static str,
    /// The feature file holding the guarding scenario.
    feature: &'static str,
    tags: &'static str,
    /// The guarding steps, one of which must catch it (their texts start
    /// so); which one fires first depends on timing.
    caught_by: &'static [&'static str],
}

const CASES: [Case; 7] = [
    Case {
        sabotage: "leader-first",
        guarantee: "a rolling upgrade rolls the leader last",
        bug: "rolls the leader first, not last",
        feature: "rolling_upgrade.feature",
        tags: "@guards-rollout",
        caught_by: &["the leader was restarted last"],
    },
    Case {
        sabotage: "no-wait-for-ready",
        guarantee: "one member down at a time during a rollout",
        bug: "rolls the next pod before the last is back",
        feature: "rolling_upgrade.feature",
        tags: "@guards-rollout",
        caught_by: &["at most 1 member was down", "the leader was restarted last", "the leader changed at most"],
    },
    Case {
        sabotage: "scale-down-without-reconfig",
        guarantee: "scale-down goes through `reconfig -remove`",
        bug: "stops pods instead of `reconfig -remove`",
        feature: "scaling.feature",
        tags: "@guards-reconfig",
        caught_by: &["within 90s the ensemble has 3 voting members"],
    },
    Case {
        sabotage: "ready-when-pods-exist",
        guarantee: "the published status tells the truth (Ready, readyReplicas, rollout complete)",
        bug: "reports Ready, every replica ready, as soon as the pods exist",
        feature: "pod_kills.feature",
        tags: "@guards-status",
        caught_by: &["the status told the truth throughout"],
    },
    Case {
        sabotage: "ready-when-pods-exist",
        guarantee: "the published status tells the truth while members join and one is cut off (the status-truth checker of every operator scenario's bundle)",
        bug: "reports Ready, every replica ready, as soon as the pods exist",
        feature: "scaling.feature",
        tags: "@guards-status-scaling",
        caught_by: &["the status told the truth throughout"],
    },
    Case {
        sabotage: "config-without-restart",
        guarantee: "a config change reaches every member, the leader last, before the rollout is complete",
        bug: "rewrites zoo.cfg and marks pods updated without restarting their servers",
        feature: "config_and_operator.feature",
        tags: "@guards-config",
        caught_by: &["every member runs with \"maxClientCnxns\" = \"100\""],
    },
    Case {
        sabotage: "scratch-data",
        guarantee: "a restarted member comes back with its own data; the whole ensemble restarted keeps every acknowledged write",
        bug: "snapshots and transaction log on scratch space, lost at every server restart",
        feature: "pod_kills.feature",
        tags: "@guards-durability",
        caught_by: &["every restarted member came back with its own data"],
    },
];

const TABLE_BEGIN: &str = "<!-- guarantees table: generated from tests/sabotage.rs -->\n";
const TABLE_END: &str = "<!-- end of the guarantees table -->\n";

/// The README's table of guarantees, from [`CASES`].
fn table() -> String {
    let mut out = String::from(
        "| guarantee | guarded by (feature, tag) | step | sabotage | the planted bug |\n|---|---|---|---|---|\n",
    );
    for c in &CASES {
        let steps: Vec<String> = c.caught_by.iter().map(|s| format!("`{s}…`")).collect();
        out.push_str(&format!(
            "| {} | `{}` `{}` | {} | `{}` | {} |\n",
            c.guarantee,
            c.feature,
            c.tags,
            steps.join(" or "),
            c.sabotage,
            c.bug
        ));
    }
    out
}

/// The README's table is the one [`CASES`] gives (`ZK_CHAOS_BLESS=1`
/// rewrites it); every sabotage the planner knows has a case; every case's
/// feature carries its tag and its guarding steps. Needs nothing but the
/// files.
#[test]
fn the_readme_table_lists_every_guarantee_its_step_and_its_planted_bug() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (head, rest) = readme.split_once(TABLE_BEGIN).expect("the README has the table's begin marker");
    let (current, tail) = rest.split_once(TABLE_END).expect("the README has the table's end marker");
    let want = table();
    if current != want {
        if std::env::var_os("ZK_CHAOS_BLESS").is_some() {
            std::fs::write(&readme_path, format!("{head}{TABLE_BEGIN}{want}{TABLE_END}{tail}")).unwrap();
        } else {
            panic!(
                "the README's guarantees table is stale: run `ZK_CHAOS_BLESS=1 cargo test --test sabotage the_readme`\nwant:\n{want}"
            );
        }
    }
    every_sabotage_has_a_case();
    for c in &CASES {
        let text = std::fs::read_to_string(root.join("features").join(c.feature)).unwrap();
        assert!(text.contains(c.tags), "{}: no scenario tagged {}", c.feature, c.tags);
        assert!(
            c.caught_by.iter().all(|step| text.contains(step)),
            "{}: a guarding step of {} is not in it: {:?}",
            c.feature,
            c.sabotage,
            c.caught_by
        );
    }
}

/// Every planted bug has a proof case.
#[cfg(feature = "sabotage")]
fn every_sabotage_has_a_case() {
    for s in zk_chaos::operator::sabotage::Sabotage::ALL {
        let name = serde_json::to_value(s).unwrap();
        assert!(CASES.iter().any(|c| c.sabotage == name.as_str().unwrap()), "sabotage {name} has no proof case");
    }
}

#[cfg(not(feature = "sabotage"))]
fn every_sabotage_has_a_case() {
    not_run!("every sabotage has a proof case", NO_FEATURE);
}

const NO_FEATURE: &str =
    "built without the cargo feature `sabotage` (the dev-dependency on zk-chaos itself turns it on for `cargo test`)";

#[test]
fn every_planner_bug_is_caught_by_its_guarding_scenario() {
    if !zk_chaos::operator::SABOTAGE_BUILT {
        not_run!("the planted bugs", NO_FEATURE);
        return;
    }
    assert!(zk_chaos::sys::has_net_admin(), "needs root (CAP_NET_ADMIN)");
    let out = tempfile::tempdir().unwrap();
    let runs: Vec<_> = CASES
        .iter()
        .map(|c| {
            let dir = out.path().join(format!("{}-{}", c.sabotage, c.tags.trim_start_matches('@')));
            let child = Command::new(env!("CARGO_BIN_EXE_zk-chaos"))
                .args(["run", "features", "--tags", c.tags, "--seed", "1", "--concurrency", "1", "--out"])
                .arg(&dir)
                .env("ZK_CHAOS_SABOTAGE", c.sabotage)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output();
            (c, dir, child)
        })
        .collect();
    for (c, dir, output) in runs {
        let output = output.expect("zk-chaos runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        eprintln!("--- {} ---\n{stdout}", c.sabotage);
        assert_eq!(output.status.code(), Some(1), "{}: the run must fail\n{stdout}", c.sabotage);
        let outcome = outcome_json(&dir);
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
