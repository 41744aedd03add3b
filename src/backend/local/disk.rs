//! Size-limited data disks: a pod's data dir can be its own tmpfs (`mount
//! -t tmpfs -o size=<N>m`), so a "disk full" fault fills that tmpfs and
//! never the host's disk. Every mount is named `zkc-<run>-<ordinal>-disk`
//! (the mount's source), which is how teardown and `down --all` find
//! exactly ours.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::naming::RunId;
use crate::sys::{self, SysError};

/// The file a "disk full" fault writes into the data dir.
pub const BALLAST: &str = "zkchaos-ballast";

/// The mount source of pod `ordinal`'s data disk.
pub fn source(run: &RunId, ordinal: u32) -> String {
    format!("{}-disk", run.netns(ordinal))
}

fn is_our_source(s: &str) -> bool {
    s.strip_suffix("-disk").and_then(super::naming::parse_netns).is_some()
}

/// Our tmpfs mounts: `(source, mount point)`, from `/proc/self/mounts`.
pub fn our_mounts() -> Vec<(String, PathBuf)> {
    let text = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (src, at, fstype) = (f.next()?, f.next()?, f.next()?);
            (fstype == "tmpfs" && is_our_source(src))
                .then(|| (src.to_string(), PathBuf::from(at.replace("\\040", " "))))
        })
        .collect()
}

/// Why a data disk could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The mount point could not be created.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `mount` failed.
    #[error(transparent)]
    Mount(#[from] SysError),
}

/// Mount a `mb` MiB tmpfs on `dir` (created if missing) for pod `ordinal`.
pub fn mount(run: &RunId, ordinal: u32, dir: &Path, mb: u32) -> Result<(), DiskError> {
    std::fs::create_dir_all(dir).map_err(|source| DiskError::Dir { path: dir.to_path_buf(), source })?;
    let dir = dir.to_string_lossy();
    sys::run("mount", ["-t", "tmpfs", "-o", &format!("size={mb}m,mode=0755"), &source(run, ordinal), &*dir])?;
    Ok(())
}

/// Unmount our disks that `pick` selects (by mount source); returns how many.
pub fn unmount_where(pick: impl Fn(&str) -> bool) -> usize {
    let mut n = 0;
    for (src, at) in our_mounts().into_iter().filter(|(s, _)| pick(s)) {
        let at = at.to_string_lossy().into_owned();
        if sys::run("umount", [&at]).is_ok() || sys::run("umount", ["-l", &at]).is_ok() {
            n += 1;
        } else {
            tracing::warn!(src, at, "could not unmount a data disk");
        }
    }
    n
}

/// Unmount every data disk of `run`.
pub fn unmount_run(run: &RunId) -> usize {
    unmount_where(|s| s.strip_suffix("-disk").and_then(super::naming::parse_netns).is_some_and(|(r, _)| r == *run))
}

/// Whether `dir` is a mount point of one of our disks.
pub fn is_disk(dir: &Path) -> bool {
    our_mounts().iter().any(|(_, at)| at == dir)
}

/// Write the ballast into `dir` until the disk is full; returns the bytes
/// written. Refuses anything that is not one of our disks.
pub fn fill(dir: &Path) -> Result<u64, String> {
    if !is_disk(dir) {
        return Err(format!(
            "{} is not a size-limited data disk: give the ensemble one (`with 64 MiB data disks`) rather than fill the host's disk",
            dir.display()
        ));
    }
    let path = dir.join(BALLAST);
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| e.to_string())?;
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    let _ = f.sync_all();
    Ok(written)
}

/// Remove the ballast (gone already is fine).
pub fn free(dir: &Path) -> Result<(), String> {
    match std::fs::remove_file(dir.join(BALLAST)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_disk_names_are_ours() {
        let run = RunId::generate();
        assert!(is_our_source(&source(&run, 3)));
        for other in ["tmpfs", "none", "zkc-disk", "zkc-zz-1-disk", "shm", &run.netns(1)] {
            assert!(!is_our_source(other), "{other}");
        }
    }

    #[test]
    fn filling_refuses_what_is_not_our_disk() {
        let dir = tempfile::tempdir().unwrap();
        let err = fill(dir.path()).unwrap_err();
        assert!(err.contains("not a size-limited data disk"), "{err}");
        assert!(!dir.path().join(BALLAST).exists());
    }
}
