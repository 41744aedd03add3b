//! The live end-to-end test of the kind backend (`cargo test --features
//! kind-e2e --test kind_e2e`): a real kind cluster (created, or reused),
//! the operator built from this checkout and loaded, the cluster's
//! preflight (RBAC, CRD, operator), then the bundled leader-loss,
//! rolling-upgrade and scaling features run through the step library on
//! the kube backend, exactly as `zk-chaos run --backend kind` runs them
//! (`@local-only` scenarios left out). Every scenario must pass.
//!
//! Where docker (with a running engine), kind or kubectl is missing it
//! prints `NOT RUN: docker/kind not found` with what is missing and counts
//! itself as skipped (`0 passed, 0 failed, 1 skipped`), never as passed;
//! with `ZK_CHAOS_KIND_E2E_REQUIRE=1` (CI jobs that install kind) a missing
//! tool is a failure instead.
//!
//! Environment: `ZK_CHAOS_KIND_NAME` (cluster, default `zk-chaos-e2e`),
//! `ZK_CHAOS_KIND_REUSE=0` (fail on an existing cluster instead of reusing
//! it), `ZK_CHAOS_KIND_E2E_DOWN=1` (delete the kind cluster at the end),
//! `ZK_CHAOS_SEED` (default 1), `ZK_CHAOS_CONCURRENCY` (default 2),
//! `ZK_CHAOS_TAGS` (default: the kind backend's).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_chaos::backend::kind::images::OPERATOR_IMAGE;
use zk_chaos::backend::kind::node::KindNodes;
use zk_chaos::backend::kind::setup::{self, OperatorImage};
use zk_chaos::backend::kind::{Kind, KindError, Runner, SystemRunner};
use zk_chaos::backend::kube::{ConnectOptions, Timeouts};
use zk_chaos::backend::local::EnsembleSpec;
use zk_chaos::backend::{BackendConfig, KubeAccess, KubeBackend};
use zk_chaos::steps::runner::{self, RunOptions};

const NAMESPACE: &str = "zk-chaos-e2e";
const FEATURES: [&str; 3] = ["leader_loss.feature", "rolling_upgrade.feature", "scaling.feature"];

fn env_flag(name: &str, default: bool) -> bool {
    std::env::var(name).map(|v| v != "0" && !v.is_empty()).unwrap_or(default)
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

enum Outcome {
    Passed(usize),
    NotRun(String),
}

async fn features_on_kind(runner: Arc<dyn Runner>) -> Result<Outcome, String> {
    let name = std::env::var("ZK_CHAOS_KIND_NAME").unwrap_or_else(|_| "zk-chaos-e2e".into());
    let operator = OperatorImage::Build { source: setup::default_source(), tag: OPERATOR_IMAGE.into() };
    let plan = setup::run_setup(&name, env_flag("ZK_CHAOS_KIND_REUSE", true), operator).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let step = |s: &str| eprintln!("[{:>5.1}s] {s}", t0.elapsed().as_secs_f64());
    let report = match setup::stand_up(runner.as_ref(), &plan, &step).await {
        Ok(r) => r,
        Err(KindError::Prerequisites { problems }) => return Ok(Outcome::NotRun(problems.join("; "))),
        Err(e) => return Err(e.to_string()),
    };
    setup::ensure_namespace(runner.as_ref(), &report.cluster, NAMESPACE).await.map_err(|e| e.to_string())?;

    let access = KubeAccess::Kubeconfig(ConnectOptions {
        kubeconfig: Some(report.cluster.kubeconfig.clone()),
        context: Some(report.cluster.context()),
        namespace: Some(NAMESPACE.into()),
    });
    let mut kube = KubeBackend::new("kind", access);
    kube.nodes = Some(Arc::new(KindNodes::new(runner.clone())));
    kube.timeouts =
        Timeouts { api: Duration::from_secs(20), exec: Duration::from_secs(20), poll: Duration::from_secs(2) };
    kube.ready_timeout = Duration::from_secs(420);
    let checked = kube.connect("zk-chaos-preflight").await.map_err(|e| e.to_string())?;
    let pre = checked.preflight().await.map_err(|e| e.to_string())?;
    step(&format!("API server {}, operator pod {}", pre.server_version, pre.operator_pod));

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let seed = env_num("ZK_CHAOS_SEED", 1);
    let opts = RunOptions {
        paths: FEATURES.iter().map(|f| root.join("features").join(f)).collect(),
        tags: std::env::var("ZK_CHAOS_TAGS").ok(),
        seed,
        concurrency: env_num("ZK_CHAOS_CONCURRENCY", 2),
        out_dir: runner::claim_run_dir(&root.join("reports"), seed)
            .map_err(|e| format!("a run directory under reports/: {e}"))?,
        base: EnsembleSpec::new("zk", 3, "3.8.0"),
        backend: BackendConfig::Kube(Box::new(kube)),
        live: false,
        schedule_subset: None,
    };
    step(&format!("running {} on the kind backend", FEATURES.join(", ")));
    let outcome = runner::run(opts).await.map_err(|e| e.to_string())?;
    print!("{}", outcome.render_summary());
    if let Err(e) = zk_chaos::steps::output::write(&outcome, "kind") {
        eprintln!("kind-e2e: writing the output: {e}");
    }
    if env_flag("ZK_CHAOS_KIND_E2E_DOWN", false) {
        Kind::new(runner.as_ref()).down(&name, Some(&report.cluster.kubeconfig)).await.map_err(|e| e.to_string())?;
        step("kind cluster deleted");
    }
    let passed = outcome.scenarios.iter().filter(|s| s.status == zk_chaos::steps::writer::Status::Passed).count();
    if outcome.passed() {
        Ok(Outcome::Passed(passed))
    } else {
        Err(format!(
            "{passed} of {} scenarios passed (the summary above says which failed and why)",
            outcome.scenarios.len()
        ))
    }
}

fn main() -> ExitCode {
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    println!("\nrunning 1 test (kind-e2e: leader loss, rolling upgrade and scaling features on a live kind cluster)");
    let outcome = rt.block_on(features_on_kind(Arc::new(SystemRunner)));
    match outcome {
        Ok(Outcome::Passed(n)) => {
            println!("kind_e2e::features ... ok ({n} scenarios)");
            println!("kind-e2e: 1 passed, 0 failed");
            ExitCode::SUCCESS
        }
        Ok(Outcome::NotRun(why)) if !env_flag("ZK_CHAOS_KIND_E2E_REQUIRE", false) => {
            println!("NOT RUN: docker/kind not found: {why}");
            println!("kind-e2e: 0 passed, 0 failed, 1 skipped");
            ExitCode::SUCCESS
        }
        Ok(Outcome::NotRun(why)) => {
            println!("kind_e2e::features ... FAILED (ZK_CHAOS_KIND_E2E_REQUIRE=1): docker/kind not found: {why}");
            println!("kind-e2e: 0 passed, 1 failed");
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("kind_e2e::features ... FAILED\n{e}");
            println!("kind-e2e: 0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}
