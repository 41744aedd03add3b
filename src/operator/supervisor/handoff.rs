//! How `zk-chaos apply` reaches a run: one supervisor at a time holds the
//! run's lock; another process that wants to change the spec either takes
//! the lock and supervises itself, or drops the new spec into the run dir
//! for the live supervisor to pick up on its next round.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::operator::crd::ZookeeperClusterSpec;

/// Handoff failures.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// File I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The dropped spec is unreadable.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
}

/// The exclusive right to supervise one run, held until dropped.
pub struct SupervisorLock {
    _lock: Flock<File>,
}

fn lock_path(run_dir: &Path) -> PathBuf {
    run_dir.join("supervisor.lock")
}

fn desired_path(run_dir: &Path) -> PathBuf {
    run_dir.join("desired-spec.json")
}

impl SupervisorLock {
    /// Take the lock, or `None` when another process supervises the run.
    pub fn try_acquire(run_dir: &Path) -> Result<Option<Self>, HandoffError> {
        let path = lock_path(run_dir);
        let file = File::create(&path).map_err(|source| HandoffError::Io { path: path.clone(), source })?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(Self { _lock: lock })),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(HandoffError::Io { path, source: e.into() }),
        }
    }
}

/// Leave a new spec for the live supervisor of the run.
pub fn offer_spec(run_dir: &Path, spec: &ZookeeperClusterSpec) -> Result<(), HandoffError> {
    let path = desired_path(run_dir);
    let tmp = path.with_extension("tmp");
    let io = |source| HandoffError::Io { path: path.clone(), source };
    std::fs::write(&tmp, serde_json::to_vec(spec).expect("spec serialises")).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// Take the spec another process left, if any.
pub fn take_offered_spec(run_dir: &Path) -> Result<Option<ZookeeperClusterSpec>, HandoffError> {
    let path = desired_path(run_dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(HandoffError::Io { path, source }),
    };
    let _ = std::fs::remove_file(&path);
    serde_json::from_slice(&bytes).map(Some).map_err(|source| HandoffError::Parse { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_supervisor_at_a_time_and_specs_are_handed_over_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = SupervisorLock::try_acquire(dir.path()).unwrap();
        assert!(first.is_some());
        assert!(SupervisorLock::try_acquire(dir.path()).unwrap().is_none(), "held");
        drop(first);
        assert!(SupervisorLock::try_acquire(dir.path()).unwrap().is_some(), "released");
        let spec = ZookeeperClusterSpec::new(5, "3.9.3");
        assert!(take_offered_spec(dir.path()).unwrap().is_none());
        offer_spec(dir.path(), &spec).unwrap();
        assert_eq!(take_offered_spec(dir.path()).unwrap(), Some(spec));
        assert!(take_offered_spec(dir.path()).unwrap().is_none());
    }
}
