//! CPU starvation of one pod's server (a noisy neighbour, a throttled
//! container): the process is moved into a cgroup of its own under the cpu
//! controller with a CFS quota, `zkc-<run>-<ordinal>`, and moved back to the
//! harness's own cgroup to heal. Only cgroups carrying our prefix are ever
//! created or removed. cgroup v1 (`/sys/fs/cgroup/cpu`) and v2 (the unified
//! hierarchy, when the cpu controller is enabled for it) are supported.

use std::path::{Path, PathBuf};

use super::naming::{self, RunId};

/// The CFS period the quota is a share of (the docker backend's too).
pub const PERIOD_US: u64 = 100_000;

/// Why a CPU limit could not be set.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    /// No cpu controller the harness can use.
    #[error("no cgroup cpu controller here ({0}): CPU limits need cgroup v1's cpu controller or cgroup v2 with +cpu")]
    NoController(String),
    /// A percentage outside 1..=100.
    #[error("a CPU limit must be 1 to 100 percent of one CPU, not {0}")]
    Percent(u32),
    /// A cgroup file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Which cgroup hierarchy holds the cpu controller.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hierarchy {
    /// `/sys/fs/cgroup/cpu` (v1).
    V1(PathBuf),
    /// The unified hierarchy (v2).
    V2(PathBuf),
}

fn hierarchy() -> Result<Hierarchy, CpuError> {
    let v1 = Path::new("/sys/fs/cgroup/cpu");
    if v1.join("cpu.cfs_quota_us").exists() {
        return Ok(Hierarchy::V1(v1.to_path_buf()));
    }
    let v2 = Path::new("/sys/fs/cgroup");
    let controllers = std::fs::read_to_string(v2.join("cgroup.subtree_control")).unwrap_or_default();
    if controllers.split_whitespace().any(|c| c == "cpu") {
        return Ok(Hierarchy::V2(v2.to_path_buf()));
    }
    Err(CpuError::NoController("neither /sys/fs/cgroup/cpu nor a unified hierarchy with +cpu".into()))
}

impl Hierarchy {
    fn root(&self) -> &Path {
        match self {
            Self::V1(p) | Self::V2(p) => p,
        }
    }
}

/// The name of pod `ordinal`'s cgroup (the pod's namespace name).
pub fn cgroup_name(run: &RunId, ordinal: u32) -> String {
    run.netns(ordinal)
}

/// The CFS quota in microseconds per [`PERIOD_US`] for `percent` of one
/// CPU (1..=100), on every backend that limits CPU.
pub fn quota_us(percent: u32) -> Result<u64, CpuError> {
    if !(1..=100).contains(&percent) {
        return Err(CpuError::Percent(percent));
    }
    Ok(PERIOD_US * u64::from(percent) / 100)
}

/// The quota file contents for `percent` of one CPU: v1 `cpu.cfs_quota_us`
/// and v2 `cpu.max`.
pub fn quota(percent: u32) -> Result<(String, String), CpuError> {
    let q = quota_us(percent)?;
    Ok((q.to_string(), format!("{q} {PERIOD_US}")))
}

fn write(path: &Path, text: &str) -> Result<(), CpuError> {
    std::fs::write(path, text).map_err(|source| CpuError::Io { path: path.to_path_buf(), source })
}

/// Limit process `pid` (pod `ordinal` of `run`) to `percent` of one CPU.
pub fn limit(run: &RunId, ordinal: u32, pid: u32, percent: u32) -> Result<(), CpuError> {
    let (v1_quota, v2_max) = quota(percent)?;
    let h = hierarchy()?;
    let dir = h.root().join(cgroup_name(run, ordinal));
    if !dir.exists() {
        std::fs::create_dir(&dir).map_err(|source| CpuError::Io { path: dir.clone(), source })?;
    }
    match &h {
        Hierarchy::V1(_) => {
            write(&dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
            write(&dir.join("cpu.cfs_quota_us"), &v1_quota)?;
        }
        Hierarchy::V2(_) => write(&dir.join("cpu.max"), &v2_max)?,
    }
    write(&dir.join("cgroup.procs"), &pid.to_string())
}

/// The harness's own cgroup in the hierarchy (where its servers start).
fn own_cgroup(h: &Hierarchy) -> PathBuf {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let rel = text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = match h {
            Hierarchy::V1(_) => controllers.split(',').any(|c| c == "cpu"),
            Hierarchy::V2(_) => controllers.is_empty(),
        };
        hit.then(|| path.trim_start_matches('/').to_string())
    });
    h.root().join(rel.unwrap_or_default())
}

/// Remove pod `ordinal`'s limit: its processes go back to the harness's
/// cgroup and the cgroup is removed. Missing is fine.
pub fn unlimit(run: &RunId, ordinal: u32) {
    let Ok(h) = hierarchy() else { return };
    remove(&h, &h.root().join(cgroup_name(run, ordinal)));
}

fn remove(h: &Hierarchy, dir: &Path) {
    if !dir.exists() {
        return;
    }
    let back = own_cgroup(h).join("cgroup.procs");
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.split_whitespace() {
        let _ = std::fs::write(&back, pid);
    }
    let _ = std::fs::remove_dir(dir);
}

/// Every cgroup of ours (any run), by the prefix of pod namespace names.
pub fn our_cgroups() -> Vec<PathBuf> {
    let Ok(h) = hierarchy() else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(h.root()) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| naming::parse_netns(n).is_some()))
        .map(|e| e.path())
        .collect()
}

/// Remove our cgroups for which `keep` says no (their processes go back to
/// the harness's cgroup); returns how many were removed.
pub fn remove_where(select: impl Fn(&RunId) -> bool) -> usize {
    let Ok(h) = hierarchy() else { return 0 };
    let mut n = 0;
    for dir in our_cgroups() {
        let Some((run, _)) = dir.file_name().and_then(|n| n.to_str()).and_then(naming::parse_netns) else { continue };
        if select(&run) {
            remove(&h, &dir);
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_are_shares_of_one_cpu() {
        assert_eq!(quota(10).unwrap(), ("10000".to_string(), "10000 100000".to_string()));
        assert_eq!(quota(100).unwrap().0, "100000");
        assert_eq!(quota_us(10).unwrap(), 10_000);
        assert_eq!(quota_us(1).unwrap(), 1_000);
        assert!(matches!(quota_us(0), Err(CpuError::Percent(0))));
        assert!(matches!(quota(0), Err(CpuError::Percent(0))));
        assert!(matches!(quota(101), Err(CpuError::Percent(101))));
    }

    #[test]
    fn cgroups_are_named_like_the_pods_namespaces() {
        let run = RunId::try_from("a1b2c3".to_string()).unwrap();
        assert_eq!(cgroup_name(&run, 2), "zkc-a1b2c3-2");
        assert!(naming::parse_netns(&cgroup_name(&run, 2)).is_some());
    }
}
