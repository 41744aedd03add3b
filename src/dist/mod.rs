//! Resolve a ZooKeeper version to a runnable server: a `java` binary, a
//! classpath and a logging config, so that a local pod is one
//! `java <server_args>` away.
//!
//! Resolution order for [`resolve`]:
//! 1. a distribution the user points at (`ZK_CHAOS_ZK_HOME_3_8_0=/dir`, or
//!    `ZK_CHAOS_ZK_HOME=/dir` whose version is read from its jar name);
//! 2. a ready cache entry `<cache>/dists/<version>/` (its `manifest.json` is
//!    the last thing a provision writes, and the entry is renamed into place
//!    whole, so a half-done provision is never used);
//! 3. the Apache release tarball, checked against its `.sha512` (a short
//!    connect timeout: where Apache's servers are unreachable this fails in
//!    seconds and falls through);
//! 4. Debian packages fetched with `apt-get download` against a private apt
//!    state under the cache (the system's apt state is not touched), unpacked
//!    with `dpkg -x`.
//!
//! Provisioning holds a file lock on `<cache>/dists/<version>.lock`, so two
//! processes never race on one version.

mod apache;
mod cache;
mod debian;
mod java;
mod logging;
mod proc;
mod user;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

pub use cache::{MANIFEST_FILE, Manifest};
pub use debian::{DebianRecipe, SERVER_JARS, debian_recipe, mirror as debian_mirror, parse_mirror, suites_for};
pub use java::find_java;
pub use logging::LoggingBackend;

/// The server's main class.
pub const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// The name of the server log file inside the per-pod log directory.
pub const LOG_FILE: &str = "zookeeper.log";

/// Env var naming the cache directory.
pub const CACHE_DIR_ENV: &str = "ZK_CHAOS_CACHE_DIR";

/// Env var pointing at a distribution of any version (read from its jar name).
pub const ZK_HOME_ENV: &str = "ZK_CHAOS_ZK_HOME";

/// Key in [`DistConfig::user_dists`] for a `ZK_CHAOS_ZK_HOME` whose version
/// could not be read; resolving any version then reports why.
pub const UNDETECTED_VERSION: &str = "?";

const SUPPORTED: &[&str] = &["3.8.0", "3.9.3", "3.9.6"];

/// Versions zk-chaos can fetch by itself (others need a user distribution).
pub fn supported_versions() -> &'static [&'static str] {
    SUPPORTED
}

/// Where distributions come from and where they are cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistConfig {
    /// The cache root: `$ZK_CHAOS_CACHE_DIR`, else `$XDG_CACHE_HOME/zk-chaos`,
    /// else `~/.cache/zk-chaos`.
    pub cache_dir: PathBuf,
    /// Version -> directory of a distribution the user points at. These win
    /// over everything else.
    pub user_dists: BTreeMap<String, PathBuf>,
}

impl DistConfig {
    /// Read the cache dir and user distributions from the environment:
    /// `ZK_CHAOS_ZK_HOME_<major>_<minor>_<patch>=<dir>` for one version, and
    /// `ZK_CHAOS_ZK_HOME=<dir>` for whatever version `<dir>` holds.
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))))
    }

    /// [`DistConfig::from_env`] over an explicit set of variables.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, OsString)>) -> Self {
        let vars: BTreeMap<String, OsString> = vars.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let cache_dir = default_cache_dir(&vars);
        let mut user_dists = BTreeMap::new();
        if let Some(home) = vars.get(ZK_HOME_ENV) {
            let home = PathBuf::from(home);
            let version = user::detect_version(&home).unwrap_or_else(|| UNDETECTED_VERSION.to_string());
            user_dists.insert(version, home);
        }
        // Versioned variables win over the unversioned one.
        for (k, v) in &vars {
            if let Some(suffix) = k.strip_prefix(ZK_HOME_ENV).and_then(|s| s.strip_prefix('_')) {
                let version = suffix.replace('_', ".");
                if is_version_like(&version) {
                    user_dists.insert(version, PathBuf::from(v));
                }
            }
        }
        Self { cache_dir, user_dists }
    }

    /// A config with an explicit cache dir and no user distributions.
    pub fn with_cache_dir(cache_dir: impl Into<PathBuf>) -> Self {
        Self { cache_dir: cache_dir.into(), user_dists: BTreeMap::new() }
    }

    /// `<cache>/dists/<version>`: the ready entry for `version`.
    pub fn dist_dir(&self, version: &str) -> PathBuf {
        self.cache_dir.join("dists").join(version)
    }
}

fn default_cache_dir(vars: &BTreeMap<String, OsString>) -> PathBuf {
    if let Some(d) = vars.get(CACHE_DIR_ENV) {
        return PathBuf::from(d);
    }
    if let Some(d) = vars.get("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("zk-chaos");
    }
    if let Some(h) = vars.get("HOME") {
        return PathBuf::from(h).join(".cache").join("zk-chaos");
    }
    std::env::temp_dir().join(format!("zk-chaos-cache-{}", nix::unistd::geteuid()))
}

/// `3.8.0`-like: dot-separated numbers, at least two parts.
pub(crate) fn is_version_like(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Where a resolved distribution came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistSource {
    /// A directory the user pointed at.
    User(PathBuf),
    /// Provisioned just now from the Apache release tarball.
    ApacheTarball,
    /// Provisioned just now from Debian packages of `suite`.
    Debian {
        /// The suite the ZooKeeper packages came from (`bookworm`, `trixie`,
        /// `forky`, `sid`).
        suite: String,
    },
    /// A ready cache entry from an earlier provision.
    Cache,
}

impl fmt::Display for DistSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistSource::User(p) => write!(f, "user distribution {}", p.display()),
            DistSource::ApacheTarball => f.write_str("Apache release tarball"),
            DistSource::Debian { suite } => write!(f, "Debian {suite} packages"),
            DistSource::Cache => f.write_str("cache"),
        }
    }
}

/// JVM settings for one server process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JvmOptions {
    /// Heap size in MiB (both `-Xms` and `-Xmx`).
    pub heap_mb: u32,
    /// Extra JVM arguments, placed before `-cp`.
    pub extra: Vec<String>,
}

impl Default for JvmOptions {
    fn default() -> Self {
        Self { heap_mb: 96, extra: Vec::new() }
    }
}

/// A runnable ZooKeeper server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// The ZooKeeper version, e.g. `3.8.0`.
    pub version: String,
    /// The `java` binary to run it with.
    pub java: PathBuf,
    /// Every jar the server needs, absolute.
    pub classpath: Vec<PathBuf>,
    /// Where it came from.
    pub source: DistSource,
    /// The distribution's directory (a cache entry or the user's dir).
    pub home: PathBuf,
    /// The logging backend the classpath binds slf4j to.
    pub logging: LoggingBackend,
    /// The logging config file for that backend (it reads the log dir and
    /// file name from system properties that [`Distribution::server_args`]
    /// sets).
    pub log_config: PathBuf,
}

impl Distribution {
    /// The argv after the java binary: heap flags, extra JVM flags, logging
    /// properties that send the server log to `log_dir/zookeeper.log`
    /// (console: warnings and errors only), `-cp`, then `QuorumPeerMain
    /// <conf_file>`.
    pub fn server_args(&self, jvm: &JvmOptions, conf_file: &Path, log_dir: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            format!("-Xms{}m", jvm.heap_mb).into(),
            format!("-Xmx{}m", jvm.heap_mb).into(),
            "-XX:+ExitOnOutOfMemoryError".into(),
            // Log timestamps in UTC, so the diagnosis reads them the same
            // on every host.
            "-Duser.timezone=UTC".into(),
        ];
        args.extend(jvm.extra.iter().map(OsString::from));
        args.push(prop("zookeeper.log.dir", log_dir.as_os_str()));
        args.push(prop("zookeeper.log.file", LOG_FILE.as_ref()));
        args.extend(self.logging.jvm_args(&self.log_config));
        args.push("-cp".into());
        args.push(join_classpath(&self.classpath));
        args.push(MAIN_CLASS.into());
        args.push(conf_file.as_os_str().to_owned());
        args
    }

    /// Where the server started with `server_args(.., log_dir)` logs.
    pub fn log_file(log_dir: &Path) -> PathBuf {
        log_dir.join(LOG_FILE)
    }
}

fn prop(name: &str, value: &std::ffi::OsStr) -> OsString {
    let mut s = OsString::from(format!("-D{name}="));
    s.push(value);
    s
}

pub(crate) fn join_classpath(cp: &[PathBuf]) -> OsString {
    let mut out = OsString::new();
    for (i, p) in cp.iter().enumerate() {
        if i > 0 {
            out.push(":");
        }
        out.push(p.as_os_str());
    }
    out
}

/// Progress reports during provisioning. The CLI adapts this to indicatif.
pub trait Progress: Send + Sync {
    /// A new stage began (one line, human readable).
    fn stage(&self, msg: &str);
    /// Bytes fetched so far in the current stage.
    fn bytes(&self, done: u64, total: Option<u64>) {
        let _ = (done, total);
    }
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _msg: &str) {}
}

/// Why a distribution could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// Not a version zk-chaos can fetch, and no user distribution for it.
    #[error(
        "ZooKeeper {version} is not a version zk-chaos can fetch (supported: {supported}); \
         to use it anyway, unpack a ZooKeeper {version} distribution and point at it with \
         {var}=/path/to/apache-zookeeper-{version}-bin (or {ZK_HOME_ENV}=/path)",
        supported = supported_versions().join(", "),
        var = user_env_var(version)
    )]
    UnknownVersion {
        /// The version asked for.
        version: String,
    },
    /// No java binary.
    #[error(
        "no Java runtime found ({detail}); install one (Debian/Ubuntu: `apt-get install \
         openjdk-17-jre-headless`, Fedora/RHEL: `dnf install java-17-openjdk-headless`) or set JAVA_HOME"
    )]
    JavaMissing {
        /// Where we looked.
        detail: String,
    },
    /// A user distribution is unusable.
    #[error("the ZooKeeper distribution at {} (from {var}) is unusable: {reason}", path.display())]
    UserDist {
        /// The directory.
        path: PathBuf,
        /// The env var it came from.
        var: String,
        /// What is wrong.
        reason: String,
    },
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A program we need is missing.
    #[error("`{program}` is not installed or not on PATH ({hint})")]
    ToolMissing {
        /// The program.
        program: String,
        /// What it is needed for / how to get it.
        hint: String,
    },
    /// A subprocess failed.
    #[error("`{command}` failed ({status}){}", stderr_section(stderr_tail))]
    Command {
        /// The command line, shortened.
        command: String,
        /// Exit status or timeout.
        status: String,
        /// The last lines of its stderr (and stdout for apt).
        stderr_tail: String,
    },
    /// The Debian archive keyring apt verifies with is missing.
    #[error(
        "Debian archive keyring {} not found; install it (`apt-get install debian-archive-keyring`) \
         or set ZK_CHAOS_DEBIAN_KEYRING to a keyring file", path.display()
    )]
    KeyringMissing {
        /// The keyring path.
        path: PathBuf,
    },
    /// None of the Debian suites tried ships the version (one line per suite).
    #[error("no Debian suite provides ZooKeeper {version}:{}", bullet_list(attempts))]
    DebianSuites {
        /// The version.
        version: String,
        /// One line (or paragraph) per suite tried.
        attempts: Vec<String>,
    },
    /// The Debian suite ships another ZooKeeper version than the one wanted.
    #[error(
        "Debian {suite} ships {package} {found}, not ZooKeeper {wanted}; point {var} at a \
         ZooKeeper {wanted} distribution instead", var = user_env_var(wanted)
    )]
    DebianVersion {
        /// The suite.
        suite: String,
        /// The package.
        package: String,
        /// Its Debian version.
        found: String,
        /// The upstream version wanted.
        wanted: String,
    },
    /// A downloaded file does not match its published checksum.
    #[error("checksum mismatch for {}: expected sha512 {expected}, got {actual}", file.display())]
    Checksum {
        /// The file.
        file: PathBuf,
        /// Published digest.
        expected: String,
        /// Computed digest.
        actual: String,
    },
    /// A fetched distribution failed its checks.
    #[error("the provisioned ZooKeeper {version} failed verification: {reason}")]
    Verify {
        /// The version.
        version: String,
        /// What failed.
        reason: String,
    },
    /// Every way of getting the version failed.
    #[error(
        "could not provision ZooKeeper {version}:{}\nTo use a distribution you already have, set \
         {var}=/path/to/apache-zookeeper-{version}-bin", bullet_list(attempts), var = user_env_var(version)
    )]
    NoProvider {
        /// The version.
        version: String,
        /// One line (or paragraph) per attempted source.
        attempts: Vec<String>,
    },
}

impl DistError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DistError::Io { context: context.into(), source }
    }
}

fn stderr_section(tail: &str) -> String {
    if tail.trim().is_empty() { String::new() } else { format!(":\n{}", tail.trim_end()) }
}

fn bullet_list(items: &[String]) -> String {
    items.iter().map(|a| format!("\n  - {}", a.replace('\n', "\n    "))).collect()
}

/// The env var that points at a user distribution of `version`.
pub fn user_env_var(version: &str) -> String {
    format!("{ZK_HOME_ENV}_{}", version.replace('.', "_"))
}

/// Resolve `version` to a runnable server, provisioning it into the cache
/// if needed (see the module docs for the order).
pub async fn resolve(version: &str, cfg: &DistConfig, progress: &dyn Progress) -> Result<Distribution, DistError> {
    let java = find_java()?;

    // 1. The user's own distribution wins.
    if let Some(home) = cfg.user_dists.get(version) {
        return user::load(version, home, &java, cfg).await;
    }
    if let Some(home) = cfg.user_dists.get(UNDETECTED_VERSION)
        && !SUPPORTED.contains(&version)
    {
        return Err(DistError::UserDist {
            path: home.clone(),
            var: ZK_HOME_ENV.into(),
            reason: format!(
                "no `zookeeper-<version>.jar` found in it, in lib/ or usr/share/java/, so its \
                 version is unknown; set {} instead",
                user_env_var(version)
            ),
        });
    }
    if !SUPPORTED.contains(&version) {
        return Err(DistError::UnknownVersion { version: version.to_string() });
    }

    // 2. A ready cache entry.
    let dir = cfg.dist_dir(version);
    if let Some(d) = cache::load_ready(&dir, version, &java) {
        return Ok(d);
    }

    // 3./4. Provision under the version lock.
    let lock_path = cfg.cache_dir.join("dists").join(format!("{version}.lock"));
    let _lock = cache::lock(&lock_path, progress, &format!("ZooKeeper {version}")).await?;
    if let Some(d) = cache::load_ready(&dir, version, &java) {
        return Ok(d);
    }
    provision(version, cfg, &java, progress).await
}

async fn provision(
    version: &str,
    cfg: &DistConfig,
    java: &Path,
    progress: &dyn Progress,
) -> Result<Distribution, DistError> {
    let mut attempts = Vec::new();

    let staging = cache::Staging::new(&cfg.cache_dir, version)?;
    progress.stage(&format!("ZooKeeper {version}: trying the Apache release tarball"));
    match apache::provision(version, staging.path(), java, progress).await {
        Ok(manifest) => {
            let d = staging.commit(&cfg.dist_dir(version), &manifest, java)?;
            return Ok(Distribution { source: DistSource::ApacheTarball, ..d });
        }
        Err(e) => {
            drop(staging);
            tracing::info!(version, error = %e, "Apache tarball unavailable; trying Debian packages");
            attempts.push(format!("Apache release tarball: {e}"));
        }
    }

    let staging = cache::Staging::new(&cfg.cache_dir, version)?;
    let Some(recipe) = debian_recipe(version) else {
        return Err(DistError::NoProvider { version: version.into(), attempts });
    };
    progress.stage(&format!("ZooKeeper {version}: fetching Debian {} packages", recipe.zk_suites.join(" or ")));
    match debian::provision(&recipe, staging.path(), cfg, java, progress).await {
        Ok((manifest, suite)) => {
            let d = staging.commit(&cfg.dist_dir(version), &manifest, java)?;
            Ok(Distribution { source: DistSource::Debian { suite: suite.to_string() }, ..d })
        }
        Err(e) => {
            attempts.push(format!("Debian packages: {e}"));
            Err(DistError::NoProvider { version: version.into(), attempts })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, OsString)> {
        list.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect()
    }

    #[test]
    fn cache_dir_precedence() {
        let c = DistConfig::from_vars(vars(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/x"), (CACHE_DIR_ENV, "/c")]));
        assert_eq!(c.cache_dir, PathBuf::from("/c"));
        let c = DistConfig::from_vars(vars(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/x")]));
        assert_eq!(c.cache_dir, PathBuf::from("/x/zk-chaos"));
        let c = DistConfig::from_vars(vars(&[("HOME", "/h"), ("XDG_CACHE_HOME", "")]));
        assert_eq!(c.cache_dir, PathBuf::from("/h/.cache/zk-chaos"));
    }

    #[test]
    fn user_dist_env_vars() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/zookeeper-3.9.3.jar"), b"PK\x03\x04").unwrap();
        std::fs::write(dir.path().join("lib/zookeeper-jute-3.9.3.jar"), b"PK\x03\x04").unwrap();
        let home = dir.path().to_str().unwrap();
        let c = DistConfig::from_vars(vars(&[
            ("ZK_CHAOS_ZK_HOME_3_8_0", "/opt/zk38"),
            (ZK_HOME_ENV, home),
            ("ZK_CHAOS_ZK_HOME_bogus", "/nope"),
        ]));
        assert_eq!(c.user_dists.get("3.8.0"), Some(&PathBuf::from("/opt/zk38")));
        assert_eq!(c.user_dists.get("3.9.3"), Some(&dir.path().to_path_buf()));
        assert_eq!(c.user_dists.len(), 2);

        let c = DistConfig::from_vars(vars(&[(ZK_HOME_ENV, "/does/not/exist")]));
        assert_eq!(c.user_dists.get(UNDETECTED_VERSION), Some(&PathBuf::from("/does/not/exist")));
    }

    #[test]
    fn server_args_shape() {
        let d = Distribution {
            version: "3.8.0".into(),
            java: "/usr/bin/java".into(),
            classpath: vec!["/a/zookeeper.jar".into(), "/a/slf4j-api.jar".into()],
            source: DistSource::Cache,
            home: "/a".into(),
            logging: LoggingBackend::Log4j1,
            log_config: "/a/log4j.properties".into(),
        };
        let jvm = JvmOptions { heap_mb: 128, extra: vec!["-Dfoo=bar".into()] };
        let args = d.server_args(&jvm, Path::new("/pod/zoo.cfg"), Path::new("/pod/log"));
        let args: Vec<String> = args.into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(&args[..4], ["-Xms128m", "-Xmx128m", "-XX:+ExitOnOutOfMemoryError", "-Duser.timezone=UTC"]);
        assert!(args.contains(&"-Dfoo=bar".to_string()));
        assert!(args.contains(&"-Dzookeeper.log.dir=/pod/log".to_string()));
        assert!(args.contains(&"-Dzookeeper.log.file=zookeeper.log".to_string()));
        assert!(args.contains(&"-Dlog4j.configuration=file:/a/log4j.properties".to_string()));
        let cp = args.iter().position(|a| a == "-cp").unwrap();
        assert_eq!(args[cp + 1], "/a/zookeeper.jar:/a/slf4j-api.jar");
        assert_eq!(&args[cp + 2..], [MAIN_CLASS, "/pod/zoo.cfg"]);
    }

    #[test]
    fn supported_versions_are_ascending_and_fetchable() {
        let key = |v: &str| v.split('.').map(|p| p.parse::<u32>().unwrap()).collect::<Vec<_>>();
        let keys: Vec<Vec<u32>> = SUPPORTED.iter().map(|v| key(v)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{SUPPORTED:?}");
        assert_eq!(SUPPORTED.last(), Some(&"3.9.6"));
        for v in SUPPORTED {
            assert!(debian_recipe(v).is_some(), "{v} has no Debian recipe");
        }
    }

    #[test]
    fn unknown_version_message_is_actionable() {
        let e = DistError::UnknownVersion { version: "3.7.1".into() };
        let m = e.to_string();
        assert!(m.contains("3.8.0, 3.9.3, 3.9.6"), "{m}");
        assert!(m.contains("ZK_CHAOS_ZK_HOME_3_7_1="), "{m}");
    }

    #[tokio::test]
    async fn unknown_version_is_rejected_without_network() {
        if find_java().is_err() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let cfg = DistConfig::with_cache_dir(dir.path());
        let e = resolve("3.4.14", &cfg, &NoProgress).await.unwrap_err();
        assert!(matches!(e, DistError::UnknownVersion { .. }), "{e}");
    }

    #[tokio::test]
    async fn user_dist_override_wins_over_cache() {
        if find_java().is_err() {
            return;
        }
        let cache = tempfile::tempdir().unwrap();
        let user = tempfile::tempdir().unwrap();
        std::fs::create_dir(user.path().join("lib")).unwrap();
        for j in ["zookeeper-3.8.0.jar", "zookeeper-jute-3.8.0.jar", "logback-classic-1.2.10.jar", "slf4j-api.jar"] {
            std::fs::write(user.path().join("lib").join(j), b"PK\x03\x04").unwrap();
        }
        // A ready cache entry that must NOT be picked.
        let cached = cache.path().join("dists/3.8.0");
        std::fs::create_dir_all(cached.join("root")).unwrap();
        std::fs::write(cached.join("root/zookeeper.jar"), b"PK\x03\x04").unwrap();
        std::fs::write(cached.join("log4j.properties"), b"").unwrap();
        let m = Manifest::new("3.8.0", "debian:bookworm", vec!["root/zookeeper.jar".into()], LoggingBackend::Log4j1);
        cache::write_manifest(&cached, &m).unwrap();

        let mut cfg = DistConfig::with_cache_dir(cache.path());
        let d = resolve("3.8.0", &cfg, &NoProgress).await.unwrap();
        assert_eq!(d.source, DistSource::Cache);

        cfg.user_dists.insert("3.8.0".into(), user.path().to_path_buf());
        let d = resolve("3.8.0", &cfg, &NoProgress).await.unwrap();
        assert_eq!(d.source, DistSource::User(user.path().to_path_buf()));
        assert_eq!(d.logging, LoggingBackend::Logback);
        assert_eq!(d.classpath.len(), 4);
        assert!(d.log_config.starts_with(cache.path()), "{}", d.log_config.display());
    }
}
