//! The docker backend end to end (`cargo test --features docker`, with a
//! running Docker engine): the bundled features not tagged `@local-only`
//! on `--backend docker`, and one kill fault on the local backend and on
//! docker, whose recorded evidence must have the same shape. Without an
//! engine it prints `NOT RUN: <why>` (never "passed"); the local half needs
//! root and Java. `ZK_CHAOS_DOCKER_TAGS` overrides the feature selection.
//! `harness = false`: the run is one long test with its own summary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;
use zk_chaos::backend::docker::{cleanup, naming};
use zk_chaos::backend::local::EnsembleSpec;
use zk_chaos::backend::{BackendConfig, DockerBackend};
use zk_chaos::dist;
use zk_chaos::scenario::evidence::ScenarioEvidence;
use zk_chaos::steps::runner::{self, RunOptions, RunOutcome};

/// The bundled features that run on docker in `cargo test`: smoke, leader
/// loss (kill, partition), pod kills (kill, repeated kills, a majority,
/// pause) and the full disk (tmpfs volumes kept by holders), which exercise
/// every fault primitive the backend has within the
/// suite's time budget. The whole bundled suite on docker took 800 s wall
/// (30 of 30 passed) on 2 loaded cores:
/// `ZK_CHAOS_DOCKER_TAGS="not @slow and not @race"`.
/// `@local-only` is always out.
#[path = "support/live_docker.rs"]
mod live_docker;

const DEFAULT_TAGS: &str = "(@smoke or @leader or @kills or @disk) and not @slow and not @race";

const KILL_FEATURE: &str = "\
Feature: Evidence shape
  Scenario: A follower is killed
    Given a 3-member ensemble \"ev\" running ZooKeeper 3.9.6
    And a workload of 2 clients at 100 ops/s on 10 keys
    When I kill pod 1
    Then within 60s every member serves in quorum
    And no acknowledged write was lost
";

fn main() -> ExitCode {
    live_docker::main("docker_features", dist::supported_versions(), async |docker| {
        let before: BTreeSet<String> = cleanup::list(&docker, &naming::managed_filter()).await.into_iter().collect();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut failed = Vec::new();

        let tags = std::env::var("ZK_CHAOS_DOCKER_TAGS").unwrap_or_else(|_| DEFAULT_TAGS.into());
        match run(vec![root.join("features"), root.join("scenarios")], &tags, docker_backend(), &root).await {
            Ok(o) => {
                print!("{}", o.render_summary());
                if !o.passed() {
                    failed.push(format!("bundled features on docker ({tags})"));
                }
            }
            Err(e) => failed.push(format!("bundled features on docker: {e}")),
        }

        match same_evidence_shape(&root).await {
            Ok(Some(note)) => println!("docker_features: evidence shape: {note}"),
            Ok(None) => println!("docker_features: evidence shape: NOT RUN: the local half needs root (CAP_NET_ADMIN)"),
            Err(e) => failed.push(format!("evidence shape: {e}")),
        }

        let after: BTreeSet<String> = cleanup::list(&docker, &naming::managed_filter()).await.into_iter().collect();
        let left: Vec<&String> = after.difference(&before).collect();
        if !left.is_empty() {
            failed.push(format!("left behind on the engine: {left:?}"));
        }
        if failed.is_empty() {
            println!("docker_features: passed");
            ExitCode::SUCCESS
        } else {
            eprintln!("docker_features: FAILED: {}", failed.join("; "));
            ExitCode::FAILURE
        }
    })
}

fn docker_backend() -> BackendConfig {
    BackendConfig::Docker(DockerBackend::default())
}

async fn run(paths: Vec<PathBuf>, tags: &str, backend: BackendConfig, root: &Path) -> Result<RunOutcome, String> {
    let seed = 1;
    let label = backend.label();
    let opts = RunOptions {
        paths,
        tags: Some(tags.to_string()),
        seed,
        concurrency: 2,
        out_dir: root.join("reports").join(format!("{}-{label}", runner::run_id(seed))),
        base: EnsembleSpec::new("zk", 3, "3.9.6"),
        backend,
        live: false,
        schedule_subset: None,
    };
    let outcome = runner::run(opts).await.map_err(|e| e.to_string())?;
    zk_chaos::steps::output::write(&outcome, label).map_err(|e| e.to_string())?;
    Ok(outcome)
}

/// Run the kill scenario on both backends and compare what they recorded.
/// `None` when the local backend cannot run here.
async fn same_evidence_shape(root: &Path) -> Result<Option<String>, String> {
    if !zk_chaos::sys::has_net_admin() {
        return Ok(None);
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let feature = dir.path().join("kill.feature");
    std::fs::write(&feature, KILL_FEATURE).map_err(|e| e.to_string())?;
    let mut evidence = Vec::new();
    for backend in [BackendConfig::Local, docker_backend()] {
        let label = backend.label();
        let o = run(vec![feature.clone()], "not @slow", backend, root).await?;
        let s = o.scenarios.first().ok_or(format!("{label}: no scenario ran"))?;
        if !o.passed() {
            return Err(format!("{label}: the kill scenario failed: {}", o.render_summary()));
        }
        evidence.push(s.evidence.clone().ok_or(format!("{label}: no evidence recorded"))?);
    }
    compare(&evidence[0], &evidence[1])?;
    Ok(Some(format!("local and docker recorded the same shape ({} fault(s))", evidence[0].faults.len())))
}

/// The two records must have the same structure and the same faults (name,
/// description, targets, healed or not); values that depend on timing may
/// differ.
fn compare(local: &ScenarioEvidence, docker: &ScenarioEvidence) -> Result<(), String> {
    let faults = |e: &ScenarioEvidence| -> Vec<(String, String, Vec<u32>, bool)> {
        e.faults
            .iter()
            .map(|f| (f.name.clone(), f.description.clone(), f.targets.clone(), f.heal_ns.is_some()))
            .collect()
    };
    if faults(local) != faults(docker) {
        return Err(format!("faults differ: local {:?}, docker {:?}", faults(local), faults(docker)));
    }
    if faults(local).first().map(|f| f.0.as_str()) != Some("kill") {
        return Err(format!("no kill recorded: {:?}", faults(local)));
    }
    for (what, e) in [("local", local), ("docker", docker)] {
        if e.probes.is_empty() || e.report.is_none() || e.logs.is_empty() {
            return Err(format!("{what}: probes, checker report or logs missing"));
        }
    }
    let (l, d) = (shape(&to_value(local)?), shape(&to_value(docker)?));
    if !compatible(&l, &d) {
        return Err(format!("the records differ in shape:\n local: {l}\ndocker: {d}"));
    }
    Ok(())
}

/// The record as JSON, without the maps keyed by data (which outcomes and
/// operation kinds occurred depends on timing, not on the backend).
fn to_value(e: &ScenarioEvidence) -> Result<Value, String> {
    let mut v = serde_json::to_value(e).map_err(|e| e.to_string())?;
    if let Some(stats) = v.pointer_mut("/report/stats").and_then(Value::as_object_mut) {
        stats.remove("outcomes");
        stats.remove("latency");
    }
    Ok(v)
}

/// A value's structure: objects by their keys and their fields' shapes,
/// arrays by the merged shape of their elements, scalars by type; `null`
/// (an absent option) merges with anything.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Any,
    Bool,
    Num,
    Str,
    Arr(Box<Shape>),
    Obj(std::collections::BTreeMap<String, Shape>),
    /// Several kinds (a tuple's elements), each merged within its kind.
    Union(std::collections::BTreeMap<&'static str, Shape>),
}

impl Shape {
    fn kind(&self) -> &'static str {
        match self {
            Shape::Any => "any",
            Shape::Bool => "bool",
            Shape::Num => "num",
            Shape::Str => "str",
            Shape::Arr(_) => "arr",
            Shape::Obj(_) => "obj",
            Shape::Union(_) => "union",
        }
    }
    fn into_kinds(self) -> std::collections::BTreeMap<&'static str, Shape> {
        match self {
            Shape::Union(m) => m,
            Shape::Any => Default::default(),
            other => [(other.kind(), other)].into_iter().collect(),
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Any => f.write_str("_"),
            Shape::Bool => f.write_str("bool"),
            Shape::Num => f.write_str("num"),
            Shape::Str => f.write_str("str"),
            Shape::Arr(e) => write!(f, "[{e}]"),
            Shape::Obj(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    write!(f, "{}{k}:{v}", if i > 0 { "," } else { "" })?;
                }
                f.write_str("}")
            }
            Shape::Union(m) => {
                write!(f, "({})", m.values().map(|s| s.to_string()).collect::<Vec<_>>().join("|"))
            }
        }
    }
}

fn merge(a: Shape, b: Shape) -> Shape {
    match (a, b) {
        (Shape::Any, x) | (x, Shape::Any) => x,
        (Shape::Arr(x), Shape::Arr(y)) => Shape::Arr(Box::new(merge(*x, *y))),
        (Shape::Obj(mut x), Shape::Obj(y)) => {
            for (k, v) in y {
                let merged = merge(x.remove(&k).unwrap_or(Shape::Any), v);
                x.insert(k, merged);
            }
            Shape::Obj(x)
        }
        (x, y) if x.kind() == y.kind() && !matches!(x, Shape::Union(_)) => x,
        (x, y) => {
            let mut kinds = x.into_kinds();
            for (k, v) in y.into_kinds() {
                let merged = match kinds.remove(k) {
                    Some(old) => merge(old, v),
                    None => v,
                };
                kinds.insert(k, merged);
            }
            Shape::Union(kinds)
        }
    }
}

/// Whether two shapes agree where both are known (`_`, a null or an empty
/// array's element, matches anything).
fn compatible(a: &Shape, b: &Shape) -> bool {
    match (a, b) {
        (Shape::Any, _) | (_, Shape::Any) => true,
        (Shape::Arr(x), Shape::Arr(y)) => compatible(x, y),
        (Shape::Obj(x), Shape::Obj(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| compatible(v, w)))
        }
        (Shape::Union(_), _) | (_, Shape::Union(_)) => {
            let (x, y) = (a.clone().into_kinds(), b.clone().into_kinds());
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| compatible(v, w)))
        }
        (x, y) => x == y,
    }
}

/// Keys present or not by what happened in the run, not by the backend
/// (a workload that met its rate has no `shortfall`): left out of shapes.
const RUN_DEPENDENT: &[&str] = &["shortfall"];

fn shape(v: &Value) -> Shape {
    match v {
        Value::Null => Shape::Any,
        Value::Bool(_) => Shape::Bool,
        Value::Number(_) => Shape::Num,
        Value::String(_) => Shape::Str,
        Value::Array(items) => Shape::Arr(Box::new(items.iter().map(shape).fold(Shape::Any, merge))),
        Value::Object(m) => Shape::Obj(
            m.iter()
                .filter(|(k, _)| !RUN_DEPENDENT.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect(),
        ),
    }
}
