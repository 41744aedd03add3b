//! A passing scenario's directory keeps its bulky files compressed
//! (`history.jsonl.gz`, `probes.jsonl.gz`, `status.jsonl.gz`,
//! `final-by-member.json.gz`, `logs/<pod>/zookeeper.log.gz`): `zk-chaos
//! check` on it gives the same verdicts and diagnosis as on the same
//! scenario saved plain, and a corrupt `.gz` is an unreadable input named
//! as such, never a panic.

#[path = "support/synthetic.rs"]
mod synthetic;

use std::path::{Path, PathBuf};

use serde_json::Value;
use zk_chaos::check::status_truth::StatusSample;
use zk_chaos::check::suite::Bundle;
use zk_chaos::operator::crd::ZookeeperClusterSpec;
use zk_chaos::operator::status::{Phase, ZookeeperClusterStatus};
use zk_chaos::report::artifacts::{PodLog, save_scenario_artifacts, scenario_dir};
use zk_chaos::textfile::{self, Storage};

const S: u64 = 1_000_000_000;

/// A synthetic run with every bundle file (statuses and each member's
/// final state too), and the captured 3.8.0 server logs of the
/// ZOOKEEPER-4643 choreography as its pods' logs.
fn scenario() -> (Bundle, Vec<PodLog>, tempfile::TempDir) {
    let mut b = synthetic::bundle(&synthetic::Spec::new(3_000, 5, 3));
    let fin = b.final_state.clone().expect("the synthetic run has a final state");
    b.final_by_member = Some((0..3).map(|o| (o, fin.clone())).collect());
    let spec = ZookeeperClusterSpec::new(3, "3.9.6");
    let status =
        ZookeeperClusterStatus { phase: Some(Phase::Ready), replicas: 3, ready_replicas: 3, ..Default::default() };
    b.statuses = Some(
        (0..5u64).map(|t| StatusSample { at_ns: t * S, status: Some(status.clone()), spec: spec.clone() }).collect(),
    );
    b.facts.operator_down = Some(Vec::new());
    let captured = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zklog/3.8.0-zookeeper-4643");
    let pods_dir = tempfile::tempdir().unwrap();
    let pods = pods_dir.path();
    let logs = (0..3)
        .map(|o| {
            let dir = pods.join(format!("zk-{o}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(captured.join(format!("zk-{o}.log")), dir.join("zookeeper.log")).unwrap();
            std::fs::write(dir.join("console.log"), "started\n").unwrap();
            PodLog { pod: format!("zk-{o}"), dir }
        })
        .collect();
    (b, logs, pods_dir)
}

/// Save the scenario under a fresh run directory: the run directory
/// (removed when dropped) and the scenario's directory in it.
fn saved(b: &Bundle, logs: &[PodLog], storage: Storage) -> (tempfile::TempDir, PathBuf) {
    let run = tempfile::tempdir().unwrap();
    save_scenario_artifacts(run.path(), 1, "kill the leader", Some(b), None, logs, storage).unwrap();
    let dir = run.path().join(scenario_dir(1, "kill the leader"));
    (run, dir)
}

fn check(dir: &Path, json: bool) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_zk-chaos"));
    cmd.arg("check").arg(dir);
    if json {
        cmd.arg("--json");
    }
    let o = cmd.output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The JSON output without its timings (the search's elapsed time varies).
fn without_timings(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter().filter(|(k, _)| !k.contains("elapsed")).map(|(k, v)| (k, without_timings(v))).collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_timings).collect()),
        v => v,
    }
}

#[test]
fn check_judges_and_diagnoses_a_compressed_scenario_as_the_plain_one() {
    let (b, logs, _pods) = scenario();
    let (_run, plain) = saved(&b, &logs, Storage::Plain);
    let (_run_gz, packed) = saved(&b, &logs, Storage::Gzip);
    let bulky = ["bundle/history.jsonl", "bundle/probes.jsonl", "bundle/status.jsonl", "bundle/final-by-member.json"];
    let pod_logs = (0..3).flat_map(|o| [format!("logs/zk-{o}/zookeeper.log"), format!("logs/zk-{o}/console.log")]);
    for file in bulky.into_iter().map(String::from).chain(pod_logs) {
        assert!(plain.join(&file).is_file() && !textfile::gz_path(&plain.join(&file)).exists(), "{file}");
        assert!(!packed.join(&file).exists() && textfile::gz_path(&packed.join(&file)).is_file(), "{file}");
    }
    for small in ["bundle/final.json", "bundle/run.json"] {
        assert!(packed.join(small).is_file(), "{small} stays plain");
    }

    let (code, out, err) = check(&plain, true);
    let (code_gz, out_gz, err_gz) = check(&packed, true);
    assert_eq!(code, code_gz, "{err}\n{err_gz}");
    let json: Value = serde_json::from_str(&out).unwrap();
    let json_gz: Value = serde_json::from_str(&out_gz).unwrap();
    // The inputs were all read: statuses judged, probes summarised, logs diagnosed.
    let results = json["report"]["results"].as_array().unwrap();
    assert!(results.len() >= 5, "{json:#}");
    assert!(!out.contains("no status samples were recorded") && !out.contains("no probe samples"), "{out}");
    let finding = json["finding"].to_string();
    assert!(
        finding.contains("truncat") || finding.contains("TRUNC"),
        "the captured truncation is diagnosed: {finding}"
    );
    assert_eq!(without_timings(json), without_timings(json_gz));

    // The text output too, but for the search's time.
    let strip = |s: &str| s.lines().filter(|l| !l.contains("checked in")).collect::<Vec<_>>().join("\n");
    let (_, text, _) = check(&plain, false);
    let (_, text_gz, _) = check(&packed, false);
    assert_eq!(strip(&text), strip(&text_gz));
}

#[test]
fn a_corrupt_gz_in_a_scenario_is_unreadable_input_named_in_the_error() {
    let (b, logs, _pods) = scenario();
    for file in ["bundle/history.jsonl", "bundle/probes.jsonl", "bundle/status.jsonl", "logs/zk-1/zookeeper.log"] {
        let (_run, packed) = saved(&b, &logs, Storage::Gzip);
        let gz = textfile::gz_path(&packed.join(file));
        let bytes = std::fs::read(&gz).unwrap();
        // Cut short, as a disk filling up would leave it.
        std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
        let (code, out, err) = check(&packed, false);
        assert_eq!(code, Some(4), "{file}: {out}{err}");
        assert!(err.contains(&format!("{file}.gz")) && err.contains("cannot decompress"), "{file}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
