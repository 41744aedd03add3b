//! The CPU-limit fault on the docker backend, live (`cargo test --features
//! docker --test docker_cpu`, with a running Docker engine): a member
//! limited to 10 percent of one CPU has the quota in the engine's
//! `HostConfig` and in its cgroup, and a busy loop in it is throttled; the
//! limit survives a kill and restart of the container; heal lifts the
//! quota (and a later restart does not bring it back); a percentage
//! outside 1..=100 is refused; a limited member pauses and resumes.
//! Without an engine it prints `NOT RUN: <why>` (never "passed").
//! `harness = false`: one live test with its own summary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use testcontainers::bollard::Docker;
use testcontainers::bollard::exec::{CreateExecOptions, StartExecResults};
use zk_chaos::backend::docker::{DockerCluster, DockerSettings};
use zk_chaos::dist::{DistConfig, NoProgress};
use zk_chaos::faults::FaultTarget as _;
use zk_chaos::operator::crd::{ZookeeperCluster, ZookeeperClusterSpec};

#[path = "support/live_docker.rs"]
mod live_docker;

const VERSION: &str = "3.9.6";

fn main() -> ExitCode {
    live_docker::main("docker_cpu", &[VERSION], async |docker| {
        let cfg = DistConfig::from_env();
        let work = tempfile::tempdir().unwrap();
        let settings =
            DockerSettings { image: None, work_dir: work.path().to_path_buf(), dist: cfg, data_disk_mb: None };
        let name = format!("cpu{}", std::process::id() % 100_000);
        let resource = ZookeeperCluster::new(&name, ZookeeperClusterSpec::new(1, VERSION));
        let cluster = match DockerCluster::create(resource, &settings, &NoProgress).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("docker_cpu: FAILED: cannot create the ensemble: {e}");
                return ExitCode::FAILURE;
            }
        };
        let r = limit_and_heal(&cluster, &docker).await;
        if let Err(e) = zk_chaos::backend::Cluster::teardown(&cluster).await {
            eprintln!("docker_cpu: teardown: {e}");
        }
        match r {
            Ok(()) => {
                println!("docker_cpu: passed");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("docker_cpu: FAILED: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// What the engine and the kernel say about the container's CPU limit.
#[derive(Debug)]
struct Seen {
    /// `HostConfig.CpuQuota` and `CpuPeriod`.
    quota: i64,
    period: i64,
    /// `cpu.cfs_quota_us` (v1) or the quota half of `cpu.max` (v2).
    cgroup_quota: String,
    /// Periods the container was throttled in during a 2 s busy loop in it.
    throttled: u64,
}

async fn limit_and_heal(cluster: &DockerCluster, docker: &Docker) -> Result<(), String> {
    // The operator's first rounds create the member.
    let until = Instant::now() + Duration::from_secs(120);
    let ordinal = loop {
        if let Some(o) = cluster.members().await.first() {
            break *o;
        }
        if Instant::now() > until {
            return Err("no member within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let container = cluster.snapshot().names.ok_or("no names")?.pod_fqdn(ordinal);
    wait_running(docker, &container).await?;

    cluster.limit_cpu(ordinal, 10).await.map_err(|e| format!("limit: {e}"))?;
    let limited = observe(docker, &container).await?;
    println!("docker_cpu: limited to 10%: {limited:?}");
    check(limited.quota == 10_000 && limited.period == 100_000, "HostConfig quota 10000/100000", &limited)?;
    check(limited.cgroup_quota == "10000", "cgroup quota 10000", &limited)?;
    check(limited.throttled > 0, "a busy loop throttled", &limited)?;

    // A limited member pauses (SIGSTOP to its server, straight through the
    // engine) and resumes: the server process's state says so.
    let i = docker.inspect_container(&container, None).await.map_err(|e| e.to_string())?;
    let pid = i.state.as_ref().and_then(|s| s.pid).filter(|p| *p > 0).ok_or("no server pid")?;
    let state = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_string))
    };
    cluster.pause_pod(ordinal).await.map_err(|e| format!("pause: {e}"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while state().as_deref() != Some("T") {
        if std::time::Instant::now() > deadline {
            return Err(format!("{container}'s server (pid {pid}) not stopped after pause_pod: state {:?}", state()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.resume_pod(ordinal).await.map_err(|e| format!("resume: {e}"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while state().as_deref() == Some("T") {
        if std::time::Instant::now() > deadline {
            return Err(format!("{container}'s server (pid {pid}) still stopped after resume_pod"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Killed and started again (the same container): the limit stays.
    cluster.kill_pod(ordinal).await.map_err(|e| format!("kill: {e}"))?;
    cluster.start_pod(ordinal).await.map_err(|e| format!("start: {e}"))?;
    wait_running(docker, &container).await?;
    let restarted = observe(docker, &container).await?;
    println!("docker_cpu: limited, killed and restarted: {restarted:?}");
    check(restarted.quota == 10_000 && restarted.cgroup_quota == "10000", "the limit kept", &restarted)?;

    cluster.unlimit_cpu(ordinal).await.map_err(|e| format!("heal: {e}"))?;
    let healed = observe(docker, &container).await?;
    println!("docker_cpu: healed: {healed:?}");
    check(healed.quota == -1, "HostConfig quota -1 (none)", &healed)?;
    check(healed.cgroup_quota == "-1" || healed.cgroup_quota == "max", "no cgroup quota", &healed)?;
    check(healed.throttled == 0, "a busy loop not throttled", &healed)?;

    // A restart after heal does not bring a stale limit back.
    cluster.kill_pod(ordinal).await.map_err(|e| format!("kill: {e}"))?;
    cluster.start_pod(ordinal).await.map_err(|e| format!("start: {e}"))?;
    wait_running(docker, &container).await?;
    let again = observe(docker, &container).await?;
    println!("docker_cpu: healed, killed and restarted: {again:?}");
    check(again.quota == -1 && again.throttled == 0, "still no limit", &again)?;

    // Healing twice is fine; a share outside 1..=100 is refused, with the
    // local backend's words.
    cluster.unlimit_cpu(ordinal).await.map_err(|e| format!("second heal: {e}"))?;
    for bad in [0, 101] {
        match cluster.limit_cpu(ordinal, bad).await {
            Err(e) if e.to_string().contains("must be 1 to 100 percent of one CPU") => {}
            r => return Err(format!("limit to {bad}%: expected a refusal, got {r:?}")),
        }
    }
    Ok(())
}

fn check(ok: bool, what: &str, seen: &Seen) -> Result<(), String> {
    if ok { Ok(()) } else { Err(format!("expected {what}, saw {seen:?}")) }
}

async fn wait_running(docker: &Docker, container: &str) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(120);
    while Instant::now() < until {
        if let Ok(i) = docker.inspect_container(container, None).await
            && i.state.and_then(|s| s.pid).is_some_and(|p| p > 0)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("{container} did not run within 120 s"))
}

async fn observe(docker: &Docker, container: &str) -> Result<Seen, String> {
    let i = docker.inspect_container(container, None).await.map_err(|e| format!("inspect {container}: {e}"))?;
    let host = i.host_config.ok_or("no HostConfig")?;
    let pid = i.state.and_then(|s| s.pid).filter(|p| *p > 0).ok_or("not running")?;
    let dir = cpu_cgroup(pid as u32)?;
    let cgroup_quota = match std::fs::read_to_string(dir.join("cpu.cfs_quota_us")) {
        Ok(q) => q.trim().to_string(),
        Err(_) => read(&dir.join("cpu.max"))?.split_whitespace().next().unwrap_or_default().to_string(),
    };
    let before = throttled(&dir)?;
    busy(docker, container).await?;
    let throttled = throttled(&dir)? - before;
    Ok(Seen { quota: host.cpu_quota.unwrap_or(0), period: host.cpu_period.unwrap_or(0), cgroup_quota, throttled })
}

fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// The cgroup directory holding `pid`'s cpu controller (v1 or v2).
fn cpu_cgroup(pid: u32) -> Result<PathBuf, String> {
    let text = read(Path::new(&format!("/proc/{pid}/cgroup")))?;
    for l in text.lines() {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "cpu") {
            for root in ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"] {
                let d = Path::new(root).join(path);
                if d.join("cpu.cfs_quota_us").exists() {
                    return Ok(d);
                }
            }
        }
        if controllers.is_empty() && Path::new("/sys/fs/cgroup").join(path).join("cpu.max").exists() {
            return Ok(Path::new("/sys/fs/cgroup").join(path));
        }
    }
    Err(format!("no cpu cgroup for pid {pid}: {text}"))
}

fn throttled(dir: &Path) -> Result<u64, String> {
    let stat = read(&dir.join("cpu.stat"))?;
    stat.lines()
        .find_map(|l| l.strip_prefix("nr_throttled ")?.trim().parse().ok())
        .ok_or_else(|| format!("no nr_throttled in {}", dir.join("cpu.stat").display()))
}

/// Spin a CPU in the container for 2 s.
async fn busy(docker: &Docker, container: &str) -> Result<(), String> {
    let cmd = vec!["timeout", "2", "sh", "-c", "while :; do :; done"];
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("exec in {container}: {e}"))?;
    match docker.start_exec(&exec.id, None).await.map_err(|e| format!("exec in {container}: {e}"))? {
        StartExecResults::Attached { mut output, .. } => while output.next().await.is_some() {},
        StartExecResults::Detached => return Err("the exec detached".into()),
    }
    Ok(())
}
