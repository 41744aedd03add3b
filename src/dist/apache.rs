//! ZooKeeper from the Apache release tarball
//! (`<mirror>/zookeeper-X/apache-zookeeper-X-bin.tar.gz`), checked against
//! the published `.sha512`. Fetched with `curl` and a short connect timeout,
//! so an unreachable Apache server costs seconds, not minutes.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use super::cache::{self, Manifest};
use super::{DistError, Progress, proc, user};

/// The default release archive.
pub const DEFAULT_APACHE_MIRROR: &str = "https://archive.apache.org/dist/zookeeper";
/// Env override for the release archive (e.g. a closer mirror).
pub const APACHE_MIRROR_ENV: &str = "ZK_CHAOS_APACHE_MIRROR";

const CURL_HINT: &str = "curl fetches the Apache release tarball";

/// The tarball URL for `version` under `mirror`.
pub fn tarball_url(mirror: &str, version: &str) -> String {
    format!("{}/zookeeper-{version}/apache-zookeeper-{version}-bin.tar.gz", mirror.trim_end_matches('/'))
}

/// The hex digest in a `.sha512` file: either `<hex>  <file>` (sha512sum)
/// or `<file>: <HEX IN GROUPS>` (gpg --print-md, older releases).
pub fn parse_sha512_file(text: &str) -> Option<String> {
    let body = match text.split_once(':') {
        Some((name, rest)) if !name.trim().chars().all(|c| c.is_ascii_hexdigit()) => rest.to_string(),
        _ => text.split_whitespace().next()?.to_string(),
    };
    let hex: String = body.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    (hex.len() == 128 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

fn curl(url: &str, out: &Path, max_time: Duration) -> Command {
    let mut c = Command::new("curl");
    c.args(["-fsSL", "--connect-timeout", "5", "--speed-limit", "1024", "--speed-time", "30", "--max-time"])
        .arg(max_time.as_secs().to_string())
        .arg("-o")
        .arg(out)
        .arg(url);
    c
}

async fn sha512_of(file: &Path) -> Result<String, DistError> {
    let mut c = Command::new("sha512sum");
    c.arg(file);
    let out = proc::run(c, Duration::from_secs(120), "sha512sum (coreutils) checks the tarball", None).await?;
    Ok(out.stdout.split_whitespace().next().unwrap_or("").to_ascii_lowercase())
}

/// Provision `version` from the tarball into `staging`.
pub(crate) async fn provision(
    version: &str,
    staging: &Path,
    java: &Path,
    progress: &dyn Progress,
) -> Result<Manifest, DistError> {
    let mirror = std::env::var(APACHE_MIRROR_ENV)
        .ok()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_APACHE_MIRROR.to_string());
    let url = tarball_url(&mirror, version);
    let dl = staging.join("download");
    std::fs::create_dir_all(&dl).map_err(|e| DistError::io("creating the download dir", e))?;

    // The small checksum file first: where Apache is unreachable this fails
    // within the connect timeout.
    let sha_file = dl.join("tarball.sha512");
    proc::run(
        curl(&format!("{url}.sha512"), &sha_file, Duration::from_secs(30)),
        Duration::from_secs(40),
        CURL_HINT,
        None,
    )
    .await?;
    let sha_text = std::fs::read_to_string(&sha_file).map_err(|e| DistError::io("reading the .sha512 file", e))?;
    let expected = parse_sha512_file(&sha_text).ok_or_else(|| DistError::Verify {
        version: version.into(),
        reason: format!("{url}.sha512 holds no sha512 digest"),
    })?;

    progress.stage(&format!("downloading {url}"));
    let tarball = dl.join(format!("apache-zookeeper-{version}-bin.tar.gz"));
    let size = || std::fs::metadata(&tarball).map(|m| m.len()).unwrap_or(0);
    let watch = proc::Watch { size: &size, total: None, progress };
    proc::run(curl(&url, &tarball, Duration::from_secs(900)), Duration::from_secs(920), CURL_HINT, Some(watch)).await?;

    progress.stage(&format!("verifying the sha512 of apache-zookeeper-{version}-bin.tar.gz"));
    let actual = sha512_of(&tarball).await?;
    if actual != expected {
        return Err(DistError::Checksum { file: tarball, expected, actual });
    }

    progress.stage("extracting the tarball");
    let mut c = Command::new("tar");
    c.arg("-xzf").arg(&tarball).arg("-C").arg(staging);
    proc::run(c, Duration::from_secs(300), "tar unpacks the tarball", None).await?;
    let _ = std::fs::remove_dir_all(&dl);

    progress.stage(&format!("verifying ZooKeeper {version}"));
    let home = staging.join(format!("apache-zookeeper-{version}-bin"));
    let classpath = user::apache_layout_classpath(&home).ok_or_else(|| DistError::Verify {
        version: version.into(),
        reason: format!("the tarball has no {}/lib/zookeeper-{version}.jar", home.display()),
    })?;
    let mut m = cache::verified_manifest(staging, classpath, version, java, &url, "the tarball's jars").await?;
    m.packages = vec![format!("apache-zookeeper-{version}-bin.tar.gz sha512:{expected}")];
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
                       0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn sha512_file_formats() {
        let a = format!("{HEX}  apache-zookeeper-3.8.0-bin.tar.gz\n");
        assert_eq!(parse_sha512_file(&a).as_deref(), Some(HEX));
        let upper: String = HEX.to_ascii_uppercase();
        let grouped: Vec<String> = upper.as_bytes().chunks(8).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
        let b = format!("apache-zookeeper-3.5.9-bin.tar.gz: {}\n {}\n", grouped[..8].join(" "), grouped[8..].join(" "));
        assert_eq!(parse_sha512_file(&b).as_deref(), Some(HEX));
        assert_eq!(parse_sha512_file("<html>404</html>"), None);
    }

    #[test]
    fn url_shape() {
        assert_eq!(
            tarball_url("https://archive.apache.org/dist/zookeeper/", "3.8.0"),
            "https://archive.apache.org/dist/zookeeper/zookeeper-3.8.0/apache-zookeeper-3.8.0-bin.tar.gz"
        );
    }
}
