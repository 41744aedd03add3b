//! Distributions the user points at. Layouts understood:
//! - an unpacked Apache binary release: `<dir>/lib/*.jar`;
//! - a flat directory of jars: `<dir>/*.jar`;
//! - an unpacked Debian tree (`dpkg -x` of the packages zk-chaos itself
//!   uses): `<dir>/usr/share/java/`.
//!
//! The version is read from the `zookeeper-<version>.jar` file name.

use std::path::{Path, PathBuf};

use super::{DistConfig, DistError, DistSource, Distribution, LoggingBackend, debian, user_env_var};

/// `zookeeper-3.8.0.jar` -> `3.8.0` (not `zookeeper-jute-3.8.0.jar`).
pub(crate) fn version_from_jar_name(name: &str) -> Option<String> {
    let v = name.strip_prefix("zookeeper-")?.strip_suffix(".jar")?;
    super::is_version_like(v).then(|| v.to_string())
}

fn jars_in(dir: &Path) -> Vec<PathBuf> {
    let mut jars: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jar") && p.is_file())
        .collect();
    jars.sort();
    jars
}

fn version_in(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| e.file_name().to_str().and_then(version_from_jar_name))
}

/// The version of the distribution in `home`, from its jar names.
pub(crate) fn detect_version(home: &Path) -> Option<String> {
    [home.join("lib"), home.join(debian::JAVA_DIR), home.to_path_buf()].iter().find_map(|d| version_in(d))
}

/// The classpath of an Apache-style layout (`lib/*.jar`, or jars directly
/// in `home`), if `home` has one.
pub(crate) fn apache_layout_classpath(home: &Path) -> Option<Vec<PathBuf>> {
    [home.join("lib"), home.to_path_buf()].into_iter().find(|d| version_in(d).is_some()).map(|d| jars_in(&d))
}

fn classpath_of(home: &Path) -> Result<Vec<PathBuf>, String> {
    if let Some(cp) = apache_layout_classpath(home) {
        return Ok(cp);
    }
    let java_dir = home.join(debian::JAVA_DIR);
    if java_dir.join("zookeeper.jar").exists() {
        return debian::classpath_in(home)
            .map_err(|missing| format!("its usr/share/java/ lacks jars the server needs: {}", missing.join(", ")));
    }
    Err("no `zookeeper-<version>.jar` in lib/, usr/share/java/ or the directory itself".into())
}

/// Load the user distribution of `version` at `home`.
pub(crate) async fn load(version: &str, home: &Path, java: &Path, cfg: &DistConfig) -> Result<Distribution, DistError> {
    // For messages: which variable most likely named this directory.
    let var = if std::env::var_os(user_env_var(version)).is_some() {
        user_env_var(version)
    } else {
        super::ZK_HOME_ENV.to_string()
    };
    let bad = |reason: String| DistError::UserDist { path: home.to_path_buf(), var: var.clone(), reason };
    if !home.is_dir() {
        return Err(bad("not a directory".into()));
    }
    match detect_version(home) {
        Some(v) if v == version => {}
        Some(v) => return Err(bad(format!("it holds ZooKeeper {v}, not {version}"))),
        None => {}
    }
    let classpath = classpath_of(home).map_err(bad)?;
    let logging = LoggingBackend::detect(&classpath)
        .ok_or_else(|| bad("no slf4j logging backend (logback-classic or slf4j-log4j12) among its jars".into()))?;
    let log_config = logging.write_config(&cfg.cache_dir.join("logging"))?;
    Ok(Distribution {
        version: version.to_string(),
        java: java.to_path_buf(),
        classpath,
        source: DistSource::User(home.to_path_buf()),
        home: home.to_path_buf(),
        logging,
        log_config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jar_name_versions() {
        assert_eq!(version_from_jar_name("zookeeper-3.8.0.jar").as_deref(), Some("3.8.0"));
        assert_eq!(version_from_jar_name("zookeeper-3.9.3.jar").as_deref(), Some("3.9.3"));
        assert_eq!(version_from_jar_name("zookeeper-jute-3.8.0.jar"), None);
        assert_eq!(version_from_jar_name("zookeeper-prometheus-metrics-3.8.0.jar"), None);
        assert_eq!(version_from_jar_name("zookeeper.jar"), None);
    }

    #[test]
    fn layouts() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(detect_version(d.path()), None);
        std::fs::create_dir(d.path().join("lib")).unwrap();
        for j in ["zookeeper-3.9.3.jar", "zookeeper-jute-3.9.3.jar", "logback-core-1.2.13.jar"] {
            std::fs::write(d.path().join("lib").join(j), b"PK").unwrap();
        }
        assert_eq!(detect_version(d.path()).as_deref(), Some("3.9.3"));
        let cp = apache_layout_classpath(d.path()).unwrap();
        assert_eq!(cp.len(), 3);
        assert!(cp.windows(2).all(|w| w[0] < w[1]));
    }
}
