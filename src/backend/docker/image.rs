//! `zk-chaos image build <version>`: a ZooKeeper image built offline from
//! Debian packages and the distribution zk-chaos already provisions, so no
//! image registry is needed.
//!
//! 1. A base image `zk-chaos/base:bookworm-jre17`: a Debian bookworm root
//!    file system made by `debootstrap --variant=minbase` with Debian's
//!    `openjdk-17-jre-headless`, stripped of apt caches and docs, and
//!    `docker import`ed. Built once per engine.
//! 2. The ZooKeeper image `zk-chaos/zookeeper:<version>` `FROM` it: the
//!    provisioned jars, the logging config zk-chaos uses locally, and a
//!    `zkServer.sh` that does what the official image's does for
//!    `start-foreground` (the operator's startup script execs it). Java's
//!    negative DNS cache is off, so a member that starts before its peers'
//!    names resolve does not stall.
//!
//! Both carry our labels; the ZooKeeper image also the hash of its inputs,
//! so a warm rebuild with unchanged inputs is a lookup. Builds use the
//! `docker` CLI (`import`, `build`); containers use the engine API.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha1::{Digest as _, Sha1};
use testcontainers::bollard::Docker;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use super::engine::which;
use super::error::DockerError;
use super::naming::{LABEL_INPUTS, LABEL_MANAGED_BY, LABEL_ZK_VERSION, MANAGED_BY, image_tag};
use crate::dist::{self, DistConfig, LoggingBackend, MAIN_CLASS, Progress};

/// The base image: Debian bookworm (minbase) with Java 17.
pub const BASE_IMAGE: &str = "zk-chaos/base:bookworm-jre17";
/// Where the distribution lives inside the image.
pub const ZK_HOME: &str = "/opt/zookeeper";
/// The uid and gid ZooKeeper runs as (the operator's pod template's).
pub const UID: i64 = crate::operator::k8s::build::ZOOKEEPER_UID;

/// What a build did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The image reference.
    pub image: String,
    /// Whether the base image was built now.
    pub built_base: bool,
    /// Whether the ZooKeeper image was built now (false: it was current).
    pub built: bool,
}

/// The `java.security` overrides: no negative DNS caching, short positive.
pub const JAVA_SECURITY: &str = "networkaddress.cache.negative.ttl=0\nnetworkaddress.cache.ttl=5\n";

/// The image's `zkServer.sh`: `start-foreground <zoo.cfg>` runs the server
/// in the foreground with `$SERVER_JVMFLAGS`, its log in `<volume>/logs`.
pub fn server_script(logging: LoggingBackend) -> String {
    let conf = PathBuf::from(format!("{ZK_HOME}/conf/{}", logging.config_file_name()));
    let log_args: Vec<String> = logging.jvm_args(&conf).iter().map(|a| a.to_string_lossy().into_owned()).collect();
    format!(
        r#"#!/bin/bash
# zk-chaos image: `zkServer.sh start-foreground <zoo.cfg>` as the official image runs it.
set -euo pipefail
if [ "${{1:-}}" != start-foreground ]; then
  echo "zkServer.sh (zk-chaos image): only start-foreground is supported" >&2
  exit 2
fi
cfg="${{2:-{ZK_HOME}/conf/zoo.cfg}}"
logs="${{ZK_LOG_DIR:-$(dirname "$(dirname "$cfg")")/logs}}"
mkdir -p "$logs"
# shellcheck disable=SC2086
exec java $SERVER_JVMFLAGS -XX:+ExitOnOutOfMemoryError \
  -Djava.security.properties={ZK_HOME}/conf/java.security \
  -Dzookeeper.log.dir="$logs" -Dzookeeper.log.file={log_file} \
  {log_args} \
  -cp '{ZK_HOME}/lib/*' {MAIN_CLASS} "$cfg"
"#,
        log_file = dist::LOG_FILE,
        log_args = log_args.join(" "),
    )
}

/// The Dockerfile of the ZooKeeper image.
pub fn dockerfile(version: &str) -> String {
    format!(
        r#"FROM {BASE_IMAGE}
LABEL {LABEL_MANAGED_BY}="{MANAGED_BY}" {LABEL_ZK_VERSION}="{version}"
RUN groupadd -g {UID} zookeeper && useradd -u {UID} -g {UID} -M -d /data -s /usr/sbin/nologin zookeeper \
 && mkdir -p /data /config && chown {UID}:{UID} /data
COPY lib/ {ZK_HOME}/lib/
COPY conf/ {ZK_HOME}/conf/
COPY bin/ {ZK_HOME}/bin/
ENV PATH={ZK_HOME}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER {UID}:{UID}
WORKDIR /data
CMD ["zkServer.sh", "start-foreground", "/data/conf/zoo.cfg"]
"#
    )
}

/// The files of the build context (path inside it, contents or source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextFile {
    /// A file with this text.
    Text(String),
    /// A copy of this file.
    Copy(PathBuf),
}

/// The build context of `version`'s image from its distribution.
pub fn context_files(version: &str, classpath: &[PathBuf], logging: LoggingBackend) -> Vec<(String, ContextFile)> {
    let mut files = vec![
        ("Dockerfile".to_string(), ContextFile::Text(dockerfile(version))),
        ("bin/zkServer.sh".to_string(), ContextFile::Text(server_script(logging))),
        ("conf/java.security".to_string(), ContextFile::Text(JAVA_SECURITY.to_string())),
        (format!("conf/{}", logging.config_file_name()), ContextFile::Text(logging.config_text().to_string())),
    ];
    for jar in classpath {
        if let Some(name) = jar.file_name() {
            files.push((format!("lib/{}", name.to_string_lossy()), ContextFile::Copy(jar.clone())));
        }
    }
    files
}

/// A hash of the inputs: texts, and the names and sizes of copied files.
pub fn inputs_hash(files: &[(String, ContextFile)]) -> String {
    let mut h = Sha1::new();
    for (path, f) in files {
        h.update(path.as_bytes());
        match f {
            ContextFile::Text(t) => h.update(t.as_bytes()),
            ContextFile::Copy(p) => {
                let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or_default();
                h.update(len.to_le_bytes());
            }
        }
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The label value of `key` on a local image, or `None` when it is absent.
async fn image_label(docker: &Docker, image: &str, key: &str) -> Option<Option<String>> {
    let i = docker.inspect_image(image).await.ok()?;
    Some(i.config.and_then(|c| c.labels).and_then(|l| l.get(key).cloned()))
}

/// Whether `image` is on the engine.
pub async fn exists(docker: &Docker, image: &str) -> bool {
    docker.inspect_image(image).await.is_ok()
}

/// Build (or find current) the ZooKeeper image of `version`, provisioning
/// its distribution and the base image as needed. `rebuild` forces both
/// image builds.
pub async fn build(
    docker: &Docker,
    version: &str,
    cfg: &DistConfig,
    rebuild: bool,
    progress: &dyn Progress,
) -> Result<Built, DockerError> {
    let image = image_tag(version);
    let d = dist::resolve(version, cfg, progress).await?;
    let files = context_files(version, &d.classpath, d.logging);
    let hash = inputs_hash(&files);
    if !rebuild && image_label(docker, &image, LABEL_INPUTS).await == Some(Some(hash.clone())) {
        progress.stage(&format!("{image} is current"));
        return Ok(Built { image, built_base: false, built: false });
    }
    let built_base = if rebuild || !exists(docker, BASE_IMAGE).await {
        build_base(&cfg.cache_dir, progress).await?;
        true
    } else {
        false
    };
    need_tool("docker", "the docker CLI builds images: `apt-get install docker.io`")?;
    let ctx = cfg.cache_dir.join("docker").join("context").join(version);
    write_context(&ctx, &files)?;
    progress.stage(&format!("building {image}"));
    let label = format!("{LABEL_INPUTS}={hash}");
    let mut args = vec!["build", "--label", &label, "-t", &image];
    if rebuild {
        args.push("--no-cache");
    }
    let ctx_arg = ctx.to_string_lossy().into_owned();
    args.push(&ctx_arg);
    run_streamed("docker", &args, None, progress).await?;
    Ok(Built { image, built_base, built: true })
}

/// Get a run on the docker backend ready: an engine answers, and every
/// version in `versions` has its image (built when missing, a lookup when
/// current), or the user's `image` is on the engine.
pub async fn prepare(
    image: Option<&str>,
    versions: &[&str],
    cfg: &DistConfig,
    progress: &dyn Progress,
) -> Result<Vec<Built>, DockerError> {
    let docker = super::engine::connect().await?;
    if let Some(i) = image {
        if !exists(&docker, i).await {
            progress.stage(&format!("{i} is not on this engine: testcontainers will try to pull it"));
        }
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for v in versions {
        out.push(build(&docker, v, cfg, false, progress).await?);
    }
    Ok(out)
}

fn need_tool(tool: &str, how: &str) -> Result<(), DockerError> {
    if which(tool) { Ok(()) } else { Err(DockerError::Tool { tool: tool.into(), why: format!("not found; {how}") }) }
}

fn write_context(dir: &Path, files: &[(String, ContextFile)]) -> Result<(), DockerError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DockerError::Io { path, source }
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    for (rel, f) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("has a parent")).map_err(io(&path))?;
        match f {
            ContextFile::Text(t) => std::fs::write(&path, t).map_err(io(&path))?,
            ContextFile::Copy(src) => {
                std::fs::copy(src, &path).map_err(io(src))?;
            }
        }
        if rel.starts_with("bin/") {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// debootstrap a minimal bookworm with Java 17 and import it as [`BASE_IMAGE`].
async fn build_base(cache: &Path, progress: &dyn Progress) -> Result<(), DockerError> {
    need_tool("debootstrap", "the base image is made with it: `apt-get install debootstrap`")?;
    need_tool("docker", "the docker CLI imports images: `apt-get install docker.io`")?;
    let root = cache.join("docker").join("rootfs");
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|source| DockerError::Io { path: root.clone(), source })?;
    }
    let mirror = dist::debian_mirror();
    progress.stage(&format!("debootstrap bookworm (minbase, openjdk-17-jre-headless) from {mirror}"));
    let root_arg = root.to_string_lossy().into_owned();
    let args = ["--variant=minbase", "--include=openjdk-17-jre-headless", "bookworm", &root_arg, &mirror];
    run_streamed("debootstrap", &args, None, progress).await?;
    for junk in ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale"] {
        let p = root.join(junk);
        if p.exists() {
            let _ = std::fs::remove_dir_all(&p);
            let _ = std::fs::create_dir_all(&p);
        }
    }
    progress.stage(&format!("importing {BASE_IMAGE}"));
    let change = format!("LABEL {LABEL_MANAGED_BY}={MANAGED_BY}");
    let script = r#"tar -C "$1" -c . | docker import --change "$2" - "$3""#;
    run_streamed("bash", &["-c", script, "import", &root_arg, &change, BASE_IMAGE], None, progress).await?;
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

/// Run `tool args`, each output line a progress stage; fails with the
/// output's tail.
async fn run_streamed(
    tool: &str,
    args: &[&str],
    dir: Option<&Path>,
    progress: &dyn Progress,
) -> Result<(), DockerError> {
    let mut cmd = tokio::process::Command::new(tool);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let fail = |why: String| DockerError::Tool { tool: tool.to_string(), why };
    let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
    let out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let err = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut tail: std::collections::VecDeque<String> = Default::default();
    let mut lines = Box::pin(futures::stream::select(
        futures::stream::unfold(out, |mut l| async move { l.next_line().await.ok().flatten().map(|x| (x, l)) }),
        futures::stream::unfold(err, |mut l| async move { l.next_line().await.ok().flatten().map(|x| (x, l)) }),
    ));
    use futures::StreamExt as _;
    while let Some(line) = lines.next().await {
        let line = line.trim().to_string();
        if line.is_empty() {
            continue;
        }
        progress.stage(&format!("{tool}: {line}"));
        tail.push_back(line);
        if tail.len() > 15 {
            tail.pop_front();
        }
    }
    let status = child.wait().await.map_err(|e| fail(e.to_string()))?;
    if status.success() { Ok(()) } else { Err(fail(format!("{status}; last lines:\n{}", Vec::from(tail).join("\n")))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_script_runs_the_main_class_with_the_pods_flags() {
        let s = server_script(LoggingBackend::Log4j1);
        assert!(s.contains("exec java $SERVER_JVMFLAGS"));
        assert!(s.contains(MAIN_CLASS));
        assert!(s.contains("-Djava.security.properties=/opt/zookeeper/conf/java.security"));
        assert!(s.contains("-Dlog4j.configuration=file:/opt/zookeeper/conf/log4j.properties"));
        assert!(JAVA_SECURITY.contains("networkaddress.cache.negative.ttl=0"));
    }

    #[test]
    fn the_dockerfile_builds_on_the_base_and_runs_as_the_pods_user() {
        let d = dockerfile("3.8.0");
        assert!(d.starts_with(&format!("FROM {BASE_IMAGE}\n")));
        assert!(d.contains("io.zk-chaos.managed-by=\"zk-chaos\""));
        assert!(d.contains("USER 1000:1000"));
        assert!(d.contains("chown 1000:1000 /data"));
    }

    #[test]
    fn the_inputs_hash_changes_with_the_inputs() {
        let a = context_files("3.8.0", &[], LoggingBackend::Log4j1);
        let b = context_files("3.9.3", &[], LoggingBackend::Log4j1);
        assert_eq!(inputs_hash(&a), inputs_hash(&a.clone()));
        assert_ne!(inputs_hash(&a), inputs_hash(&b));
        let jars = context_files("3.8.0", &[PathBuf::from("/x/zookeeper-3.8.0.jar")], LoggingBackend::Log4j1);
        assert!(jars.iter().any(|(p, _)| p == "lib/zookeeper-3.8.0.jar"));
    }
}
