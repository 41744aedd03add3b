//! A docker ensemble: each member a container of its version's image on
//! the run's user-defined network, named as the headless Service names the
//! pod, with a named volume (the PersistentVolume) that outlives it. The
//! embedded operator drives it through [`PodRuntime`], exactly as it
//! drives the local backend.
//!
//! Containers are created and started by testcontainers from the
//! operator's pod template ([`super::spec`]); everything else (kill,
//! start, pause, volumes, the network, cleanup) goes to the engine API.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{ContainerUpdateBody, NetworkCreateRequest, VolumeCreateRequest};
use testcontainers::bollard::query_parameters::{
    KillContainerOptions, ListVolumesOptions, RemoveVolumeOptions, StopContainerOptions,
};
use testcontainers::core::{AccessMode, Mount};
use testcontainers::{ContainerAsync, GenericImage, Healthcheck, ImageExt as _};

use super::engine::{self, address_on};
use super::error::DockerError;
use super::naming::{DockerNames, LABEL_RUN};
use super::spec::{self, ContainerSpec};
use super::{cleanup, cpu, disk, image};
use crate::backend::local::naming::RunId;
use crate::backend::local::state::PodTemplate;
use crate::dist::{DistConfig, NoProgress, Progress};
use crate::operator::crd::ZookeeperCluster;
use crate::operator::supervisor::SupervisorError;
use crate::operator::supervisor::runtime::PodRuntime;
use crate::probe::{self, EnsembleStatus};
use crate::zkconfig::{self, DynamicConfig, EnsembleNames, SuperCredential};

/// Where a member's log directory is mounted.
pub const LOG_MOUNT: &str = "/logs";
/// The variable telling the image's `zkServer.sh` where to log.
pub const LOG_DIR_ENV: &str = "ZK_LOG_DIR";

/// How long a graceful stop may take before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// The docker backend's settings.
#[derive(Debug, Clone)]
pub struct DockerSettings {
    /// A user's image for every member (`--image`, `spec.image`); `None`
    /// builds `zk-chaos/zookeeper:<version>` when missing.
    pub image: Option<String>,
    /// Where seed directories and collected logs go.
    pub work_dir: PathBuf,
    /// Where distributions come from (for image builds).
    pub dist: DistConfig,
    /// Each member's data volume a tmpfs of this many MiB (for disk
    /// faults), kept mounted by a holder container; `None`: an ordinary
    /// named volume.
    pub data_disk_mb: Option<u32>,
}

/// One member as the ensemble knows it.
struct Member {
    template: PodTemplate,
    /// The container, while it exists.
    container: Option<ContainerAsync<GenericImage>>,
    /// The revision the container was created at.
    container_revision: String,
    /// Its address on the network (the last known while it is stopped).
    addr: Ipv4Addr,
}

/// What probes and the cluster need without the ensemble's lock.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The ensemble's names.
    pub names: Option<EnsembleNames>,
    /// Each member's address and template.
    pub pods: BTreeMap<u32, (Ipv4Addr, PodTemplate)>,
    /// The AdminServer port.
    pub admin_port: u16,
    /// The run.
    pub run: Option<RunId>,
    /// Where the members' server logs are (`<log_dir>/<pod>/zookeeper.log`).
    pub log_dir: PathBuf,
    /// The engine, to tell which server process (container start) answered.
    pub docker: Option<Docker>,
}

impl Snapshot {
    /// `ip:2181,...` of every member.
    pub fn connect_string(&self) -> String {
        self.pods.values().map(|(a, _)| format!("{a}:{}", zkconfig::CLIENT_PORT)).collect::<Vec<_>>().join(",")
    }
    /// Probe every member; each member's
    /// [`probe::MemberStatus::instance`] is its running container's server
    /// process (the container's init is the server: the image's start
    /// script execs java), by its pid and start time.
    pub async fn probe(&self) -> EnsembleStatus {
        let members: Vec<(u32, Ipv4Addr)> = self.pods.iter().map(|(o, (a, _))| (*o, *a)).collect();
        let mut probed =
            probe::probe_all(&members, self.admin_port, crate::backend::local::ensemble::PROBE_TIMEOUT).await;
        if let (Some(docker), Some(names)) = (&self.docker, &self.names) {
            let lookups = probed.iter().map(|m| container_instance(docker, names.pod_fqdn(m.ordinal)));
            let instances = futures::future::join_all(lookups).await;
            for (m, instance) in probed.iter_mut().zip(instances) {
                m.instance = instance;
            }
        }
        EnsembleStatus::judge(probed)
    }
}

/// `pid P started at T` of `container`'s main process while it runs.
async fn container_instance(docker: &Docker, container: String) -> Option<String> {
    let state = docker.inspect_container(&container, None).await.ok()?.state?;
    let pid = state.pid.filter(|p| *p > 0 && state.running == Some(true))?;
    Some(format!("pid {pid} started at {}", state.started_at?))
}

/// A ZooKeeper ensemble of containers.
pub struct DockerEnsemble {
    docker: Docker,
    dn: DockerNames,
    resource: ZookeeperCluster,
    settings: DockerSettings,
    credential: SuperCredential,
    admin_port: u16,
    gateway: Ipv4Addr,
    run_dir: PathBuf,
    images: BTreeMap<String, String>,
    pods: BTreeMap<u32, Member>,
    operator: Option<serde_json::Value>,
    /// Cuts in force: `(from, to)` pairs, and members cut off from clients
    /// (re-applied whenever a member's container starts: a new sandbox).
    blocked: BTreeSet<(u32, u32)>,
    clients_blocked: BTreeSet<u32>,
    /// CPU limits in force, percent of one CPU by ordinal (put on a
    /// recreated container again).
    cpu_limits: BTreeMap<u32, u32>,
    /// The containers holding size-limited data volumes mounted
    /// ([`DockerEnsemble::hold_disk`]), by ordinal.
    disk_holders: BTreeMap<u32, ContainerAsync<GenericImage>>,
    closed: bool,
}

impl DockerEnsemble {
    /// Connect to the engine and create the run's network for `resource`
    /// (no members: the operator's first rounds create them).
    pub async fn create(
        resource: &ZookeeperCluster,
        settings: &DockerSettings,
        progress: &dyn Progress,
    ) -> Result<Self, DockerError> {
        let docker = engine::connect().await?;
        let names = crate::operator::k8s::build::names(resource);
        crate::backend::local::naming::validate_cluster_name(&names.name)
            .map_err(|e| DockerError::Invalid(e.to_string()))?;
        let dn = DockerNames::new(RunId::generate(), names);
        if docker.inspect_container(&dn.container(0), None).await.is_ok() {
            return Err(DockerError::NameInUse { name: dn.names.name.clone(), container: dn.container(0) });
        }
        progress.stage(&format!("creating network {}", dn.network()));
        let labels: std::collections::HashMap<String, String> = dn.labels().into_iter().collect();
        docker
            .create_network(NetworkCreateRequest {
                name: dn.network(),
                driver: Some("bridge".into()),
                labels: Some(labels),
                ..Default::default()
            })
            .await
            .map_err(DockerError::api(format!("create network {}", dn.network())))?;
        let run_dir = settings.work_dir.join("docker").join(dn.run.as_str());
        let mut me = Self {
            docker,
            resource: resource.clone(),
            settings: settings.clone(),
            credential: SuperCredential::generate(),
            admin_port: resource.spec.admin_server_port,
            gateway: Ipv4Addr::UNSPECIFIED,
            run_dir,
            images: BTreeMap::new(),
            pods: BTreeMap::new(),
            operator: None,
            blocked: BTreeSet::new(),
            clients_blocked: BTreeSet::new(),
            cpu_limits: BTreeMap::new(),
            disk_holders: BTreeMap::new(),
            closed: false,
            dn,
        };
        // From here on `me` owns what exists; an early return drops it and
        // the drop removes it.
        let net = me
            .docker
            .inspect_network(&me.dn.network(), None)
            .await
            .map_err(DockerError::api(format!("inspect network {}", me.dn.network())))?;
        me.gateway = net
            .ipam
            .and_then(|i| i.config)
            .and_then(|c| c.into_iter().find_map(|c| c.gateway))
            .and_then(|g| g.parse().ok())
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        me.add_image(&resource.spec.version, progress).await?;
        Ok(me)
    }

    /// The run's names.
    pub fn docker_names(&self) -> &DockerNames {
        &self.dn
    }

    /// What probes need, as of now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            names: Some(self.dn.names.clone()),
            pods: self.pods.iter().map(|(o, m)| (*o, (m.addr, m.template.clone()))).collect(),
            admin_port: self.admin_port,
            run: Some(self.dn.run.clone()),
            log_dir: self.run_dir.join("logs"),
            docker: Some(self.docker.clone()),
        }
    }

    /// The engine connection.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    async fn add_image(&mut self, version: &str, progress: &dyn Progress) -> Result<(), DockerError> {
        if self.images.contains_key(version) {
            return Ok(());
        }
        let image = match self.settings.image.clone().or_else(|| self.resource.spec.image.clone()) {
            Some(user) => {
                if !image::exists(&self.docker, &user).await {
                    progress.stage(&format!("{user} is not on this engine; testcontainers will try to pull it"));
                }
                user
            }
            None => image::build(&self.docker, version, &self.settings.dist, false, progress).await?.image,
        };
        self.images.insert(version.to_string(), image);
        Ok(())
    }

    fn member(&self, ordinal: u32) -> Result<&Member, DockerError> {
        self.pods.get(&ordinal).ok_or(DockerError::NoSuchPod(ordinal))
    }

    fn seed_dir(&self, ordinal: u32) -> PathBuf {
        self.run_dir.join("seed").join(self.dn.names.pod(ordinal))
    }

    /// The member's log directory on the host (created, owned by the
    /// container's user): the server logs there while it runs, and the
    /// logs stay with the run after teardown, as on the local backend.
    fn log_dir(&self, ordinal: u32, user: Option<&str>) -> Result<PathBuf, DockerError> {
        let dir = self.run_dir.join("logs").join(self.dn.names.pod(ordinal));
        let io = |source| DockerError::Io { path: dir.clone(), source };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut ids = user.unwrap_or_default().split(':').map(|i| i.parse::<u32>().ok());
        let (uid, gid) = (ids.next().flatten(), ids.next().flatten());
        if uid.is_some() {
            std::os::unix::fs::chown(&dir, uid, gid.or(uid)).map_err(io)?;
        }
        Ok(dir)
    }

    /// Write the member's seed directory (its view of the ConfigMap).
    fn write_seed(
        &self,
        ordinal: u32,
        template: &PodTemplate,
        initial: Option<&DynamicConfig>,
    ) -> Result<(), DockerError> {
        let dir = self.seed_dir(ordinal);
        let io = |path: PathBuf| move |source| DockerError::Io { path, source };
        std::fs::create_dir_all(&dir).map_err(io(dir.clone()))?;
        let keep = std::fs::read_to_string(dir.join(crate::operator::k8s::KEY_DYNAMIC)).ok();
        let initial = match (initial, keep) {
            (Some(d), _) => d.clone(),
            (None, Some(text)) => DynamicConfig::parse(&text).unwrap_or_default(),
            (None, None) => DynamicConfig::default(),
        };
        let files = spec::seed_files(template, &initial).map_err(spec::SpecError::from)?;
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(io(p.clone()))?;
        }
        Ok(())
    }

    fn container_spec(&self, ordinal: u32, template: &PodTemplate) -> Result<ContainerSpec, DockerError> {
        let image = self.images.get(&template.version).cloned().ok_or_else(|| DockerError::Image {
            image: template.version.clone(),
            why: "this version was not prepared for the run".into(),
        })?;
        let zk = spec::member_resource(&self.resource, template, &image);
        Ok(spec::container_spec(&zk, ordinal, &template.revision, &self.credential)?)
    }

    /// Create and start member `ordinal`'s container with testcontainers.
    async fn create_container(&mut self, ordinal: u32) -> Result<(), DockerError> {
        let template = self.member(ordinal)?.template.clone();
        let c = self.container_spec(ordinal, &template)?;
        let (repo, tag) = split_image(&c.image);
        let name = self.dn.container(ordinal);
        let mut labels = c.labels.clone();
        labels.extend(self.dn.member_labels(ordinal));
        let entrypoint = c.command.first().cloned().unwrap_or_else(|| "/bin/bash".into());
        let logs = self.log_dir(ordinal, c.user.as_deref())?;
        let mut req = GenericImage::new(repo, tag)
            .with_entrypoint(&entrypoint)
            .with_cmd(c.command.iter().skip(1).cloned())
            .with_container_name(&name)
            .with_hostname(&c.hostname)
            .with_network(self.dn.network())
            .with_mount(Mount::volume_mount(self.dn.volume(ordinal), &c.data_mount))
            .with_mount(
                Mount::bind_mount(self.seed_dir(ordinal).to_string_lossy(), &c.config_mount)
                    .with_access_mode(AccessMode::ReadOnly),
            )
            .with_mount(Mount::bind_mount(logs.to_string_lossy(), LOG_MOUNT))
            .with_env_var(LOG_DIR_ENV, LOG_MOUNT)
            .with_labels(labels)
            .with_startup_timeout(Duration::from_secs(60));
        for (k, v) in &c.env {
            req = req.with_env_var(k, v);
        }
        if let Some(user) = &c.user {
            req = req.with_user(user);
        }
        if let Some(r) = &c.readiness {
            req = req.with_health_check(
                Healthcheck::cmd(r.command.clone())
                    .with_interval(r.every)
                    .with_timeout(r.timeout)
                    .with_retries(r.retries)
                    .with_start_period(r.start_period),
            );
        }
        let container = testcontainers::runners::AsyncRunner::start(req)
            .await
            .map_err(|source| DockerError::Start { container: name.clone(), source })?;
        let m = self.pods.get_mut(&ordinal).expect("checked");
        m.container = Some(container);
        m.container_revision = template.revision;
        self.refresh_addr(ordinal).await?;
        self.reapply_cuts().await;
        if let Some(p) = self.cpu_limits.get(&ordinal).copied() {
            self.set_cpu(ordinal, Some(p)).await?;
        }
        Ok(())
    }

    async fn refresh_addr(&mut self, ordinal: u32) -> Result<(), DockerError> {
        let name = self.dn.container(ordinal);
        let i =
            self.docker.inspect_container(&name, None).await.map_err(DockerError::api(format!("inspect {name}")))?;
        if let Some(a) = address_on(&i, &self.dn.network())
            && let Some(m) = self.pods.get_mut(&ordinal)
        {
            m.addr = a;
        }
        Ok(())
    }

    /// The pid of member `ordinal`'s container (its network namespace).
    async fn pid(&self, ordinal: u32) -> Result<u32, DockerError> {
        container_pid(&self.docker, &self.dn.container(ordinal))
            .await?
            .ok_or_else(|| DockerError::NotRunning(self.dn.names.pod(ordinal)))
    }

    /// Run `cmd` in member `ordinal`'s network namespace (`nsenter -t
    /// <pid> -n`); its stdout.
    async fn in_netns(&self, ordinal: u32, cmd: &[&str]) -> Result<String, DockerError> {
        let pid = self.pid(ordinal).await?.to_string();
        let out = tokio::process::Command::new("nsenter")
            .args(["-t", pid.as_str(), "-n"])
            .args(cmd)
            .output()
            .await
            .map_err(|e| DockerError::Tool { tool: "nsenter".into(), why: e.to_string() })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(DockerError::Tool {
                tool: format!("nsenter -t {pid} -n {}", cmd.join(" ")),
                why: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    /// Run `ip args` in member `ordinal`'s network namespace.
    async fn ip_in(&self, ordinal: u32, args: &[&str]) -> Result<String, DockerError> {
        let cmd: Vec<&str> = std::iter::once("ip").chain(args.iter().copied()).collect();
        self.in_netns(ordinal, &cmd).await
    }

    /// In `from`'s network namespace, blackhole `to`'s address.
    pub async fn block(&mut self, from: u32, to: u32) -> Result<(), DockerError> {
        let dst = format!("{}/32", self.member(to)?.addr);
        self.ip_in(from, &["route", "replace", "blackhole", &dst]).await?;
        self.blocked.insert((from, to));
        Ok(())
    }

    /// Undo [`Self::block`] (gone already is fine).
    pub async fn unblock(&mut self, from: u32, to: u32) -> Result<(), DockerError> {
        self.blocked.remove(&(from, to));
        let Ok(m) = self.member(to) else { return Ok(()) };
        let dst = format!("{}/32", m.addr);
        self.unroute(from, &dst).await
    }

    /// In the member's namespace, blackhole the host's address on the
    /// network: the harness's clients and probes get no answers.
    pub async fn block_clients(&mut self, ordinal: u32) -> Result<(), DockerError> {
        let dst = format!("{}/32", self.gateway);
        self.ip_in(ordinal, &["route", "replace", "blackhole", &dst]).await?;
        self.clients_blocked.insert(ordinal);
        Ok(())
    }

    /// Undo [`Self::block_clients`].
    pub async fn unblock_clients(&mut self, ordinal: u32) -> Result<(), DockerError> {
        self.clients_blocked.remove(&ordinal);
        let dst = format!("{}/32", self.gateway);
        self.unroute(ordinal, &dst).await
    }

    async fn unroute(&self, from: u32, dst: &str) -> Result<(), DockerError> {
        match self.ip_in(from, &["route", "del", "blackhole", dst]).await {
            Err(DockerError::Tool { why, .. }) if why.contains("No such process") => Ok(()),
            Err(DockerError::NotRunning(_) | DockerError::NoSuchPod(_)) => Ok(()),
            r => r.map(drop),
        }
    }

    /// A restarted container has a new network namespace: put the cuts
    /// in force back.
    async fn reapply_cuts(&self) {
        for (from, to) in &self.blocked {
            if let Ok(m) = self.member(*to) {
                let dst = format!("{}/32", m.addr);
                let _ = self.ip_in(*from, &["route", "replace", "blackhole", &dst]).await;
            }
        }
        for o in &self.clients_blocked {
            let dst = format!("{}/32", self.gateway);
            let _ = self.ip_in(*o, &["route", "replace", "blackhole", &dst]).await;
        }
    }

    /// `tc qdisc replace dev eth0 root netem <args>` in the member's namespace.
    pub async fn netem(&self, ordinal: u32, args: &[String]) -> Result<(), DockerError> {
        let mut cmd = vec!["tc", "qdisc", "replace", "dev", "eth0", "root", "netem"];
        cmd.extend(args.iter().map(String::as_str));
        self.in_netns(ordinal, &cmd).await.map(drop)
    }

    /// Remove the netem qdisc (gone already is fine).
    pub async fn clear_netem(&self, ordinal: u32) -> Result<(), DockerError> {
        let Ok(pid) = self.pid(ordinal).await else { return Ok(()) };
        let pid = pid.to_string();
        let _ = tokio::process::Command::new("nsenter")
            .args(["-t", &pid, "-n", "tc", "qdisc", "del", "dev", "eth0", "root"])
            .output()
            .await;
        Ok(())
    }

    /// Limit member `ordinal`'s container to `percent` of one CPU (its CFS
    /// quota, through the engine). The container keeps it across a kill
    /// and restart; a recreated one gets it again.
    pub async fn limit_cpu(&mut self, ordinal: u32, percent: u32) -> Result<(), DockerError> {
        cpu::update(Some(percent)).map_err(|e| DockerError::Invalid(e.to_string()))?;
        if self.member(ordinal)?.container.is_some() {
            self.set_cpu(ordinal, Some(percent)).await?;
        }
        self.cpu_limits.insert(ordinal, percent);
        Ok(())
    }

    /// Undo [`Self::limit_cpu`]: no quota (no limit, or no container, is
    /// fine).
    pub async fn unlimit_cpu(&mut self, ordinal: u32) -> Result<(), DockerError> {
        self.cpu_limits.remove(&ordinal);
        if self.pods.get(&ordinal).is_none_or(|m| m.container.is_none()) {
            return Ok(());
        }
        match self.set_cpu(ordinal, None).await {
            Err(DockerError::Api { source, .. }) if DockerError::is_not_found(&source) => Ok(()),
            r => r,
        }
    }

    /// Set the container's CFS quota: `percent` of one CPU, or none.
    async fn set_cpu(&self, ordinal: u32, percent: Option<u32>) -> Result<(), DockerError> {
        let (period, quota) = cpu::update(percent).map_err(|e| DockerError::Invalid(e.to_string()))?;
        let name = self.dn.container(ordinal);
        let body = ContainerUpdateBody { cpu_period: Some(period), cpu_quota: Some(quota), ..Default::default() };
        self.docker.update_container(&name, body).await.map_err(DockerError::api(format!("update {name}")))
    }

    /// SIGKILL the member's server (its container stops; kubelet, that is
    /// the operator's restart loop, starts it again with its volume).
    pub async fn kill_pod(&mut self, ordinal: u32) -> Result<(), DockerError> {
        let name = self.dn.container(ordinal);
        self.member(ordinal)?;
        let opts = KillContainerOptions { signal: "SIGKILL".into() };
        match self.docker.kill_container(&name, Some(opts)).await {
            Err(e) if DockerError::is_conflict(&e) || DockerError::is_not_found(&e) => Ok(()),
            r => r.map_err(DockerError::api(format!("kill {name}"))),
        }?;
        self.wait_stopped(&name).await;
        Ok(())
    }

    async fn wait_stopped(&self, name: &str) {
        for _ in 0..100 {
            match self.docker.inspect_container(name, None).await {
                Ok(i) if i.state.as_ref().and_then(|s| s.running) == Some(true) => {}
                _ => return,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stop the member's server process (SIGSTOP; see [`pause`]).
    pub async fn pause_pod(&self, ordinal: u32) -> Result<(), DockerError> {
        pause(&self.docker, &self.dn.container(ordinal)).await
    }

    /// Continue it (SIGCONT; not stopped, or gone, is fine).
    pub async fn resume_pod(&self, ordinal: u32) -> Result<(), DockerError> {
        resume(&self.docker, &self.dn.container(ordinal)).await
    }

    /// Keep member `ordinal`'s size-limited data volume mounted: Docker's
    /// local driver mounts a tmpfs volume while a container uses it and
    /// unmounts it (its data gone) when the last one stops, so a killed
    /// member would come back to an empty disk. A small container of the
    /// member's image (`sleep infinity`, no network) holds it, as the node
    /// holds a PersistentVolume; the disk faults act through it.
    async fn hold_disk(&mut self, ordinal: u32, version: &str) -> Result<(), DockerError> {
        if self.disk_holders.contains_key(&ordinal) {
            return Ok(());
        }
        let image = self.images.get(version).cloned().ok_or_else(|| DockerError::Image {
            image: version.to_string(),
            why: "this version was not prepared for the run".into(),
        })?;
        let (repo, tag) = split_image(&image);
        let name = self.dn.disk_holder(ordinal);
        let req = GenericImage::new(repo, tag)
            .with_entrypoint("sleep")
            .with_cmd(["infinity"])
            .with_container_name(&name)
            .with_network("none")
            .with_mount(Mount::volume_mount(self.dn.volume(ordinal), disk::HOLDER_MOUNT))
            .with_labels(self.dn.labels())
            .with_startup_timeout(Duration::from_secs(60));
        let c = testcontainers::runners::AsyncRunner::start(req)
            .await
            .map_err(|source| DockerError::Start { container: name, source })?;
        self.disk_holders.insert(ordinal, c);
        Ok(())
    }

    /// Run `script` (sh) in member `ordinal`'s disk holder; its stdout.
    async fn in_disk_holder(&self, ordinal: u32, script: &str) -> Result<String, DockerError> {
        let holder = self.disk_holders.get(&ordinal).ok_or_else(|| {
            DockerError::Invalid(format!(
                "{} has no size-limited data disk: give the ensemble one (`with 64 MiB data disks`) rather than fill the host's disk",
                self.dn.names.pod(ordinal)
            ))
        })?;
        let name = self.dn.disk_holder(ordinal);
        let tool = |why: String| DockerError::Tool { tool: format!("sh -c '{script}' in {name}"), why };
        let mut r = holder
            .exec(testcontainers::core::ExecCommand::new(["sh", "-c", script]))
            .await
            .map_err(|e| tool(e.to_string()))?;
        let out = r.stdout_to_vec().await.map_err(|e| tool(e.to_string()))?;
        let err = r.stderr_to_vec().await.unwrap_or_default();
        // The scripts print `ok` last when they succeed (the exec's exit
        // code would need a shared borrow of a stream that is not `Sync`).
        let out = String::from_utf8_lossy(&out).into_owned();
        match out.trim_end().strip_suffix(disk::DONE) {
            Some(rest) => Ok(rest.trim().to_string()),
            None => Err(tool(format!("it did not finish: {} {}", out.trim(), String::from_utf8_lossy(&err).trim()))),
        }
    }

    /// Fill member `ordinal`'s size-limited data disk with the ballast;
    /// the bytes written.
    pub async fn fill_disk(&self, ordinal: u32) -> Result<u64, DockerError> {
        let out = self.in_disk_holder(ordinal, &disk::fill_script()).await?;
        out.trim().parse().map_err(|_| DockerError::Tool {
            tool: format!("filling the data disk of {}", self.dn.names.pod(ordinal)),
            why: format!("expected the ballast's size in bytes, got {out:?}"),
        })
    }

    /// Remove the ballast (gone already is fine).
    pub async fn free_disk(&self, ordinal: u32) -> Result<(), DockerError> {
        self.in_disk_holder(ordinal, &disk::free_script()).await.map(drop)
    }

    /// Stop every member and remove the run's containers, network and
    /// volumes (by the run's label); the server logs stay in the run dir.
    pub async fn teardown(mut self) -> Result<(), DockerError> {
        for m in self.pods.values_mut() {
            if let Some(c) = m.container.take() {
                let _ = c.stop_with_timeout(Some(5)).await;
                std::mem::forget(c);
            }
        }
        // Our sweep removes the holders (they carry the run's label).
        for (_, h) in std::mem::take(&mut self.disk_holders) {
            std::mem::forget(h);
        }
        let failed = cleanup::remove_run(&self.docker, &self.dn.run).await;
        self.closed = true;
        if failed.is_empty() { Ok(()) } else { Err(DockerError::Leftovers(failed)) }
    }
}

impl Drop for DockerEnsemble {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        // Our sweep removes the containers; testcontainers need not.
        for m in self.pods.values_mut() {
            if let Some(c) = m.container.take() {
                std::mem::forget(c);
            }
        }
        for (_, h) in std::mem::take(&mut self.disk_holders) {
            std::mem::forget(h);
        }
        cleanup::remove_run_blocking(self.dn.run.clone());
    }
}

/// Stop `container`'s server process with SIGSTOP (a long GC pause, a
/// stalled VM), with no lock of the ensemble held: [`super::DockerCluster`]
/// pauses members this way. The server is the container's init (the image's
/// start script execs java); its host pid comes from the engine (the same
/// pid the network faults `nsenter`), and the signal is sent from here, as
/// the local backend does, so it lands within milliseconds of the decision.
/// The engine's own paths were too slow for a pause a server event
/// triggers: `docker pause` (the cgroup freezer) took 50 to 390 ms on a
/// loaded host and sometimes gave up ("unable to freeze"), and a signal
/// through `docker kill` still missed a 186 ms window.
pub async fn pause(docker: &Docker, container: &str) -> Result<(), DockerError> {
    let pid = container_pid(docker, container).await?.ok_or_else(|| DockerError::NotRunning(container.into()))?;
    crate::sys::signal(pid, nix::sys::signal::Signal::SIGSTOP)
        .map_err(|source| DockerError::Signal { what: format!("SIGSTOP of {container}'s server (pid {pid})"), source })
}

/// Continue `container`'s server process (SIGCONT, through the engine, to
/// whatever process is its init now); not stopped, not running or gone is
/// fine: nothing is left stopped.
pub async fn resume(docker: &Docker, container: &str) -> Result<(), DockerError> {
    let opts = KillContainerOptions { signal: "SIGCONT".to_string() };
    match docker.kill_container(container, Some(opts)).await {
        Err(e) if DockerError::is_conflict(&e) || DockerError::is_not_found(&e) => Ok(()),
        r => r.map_err(DockerError::api(format!("SIGCONT {container}"))),
    }
}

/// The host pid of `container`'s init (its server), `None` when it is not
/// running.
async fn container_pid(docker: &Docker, container: &str) -> Result<Option<u32>, DockerError> {
    let i =
        docker.inspect_container(container, None).await.map_err(DockerError::api(format!("inspect {container}")))?;
    Ok(i.state.and_then(|s| s.pid).filter(|p| *p > 0).map(|p| p as u32))
}

/// `repo[:tag]` -> (`repo`, `tag`), `latest` when untagged.
pub fn split_image(image: &str) -> (String, String) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (image[..slash + i].to_string(), image[slash + i + 1..].to_string()),
        None => (image.to_string(), "latest".to_string()),
    }
}

fn sup(e: DockerError) -> SupervisorError {
    SupervisorError::Docker(Box::new(e))
}

#[async_trait]
impl PodRuntime for DockerEnsemble {
    fn names(&self) -> &EnsembleNames {
        &self.dn.names
    }
    fn run_label(&self) -> String {
        self.dn.run.to_string()
    }
    fn ordinals(&self) -> Vec<u32> {
        self.pods.keys().copied().collect()
    }
    fn templates(&self) -> BTreeMap<u32, PodTemplate> {
        self.pods.iter().map(|(o, m)| (*o, m.template.clone())).collect()
    }
    async fn pod_running(&mut self, ordinal: u32) -> bool {
        if self.pods.get(&ordinal).is_none_or(|m| m.container.is_none()) {
            return false;
        }
        let name = self.dn.container(ordinal);
        match self.docker.inspect_container(&name, None).await {
            Ok(i) => i.state.and_then(|s| s.running).unwrap_or(false),
            Err(_) => false,
        }
    }
    async fn start_pod(&mut self, ordinal: u32) -> Result<(), SupervisorError> {
        let m = self.member(ordinal).map_err(sup)?;
        let current = m.container.is_some() && m.container_revision == m.template.revision;
        if !current {
            // A new template (or no container): the pod is recreated.
            if let Some(c) = self.pods.get_mut(&ordinal).and_then(|m| m.container.take()) {
                c.rm()
                    .await
                    .map_err(|source| sup(DockerError::Start { container: self.dn.container(ordinal), source }))?;
            }
            return self.create_container(ordinal).await.map_err(sup);
        }
        if self.pod_running(ordinal).await {
            return Ok(());
        }
        let name = self.dn.container(ordinal);
        self.docker
            .start_container(&name, None)
            .await
            .map_err(|e| sup(DockerError::api(format!("start {name}"))(e)))?;
        self.refresh_addr(ordinal).await.map_err(sup)?;
        self.reapply_cuts().await;
        Ok(())
    }
    async fn stop_pod(&mut self, ordinal: u32) -> Result<(), SupervisorError> {
        if self.pods.get(&ordinal).is_none_or(|m| m.container.is_none()) {
            return Ok(());
        }
        let _ = self.resume_pod(ordinal).await;
        let name = self.dn.container(ordinal);
        let opts = StopContainerOptions { signal: None, t: Some(STOP_GRACE.as_secs() as i32) };
        match self.docker.stop_container(&name, Some(opts)).await {
            Err(e) if DockerError::is_not_found(&e) => Ok(()),
            r => r.map_err(|e| sup(DockerError::api(format!("stop {name}"))(e))),
        }
    }
    async fn add_pod(
        &mut self,
        ordinal: u32,
        template: &PodTemplate,
        initial: &DynamicConfig,
    ) -> Result<(), SupervisorError> {
        if self.pods.contains_key(&ordinal) {
            return Err(crate::backend::local::EnsembleError::Invalid(format!(
                "pod {} already exists",
                self.dn.names.pod(ordinal)
            ))
            .into());
        }
        let vol = self.dn.volume(ordinal);
        let fresh = self.docker.inspect_volume(&vol).await.is_err();
        if fresh {
            let labels = self.dn.member_labels(ordinal).into_iter().collect();
            self.docker
                .create_volume(VolumeCreateRequest {
                    name: Some(vol.clone()),
                    labels: Some(labels),
                    driver_opts: self.settings.data_disk_mb.map(disk::volume_options),
                    ..Default::default()
                })
                .await
                .map_err(|e| sup(DockerError::api(format!("create volume {vol}"))(e)))?;
        }
        if self.settings.data_disk_mb.is_some() {
            self.hold_disk(ordinal, &template.version).await.map_err(sup)?;
        }
        self.write_seed(ordinal, template, Some(initial)).map_err(sup)?;
        self.pods.insert(
            ordinal,
            Member {
                template: template.clone(),
                container: None,
                container_revision: String::new(),
                addr: Ipv4Addr::UNSPECIFIED,
            },
        );
        if let Err(e) = self.create_container(ordinal).await {
            self.pods.remove(&ordinal);
            return Err(sup(e));
        }
        Ok(())
    }
    async fn remove_pod(&mut self, ordinal: u32, release_volume: bool) -> Result<(), SupervisorError> {
        PodRuntime::stop_pod(self, ordinal).await?;
        self.blocked.retain(|(a, b)| *a != ordinal && *b != ordinal);
        self.clients_blocked.remove(&ordinal);
        self.cpu_limits.remove(&ordinal);
        if let Some(m) = self.pods.remove(&ordinal)
            && let Some(c) = m.container
        {
            c.rm().await.map_err(|source| sup(DockerError::Start { container: self.dn.container(ordinal), source }))?;
        }
        if release_volume {
            PodRuntime::release_volume(self, ordinal).await?;
        }
        Ok(())
    }
    async fn add_version(&mut self, version: &str, _cfg: &DistConfig) -> Result<(), SupervisorError> {
        self.add_image(version, &NoProgress).await.map_err(sup)
    }
    async fn set_pod_template(&mut self, ordinal: u32, template: &PodTemplate) -> Result<(), SupervisorError> {
        self.write_seed(ordinal, template, None).map_err(sup)?;
        let m = self.pods.get_mut(&ordinal).ok_or(DockerError::NoSuchPod(ordinal)).map_err(sup)?;
        m.template = template.clone();
        Ok(())
    }
    async fn status(&self) -> EnsembleStatus {
        self.snapshot().probe().await
    }
    async fn volumes(&self) -> BTreeSet<u32> {
        let filters = [("label".to_string(), vec![format!("{LABEL_RUN}={}", self.dn.run)])].into_iter().collect();
        let opts = ListVolumesOptions { filters: Some(filters) };
        let Ok(list) = self.docker.list_volumes(Some(opts)).await else { return BTreeSet::new() };
        list.volumes.unwrap_or_default().iter().filter_map(|v| self.dn.ordinal_of_volume(&v.name)).collect()
    }
    async fn release_volume(&mut self, ordinal: u32) -> Result<(), SupervisorError> {
        if self.pods.contains_key(&ordinal) {
            return Err(crate::backend::local::EnsembleError::Invalid(format!(
                "{} still exists",
                self.dn.names.pod(ordinal)
            ))
            .into());
        }
        if let Some(h) = self.disk_holders.remove(&ordinal) {
            h.rm()
                .await
                .map_err(|source| sup(DockerError::Start { container: self.dn.disk_holder(ordinal), source }))?;
        }
        let vol = self.dn.volume(ordinal);
        match self.docker.remove_volume(&vol, Some(RemoveVolumeOptions { force: true })).await {
            Err(e) if DockerError::is_not_found(&e) => Ok(()),
            r => r.map_err(|e| sup(DockerError::api(format!("remove volume {vol}"))(e))),
        }
    }
    fn connect_string(&self) -> String {
        self.snapshot().connect_string()
    }
    fn credential(&self) -> &SuperCredential {
        &self.credential
    }
    fn operator_state(&self) -> Option<serde_json::Value> {
        self.operator.clone()
    }
    fn save_operator_state(&mut self, state: serde_json::Value) -> Result<(), SupervisorError> {
        self.operator = Some(state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_repository_and_tag() {
        assert_eq!(split_image("zk-chaos/zookeeper:3.8.0"), ("zk-chaos/zookeeper".into(), "3.8.0".into()));
        assert_eq!(split_image("zookeeper"), ("zookeeper".into(), "latest".into()));
        assert_eq!(split_image("registry:5000/zk"), ("registry:5000/zk".into(), "latest".into()));
        assert_eq!(split_image("registry:5000/zk:3.9"), ("registry:5000/zk".into(), "3.9".into()));
    }
}
