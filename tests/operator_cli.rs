//! The embedded operator through the binary: `up -f --detach`, then an
//! `apply -f` scale-down whose process is SIGKILLed half-way, then a second
//! `apply -f` that resumes from the world and completes it. Needs root.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use zk_chaos::backend::local::ensemble;
use zk_chaos::backend::local::state::{self, RunState};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zk-chaos"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn manifest(dir: &std::path::Path, replicas: u32) -> std::path::PathBuf {
    let path = dir.join(format!("zk-{replicas}.yaml"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: zk-chaos.io/v1alpha1\nkind: ZookeeperCluster\nmetadata:\n  name: opkill\nspec:\n  version: \"3.8.0\"\n  replicas: {replicas}\n  tickTimeMs: 500\n"
        ),
    )
    .unwrap();
    path
}

fn state() -> RunState {
    let (_, e) = state::registered_runs().into_iter().find(|(_, e)| e.name == "opkill").expect("registered");
    RunState::load(&e.run_dir).unwrap()
}

fn status_members(st: &RunState) -> usize {
    let op: serde_json::Value = st.operator.clone().unwrap();
    op["status"]["members"].as_array().map(|m| m.len()).unwrap_or_default()
}

#[test]
fn an_operator_killed_mid_scale_down_resumes_and_completes() {
    let work = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["up", "-f"])
        .arg(manifest(work.path(), 5))
        .arg("--detach")
        .env("ZK_CHAOS_WORK_DIR", work.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(status_members(&state()), 5);

    // Scale to 3 and kill the operator as soon as the first member left the
    // committed config (usually while that pod still runs: the worst moment).
    let mut child = bin()
        .args(["apply", "-f"])
        .arg(manifest(work.path(), 3))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let st = state();
        let probe = tokio::runtime::Runtime::new().unwrap().block_on(ensemble::probe_run(&st));
        let voters = probe.voters;
        if voters < 5 && voters > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the scale-down never started");
        assert!(child.try_wait().unwrap().is_none(), "apply finished before it could be killed");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let o = bin().args(["apply", "-f"]).arg(manifest(work.path(), 3)).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let st = state();
    let probe = tokio::runtime::Runtime::new().unwrap().block_on(ensemble::probe_run(&st));
    assert!(probe.all_healthy(), "{:?}", probe.problems);
    assert_eq!((probe.members.len(), probe.voters), (3, 3));
    let vols: Vec<_> = std::fs::read_dir(st.run_dir.join("volumes")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(vols.len(), 3, "removed members' volumes released: {vols:?}");

    let o = bin().args(["down", "--name", "opkill"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(ensemble::leftovers_of(&st.run, st.subnet).is_empty());
}
