//! `zk-chaos run`: run features and plans (the bundled `features/` by
//! default) with live progress, write the run's output under `reports/`,
//! and exit non-zero when anything failed. `--backend local` (the default)
//! stands ensembles up on this machine; `--backend kind` stands a kind
//! cluster and the operator up (or reuses them) first; `--backend kube`
//! uses any cluster of a kubeconfig after checking it.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use zk_chaos::backend::kind::images::OPERATOR_IMAGE;
use zk_chaos::backend::kind::node::KindNodes;
use zk_chaos::backend::kind::setup::{self, OperatorImage};
use zk_chaos::backend::kind::{DEFAULT_NAME, Runner, SystemRunner};
use zk_chaos::backend::kube::ConnectOptions;
use zk_chaos::backend::{BackendConfig, KubeAccess, KubeBackend};
use zk_chaos::dist::{self, DistConfig, Progress as _};
use zk_chaos::steps::runner::{self, RunOptions};
use zk_chaos::steps::writer::LiveRun;
use zk_chaos::steps::{load, output};

use super::progress::Spinner;
use super::{EnsembleArgs, interrupted};

/// Where scenarios run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Real servers in network namespaces on this machine (root and Java).
    Local,
    /// A kind cluster (Docker and kind).
    Kind,
    /// Any cluster of the current kubeconfig.
    Kube,
    /// Containers on the local Docker engine (the `docker` cargo feature).
    Docker,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Feature files (`file.feature:LINE` for one scenario), YAML plans, or
    /// directories of them.
    #[arg(default_values = ["features", "scenarios"])]
    paths: Vec<PathBuf>,
    /// Tag expression selecting scenarios [default: "not @slow and not @kind and not @race" locally, "not @slow and not @race" on kind and
    /// kube, where "@local-only" scenarios are always out].
    #[arg(long)]
    tags: Option<String>,
    /// Seed of every random choice (printed; reuse it to replay a run).
    #[arg(long)]
    seed: Option<u64>,
    /// Scenarios at once (each has its own ensemble: about 300 MiB and a
    /// fair share of a core per 3 members).
    #[arg(long, default_value_t = 2, value_parser = super::parse_concurrency)]
    concurrency: usize,
    /// Where scenarios run.
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    backend: Backend,
    /// Rerun the selected scenarios N times, attempt k with a seed derived
    /// from the run's seed (printed); failures are kept with their replay
    /// command and failing random schedules are shrunk.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// With --repeat: stop at the first attempt with a failure.
    #[arg(long)]
    until_fail: bool,
    /// Random schedules run only the faults at these positions (0-based,
    /// e.g. `0,2`): how a shrunk schedule is replayed.
    #[arg(long, value_parser = parse_faults)]
    schedule_faults: Option<FaultList>,
    /// Shrink bound: at most this many reruns per failing random schedule.
    #[arg(long, default_value_t = 8)]
    shrink_runs: u32,
    /// Shrink bound: at most this long per failing random schedule (e.g. `20m`).
    #[arg(long, default_value = "20m", value_parser = zk_chaos::scenario::params::duration)]
    shrink_time: Duration,
    /// Parent directory of the run's output.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Keep this many newest runs under --out; older passing runs are
    /// removed at the end (failed ones stay; `zk-chaos prune`); 0 keeps all
    /// [default: $ZK_CHAOS_KEEP_RUNS, else 20].
    #[arg(long)]
    keep_runs: Option<usize>,
    /// JVM heap per member, MiB (at least 16).
    #[arg(long, default_value_t = 96, value_parser = super::parse_heap_mb)]
    heap_mb: u32,
    /// Where run dirs (volumes, logs, state) go [default: $ZK_CHAOS_WORK_DIR or ~/.local/state/zk-chaos].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// kind: the kind cluster [default: zk-chaos].
    #[arg(long)]
    name: Option<String>,
    /// kind: use the cluster when it exists already (else that is an error).
    #[arg(long)]
    reuse: bool,
    /// kind: use this operator image instead of building one from this checkout.
    #[arg(long)]
    operator_image: Option<String>,
    /// kube: the kubeconfig [default: $KUBECONFIG, else ~/.kube/config].
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// kube: the kubeconfig context [default: its current one].
    #[arg(long)]
    context: Option<String>,
    /// docker: run every member from this image instead of `zk-chaos/zookeeper:<version>` (built when missing).
    #[arg(long)]
    image: Option<String>,
    /// kind and kube: the namespace of the ensembles [default: zk-chaos on kind, the context's on kube].
    #[arg(long)]
    namespace: Option<String>,
}

/// Positions in a random schedule, as `--schedule-faults` takes them.
#[derive(Debug, Clone)]
struct FaultList(Vec<usize>);

fn parse_faults(text: &str) -> Result<FaultList, String> {
    zk_chaos::hunt::parse_fault_list(text).map(FaultList).map_err(|e| e.to_string())
}

/// The namespace of the ensembles on kind when none is given.
const KIND_NAMESPACE: &str = "zk-chaos";
/// Bound on the whole preflight of a cluster.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(90);

impl Backend {
    fn label(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Kind => "kind",
            Self::Kube => "kube",
            Self::Docker => "docker",
        }
    }
}

impl RunArgs {
    /// Flags given that the chosen backend does not use.
    fn misplaced_flags(&self) -> Vec<&'static str> {
        let kind = [
            ("--name", self.name.is_some()),
            ("--reuse", self.reuse),
            ("--operator-image", self.operator_image.is_some()),
        ];
        let kube = [("--kubeconfig", self.kubeconfig.is_some()), ("--context", self.context.is_some())];
        let both = [("--namespace", self.namespace.is_some())];
        let docker = [("--image", self.image.is_some())];
        let unused: Vec<(&'static str, bool)> = match self.backend {
            Backend::Local => kind.into_iter().chain(kube).chain(both).chain(docker).collect(),
            Backend::Kind => kube.into_iter().chain(docker).collect(),
            Backend::Kube => kind.into_iter().chain(docker).collect(),
            Backend::Docker => kind.into_iter().chain(kube).chain(both).collect(),
        };
        unused.into_iter().filter(|(_, given)| *given).map(|(flag, _)| flag).collect()
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let seed = args.seed.unwrap_or_else(rand::random);
    // Claimed atomically: two runs started in the same second with the same
    // seed never share (and overwrite) one directory.
    let out_dir = runner::claim_run_dir(&args.out, seed)
        .with_context(|| format!("creating a run directory under {}", args.out.display()))?;
    let label = args.backend.label();
    // Whatever fails before the scenarios run still leaves a record, JUnit
    // and Cucumber JSON saying so (for CI), then the error.
    let fail_early = |code: u8, msg: String| -> anyhow::Result<ExitCode> {
        eprintln!("error: {msg}");
        match output::write_failed(&out_dir, label, seed, &msg, started.elapsed()) {
            Ok(index) => eprintln!("report: {}", index.display()),
            Err(e) => eprintln!("could not write the report: {e}"),
        }
        Ok(ExitCode::from(code))
    };
    // Bad input fails first, before anything needs root, a download or a cluster.
    let misplaced = args.misplaced_flags();
    if !misplaced.is_empty() {
        return fail_early(2, format!("{} cannot be used with --backend {label}", misplaced.join(", ")));
    }
    let tags = load::backend_tags(label, args.tags.as_deref());
    match load::tags(&tags).and_then(|f| load::load(&args.paths, &f)) {
        Err(e) => return fail_early(2, e.to_string()),
        Ok(f) if load::count(&f) == 0 => {
            return fail_early(2, format!("no scenario in the given paths matches the tags `{tags}`"));
        }
        Ok(_) => {}
    }
    let ens = EnsembleArgs {
        name: "zk".into(),
        replicas: 3,
        zk_version: "3.9.6".into(),
        subnet: None,
        heap_mb: args.heap_mb,
        tick_ms: 500,
        namespace: "default".into(),
        work_dir: args.work_dir.clone(),
        quorum_timeout: 60,
        data_disk_mb: None,
    };
    let base = ens.spec(false);
    let prepared = match args.backend {
        Backend::Local => local_prerequisites().await.map(|()| BackendConfig::Local),
        Backend::Kind => kind_backend(&args).await,
        Backend::Kube => kube_backend(&args).await,
        Backend::Docker => docker_backend(&args).await,
    };
    let backend = match prepared {
        Ok(b) => b,
        Err(e) => return fail_early(1, format!("{e:#}")),
    };
    eprintln!("zk-chaos run: seed {seed}, backend {}, output {}", backend.label(), out_dir.display());
    let opts = RunOptions {
        paths: args.paths,
        tags: args.tags,
        seed,
        concurrency: args.concurrency,
        out_dir: out_dir.clone(),
        base,
        backend: backend.clone(),
        live: std::io::stderr().is_terminal(),
        schedule_subset: args.schedule_faults.map(|f| f.0),
    };
    if args.repeat > 1 || args.until_fail {
        let hunt = super::hunt::HuntOptions {
            base: opts,
            repeat: args.repeat,
            until_fail: args.until_fail,
            shrink_runs: args.shrink_runs,
            shrink_time: args.shrink_time,
            label,
        };
        return match super::hunt::run(hunt).await {
            Ok(true) => Ok(ExitCode::SUCCESS),
            Ok(false) => Ok(ExitCode::FAILURE),
            Err(e) if e.downcast_ref::<super::InterruptedBy>().is_some() => {
                let sig = e.downcast_ref::<super::InterruptedBy>().map_or(super::Interrupt::Int, |i| i.0);
                Ok(sig.exit_code())
            }
            Err(e) => fail_early(2, format!("{e:#}")),
        };
    }
    let live = Arc::new(LiveRun::default());
    let outcome = tokio::select! {
        r = runner::run_live(opts.clone(), live.clone()) => match r {
            Ok(o) => o,
            Err(e) => return fail_early(2, e.to_string()),
        },
        sig = interrupted() => {
            match &backend {
                // Dropping the run drops every scenario's cluster, whose Drop
                // kills its servers and removes its namespaces.
                BackendConfig::Local => eprintln!("interrupted; the scenarios' ensembles were removed"),
                // The same: each dropped cluster removes its run's
                // containers, network and volumes by label.
                BackendConfig::Docker(_) => {
                    eprintln!("interrupted; the scenarios' containers, networks and volumes were removed")
                }
                BackendConfig::Kube(k) => {
                    let failed = k.remove_leftovers().await;
                    if failed.is_empty() {
                        eprintln!("interrupted; the scenarios' ZookeeperClusters were deleted");
                    } else {
                        eprintln!("interrupted; could not delete: {}", failed.join("; "));
                    }
                }
            }
            // Every scenario that finished is kept, the running ones are
            // marked interrupted, with the run's real times.
            let outcome = runner::interrupted_outcome(&opts, &live, sig.name());
            print!("{}", outcome.render_summary());
            match output::write(&outcome, label) {
                Ok(index) => println!("report: {}", index.display()),
                Err(e) => eprintln!("could not write the report: {e}"),
            }
            return Ok(sig.exit_code());
        }
    };
    print!("{}", outcome.render_summary());
    let index = output::write(&outcome, label).with_context(|| format!("writing {}", out_dir.display()))?;
    println!("report: {}", index.display());
    // Retention: the newest runs (20, `--keep-runs`, ZK_CHAOS_KEEP_RUNS) and
    // every failed one stay; local run dirs no longer live go.
    let work = args.work_dir.clone().unwrap_or_else(zk_chaos::backend::local::state::default_work_dir);
    let keep = args.keep_runs.unwrap_or_else(zk_chaos::retention::keep_runs_from_env);
    super::prune::run_prune(&args.out, &work, keep, false, false, false);
    Ok(if outcome.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Root, Java, and every supported ZooKeeper version (the first run downloads).
async fn local_prerequisites() -> anyhow::Result<()> {
    if !zk_chaos::sys::has_net_admin() {
        anyhow::bail!("the local backend needs root (CAP_NET_ADMIN) to create network namespaces: run with sudo");
    }
    zk_chaos::dist::find_java().context("the local backend needs Java")?;
    let spinner = Spinner::new();
    let cfg = DistConfig::from_env();
    for v in dist::supported_versions() {
        spinner.stage(&format!("resolving ZooKeeper {v}"));
        dist::resolve(v, &cfg, &spinner).await.with_context(|| format!("provisioning ZooKeeper {v}"))?;
    }
    spinner.finish();
    Ok(())
}

/// An engine that answers, and an image per supported version (built
/// when missing), or the user's image.
#[cfg(feature = "docker")]
async fn docker_backend(args: &RunArgs) -> anyhow::Result<BackendConfig> {
    let spinner = Spinner::new();
    let cfg = DistConfig::from_env();
    let built =
        zk_chaos::backend::docker::image::prepare(args.image.as_deref(), dist::supported_versions(), &cfg, &spinner)
            .await?;
    spinner.finish();
    for b in built.iter().filter(|b| b.built) {
        eprintln!("zk-chaos: built {}", b.image);
    }
    Ok(BackendConfig::Docker(zk_chaos::backend::DockerBackend { image: args.image.clone() }))
}

/// Without the feature: say how to get it.
#[cfg(not(feature = "docker"))]
async fn docker_backend(_args: &RunArgs) -> anyhow::Result<BackendConfig> {
    anyhow::bail!(
        "this zk-chaos was built without the docker backend; rebuild with `cargo build --features docker` (it needs a Docker engine)"
    )
}

/// Stand the kind cluster and the operator up (or reuse them), then check
/// it as any cluster.
async fn kind_backend(args: &RunArgs) -> anyhow::Result<BackendConfig> {
    let name = args.name.clone().unwrap_or_else(|| DEFAULT_NAME.to_string());
    let operator = match &args.operator_image {
        Some(image) => OperatorImage::Prebuilt(image.clone()),
        None => OperatorImage::Build { source: setup::default_source(), tag: OPERATOR_IMAGE.into() },
    };
    let plan = setup::run_setup(&name, args.reuse, operator)?;
    let runner: Arc<dyn Runner> = Arc::new(SystemRunner);
    let report = setup::stand_up(runner.as_ref(), &plan, &|step| eprintln!("zk-chaos: {step}")).await?;
    let namespace = args.namespace.clone().unwrap_or_else(|| KIND_NAMESPACE.to_string());
    setup::ensure_namespace(runner.as_ref(), &report.cluster, &namespace).await?;
    let access = KubeAccess::Kubeconfig(ConnectOptions {
        kubeconfig: Some(report.cluster.kubeconfig.clone()),
        context: Some(report.cluster.context()),
        namespace: Some(namespace),
    });
    let mut kube = KubeBackend::new("kind", access);
    kube.nodes = Some(Arc::new(KindNodes::new(runner)));
    preflight(&kube).await?;
    Ok(BackendConfig::Kube(Box::new(kube)))
}

/// Any cluster of a kubeconfig, checked before anything runs.
async fn kube_backend(args: &RunArgs) -> anyhow::Result<BackendConfig> {
    let access = KubeAccess::Kubeconfig(ConnectOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        namespace: args.namespace.clone(),
    });
    let kube = KubeBackend::new("kube", access);
    preflight(&kube).await?;
    Ok(BackendConfig::Kube(Box::new(kube)))
}

/// API server, RBAC, CRD and operator, bounded.
async fn preflight(kube: &KubeBackend) -> anyhow::Result<()> {
    let checked = tokio::time::timeout(PREFLIGHT_TIMEOUT, async {
        let c = kube.connect("zk-chaos-preflight").await?;
        let report = c.preflight().await?;
        Ok::<_, zk_chaos::backend::kube::KubeError>((c.namespace().to_string(), report))
    })
    .await
    .map_err(|_| anyhow::anyhow!("the cluster's preflight did not finish within {PREFLIGHT_TIMEOUT:?}"))?;
    let (namespace, report) = checked?;
    eprintln!(
        "zk-chaos: {} backend: API server {}, namespace {namespace}, operator pod {}",
        kube.label, report.server_version, report.operator_pod
    );
    Ok(())
}
