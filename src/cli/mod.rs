//! Argument parsing and dispatch for the `zk-chaos` binary (the only place
//! that uses `anyhow`).

mod apply;
mod check;
mod down;
mod hunt;
mod image;
mod kind;
mod operator;
mod progress;
mod provision;
mod prune;
mod report;
mod run;
mod status;
mod steps;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use zk_chaos::backend::local::naming;

/// Prove a ZooKeeper ensemble survives what production does to it.
#[derive(Debug, Parser)]
#[command(
    name = "zk-chaos",
    version,
    after_help = "\
Examples:
  zk-chaos run                                   # the bundled features and plans: faults, upgrades, scaling, checks
  zk-chaos run features/leader_loss.feature --seed 7
  zk-chaos steps                                 # the step catalogue
  zk-chaos up --name zk --replicas 3 --version 3.9.6
  zk-chaos status --name zk
  zk-chaos down --all"
)]
pub struct Cli {
    /// More logging (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run features and YAML plans (default: features/ and scenarios/) and
    /// write the run's output under reports/ (older passing runs pruned).
    #[command(after_help = "\
Examples:
  sudo zk-chaos run                                     # every bundled feature and plan but @slow, @kind, @race
  sudo zk-chaos run features/rolling_upgrade.feature --seed 42
  sudo zk-chaos run scenarios/leader-flapping.yaml
  sudo zk-chaos run features/random_schedule.feature --repeat 10 --until-fail   # hunt; failing schedules are shrunk
  sudo zk-chaos run features/random_schedule.feature:6 --seed 17 --schedule-faults 0,2   # replay a shrunk schedule
  sudo zk-chaos run features --tags '@slow' --concurrency 1
  zk-chaos run --backend kind --reuse                   # a kind cluster with the operator built from here
  zk-chaos run --backend kube --context prod-eu --namespace chaos features/leader_loss.feature
  zk-chaos run --backend docker features/smoke.feature   # members as containers (feature `docker`)
As root: sudo resets PATH, so `sudo cargo run` rarely finds cargo; build as yourself
(`cargo build`), then `sudo ./target/debug/zk-chaos run`.
Exit status: 0 every scenario passed, 1 some failed, 2 bad input.")]
    Run(run::RunArgs),
    /// Print the step catalogue (Markdown), generated from the code.
    #[command(after_help = "\
Examples:
  zk-chaos steps
  zk-chaos steps > STEPS.md")]
    Steps,
    /// Stand an ensemble up and keep it running until Ctrl-C (or --detach).
    #[command(after_help = "\
Examples:
  sudo zk-chaos up --name zk --replicas 3 --version 3.9.6
  sudo zk-chaos up --name zk5 --replicas 5 --version 3.8.0 --detach
  sudo zk-chaos up --subnet 10.77.0.0/24 --heap-mb 128
  sudo zk-chaos up -f examples/cluster.yaml        # supervised by the embedded operator")]
    Up(up::UpArgs),
    /// Change a running operator-managed ensemble's spec and watch it converge.
    #[command(after_help = "\
Examples:
  sudo zk-chaos up -f cluster-3.9.3.yaml --detach
  sudo zk-chaos apply -f cluster-3.9.6.yaml     # rolling upgrade
  sudo zk-chaos apply -f cluster-5.yaml         # scale through reconfig")]
    Apply(apply::ApplyArgs),
    /// Check a recorded history (or run bundle): linearizability, session
    /// guarantees, durability, quorum.
    #[command(after_help = "\
Examples:
  zk-chaos check reports/runs/<run>/bundle
  zk-chaos check history.jsonl --budget-secs 10
Exit status: 0 all valid, 1 something invalid, 3 some checker could not decide or the history was cut short (a killed run), 4 the input cannot be read.")]
    Check(check::CheckArgs),
    /// Re-render a run's HTML report, JUnit XML and Cucumber JSON from its record.json.
    #[command(after_help = "\
Examples:
  zk-chaos report reports/20250101-120000-3fa2c1
  zk-chaos report --index reports                 # rebuild reports/index.html")]
    Report(report::ReportArgs),
    /// Show every member of running ensembles: mode, zxid, config version.
    #[command(after_help = "\
Examples:
  zk-chaos status
  zk-chaos status --name zk --json")]
    Status(status::StatusArgs),
    /// Remove ensembles: processes, namespaces, interfaces, routes, data.
    #[command(after_help = "\
Examples:
  sudo zk-chaos down --name zk
  sudo zk-chaos down --all            # also what a crashed run left behind
  sudo zk-chaos down --name zk --keep-data")]
    Down(down::DownArgs),
    /// Remove old runs: reports beyond the newest N that passed, and local
    /// run dirs no longer live. `zk-chaos run` prunes the same way at its end.
    #[command(after_help = "\
Examples:
  zk-chaos prune --dry-run            # what would go
  zk-chaos prune                      # keep the newest 20 runs (ZK_CHAOS_KEEP_RUNS), and every failed one
  zk-chaos prune --keep 5 --failed-too
  ZK_CHAOS_KEEP_RUNS=0 zk-chaos run   # a run that prunes nothing")]
    Prune(prune::PruneArgs),
    /// Run the Kubernetes operator (the same as the zk-operator binary).
    #[command(after_help = "\
Examples:
  KUBECONFIG=~/.kube/config zk-chaos operator
  kubectl apply -f kind/manifests/   # or run it in-cluster")]
    Operator(operator::OperatorArgs),
    /// Print the CRD, RBAC and operator Deployment for Kubernetes.
    #[command(after_help = "\
Examples:
  zk-chaos manifests | kubectl apply -f -
  zk-chaos manifests --out kind/manifests")]
    Manifests(operator::ManifestsArgs),
    /// A kind cluster with the operator: up, down, status.
    #[command(after_help = "\
Examples:
  zk-chaos kind up --reuse
  zk-chaos kind status --json
  zk-chaos kind down")]
    Kind(kind::KindArgs),
    /// Download ZooKeeper distributions into the cache ahead of time.
    #[command(after_help = "\
Examples:
  zk-chaos provision                 # every supported version
  zk-chaos provision --version 3.9.6")]
    Provision(provision::ProvisionArgs),
    /// Images for the docker backend, built offline (Debian packages and
    /// the provisioned jars).
    #[command(after_help = "\
Examples:
  zk-chaos image build 3.8.0
  zk-chaos image build                # every supported version
  zk-chaos image build 3.9.3 --rebuild")]
    Image(image::ImageArgs),
}

/// Options shared by the commands that stand ensembles up.
#[derive(Debug, Clone, Args)]
pub struct EnsembleArgs {
    /// Cluster name: pods are <name>-0..N-1 behind headless service <name>-pods.
    #[arg(long, default_value = "zk")]
    pub name: String,
    /// Number of members (1 to 99: the operator's limit; each is a JVM on this host).
    #[arg(long, default_value_t = 3, value_parser = parse_replicas)]
    pub replicas: u32,
    /// ZooKeeper version (3.9.6, 3.9.3, 3.8.0, or one you point at with ZK_CHAOS_ZK_HOME).
    #[arg(long = "version", default_value = "3.9.6")]
    pub zk_version: String,
    /// Subnet for the ensemble's bridge; default: a free /24 of 10.213.0.0/16.
    #[arg(long)]
    pub subnet: Option<naming::Subnet>,
    /// JVM heap per member, MiB (at least 16).
    #[arg(long, default_value_t = 96, value_parser = parse_heap_mb)]
    pub heap_mb: u32,
    /// ZooKeeper tickTime, ms (at least 1).
    #[arg(long, default_value_t = 500, value_parser = parse_tick_ms)]
    pub tick_ms: u32,
    /// Kubernetes namespace the pod names mirror.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Where run dirs (volumes, logs, state) go [default: $ZK_CHAOS_WORK_DIR or ~/.local/state/zk-chaos].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Seconds to wait for quorum.
    #[arg(long, default_value_t = 60)]
    pub quorum_timeout: u64,
    /// Give each member's data dir its own tmpfs of this many MiB (for disk
    /// faults that must never fill the host's disk).
    #[arg(long)]
    pub data_disk_mb: Option<u32>,
}

/// A whole number in `min..=max`, or a message saying the bound and why.
fn bounded(text: &str, min: u64, max: u64, why: &str) -> Result<u64, String> {
    let n: u64 = text.trim().parse().map_err(|_| format!("`{text}` is not a whole number"))?;
    if n < min || n > max {
        let range =
            if max >= u64::from(u32::MAX) { format!("at least {min}") } else { format!("between {min} and {max}") };
        return Err(format!("must be {range} ({why}), got {n}"));
    }
    Ok(n)
}

/// `--replicas`: 1 to the operator's limit.
pub fn parse_replicas(text: &str) -> Result<u32, String> {
    let max = u64::from(zk_chaos::operator::crd::MAX_REPLICAS);
    let why = "the operator's limit; each member is a ZooKeeper JVM on this host";
    bounded(text, 1, max, why).map(|n| n as u32)
}

/// `--heap-mb`: at least what a server starts with.
pub fn parse_heap_mb(text: &str) -> Result<u32, String> {
    let min = u64::from(zk_chaos::operator::validate::MIN_HEAP_MB);
    bounded(text, min, u64::from(u32::MAX), "a ZooKeeper server does not start with less heap, MiB").map(|n| n as u32)
}

/// `--tick-ms`: ZooKeeper refuses a tickTime of 0.
pub fn parse_tick_ms(text: &str) -> Result<u32, String> {
    bounded(text, 1, u64::from(u32::MAX), "ZooKeeper's tickTime, ms; it refuses 0").map(|n| n as u32)
}

/// `--concurrency`: at least one scenario at a time.
pub fn parse_concurrency(text: &str) -> Result<usize, String> {
    bounded(text, 1, u64::MAX, "scenarios at once; 0 would run nothing").map(|n| n as usize)
}

impl EnsembleArgs {
    /// The library spec these flags describe.
    pub fn spec(&self, detach: bool) -> zk_chaos::backend::local::EnsembleSpec {
        let mut spec = zk_chaos::backend::local::EnsembleSpec::new(&self.name, self.replicas, &self.zk_version);
        spec.namespace = self.namespace.clone();
        spec.subnet = self.subnet;
        spec.heap_mb = self.heap_mb;
        spec.settings.tick_time_ms = self.tick_ms;
        spec.detach = detach;
        spec.data_disk_mb = self.data_disk_mb;
        if let Some(w) = &self.work_dir {
            spec.work_dir = w.clone();
        }
        spec
    }
}

/// Set up logging to stderr.
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "zk_chaos=warn,zookeeper_client=error,warn",
        1 => "zk_chaos=debug,info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Run one command.
/// Exit status: something failed (a scenario, a check, the machine).
pub const EXIT_FAILED: u8 = 1;
/// Exit status: bad input (flags, manifests, features, plans), refused
/// before anything started; clap uses it for bad flags too.
pub const EXIT_BAD_INPUT: u8 = 2;

/// The exit status of a command that ended in `e`: [`EXIT_BAD_INPUT`] when
/// the input was refused (a manifest, a feature or a plan), else
/// [`EXIT_FAILED`].
pub fn exit_status(e: &anyhow::Error) -> u8 {
    let bad_input = e.chain().any(|c| {
        c.is::<zk_chaos::operator::load::LoadError>()
            || c.is::<zk_chaos::steps::load::LoadError>()
            || c.is::<zk_chaos::plan::PlanError>()
    });
    if bad_input { EXIT_BAD_INPUT } else { EXIT_FAILED }
}

/// The message of `e` with its causes, each said once: a cause whose text
/// its parent already includes (`path: reason` wrapping `reason`) is not
/// repeated.
pub fn render_error(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(a) => run::run(a).await,
        Command::Steps => steps::steps(),
        Command::Up(a) => up::up(a).await,
        Command::Apply(a) => apply::apply(a).await,
        Command::Check(a) => check::check(a),
        Command::Report(a) => report::report(a),
        Command::Status(a) => status::status(a).await,
        Command::Down(a) => down::down(a),
        Command::Prune(a) => prune::prune(a),
        Command::Provision(a) => provision::provision(a).await,
        Command::Image(a) => image::image(a).await,
        Command::Operator(a) => operator::operator(a).await,
        Command::Manifests(a) => operator::manifests(a),
        Command::Kind(a) => kind::kind(a).await,
    }
}

/// Resolve when the process receives Ctrl-C or SIGTERM.
pub async fn interrupted() -> Interrupt {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Interrupt::Int,
        _ = term => Interrupt::Term,
    }
}

/// A command stopped by a signal (an error, so it can cross `?`).
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {}", .0.name())]
pub struct InterruptedBy(pub Interrupt);

/// The signal that interrupted a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT (Ctrl-C).
    Int,
    /// SIGTERM (a CI timeout, `kill`).
    Term,
}

impl Interrupt {
    /// The conventional exit status: 128 + the signal number (130, 143).
    pub fn exit_code(self) -> std::process::ExitCode {
        std::process::ExitCode::from(self.status())
    }

    /// 128 + the signal number.
    pub fn status(self) -> u8 {
        match self {
            Self::Int => 130,
            Self::Term => 143,
        }
    }

    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Int => "SIGINT",
            Self::Term => "SIGTERM",
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn counts_out_of_bounds_are_refused_with_the_limit_and_why() {
        use clap::Parser as _;
        for (args, expect) in [
            (vec!["zk-chaos", "up", "--replicas", "245"], "must be between 1 and 99 (the operator's limit"),
            (vec!["zk-chaos", "up", "--replicas", "0"], "must be between 1 and 99"),
            (vec!["zk-chaos", "up", "--heap-mb", "0"], "must be at least 16"),
            (vec!["zk-chaos", "up", "--tick-ms", "0"], "must be at least 1"),
            (vec!["zk-chaos", "run", "--concurrency", "0"], "must be at least 1 (scenarios at once"),
        ] {
            let e = super::Cli::try_parse_from(&args).unwrap_err().to_string();
            assert!(e.contains(expect), "{args:?}: {e}");
        }
        assert!(super::Cli::try_parse_from(["zk-chaos", "up", "--replicas", "99"]).is_ok());
    }

    #[test]
    fn causes_are_said_once_and_bad_input_exits_2() {
        #[derive(Debug, thiserror::Error)]
        #[error("{path}: {source}")]
        struct Wrapped {
            path: String,
            source: std::io::Error,
        }
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(Wrapped { path: "x.yaml".into(), source: io }).context("reading the manifest");
        assert_eq!(super::render_error(&e), "reading the manifest: x.yaml: no such file");
        assert_eq!(super::exit_status(&e), super::EXIT_FAILED);
        let bad =
            zk_chaos::operator::load::parse_cluster(std::path::Path::new("c.yaml"), "apiVersion: v1\nkind: Pod\n")
                .unwrap_err();
        assert_eq!(super::exit_status(&anyhow::Error::new(bad).context("up -f")), super::EXIT_BAD_INPUT);
    }

    #[test]
    fn signals_exit_with_128_plus_their_number() {
        assert_eq!(super::Interrupt::Int.status(), 128 + 2);
        assert_eq!(super::Interrupt::Term.status(), 128 + 15);
    }
}
