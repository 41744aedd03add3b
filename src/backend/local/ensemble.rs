//! A local ensemble: pods as JVMs in namespaces on one bridge, with
//! StatefulSet semantics for ordinals, volumes that outlive pods, and a
//! teardown that always runs (explicitly, from `Drop`, or from `down`).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;

pub use super::cleanup::{SweepReport, leftovers, leftovers_of, sweep_all, teardown_run};
use super::diagnose::{PodExit, StartupProblem, StartupSnapshot, StartupWatch};
use super::disk;
use super::hostnet::{self, HostNetError};
use super::naming::{self, NamingError, RunId, Subnet};
use super::net::{self, NetError};
use super::pod::{self, PodDirs, PodError, PodProcess};
use super::state::{self, PodRecord, PodTemplate, RunState, StateError};
use crate::dist::{self, DistConfig, DistError, Distribution, JvmOptions, Progress};
use crate::probe::{self, EnsembleStatus};
use crate::sys;
use crate::zkconfig::{self, ConfigError, DynamicConfig, EnsembleNames, ServerSettings, SuperCredential};

/// How long a graceful stop may take before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// Bound of one probe exchange.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// What to stand up.
#[derive(Debug, Clone)]
pub struct EnsembleSpec {
    /// Cluster name (a DNS-1035 label).
    pub name: String,
    /// Kubernetes namespace the names mirror.
    pub namespace: String,
    /// Number of members.
    pub replicas: u32,
    /// ZooKeeper version.
    pub version: String,
    /// A fixed subnet, or `None` to allocate a /24 from `pool`.
    pub subnet: Option<Subnet>,
    /// The pool subnets are allocated from.
    pub pool: Subnet,
    /// zoo.cfg settings.
    pub settings: ServerSettings,
    /// JVM heap per member in MiB.
    pub heap_mb: u32,
    /// Where run dirs go.
    pub work_dir: PathBuf,
    /// Start processes so that they outlive this process.
    pub detach: bool,
    /// Revision label of the pods' template (the operator sets it).
    pub revision: String,
    /// Where ZooKeeper distributions come from.
    pub dist: DistConfig,
    /// Give each pod's data dir its own tmpfs of this many MiB (for disk
    /// faults that must not touch the host's disk).
    pub data_disk_mb: Option<u32>,
}

impl EnsembleSpec {
    /// The template every pod of this spec starts from.
    pub fn template(&self) -> PodTemplate {
        PodTemplate {
            revision: self.revision.clone(),
            version: self.version.clone(),
            settings: self.settings.clone(),
            heap_mb: self.heap_mb,
        }
    }

    /// Three members of 3.8.0 named `zk`, with a 500 ms tick.
    pub fn new(name: &str, replicas: u32, version: &str) -> Self {
        let settings = ServerSettings { tick_time_ms: 500, ..ServerSettings::default() };
        Self {
            name: name.to_string(),
            namespace: "default".into(),
            replicas,
            version: version.to_string(),
            subnet: None,
            pool: naming::DEFAULT_POOL.parse().expect("default pool parses"),
            settings,
            heap_mb: 96,
            work_dir: state::default_work_dir(),
            detach: false,
            revision: String::new(),
            dist: DistConfig::from_env(),
            data_disk_mb: None,
        }
    }
}

/// Failures of the local backend.
#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    /// The spec is invalid; nothing was started.
    #[error("{0}")]
    Invalid(String),
    /// Not root / no CAP_NET_ADMIN.
    #[error(
        "the local backend needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces; run with sudo"
    )]
    NotPrivileged,
    /// Another live run serves the same cluster name.
    #[error("a cluster named `{name}` is already up (run {run}); use another --name or `zk-chaos down --name {name}`")]
    NameInUse {
        /// The name.
        name: String,
        /// The run that has it.
        run: RunId,
    },
    /// A name or subnet is invalid.
    #[error(transparent)]
    Naming(#[from] NamingError),
    /// Network set-up failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A pod process failed.
    #[error(transparent)]
    Pod(#[from] PodError),
    /// Run state I/O failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A distribution could not be resolved.
    #[error(transparent)]
    Dist(#[from] DistError),
    /// Config rendering failed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A data disk could not be mounted.
    #[error(transparent)]
    Disk(#[from] disk::DiskError),
    /// A server exited while starting.
    #[error("pod {pod} exited while starting; last lines of its logs:\n{tail}")]
    StartFailed {
        /// Pod name.
        pod: String,
        /// Tail of its console and server logs.
        tail: String,
    },
    /// Quorum was not reached in time.
    #[error("no quorum after {after:?}: {problems}\n{tail}")]
    QuorumTimeout {
        /// How long we waited.
        after: Duration,
        /// What the last probe found.
        problems: String,
        /// Tails of the logs of members that were not serving.
        tail: String,
    },
    /// No pod with that ordinal.
    #[error("no pod with ordinal {0}")]
    NoSuchPod(u32),
    /// The host's network would block the run's traffic.
    #[error(transparent)]
    HostNetwork(#[from] HostNetError),
    /// The ensemble does not form, and why.
    #[error(transparent)]
    NotForming(#[from] StartupProblem),
}

/// How many exits of servers the ensemble remembers for the startup watch.
const MAX_EXITS: usize = 16;

/// A running local ensemble. Dropping it tears everything down.
pub struct LocalEnsemble {
    state: RunState,
    dists: BTreeMap<String, Distribution>,
    procs: BTreeMap<u32, PodProcess>,
    blocked: BTreeSet<(u32, u32)>,
    /// Servers that exited on their own (not stopped or killed by us),
    /// until a [`StartupSnapshot`] takes them.
    exits: Vec<PodExit>,
    closed: bool,
    /// Whether dropping this handle tears the run down (false for a run
    /// attached to from another process, which only borrows it).
    owned: bool,
}

/// Check everything that can be checked before anything is created (the
/// replica count is checked by [`LocalEnsemble::up`]: an operator-managed
/// run starts without pods).
pub fn preflight(spec: &EnsembleSpec) -> Result<(), EnsembleError> {
    naming::validate_cluster_name(&spec.name)?;
    if spec.heap_mb < 16 {
        return Err(EnsembleError::Invalid(format!("--heap-mb must be at least 16 (got {})", spec.heap_mb)));
    }
    spec.settings.validate()?;
    if !dist::supported_versions().contains(&spec.version.as_str()) && spec.dist.user_dists.is_empty() {
        return Err(DistError::UnknownVersion { version: spec.version.clone() }.into());
    }
    if !sys::has_net_admin() {
        return Err(EnsembleError::NotPrivileged);
    }
    dist::find_java()?;
    if let Some((run, _)) = live_run_named(&spec.name) {
        return Err(EnsembleError::NameInUse { name: spec.name.clone(), run });
    }
    let routes = net::host_routes()?;
    let subnet = match spec.subnet {
        Some(s) => {
            net::check_subnet_free(s, &routes)?;
            let cap = s.pod_capacity();
            if spec.replicas > cap {
                return Err(NamingError::SubnetFull { subnet: s, capacity: cap, wanted: spec.replicas }.into());
            }
            s
        }
        None => net::allocate_subnet(spec.pool, &routes)?,
    };
    hostnet::check(subnet, spec.settings.admin_port)?;
    Ok(())
}

/// The registered run that serves `name` and still has its bridge.
pub fn live_run_named(name: &str) -> Option<(RunId, state::RegistryEntry)> {
    let links = net::our_links();
    state::registered_runs().into_iter().find(|(run, e)| e.name == name && links.contains(&run.bridge()))
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

impl LocalEnsemble {
    /// Stand an ensemble up: preflight, provision the distribution, build
    /// the network, render configs and start every pod. Does not wait for
    /// quorum (see [`LocalEnsemble::wait_for_quorum`]). On any failure,
    /// whatever was created is removed again.
    pub async fn up(spec: &EnsembleSpec, progress: &dyn Progress) -> Result<Self, EnsembleError> {
        if spec.replicas == 0 {
            return Err(EnsembleError::Invalid("--replicas must be at least 1 (got 0)".into()));
        }
        let mut me = Self::create(spec, progress).await?;
        progress.stage(&format!("starting {} members", spec.replicas));
        let initial = DynamicConfig::for_replicas(&me.state.names, spec.replicas);
        let template = spec.template();
        for ordinal in 0..spec.replicas {
            me.add_pod(ordinal, &template, &initial).await?;
        }
        Ok(me)
    }

    /// Preflight, provision the distribution and build the run's network
    /// (fence, bridge) without any pod: pods come from [`Self::add_pod`].
    pub async fn create(spec: &EnsembleSpec, progress: &dyn Progress) -> Result<Self, EnsembleError> {
        preflight(spec)?;
        let dist = dist::resolve(&spec.version, &spec.dist, progress).await?;
        progress.stage("creating network");
        let run = RunId::generate();
        let subnet = net::claim_subnet(spec.subnet, spec.pool)?;
        let run_dir = spec.work_dir.join("runs").join(run.as_str());
        let names = EnsembleNames::new(&spec.name, &spec.namespace);
        let mut me = Self {
            state: RunState {
                run,
                names,
                subnet,
                fenced: true,
                bridged: false,
                run_dir,
                admin_port: spec.settings.admin_port,
                credential: SuperCredential::generate(),
                pods: BTreeMap::new(),
                detached: spec.detach,
                created_unix: now_unix(),
                operator: None,
                data_disk_mb: spec.data_disk_mb,
            },
            dists: BTreeMap::from([(spec.version.clone(), dist)]),
            procs: BTreeMap::new(),
            blocked: BTreeSet::new(),
            exits: Vec::new(),
            closed: false,
            owned: true,
        };
        // From here on `me` owns what exists; an early return drops it and
        // the drop removes it.
        me.state.save()?;
        net::add_bridge(&me.state.run, subnet)?;
        me.state.bridged = true;
        me.state.save()?;
        hostnet::check_bridge(&me.state.run, subnet)?;
        // Claim the name once our bridge exists, so a concurrent claimer
        // sees this run as live. Liveness is read inside the claim's lock:
        // a snapshot taken before it could miss a racer's new bridge.
        if !state::claim_name(&spec.name, &me.state.run, |r| net::our_links().contains(&r.bridge()))? {
            let links = net::our_links();
            let mine = me.state.run.clone();
            let holder = state::registered_runs()
                .into_iter()
                .find(|(r, e)| e.name == spec.name && *r != mine && links.contains(&r.bridge()))
                .map_or(mine, |(r, _)| r);
            return Err(EnsembleError::NameInUse { name: spec.name.clone(), run: holder });
        }
        Ok(me)
    }

    /// Create pod `ordinal` (the StatefulSet creating a pod): its namespace
    /// and veth, everyone's hosts files, its volume when new (with
    /// `initial` as its first dynamic config), then start its server.
    pub async fn add_pod(
        &mut self,
        ordinal: u32,
        template: &PodTemplate,
        initial: &DynamicConfig,
    ) -> Result<(), EnsembleError> {
        if !self.dists.contains_key(&template.version) {
            return Err(EnsembleError::Invalid(format!("version {} was not resolved for this run", template.version)));
        }
        self.add_pod_network(ordinal, template)?;
        self.write_all_hosts()?;
        net::verify_route(&self.state.run, self.addr(ordinal)?)?;
        let fresh = !self.state.pods[&ordinal].dirs.zoo_cfg().exists();
        if let Some(mb) = self.state.data_disk_mb {
            let data = self.state.pods[&ordinal].dirs.data();
            if !disk::is_disk(&data) {
                disk::mount(&self.state.run, ordinal, &data, mb)?;
            }
        }
        self.render_pod_config(ordinal, fresh.then_some(initial))?;
        self.start_pod(ordinal).await
    }

    /// Attach to a run another process started (found through its state
    /// file): adopt its running servers and resolve the versions its pods
    /// use. Dropping the handle leaves the run as it is.
    pub async fn attach(
        run_dir: &std::path::Path,
        cfg: &DistConfig,
        progress: &dyn Progress,
    ) -> Result<Self, EnsembleError> {
        let state = RunState::load(run_dir)?;
        let mut dists = BTreeMap::new();
        for rec in state.pods.values() {
            if !dists.contains_key(&rec.template.version) {
                dists.insert(rec.template.version.clone(), dist::resolve(&rec.template.version, cfg, progress).await?);
            }
        }
        let procs = state
            .pods
            .iter()
            .filter_map(|(o, rec)| {
                let pid = rec.pid.filter(|p| super::cleanup::is_server_of(*p, &state.run))?;
                Some((*o, PodProcess::adopt(&state.names.pod(*o), pid)))
            })
            .collect();
        Ok(Self { state, dists, procs, blocked: BTreeSet::new(), exits: Vec::new(), closed: false, owned: false })
    }

    /// Mutable access to the run record's operator section (saved with
    /// [`Self::save_state`]).
    pub fn operator_state_mut(&mut self) -> &mut Option<serde_json::Value> {
        &mut self.state.operator
    }

    /// Write the run record to disk.
    pub fn save_state(&self) -> Result<(), EnsembleError> {
        Ok(self.state.save()?)
    }

    /// Ordinals whose volume exists on disk (pods or not).
    pub fn volumes(&self) -> BTreeSet<u32> {
        let dir = self.state.run_dir.join("volumes");
        let prefix = format!("{}-", self.state.names.name);
        let Ok(entries) = std::fs::read_dir(dir) else { return BTreeSet::new() };
        entries.filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix(&prefix)?.parse().ok()).collect()
    }

    /// Delete the volume of a pod that no longer exists.
    pub fn release_volume(&self, ordinal: u32) -> Result<(), EnsembleError> {
        if self.state.pods.contains_key(&ordinal) {
            return Err(EnsembleError::Invalid(format!("{} still exists", self.state.names.pod(ordinal))));
        }
        let dir = self.state.run_dir.join("volumes").join(self.state.names.pod(ordinal));
        let run = self.state.run.clone();
        disk::unmount_where(|s| s == disk::source(&run, ordinal));
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(PodError::Files { path: dir, source }.into()),
        }
    }

    /// The run's recorded state.
    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// Ordinals of all pods that exist (running or not).
    pub fn ordinals(&self) -> Vec<u32> {
        self.state.pods.keys().copied().collect()
    }

    /// The address of pod `ordinal`.
    pub fn addr(&self, ordinal: u32) -> Result<Ipv4Addr, EnsembleError> {
        self.state.pods.get(&ordinal).map(|p| p.addr).ok_or(EnsembleError::NoSuchPod(ordinal))
    }

    /// `ip:2181,...` of all pods.
    pub fn connect_string(&self) -> String {
        self.state.connect_string()
    }

    /// The client connect string of one pod.
    pub fn pod_connect_string(&self, ordinal: u32) -> Result<String, EnsembleError> {
        Ok(format!("{}:{}", self.addr(ordinal)?, zkconfig::CLIENT_PORT))
    }

    /// The super-user credential (for reconfig).
    pub fn credential(&self) -> &SuperCredential {
        &self.state.credential
    }

    /// Create the namespace and veth of a new pod and record it.
    fn add_pod_network(&mut self, ordinal: u32, template: &PodTemplate) -> Result<(), EnsembleError> {
        if self.state.pods.contains_key(&ordinal) {
            return Err(EnsembleError::Invalid(format!("pod {} already exists", self.state.names.pod(ordinal))));
        }
        let addr = self.state.subnet.pod_addr(ordinal)?;
        let pod = self.state.names.pod(ordinal);
        let dirs = PodDirs {
            volume: self.state.run_dir.join("volumes").join(&pod),
            logs: self.state.run_dir.join("logs").join(&pod),
        };
        self.state.pods.insert(ordinal, PodRecord { addr, template: template.clone(), dirs, pid: None, wired: false });
        self.state.save()?;
        net::add_pod_netns(&self.state.run, self.state.subnet, ordinal)?;
        self.state.pods.get_mut(&ordinal).expect("just inserted").wired = true;
        self.state.save()?;
        Ok(())
    }

    /// Rewrite every pod's hosts file with every pod's names.
    pub fn write_all_hosts(&self) -> Result<(), EnsembleError> {
        let pods: Vec<(u32, Ipv4Addr)> = self.state.pods.iter().map(|(o, p)| (*o, p.addr)).collect();
        let hosts = net::render_hosts(&self.state.names, &pods);
        for ordinal in self.state.pods.keys() {
            net::write_hosts(&self.state.run.netns(*ordinal), &hosts)?;
        }
        Ok(())
    }

    /// Render `myid` and `zoo.cfg` from the pod's template into its volume.
    /// With `dynamic`, the dynamic config file is written fresh from it;
    /// without, `zoo.cfg` keeps pointing at the dynamic file the server
    /// itself last wrote (it rewrites it on every reconfig), so a restarted
    /// or re-templated pod comes back with its latest membership.
    pub fn render_pod_config(&self, ordinal: u32, dynamic: Option<&DynamicConfig>) -> Result<(), EnsembleError> {
        let rec = self.state.pods.get(&ordinal).ok_or(EnsembleError::NoSuchPod(ordinal))?;
        let dirs = &rec.dirs;
        let files = |path: &std::path::Path| {
            let p = path.to_path_buf();
            move |source| PodError::Files { path: p, source }
        };
        std::fs::create_dir_all(dirs.data()).map_err(files(&dirs.data()))?;
        pod::write_file(&dirs.myid(), &zkconfig::render_myid(ordinal))?;
        let dynamic_file = match dynamic {
            Some(d) => {
                pod::write_file(&dirs.dynamic_cfg(), &d.render())?;
                dirs.dynamic_cfg()
            }
            None => current_dynamic_file(&dirs.zoo_cfg()).unwrap_or_else(|| dirs.dynamic_cfg()),
        };
        let cfg = zkconfig::render_zoo_cfg(
            &rec.template.settings,
            &dirs.data().to_string_lossy(),
            &dynamic_file.to_string_lossy(),
        )?;
        pod::write_file(&dirs.zoo_cfg(), &cfg)?;
        Ok(())
    }

    /// Give pod `ordinal` a new template (taking effect at its next start),
    /// re-rendering its `zoo.cfg`.
    pub fn set_pod_template(&mut self, ordinal: u32, template: &PodTemplate) -> Result<(), EnsembleError> {
        if !self.dists.contains_key(&template.version) {
            return Err(EnsembleError::Invalid(format!("version {} was not resolved for this run", template.version)));
        }
        self.state.pods.get_mut(&ordinal).ok_or(EnsembleError::NoSuchPod(ordinal))?.template = template.clone();
        self.state.save()?;
        self.render_pod_config(ordinal, None)
    }

    fn jvm_args(&self, ordinal: u32, dist: &Distribution, rec: &PodRecord) -> Vec<OsString> {
        let jvm = JvmOptions {
            heap_mb: rec.template.heap_mb,
            extra: vec![
                self.state.run.process_marker(),
                format!("-Dzkchaos.pod={}", self.state.names.pod(ordinal)),
                self.state.credential.jvm_flag(),
            ],
        };
        dist.server_args(&jvm, &rec.dirs.zoo_cfg(), &rec.dirs.logs)
    }

    /// Start pod `ordinal` at its recorded version (no-op when running).
    /// A server that had exited on its own is remembered for
    /// [`Self::startup_snapshot`].
    pub async fn start_pod(&mut self, ordinal: u32) -> Result<(), EnsembleError> {
        if self.procs.get_mut(&ordinal).is_some_and(|p| p.alive()) {
            return Ok(());
        }
        if let Some(exit) = self.exit_of(ordinal) {
            if self.exits.len() >= MAX_EXITS {
                self.exits.remove(0);
            }
            self.exits.push(exit);
        }
        let rec = self.state.pods.get(&ordinal).ok_or(EnsembleError::NoSuchPod(ordinal))?.clone();
        let dist = self.dists.get(&rec.template.version).cloned().ok_or_else(|| {
            EnsembleError::Invalid(format!("version {} was not resolved for this run", rec.template.version))
        })?;
        let args = self.jvm_args(ordinal, &dist, &rec);
        let pod = self.state.names.pod(ordinal);
        let p =
            PodProcess::spawn(&pod, &self.state.run.netns(ordinal), &dist.java, &args, &rec.dirs, self.state.detached)?;
        tracing::debug!(pod, pid = p.pid, version = rec.template.version, "started");
        self.state.pods.get_mut(&ordinal).expect("exists").pid = Some(p.pid);
        self.procs.insert(ordinal, p);
        self.state.save()?;
        Ok(())
    }

    /// Resolve (provisioning if needed) another version for this run, so
    /// pods can be moved to it.
    pub async fn add_version(
        &mut self,
        version: &str,
        cfg: &DistConfig,
        progress: &dyn Progress,
    ) -> Result<(), EnsembleError> {
        if !self.dists.contains_key(version) {
            let d = dist::resolve(version, cfg, progress).await?;
            self.dists.insert(version.to_string(), d);
        }
        Ok(())
    }

    fn take_proc(&mut self, ordinal: u32) -> Result<Option<PodProcess>, EnsembleError> {
        let rec = self.state.pods.get_mut(&ordinal).ok_or(EnsembleError::NoSuchPod(ordinal))?;
        rec.pid = None;
        let p = self.procs.remove(&ordinal);
        self.state.save()?;
        Ok(p)
    }

    /// Graceful stop: SIGTERM, SIGKILL after [`STOP_GRACE`].
    pub async fn stop_pod(&mut self, ordinal: u32) -> Result<(), EnsembleError> {
        if let Some(mut p) = self.take_proc(ordinal)? {
            p.stop(STOP_GRACE).await?;
        }
        Ok(())
    }

    /// SIGKILL the pod's server.
    pub async fn kill_pod(&mut self, ordinal: u32) -> Result<(), EnsembleError> {
        if let Some(mut p) = self.take_proc(ordinal)? {
            p.kill().await?;
        }
        Ok(())
    }

    /// Stop, then start again with the same volume.
    pub async fn restart_pod(&mut self, ordinal: u32) -> Result<(), EnsembleError> {
        self.stop_pod(ordinal).await?;
        self.start_pod(ordinal).await
    }

    /// SIGSTOP the pod's server.
    pub fn pause_pod(&self, ordinal: u32) -> Result<(), EnsembleError> {
        self.signal_pod(ordinal, Signal::SIGSTOP)
    }

    /// SIGCONT the pod's server.
    pub fn resume_pod(&self, ordinal: u32) -> Result<(), EnsembleError> {
        self.signal_pod(ordinal, Signal::SIGCONT)
    }

    fn signal_pod(&self, ordinal: u32, sig: Signal) -> Result<(), EnsembleError> {
        match self.procs.get(&ordinal) {
            Some(p) => Ok(p.signal(sig)?),
            None => Err(EnsembleError::Invalid(format!("pod {ordinal} is not running"))),
        }
    }

    /// Whether pod `ordinal`'s server process is running.
    pub fn pod_running(&mut self, ordinal: u32) -> bool {
        self.procs.get_mut(&ordinal).is_some_and(|p| p.alive())
    }

    /// Remove pod `ordinal` entirely: stop it, delete its namespace, and
    /// release its volume when `release_volume` (scale-down).
    pub async fn remove_pod(&mut self, ordinal: u32, release_volume: bool) -> Result<(), EnsembleError> {
        self.stop_pod(ordinal).await?;
        self.blocked.retain(|(a, b)| *a != ordinal && *b != ordinal);
        net::remove_pod_netns(&self.state.run, ordinal);
        if let Some(rec) = self.state.pods.remove(&ordinal)
            && release_volume
        {
            let _ = std::fs::remove_dir_all(&rec.dirs.volume);
        }
        self.state.save()?;
        self.write_all_hosts()
    }

    /// Cut pod `ordinal` off from every other pod (both directions).
    pub fn isolate(&mut self, ordinal: u32) -> Result<(), EnsembleError> {
        let peers: Vec<u32> = self.ordinals().into_iter().filter(|o| *o != ordinal).collect();
        self.partition(&[ordinal], &peers)
    }

    /// Cut every pod in `side_a` off from every pod in `side_b`.
    pub fn partition(&mut self, side_a: &[u32], side_b: &[u32]) -> Result<(), EnsembleError> {
        for a in side_a {
            for b in side_b {
                if a == b {
                    continue;
                }
                net::block(&self.state.run, *a, self.addr(*a)?, *b, self.addr(*b)?)?;
                self.blocked.insert((*a.min(b), *a.max(b)));
            }
        }
        Ok(())
    }

    /// Remove every partition.
    pub fn heal(&mut self) {
        for (a, b) in std::mem::take(&mut self.blocked) {
            if let (Ok(aa), Ok(ba)) = (self.addr(a), self.addr(b)) {
                net::unblock(&self.state.run, a, aa, b, ba);
            }
        }
    }

    /// Probe every pod and judge the ensemble.
    pub async fn status(&self) -> EnsembleStatus {
        probe_run(&self.state).await
    }

    /// Wait until every pod serves in one quorum. Fails early, with the
    /// tail of its logs, when a server process exits.
    pub async fn wait_for_quorum(&mut self, timeout: Duration) -> Result<EnsembleStatus, EnsembleError> {
        let members: Vec<u32> = self.ordinals();
        self.wait_until(timeout, |s| s.all_healthy() && s.members.len() == members.len()).await
    }

    /// Poll status until `done` holds, failing on a dead process or timeout.
    pub async fn wait_until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&EnsembleStatus) -> bool,
    ) -> Result<EnsembleStatus, EnsembleError> {
        let start = Instant::now();
        loop {
            let dead = self.procs.iter_mut().find_map(|(o, p)| (!p.alive()).then_some(*o));
            if let Some(ordinal) = dead {
                let tail = self.log_tail(ordinal);
                return Err(EnsembleError::StartFailed { pod: self.state.names.pod(ordinal), tail });
            }
            let status = self.status().await;
            if done(&status) {
                return Ok(status);
            }
            if start.elapsed() >= timeout {
                return Err(self.quorum_timeout(start.elapsed(), &status));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn quorum_timeout(&self, after: Duration, status: &EnsembleStatus) -> EnsembleError {
        let tail = status
            .members
            .iter()
            .filter(|m| !m.serving())
            .map(|m| self.log_tail(m.ordinal))
            .collect::<Vec<_>>()
            .join("\n");
        EnsembleError::QuorumTimeout { after, problems: status.problems.join("; "), tail }
    }

    /// How pod `ordinal`'s server exited, if it did so on its own (a server
    /// we stop or kill leaves `procs` first).
    fn exit_of(&mut self, ordinal: u32) -> Option<PodExit> {
        let p = self.procs.get_mut(&ordinal)?;
        let status = p.exit_status()?;
        let uptime = p.started.elapsed();
        Some(PodExit { ordinal, pod: self.state.names.pod(ordinal), status, uptime, tail: self.log_tail(ordinal) })
    }

    /// What a [`StartupWatch`] needs now: every pod with its address and
    /// whether it runs, and the servers that exited on their own (taken:
    /// each is reported once).
    pub fn startup_snapshot(&mut self) -> StartupSnapshot {
        let mut exits = std::mem::take(&mut self.exits);
        for o in self.ordinals() {
            if !exits.iter().any(|e| e.ordinal == o)
                && let Some(e) = self.exit_of(o)
            {
                exits.push(e);
            }
        }
        let pods = self.ordinals().into_iter().map(|o| (o, self.state.pods[&o].addr, self.pod_running(o))).collect();
        StartupSnapshot { run: self.state.run.clone(), pods, exits }
    }

    /// Wait until every pod serves in one quorum, as
    /// [`Self::wait_for_quorum`], and say within seconds why the ensemble
    /// does not form: a server that exited, members that cannot reach each
    /// other, pods the host cannot reach.
    pub async fn wait_for_startup(&mut self, timeout: Duration) -> Result<EnsembleStatus, EnsembleError> {
        let start = Instant::now();
        let mut watch = StartupWatch::new();
        loop {
            let status = self.status().await;
            if status.all_healthy() && status.members.len() == self.state.pods.len() {
                return Ok(status);
            }
            let snap = self.startup_snapshot();
            watch.check(&snap, &status).await?;
            if start.elapsed() >= timeout {
                return Err(self.quorum_timeout(start.elapsed(), &status));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of a pod's console and server logs.
    pub fn log_tail(&self, ordinal: u32) -> String {
        let Some(rec) = self.state.pods.get(&ordinal) else { return String::new() };
        let pod = self.state.names.pod(ordinal);
        format!(
            "--- {pod} console.log ---\n{}\n--- {pod} zookeeper.log ---\n{}",
            sys::tail(&rec.dirs.console_log(), 15),
            sys::tail(&rec.dirs.server_log(), 25)
        )
    }

    /// Leave everything running and forget it (for `up --detach`): the run
    /// stays registered for `status` and `down`.
    pub fn detach(mut self) -> RunState {
        self.closed = true;
        self.state.clone()
    }

    /// Stop every pod gracefully, then remove namespaces, interfaces,
    /// routes, hosts files and (unless `keep_data`) volumes. Logs stay.
    pub async fn teardown(mut self, keep_data: bool) -> Result<(), EnsembleError> {
        self.heal();
        let stops = self.procs.values_mut().map(|p| p.stop(Duration::from_secs(5)));
        for r in futures::future::join_all(stops).await {
            r?;
        }
        self.procs.clear();
        for p in self.state.pods.values_mut() {
            p.pid = None;
        }
        teardown_run(&self.state, keep_data);
        self.closed = true;
        Ok(())
    }
}

impl Drop for LocalEnsemble {
    fn drop(&mut self) {
        if self.closed || !self.owned {
            return;
        }
        for p in self.procs.values_mut() {
            p.kill_now();
        }
        teardown_run(&self.state, false);
    }
}

/// The `dynamicConfigFile` a `zoo.cfg` points at.
fn current_dynamic_file(zoo_cfg: &std::path::Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(zoo_cfg).ok()?;
    text.lines().find_map(|l| l.strip_prefix("dynamicConfigFile=")).map(|v| PathBuf::from(v.trim()))
}

/// Probe every pod of a recorded run; each member's
/// [`probe::MemberStatus::instance`] is its recorded server process (pid
/// and start time) while that process lives.
pub async fn probe_run(state: &RunState) -> EnsembleStatus {
    let members: Vec<(u32, Ipv4Addr)> = state.pods.iter().map(|(o, p)| (*o, p.addr)).collect();
    let mut probed = probe::probe_all(&members, state.admin_port, PROBE_TIMEOUT).await;
    for m in &mut probed {
        m.instance = state.pods.get(&m.ordinal).and_then(|p| p.pid).and_then(|pid| {
            crate::sys::process_start_ticks(pid).map(|t| crate::probe::status::process_instance(pid, t))
        });
    }
    EnsembleStatus::judge(probed)
}
