//! `zk-chaos run --repeat` on real ensembles (root and Java): attempts
//! with derived seeds, the per-scenario tally, kept failures with their
//! replay command, and `--until-fail`. About a minute.

use std::path::Path;
use std::process::Command;

use zk_chaos::hunt::attempt_seed;

const FIXTURE: &str = "tests/fixtures/hunt/short.feature";

fn run(out: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_zk-chaos"))
        .args(["run", FIXTURE, "--seed", "11", "--concurrency", "2", "--out"])
        .arg(out)
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("zk-chaos runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    (output.status.code(), stdout)
}

/// The single run directory under `out`.
fn hunt_dir(out: &Path) -> std::path::PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(out).unwrap().flatten().filter(|e| e.path().is_dir()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].path()
}

#[test]
fn repeat_tallies_attempts_keeps_failures_and_stops_at_the_first_when_asked() {
    assert!(zk_chaos::sys::has_net_admin(), "needs root (CAP_NET_ADMIN)");
    let out = tempfile::tempdir().unwrap();

    let (code, stdout) = run(&out.path().join("repeat"), &["--repeat", "2"]);
    assert_eq!(code, Some(1), "a failing scenario fails the hunt");
    let (s0, s1) = (attempt_seed(11, 0), attempt_seed(11, 1));
    assert_eq!(s0, 11);
    assert!(stdout.contains("hunt: seed 11, 2 of 2 attempt(s)"), "{stdout}");
    assert!(stdout.contains("       2        0     0%  Hunting fixture: Passes"), "{stdout}");
    assert!(stdout.contains("       2        2   100%  Hunting fixture: Fails at a known step"), "{stdout}");
    assert!(stdout.contains(&format!("failing seeds: {s0}, {s1}")), "{stdout}");
    for s in [s0, s1] {
        assert!(stdout.contains(&format!("replay: zk-chaos run {FIXTURE}:10 --seed {s}")), "{stdout}");
    }
    let root = hunt_dir(&out.path().join("repeat"));
    for a in ["attempt-001", "attempt-002"] {
        let scenarios = root.join(a).join("scenarios");
        let kept: Vec<String> = std::fs::read_dir(&scenarios)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        // The failure is kept; the passing scenario's directory is not.
        assert_eq!(kept.len(), 1, "{a}: {kept:?}");
        assert!(kept[0].contains("fails-at-a-known-step"), "{kept:?}");
    }
    assert!(std::fs::read_to_string(root.join("hunt.txt")).unwrap().contains("failing seeds"));

    let (code, stdout) = run(&out.path().join("until"), &["--repeat", "3", "--until-fail"]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("1 of 3 attempt(s) (stopped at the first failure: --until-fail)"), "{stdout}");
    assert!(!hunt_dir(&out.path().join("until")).join("attempt-002").exists());
}

#[test]
fn a_failing_random_schedule_is_shrunk_to_a_replayable_smallest_schedule() {
    assert!(zk_chaos::sys::has_net_admin(), "needs root (CAP_NET_ADMIN)");
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_zk-chaos"))
        .args(["run", "tests/fixtures/hunt/shrink.feature", "--seed", "3", "--until-fail", "--out"])
        .arg(out.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("zk-chaos runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1));
    // Two faults: halves are single faults; the first still fails.
    assert!(stdout.contains("1 of 2 faults still fail: positions 0 (1 reruns"), "{stdout}");
    assert!(stdout.contains("minimal: removing any one of them makes it pass"), "{stdout}");
    let replay = "replay: zk-chaos run tests/fixtures/hunt/shrink.feature:6 --seed 3 --schedule-faults 0";
    assert!(stdout.contains(replay), "{stdout}");
    assert!(stdout.contains("only faults 0 of it"), "the shrunk run's schedule detail: {stdout}");
    let kept = hunt_dir(out.path()).join("attempt-001/scenarios/01-fails-after-a-schedule");
    let shrunk = std::fs::read_to_string(kept.join("shrunk.txt")).expect("shrunk.txt in the failing scenario's dir");
    assert!(shrunk.contains(replay), "{shrunk}");
}
