//! The distribution cache: `<cache>/dists/<version>/` entries with a
//! `manifest.json`, the per-version lock, and staging directories that are
//! renamed into place whole once a provision has succeeded.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::{DistError, DistSource, Distribution, LoggingBackend, Progress};

/// The manifest's file name inside a cache entry.
pub const MANIFEST_FILE: &str = "manifest.json";

const MANIFEST_FORMAT: u32 = 1;

/// How long to wait for another process that is provisioning the same
/// version before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(30 * 60);

/// What a ready cache entry holds. Paths are relative to the entry, so the
/// cache can move.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Manifest format; entries of another format are re-provisioned.
    pub format: u32,
    /// The ZooKeeper version.
    pub version: String,
    /// Where it came from, e.g. `debian:trixie` or an URL.
    pub origin: String,
    /// The classpath, relative to the entry directory.
    pub classpath: Vec<PathBuf>,
    /// The logging backend; its config file sits in the entry directory.
    pub logging: LoggingBackend,
    /// What was fetched (e.g. Debian `package=version` pairs).
    #[serde(default)]
    pub packages: Vec<String>,
    /// When the provision finished (seconds since the epoch).
    #[serde(default)]
    pub created_unix: u64,
    /// Size and SHA-1 of every file the entry serves (classpath and
    /// logging config), relative to the entry, recorded when it was
    /// written: a truncated or altered file is found before a server
    /// fails to start. Empty in entries of older versions.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub files: std::collections::BTreeMap<PathBuf, FileDigest>,
}

/// What is recorded of one file of a cache entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileDigest {
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-1, hex.
    pub sha1: String,
}

impl FileDigest {
    /// The size and digest of the file at `path`.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        use sha1::Digest as _;
        let mut f = File::open(path)?;
        let mut h = sha1::Sha1::new();
        let size = std::io::copy(&mut f, &mut h)?;
        let sha1 = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { size, sha1 })
    }
}

/// The files of entry `dir` that manifest `m` serves, relative to `dir`.
fn served_files(m: &Manifest) -> Vec<PathBuf> {
    m.classpath.iter().cloned().chain([PathBuf::from(m.logging.config_file_name())]).collect()
}

/// Check every recorded file of entry `dir` against manifest `m`: `Err`
/// names the first that differs.
pub(crate) fn verify_files(dir: &Path, m: &Manifest) -> Result<(), String> {
    for (rel, want) in &m.files {
        let path = dir.join(rel);
        let got = FileDigest::of(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if got.size != want.size {
            return Err(format!("{} is {} bytes, {} when it was provisioned", path.display(), got.size, want.size));
        }
        if got.sha1 != want.sha1 {
            return Err(format!(
                "{} changed since it was provisioned (SHA-1 {} ≠ {})",
                path.display(),
                got.sha1,
                want.sha1
            ));
        }
    }
    Ok(())
}

impl Manifest {
    /// A manifest stamped now.
    pub fn new(version: &str, origin: &str, classpath: Vec<PathBuf>, logging: LoggingBackend) -> Self {
        let created_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Self {
            format: MANIFEST_FORMAT,
            version: version.into(),
            origin: origin.into(),
            classpath,
            logging,
            packages: Vec::new(),
            created_unix,
            files: Default::default(),
        }
    }

    /// Parse a manifest.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if m.format != MANIFEST_FORMAT {
            return Err(format!("manifest format {} (expected {MANIFEST_FORMAT})", m.format));
        }
        Ok(m)
    }

    /// Render a manifest.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest serializes")
    }
}

/// Write `bytes` to `path` via a temp file in the same directory, fsync and
/// rename, so readers see the old content or the new one, never a part.
/// Finish a provisioned tree: pick its logging backend and write that
/// backend's config into `staging`, check the jars really are `version`,
/// and describe it in a manifest (classpath relative to `staging`).
/// `what` names the source in messages ("the tarball's jars").
pub(crate) async fn verified_manifest(
    staging: &Path,
    classpath: Vec<PathBuf>,
    version: &str,
    java: &Path,
    origin: &str,
    what: &str,
) -> Result<Manifest, DistError> {
    let logging = LoggingBackend::detect(&classpath).ok_or_else(|| DistError::Verify {
        version: version.into(),
        reason: format!("no slf4j logging backend among {what}"),
    })?;
    logging.write_config(staging)?;
    super::java::verify_version(java, &classpath, version).await?;
    let rel: Vec<PathBuf> = classpath
        .iter()
        .map(|p| p.strip_prefix(staging).map(Path::to_path_buf).unwrap_or_else(|_| p.clone()))
        .collect();
    Ok(Manifest::new(version, origin, rel, logging))
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DistError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| DistError::io(format!("creating {}", dir.display()), e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DistError::io(format!("writing {}", path.display()), e)
    })
}

/// Write the manifest of the entry in `dir` (the last step of a provision).
/// The size and digest of every file it serves are recorded in it.
pub(crate) fn write_manifest(dir: &Path, m: &Manifest) -> Result<(), DistError> {
    let mut m = m.clone();
    for rel in served_files(&m) {
        let path = dir.join(&rel);
        if path.is_file() {
            let d = FileDigest::of(&path).map_err(|e| DistError::io(format!("reading {}", path.display()), e))?;
            m.files.insert(rel, d);
        }
    }
    write_atomic(&dir.join(MANIFEST_FILE), m.to_json().as_bytes())
}

/// The distribution in cache entry `dir`, if it is complete and for
/// `version`; `None` (with a log line) otherwise.
pub(crate) fn load_ready(dir: &Path, version: &str, java: &Path) -> Option<Distribution> {
    let text = match std::fs::read_to_string(dir.join(MANIFEST_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "unreadable cache manifest; re-provisioning");
            return None;
        }
    };
    let m = match Manifest::from_json(&text) {
        Ok(m) if m.version == version => m,
        Ok(m) => {
            tracing::warn!(dir = %dir.display(), found = %m.version, "cache entry holds another version; re-provisioning");
            return None;
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "bad cache manifest; re-provisioning");
            return None;
        }
    };
    let classpath: Vec<PathBuf> = m.classpath.iter().map(|p| dir.join(p)).collect();
    let log_config = dir.join(m.logging.config_file_name());
    if let Some(missing) = classpath.iter().chain([&log_config]).find(|p| !p.is_file()) {
        tracing::warn!(missing = %missing.display(), "cache entry is incomplete; re-provisioning");
        return None;
    }
    if let Err(reason) = verify_files(dir, &m) {
        // Said at every level: a corrupt cache is otherwise a quorum that
        // never forms. Re-provisioning replaces the entry.
        tracing::warn!(
            entry = %dir.display(),
            "cache entry is corrupt ({reason}); re-provisioning it (or remove {} and run `zk-chaos provision --version {version}`)",
            dir.display()
        );
        return None;
    }
    Some(Distribution {
        version: m.version,
        java: java.to_path_buf(),
        classpath,
        source: DistSource::Cache,
        home: dir.to_path_buf(),
        logging: m.logging,
        log_config,
    })
}

/// An exclusive `flock` on a lock file, released on drop.
pub(crate) struct LockGuard {
    _flock: Flock<File>,
}

/// Take the exclusive lock on `path`, waiting (asynchronously) while another
/// process holds it.
pub(crate) async fn lock(path: &Path, progress: &dyn Progress, what: &str) -> Result<LockGuard, DistError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DistError::io(format!("creating {}", dir.display()), e))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| DistError::io(format!("opening lock file {}", path.display()), e))?;
    let start = Instant::now();
    let mut told = false;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(flock) => return Ok(LockGuard { _flock: flock }),
            Err((f, Errno::EWOULDBLOCK)) => {
                file = f;
                if !told {
                    progress.stage(&format!("waiting for another zk-chaos process to finish with {what}"));
                    told = true;
                }
                if start.elapsed() > LOCK_WAIT {
                    return Err(DistError::io(
                        format!("waiting for lock {}", path.display()),
                        std::io::Error::new(std::io::ErrorKind::TimedOut, "held by another process for too long"),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err((_, errno)) => {
                return Err(DistError::io(format!("locking {}", path.display()), std::io::Error::from(errno)));
            }
        }
    }
}

/// A staging directory for one provision attempt: removed on drop unless
/// committed.
pub(crate) struct Staging {
    path: PathBuf,
    committed: bool,
}

impl Staging {
    /// A fresh staging dir for `version`. Call with the version lock held:
    /// any other staging dir of the version is then a leftover of a
    /// crashed run, and is removed.
    pub(crate) fn new(cache_dir: &Path, version: &str) -> Result<Self, DistError> {
        let dists = cache_dir.join("dists");
        std::fs::create_dir_all(&dists).map_err(|e| DistError::io(format!("creating {}", dists.display()), e))?;
        let prefix = format!(".staging-{version}-");
        if let Ok(rd) = std::fs::read_dir(&dists) {
            for e in rd.flatten() {
                if e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let path = dists.join(format!("{prefix}{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).map_err(|e| DistError::io(format!("creating {}", path.display()), e))?;
        Ok(Self { path, committed: false })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Write the manifest last, then move the staging dir to `dest`
    /// (replacing an incomplete entry there) and load it from there.
    pub(crate) fn commit(mut self, dest: &Path, m: &Manifest, java: &Path) -> Result<Distribution, DistError> {
        for p in &m.classpath {
            if !self.path.join(p).is_file() {
                return Err(DistError::Verify {
                    version: m.version.clone(),
                    reason: format!("classpath entry {} is missing", p.display()),
                });
            }
        }
        write_manifest(&self.path, m)?;
        if dest.exists() {
            std::fs::remove_dir_all(dest)
                .map_err(|e| DistError::io(format!("removing incomplete cache entry {}", dest.display()), e))?;
        }
        std::fs::rename(&self.path, dest)
            .map_err(|e| DistError::io(format!("moving {} to {}", self.path.display(), dest.display()), e))?;
        self.committed = true;
        load_ready(dest, &m.version, java).ok_or_else(|| DistError::Verify {
            version: m.version.clone(),
            reason: format!("cache entry {} unreadable right after writing it", dest.display()),
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip() {
        let mut m = Manifest::new(
            "3.9.3",
            "debian:trixie",
            vec!["root/usr/share/java/zookeeper-3.9.3.jar".into()],
            LoggingBackend::Log4j1,
        );
        m.packages = vec!["libzookeeper-java=3.9.3-1+deb13u1".into()];
        let back = Manifest::from_json(&m.to_json()).unwrap();
        assert_eq!(back, m);
        let other = m.to_json().replace("\"format\": 1", "\"format\": 99");
        assert!(Manifest::from_json(&other).is_err());
    }

    #[test]
    fn half_done_entry_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let e = dir.path().join("3.8.0");
        std::fs::create_dir_all(e.join("root")).unwrap();
        std::fs::write(e.join("root/zookeeper.jar"), b"PK").unwrap();
        // No manifest yet.
        assert!(load_ready(&e, "3.8.0", Path::new("/usr/bin/java")).is_none());
        let m = Manifest::new("3.8.0", "t", vec!["root/zookeeper.jar".into()], LoggingBackend::Log4j1);
        write_manifest(&e, &m).unwrap();
        // The logging config is missing.
        assert!(load_ready(&e, "3.8.0", Path::new("/usr/bin/java")).is_none());
        LoggingBackend::Log4j1.write_config(&e).unwrap();
        let d = load_ready(&e, "3.8.0", Path::new("/usr/bin/java")).unwrap();
        assert_eq!(d.classpath, vec![e.join("root/zookeeper.jar")]);
        assert_eq!(d.source, DistSource::Cache);
        // Another version is not ready for this one.
        assert!(load_ready(&e, "3.9.3", Path::new("/usr/bin/java")).is_none());
    }

    #[test]
    fn a_truncated_or_altered_file_makes_the_entry_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let e = dir.path().join("3.9.6");
        std::fs::create_dir_all(e.join("root")).unwrap();
        let jar = e.join("root/zookeeper.jar");
        std::fs::write(&jar, b"PK\x03\x04 a whole jar").unwrap();
        LoggingBackend::Log4j1.write_config(&e).unwrap();
        let m = Manifest::new("3.9.6", "t", vec!["root/zookeeper.jar".into()], LoggingBackend::Log4j1);
        write_manifest(&e, &m).unwrap();
        let written = Manifest::from_json(&std::fs::read_to_string(e.join(MANIFEST_FILE)).unwrap()).unwrap();
        assert_eq!(written.files.len(), 2, "the jar and the logging config");
        assert!(load_ready(&e, "3.9.6", Path::new("/usr/bin/java")).is_some());
        std::fs::write(&jar, b"PK\x03\x04 a whole").unwrap();
        let err = verify_files(&e, &written).unwrap_err();
        assert!(err.contains("zookeeper.jar is 12 bytes, 16 when it was provisioned"), "{err}");
        assert!(load_ready(&e, "3.9.6", Path::new("/usr/bin/java")).is_none(), "truncated");
        std::fs::write(&jar, b"PK\x03\x04 a whole JAR").unwrap();
        assert!(verify_files(&e, &written).unwrap_err().contains("changed since it was provisioned"));
        assert!(load_ready(&e, "3.9.6", Path::new("/usr/bin/java")).is_none(), "altered");
    }

    #[test]
    fn staging_commit_and_cleanup() {
        let cache = tempfile::tempdir().unwrap();
        let dest = cache.path().join("dists/3.8.0");
        let s = Staging::new(cache.path(), "3.8.0").unwrap();
        let leftover = s.path().to_path_buf();
        drop(s);
        assert!(!leftover.exists());

        let s = Staging::new(cache.path(), "3.8.0").unwrap();
        std::fs::write(s.path().join("a.jar"), b"PK").unwrap();
        LoggingBackend::Logback.write_config(s.path()).unwrap();
        let m = Manifest::new("3.8.0", "t", vec!["a.jar".into(), "missing.jar".into()], LoggingBackend::Logback);
        assert!(s.commit(&dest, &m, Path::new("/j")).is_err());
        assert!(!dest.exists());

        let s = Staging::new(cache.path(), "3.8.0").unwrap();
        std::fs::write(s.path().join("a.jar"), b"PK").unwrap();
        LoggingBackend::Logback.write_config(s.path()).unwrap();
        let m = Manifest::new("3.8.0", "t", vec!["a.jar".into()], LoggingBackend::Logback);
        let d = s.commit(&dest, &m, Path::new("/j")).unwrap();
        assert_eq!(d.home, dest);
        assert!(dest.join(MANIFEST_FILE).is_file());
        let names: Vec<_> = std::fs::read_dir(cache.path().join("dists")).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "staging dirs left behind");
    }

    #[tokio::test]
    async fn lock_excludes_second_holder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let g = lock(&p, &super::super::NoProgress, "x").await.unwrap();
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        assert!(Flock::lock(f, FlockArg::LockExclusiveNonblock).is_err());
        drop(g);
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        assert!(Flock::lock(f, FlockArg::LockExclusiveNonblock).is_ok());
    }
}
