//! Finding `java`, and checking that a classpath really is ZooKeeper X.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use super::{DistError, join_classpath, proc};

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The `java` binary: `$JAVA_HOME/bin/java`, else the first `java` on PATH.
pub fn find_java() -> Result<PathBuf, DistError> {
    find_java_in(std::env::var_os("JAVA_HOME").as_deref(), std::env::var_os("PATH").as_deref())
}

pub(crate) fn find_java_in(java_home: Option<&OsStr>, path: Option<&OsStr>) -> Result<PathBuf, DistError> {
    let mut looked = Vec::new();
    if let Some(home) = java_home.filter(|h| !h.is_empty()) {
        let j = Path::new(home).join("bin").join("java");
        if is_executable(&j) {
            return Ok(j);
        }
        looked.push(format!("JAVA_HOME/bin/java = {} is not an executable", j.display()));
    }
    if let Some(path) = path {
        for dir in std::env::split_paths(path) {
            let j = dir.join("java");
            if is_executable(&j) {
                return Ok(j);
            }
        }
    }
    looked.push("no `java` on PATH".into());
    Err(DistError::JavaMissing { detail: looked.join("; ") })
}

/// Run ZooKeeper's `VersionInfoMain` on `classpath` and check it reports
/// `version`: proves the jars load under this java.
pub(crate) async fn verify_version(java: &Path, classpath: &[PathBuf], version: &str) -> Result<(), DistError> {
    let mut cmd = Command::new(java);
    cmd.arg("-Xmx64m").arg("-cp").arg(join_classpath(classpath)).arg("org.apache.zookeeper.version.VersionInfoMain");
    let out = proc::run(cmd, Duration::from_secs(60), "a Java runtime", None).await.map_err(|e| DistError::Verify {
        version: version.into(),
        reason: format!("could not run ZooKeeper's VersionInfoMain: {e}"),
    })?;
    // "Apache ZooKeeper, version 3.8.0 2024-12-29 17:54 UTC"
    let reported = out
        .stdout
        .lines()
        .find_map(|l| l.split("version ").nth(1))
        .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == '-').next())
        .unwrap_or("")
        .to_string();
    if reported != version {
        return Err(DistError::Verify {
            version: version.into(),
            reason: format!("the jars report version `{reported}` (output: {})", out.stdout.trim()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_home_then_path() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("jdk");
        std::fs::create_dir_all(home.join("bin")).unwrap();
        let j = home.join("bin/java");
        std::fs::write(&j, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&j, std::fs::Permissions::from_mode(0o755)).unwrap();

        assert_eq!(find_java_in(Some(home.as_os_str()), None).unwrap(), j);
        let path = std::env::join_paths([dir.path().join("nope"), home.join("bin")]).unwrap();
        assert_eq!(find_java_in(None, Some(&path)).unwrap(), j);

        let e = find_java_in(Some(OsStr::new("/nonexistent")), Some(OsStr::new("/nonexistent"))).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("apt-get install openjdk-17-jre-headless"), "{m}");
        assert!(m.contains("dnf install java-17-openjdk-headless"), "{m}");
        assert!(m.contains("/nonexistent/bin/java"), "{m}");
    }
}
