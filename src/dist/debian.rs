//! ZooKeeper from Debian packages, fetched with `apt-get download` against
//! a private apt state under `<cache>/apt/<suite>/` (own sources.list,
//! lists, caches, status file and config parts dir, so neither the system's
//! apt state nor its update hooks are touched), verified by apt against the
//! Debian archive keyring, unpacked with `dpkg -x`.
//!
//! Each supported version comes from the suites that ship exactly that
//! version ([`suites_for`]): 3.8.0 is bookworm's `libzookeeper-java`, 3.9.3
//! trixie's, 3.9.6 forky's (or sid's, when forky has moved on). Every version
//! runs with bookworm's dependency jars: the classpath is the fixed list in
//! [`SERVER_JARS`], not the packages' whole dependency closure (that pulls
//! in junit, guava, spring, tomcat, ...). See [`SERVER_JARS`] for why
//! bookworm's jars serve 3.9.3 and 3.9.6 too.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::process::Command;

use super::cache::{self, Manifest};
use super::{DistConfig, DistError, Progress, proc};

/// Where Debian packages put jars.
pub const JAVA_DIR: &str = "usr/share/java";
/// The mirror used when neither the env nor the system's sources name one.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Env override for the mirror.
pub const MIRROR_ENV: &str = "ZK_CHAOS_DEBIAN_MIRROR";
/// Env override for the keyring apt verifies the archive with.
pub const KEYRING_ENV: &str = "ZK_CHAOS_DEBIAN_KEYRING";
/// The Debian archive keyring.
pub const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Package lists younger than this are not refreshed before a download.
const LISTS_FRESH: Duration = Duration::from_secs(6 * 3600);

/// The ZooKeeper jars, from the ZooKeeper suite's `libzookeeper-java`.
pub const ZK_JARS: &[&str] = &["zookeeper", "zookeeper-jute"];

/// The dependency jars `QuorumPeerMain` needs at run time with the admin
/// server on: `(jar in usr/share/java without .jar, package, why)`. All from
/// the dependency suite (bookworm), for every version.
///
/// Why bookworm's jars serve the newer ZooKeepers too: trixie's 3.9.3 and
/// forky's 3.9.6 are built (class files for Java 8) against the same
/// dependency lines Debian ships in bookworm: Netty 4.1.48 (forky has the
/// same upstream version, split into more packages), Jetty 9.4.57 (forky:
/// 9.4.58), dropwizard metrics 3.2.6, log4j 1.2.17 through slf4j 1.7.
/// Checked for 3.9.6 (3.9.6-2) by reading every class and member reference
/// of `zookeeper.jar` and `zookeeper-jute.jar` out of their constant pools:
/// all 774 member references into 130 dependency classes resolve against
/// these jars; the only classes not found are Jetty's HTTP *client* (the
/// test-only `server.controller.CommandClient`) and JLine (the `zkCli`
/// shell), neither of which the server loads. A 3.9.6 ensemble on these
/// jars elects, serves, reconfigures and answers 4lw and the admin server
/// (`tests/dist.rs`, the features).
pub const SERVER_JARS: &[(&str, &str, &str)] = &[
    ("slf4j-api", "libslf4j-java", "logging API"),
    ("slf4j-log4j12", "libslf4j-java", "binds slf4j to log4j 1.2, as Debian's zookeeper does"),
    ("log4j-1.2", "liblog4j1.2-java", "the logging backend"),
    ("commons-cli", "libcommons-cli-java", "command line parsing (on zookeeper.jar's Class-Path)"),
    ("commons-io", "libcommons-io-java", "file utilities for snapshots and logs"),
    ("jackson-annotations", "libjackson2-annotations-java", "admin server JSON"),
    ("jackson-core", "libjackson2-core-java", "admin server JSON"),
    ("jackson-databind", "libjackson2-databind-java", "admin server JSON"),
    ("jetty9-server", "libjetty9-java", "admin server (Jetty 9)"),
    ("jetty9-servlet", "libjetty9-java", "admin server (Jetty 9)"),
    ("jetty9-security", "libjetty9-java", "admin server (Jetty 9)"),
    ("jetty9-http", "libjetty9-java", "admin server (Jetty 9)"),
    ("jetty9-io", "libjetty9-java", "admin server (Jetty 9)"),
    ("jetty9-util", "libjetty9-java", "admin server (Jetty 9)"),
    ("servlet-api", "libservlet-api-java", "javax.servlet, which Jetty 9 serves"),
    ("netty-buffer", "libnetty-java", "Netty (client/quorum connection code)"),
    ("netty-codec", "libnetty-java", "Netty"),
    ("netty-common", "libnetty-java", "Netty"),
    ("netty-handler", "libnetty-java", "Netty (TLS handler classes)"),
    ("netty-resolver", "libnetty-java", "Netty"),
    ("netty-transport", "libnetty-java", "Netty"),
    ("netty-transport-native-epoll", "libnetty-java", "Netty epoll transport"),
    ("netty-transport-native-unix-common", "libnetty-java", "Netty epoll transport"),
    ("jctools-core", "libjctools-java", "Debian's Netty uses an unbundled JCTools"),
    ("metrics-core", "libdropwizard-metrics-java", "summary metrics (percentile counters)"),
    ("snappy-java", "libsnappy-java", "snapshot compression (when enabled)"),
];

/// How one supported version is built from Debian packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebianRecipe {
    /// The upstream ZooKeeper version.
    pub version: &'static str,
    /// The suites that ship exactly this version, tried in order (the first
    /// whose `libzookeeper-java` is this version is used).
    pub zk_suites: &'static [&'static str],
    /// The ZooKeeper packages.
    pub zk_packages: &'static [&'static str],
    /// The suite the dependency packages come from.
    pub deps_suite: &'static str,
}

impl DebianRecipe {
    /// The dependency packages, deduplicated, in [`SERVER_JARS`] order.
    pub fn dep_packages(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for (_, p, _) in SERVER_JARS {
            if !out.contains(p) {
                out.push(p);
            }
        }
        out
    }
}

/// Exact ZooKeeper version -> the Debian suites whose `libzookeeper-java`
/// is that version, in the order they are tried. Per exact version, not per
/// minor line: trixie ships 3.9.3 and forky 3.9.6. Debian versions seen:
/// `3.8.0-11+deb12u2` (bookworm), `3.9.3-1+deb13u1` (trixie), `3.9.6-2`
/// (forky and sid). sid follows forky for 3.9.6 because testing is where a
/// version stays longest; sid is where a newer upload lands first.
const DEBIAN_SUITES_BY_VERSION: &[(&str, &[&str])] =
    &[("3.8.0", &["bookworm"]), ("3.9.3", &["trixie"]), ("3.9.6", &["forky", "sid"])];

/// The Debian suites that ship exactly ZooKeeper `version`, in the order
/// they are tried; empty when no suite does.
pub fn suites_for(version: &str) -> &'static [&'static str] {
    DEBIAN_SUITES_BY_VERSION.iter().find(|(v, _)| *v == version).map_or(&[], |(_, s)| s)
}

/// The recipe for a supported version.
pub fn debian_recipe(version: &str) -> Option<DebianRecipe> {
    let version = *super::supported_versions().iter().find(|v| **v == version)?;
    let zk_suites = suites_for(version);
    if zk_suites.is_empty() {
        return None;
    }
    Some(DebianRecipe { version, zk_suites, zk_packages: &["zookeeper", "libzookeeper-java"], deps_suite: "bookworm" })
}

const DEBIAN_SUITES: &[&str] = &[
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "duke",
    "sid",
    "oldoldstable",
    "oldstable",
    "stable",
    "testing",
    "unstable",
];

fn usable_entry(uri: &str, suites: &[&str], components: &[&str]) -> bool {
    (uri.starts_with("http://") || uri.starts_with("https://"))
        && !uri.contains("snapshot.debian.org")
        && suites.iter().any(|s| DEBIAN_SUITES.contains(s))
        && components.contains(&"main")
}

/// The Debian mirror named in an apt sources file (one-line `.list` or
/// deb822 `.sources` format): the first enabled `deb` entry of a Debian
/// release suite with `main` (security, updates and snapshot entries are
/// skipped). The URI comes back without a trailing slash.
pub fn parse_mirror(text: &str) -> Option<String> {
    let found = if text.lines().any(|l| l.trim_start().to_ascii_lowercase().starts_with("uris:")) {
        parse_deb822(text)
    } else {
        parse_one_line(text)
    };
    found.map(|u| u.trim_end_matches('/').to_string())
}

fn parse_one_line(text: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb ").or_else(|| line.strip_prefix("deb\t")) else {
            continue;
        };
        let mut rest = rest.trim_start();
        if rest.starts_with('[') {
            let Some(end) = rest.find(']') else { continue };
            rest = &rest[end + 1..];
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else { continue };
        let comps: Vec<&str> = words.collect();
        if usable_entry(uri, &[suite], &comps) {
            return Some(uri.to_string());
        }
    }
    None
}

fn parse_deb822(text: &str) -> Option<String> {
    let mut paragraphs: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            paragraphs.push(Vec::new());
            continue;
        }
        if line.trim_start().starts_with('#') {
            continue;
        }
        let cur = paragraphs.last_mut().expect("non-empty");
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = cur.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    for p in paragraphs {
        let get = |k: &str| p.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.as_str()).unwrap_or("");
        if get("enabled").eq_ignore_ascii_case("no") || !get("types").split_whitespace().any(|t| t == "deb") {
            continue;
        }
        let suites: Vec<&str> = get("suites").split_whitespace().collect();
        let comps: Vec<&str> = get("components").split_whitespace().collect();
        for uri in get("uris").split_whitespace() {
            if usable_entry(uri, &suites, &comps) {
                return Some(uri.to_string());
            }
        }
    }
    None
}

/// The mirror to use: `$ZK_CHAOS_DEBIAN_MIRROR`, else the system's apt
/// sources, else deb.debian.org.
pub fn mirror() -> String {
    if let Some(m) = std::env::var(MIRROR_ENV).ok().filter(|m| !m.trim().is_empty()) {
        return m.trim().trim_end_matches('/').to_string();
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "list" || e == "sources"))
            .collect();
        more.sort();
        files.extend(more);
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .find_map(|t| parse_mirror(&t))
        .unwrap_or_else(|| DEFAULT_MIRROR.to_string())
}

fn keyring() -> PathBuf {
    std::env::var_os(KEYRING_ENV).filter(|k| !k.is_empty()).map(PathBuf::from).unwrap_or(DEFAULT_KEYRING.into())
}

/// Lexically drop `.` and resolve `..` (the path does not exist outside the
/// extracted tree, so `canonicalize` is not an option for absolute links).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Follow symlinks of `p` inside the tree rooted at `root` (absolute link
/// targets are taken relative to `root`, as they would be once installed).
fn resolve_in_tree(root: &Path, mut p: PathBuf) -> Option<PathBuf> {
    for _ in 0..16 {
        match std::fs::read_link(&p) {
            Ok(t) => {
                p = if let Ok(rel) = t.strip_prefix("/") { root.join(rel) } else { normalize(&p.parent()?.join(t)) };
            }
            Err(_) => return p.is_file().then_some(p),
        }
    }
    None
}

/// The server classpath inside an unpacked Debian tree rooted at `root`
/// (the ZooKeeper jars first), or the names of the jars that are missing.
pub(crate) fn classpath_in(root: &Path) -> Result<Vec<PathBuf>, Vec<String>> {
    let java_dir = root.join(JAVA_DIR);
    let names = ZK_JARS.iter().copied().chain(SERVER_JARS.iter().map(|(j, _, _)| *j));
    let mut cp = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match resolve_in_tree(root, java_dir.join(format!("{name}.jar"))) {
            Some(p) => cp.push(p),
            None => missing.push(format!("{name}.jar")),
        }
    }
    if missing.is_empty() { Ok(cp) } else { Err(missing) }
}

/// One package as `apt-cache show` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PkgInfo {
    pub name: String,
    pub version: String,
    pub size: u64,
}

/// Parse `apt-cache show --no-all-versions` output.
pub(crate) fn parse_show(text: &str) -> Vec<PkgInfo> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut name = None;
        let mut version = None;
        let mut size = 0;
        for line in para.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("Size: ") {
                size = v.trim().parse().unwrap_or(0);
            }
        }
        if let (Some(name), Some(version)) = (name, version) {
            out.push(PkgInfo { name, version, size });
        }
    }
    out
}

/// The upstream part of a Debian version: `1:3.8.0+dfsg-11+deb12u2` ->
/// `3.8.0`.
pub(crate) fn upstream_version(debian_version: &str) -> &str {
    let v = debian_version.split_once(':').map_or(debian_version, |(_, v)| v);
    let v = v.rsplit_once('-').map_or(v, |(u, _)| u);
    v.split(['+', '~']).next().unwrap_or(v)
}

/// A private apt state for one suite.
struct Apt {
    dir: PathBuf,
    suite: String,
}

impl Apt {
    fn new(cfg: &DistConfig, suite: &str) -> Self {
        Self { dir: cfg.cache_dir.join("apt").join(suite), suite: suite.into() }
    }

    fn opt(&self, name: &str, rel: &str) -> [OsString; 2] {
        let mut v = OsString::from(format!("{name}="));
        v.push(self.dir.join(rel).as_os_str());
        ["-o".into(), v]
    }

    /// Lay out the private state: sources.list, lists, caches, an empty
    /// status file, an empty config parts dir, and apt.conf (carrying over
    /// only the system's proxy and validity settings).
    async fn prepare(&self, mirror: &str, keyring: &Path) -> Result<(), DistError> {
        let io = |what: &str, e| DistError::io(format!("{what} in {}", self.dir.display()), e);
        for d in ["lists/partial", "cache/archives/partial", "apt.conf.d", "preferences.d", "log"] {
            std::fs::create_dir_all(self.dir.join(d)).map_err(|e| io("creating dirs", e))?;
        }
        if !self.dir.join("status").exists() {
            std::fs::write(self.dir.join("status"), b"").map_err(|e| io("writing status", e))?;
        }
        let sources = format!("deb [signed-by={}] {mirror} {} main\n", keyring.display(), self.suite);
        cache::write_atomic(&self.dir.join("sources.list"), sources.as_bytes())?;

        let mut conf = String::from("// written by zk-chaos: a private apt state, see sources.list beside it\n");
        let q = |p: &Path| format!("\"{}\"", p.display());
        conf += &format!("Dir::Etc::Parts {};\n", q(&self.dir.join("apt.conf.d")));
        conf += &format!("Dir::Etc::PreferencesParts {};\n", q(&self.dir.join("preferences.d")));
        conf += &format!("Dir::Etc::Preferences {};\n", q(&self.dir.join("preferences")));
        conf += &format!("Dir::State {};\n", q(&self.dir));
        conf += &format!("Dir::Log {};\n", q(&self.dir.join("log")));
        // No on-disk binary caches (~40 MB each per suite); apt builds them
        // in memory in under a second.
        conf += "Dir::Cache::pkgcache \"\";\nDir::Cache::srcpkgcache \"\";\n";
        conf += "Acquire::Languages \"none\";\nAcquire::GzipIndexes \"true\";\nAcquire::Retries \"3\";\n";
        conf += "Acquire::http::Timeout \"30\";\nAcquire::https::Timeout \"30\";\n";
        if nix::unistd::geteuid().is_root() {
            // The private dirs are not readable by `_apt`; say so instead of
            // a warning per download.
            conf += "APT::Sandbox::User \"root\";\n";
        }
        conf += &system_apt_settings().await;
        cache::write_atomic(&self.dir.join("apt.conf"), conf.as_bytes())
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("APT_CONFIG", self.dir.join("apt.conf")).env("LC_ALL", "C").env("DEBIAN_FRONTEND", "noninteractive");
        c.args(self.opt("Dir::Etc::SourceList", "sources.list"));
        c.args(["-o", "Dir::Etc::SourceParts=/nonexistent"]);
        c.args(self.opt("Dir::State::Lists", "lists"));
        c.args(self.opt("Dir::Cache", "cache"));
        c.args(self.opt("Dir::State::status", "status"));
        c
    }

    fn lists_fresh(&self) -> bool {
        std::fs::metadata(self.dir.join("updated-at"))
            .and_then(|m| m.modified())
            .is_ok_and(|t| SystemTime::now().duration_since(t).is_ok_and(|age| age < LISTS_FRESH))
    }

    async fn update(&self, progress: &dyn Progress) -> Result<(), DistError> {
        progress.stage(&format!("updating package lists for Debian {}", self.suite));
        let _ = std::fs::remove_file(self.dir.join("updated-at"));
        let mut c = self.command("apt-get");
        c.args(["-q", "update"]);
        let out = proc::run(c, Duration::from_secs(300), APT_HINT, None).await?;
        // apt-get update exits 0 when some index could not be fetched.
        if out.stderr.lines().any(|l| l.starts_with("E:") || l.starts_with("W: Failed to fetch")) {
            return Err(DistError::Command {
                command: format!("apt-get update (Debian {})", self.suite),
                status: "some package lists could not be fetched".into(),
                stderr_tail: proc::tail(&out.stderr, 15),
            });
        }
        std::fs::write(self.dir.join("updated-at"), b"").map_err(|e| DistError::io("writing updated-at", e))
    }

    async fn show(&self, packages: &[&str]) -> Result<Vec<PkgInfo>, DistError> {
        let mut c = self.command("apt-cache");
        c.args(["show", "--no-all-versions"]).args(packages);
        let out = proc::run(c, Duration::from_secs(120), APT_HINT, None).await?;
        let infos = parse_show(&out.stdout);
        let missing: Vec<&str> = packages.iter().copied().filter(|p| !infos.iter().any(|i| i.name == *p)).collect();
        if !missing.is_empty() {
            return Err(DistError::Command {
                command: format!("apt-cache show (Debian {})", self.suite),
                status: format!("packages not found: {}", missing.join(", ")),
                stderr_tail: proc::tail(&out.stderr, 15),
            });
        }
        Ok(packages.iter().filter_map(|p| infos.iter().find(|i| i.name == *p).cloned()).collect())
    }

    /// Fetch `pkgs` into `dest`. Packages fetched before for this suite
    /// (kept in `<cache>/apt/<suite>/debs/`, e.g. the bookworm dependency
    /// jars every version shares) are linked from there, not downloaded
    /// again.
    async fn download(&self, pkgs: &[PkgInfo], dest: &Path, progress: &dyn Progress) -> Result<(), DistError> {
        std::fs::create_dir_all(dest).map_err(|e| DistError::io(format!("creating {}", dest.display()), e))?;
        let shared = self.dir.join("debs");
        let _ = std::fs::create_dir_all(&shared);
        let known: Vec<String> = std::fs::read_dir(&shared)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let mut missing: Vec<&PkgInfo> = Vec::new();
        for p in pkgs {
            let reused = known
                .iter()
                .find(|f| is_deb_of(f, p))
                .is_some_and(|f| link_or_copy(&shared.join(f), &dest.join(f)).is_ok());
            if !reused {
                missing.push(p);
            }
        }
        let reused = pkgs.len() - missing.len();
        if missing.is_empty() {
            progress.stage(&format!("{reused} packages from Debian {} already in the cache", self.suite));
            return Ok(());
        }
        let total: u64 = missing.iter().map(|p| p.size).sum();
        let cached = if reused > 0 { format!("; {reused} already in the cache") } else { String::new() };
        progress.stage(&format!(
            "downloading {} packages from Debian {} ({:.1} MB{cached})",
            missing.len(),
            self.suite,
            total as f64 / 1e6
        ));
        let mut c = self.command("apt-get");
        c.args(["-q", "download"]).args(missing.iter().map(|p| format!("{}={}", p.name, p.version))).current_dir(dest);
        let size = || dir_size(dest);
        let watch = proc::Watch { size: &size, total: Some(total), progress };
        proc::run(c, Duration::from_secs(900), APT_HINT, Some(watch)).await?;
        for e in std::fs::read_dir(dest).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".deb") && !known.contains(&name) {
                let _ = link_or_copy(&e.path(), &shared.join(&name));
            }
        }
        Ok(())
    }
}

/// Whether `file` is the `.deb` `apt-get download` writes for `p`
/// (`<name>_<version, ':' as %3a>_<arch>.deb`).
fn is_deb_of(file: &str, p: &PkgInfo) -> bool {
    let prefix = format!("{}_{}_", p.name, p.version.replace(':', "%3a"));
    file.starts_with(&prefix) && file.ends_with(".deb") && !file[prefix.len()..].contains('_')
}

fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if to.exists() {
        return Ok(());
    }
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
}

const APT_HINT: &str = "zk-chaos fetches ZooKeeper with apt on Debian/Ubuntu; elsewhere point ZK_CHAOS_ZK_HOME at \
                        an unpacked ZooKeeper distribution";

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir).into_iter().flatten().flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()
}

/// Proxy and index-validity settings of the system's apt config, which a
/// private parts dir would otherwise drop.
async fn system_apt_settings() -> String {
    let mut c = Command::new("apt-config");
    c.arg("dump");
    let Ok(out) = proc::run(c, Duration::from_secs(30), APT_HINT, None).await else {
        return String::new();
    };
    let keep = ["Acquire::http::Proxy", "Acquire::https::Proxy", "Acquire::ftp::Proxy", "Acquire::socks::Proxy"];
    let keep_exact = ["Acquire::Check-Valid-Until ", "Acquire::Check-Date "];
    out.stdout
        .lines()
        .filter(|l| keep.iter().any(|k| l.starts_with(k)) || keep_exact.iter().any(|k| l.starts_with(k)))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Fetch one suite's packages into `dest` under the suite's lock; returns
/// `package=version` strings.
async fn fetch_suite(
    cfg: &DistConfig,
    suite: &str,
    packages: &[&str],
    check: Option<(&str, &str)>,
    dest: &Path,
    progress: &dyn Progress,
) -> Result<Vec<String>, DistError> {
    let apt = Apt::new(cfg, suite);
    let lock_path = cfg.cache_dir.join("apt").join(format!("{suite}.lock"));
    let _lock = cache::lock(&lock_path, progress, &format!("the Debian {suite} package lists")).await?;
    let mirror = mirror();
    let keyring = keyring();
    if !keyring.is_file() {
        return Err(DistError::KeyringMissing { path: keyring });
    }
    apt.prepare(&mirror, &keyring).await?;
    let mut updated = false;
    if !apt.lists_fresh() {
        apt.update(progress).await?;
        updated = true;
    }
    let infos = match apt.show(packages).await {
        Ok(i) => i,
        Err(_) if !updated => {
            apt.update(progress).await?;
            updated = true;
            apt.show(packages).await?
        }
        Err(e) => return Err(e),
    };
    if let Some((package, wanted)) = check
        && let Some(info) = infos.iter().find(|i| i.name == package)
        && upstream_version(&info.version) != wanted
    {
        return Err(DistError::DebianVersion {
            suite: suite.into(),
            package: package.into(),
            found: info.version.clone(),
            wanted: wanted.into(),
        });
    }
    if let Err(e) = apt.download(&infos, dest, progress).await {
        if updated {
            return Err(e);
        }
        // The lists may name a version the mirror no longer has.
        apt.update(progress).await?;
        let _ = std::fs::remove_dir_all(dest);
        let infos = apt.show(packages).await?;
        apt.download(&infos, dest, progress).await?;
        return Ok(infos.iter().map(|i| format!("{}={}", i.name, i.version)).collect());
    }
    Ok(infos.iter().map(|i| format!("{}={}", i.name, i.version)).collect())
}

/// Provision `recipe` into `staging` and return its manifest (paths
/// relative to `staging`) and the suite the ZooKeeper packages came from.
///
/// The recipe's suites are tried in order; a suite that fails (it ships
/// another version, lacks the packages, or cannot be fetched) passes to the
/// next, and when all fail every suite's reason is reported.
pub(crate) async fn provision(
    recipe: &DebianRecipe,
    staging: &Path,
    cfg: &DistConfig,
    java: &Path,
    progress: &dyn Progress,
) -> Result<(Manifest, &'static str), DistError> {
    let version = recipe.version;
    let debs = staging.join("debs");
    let root = staging.join("root");

    let deps = recipe.dep_packages();
    let mut packages = Vec::new();
    let mut suites_used: Vec<&str> = Vec::new();
    let mut failures: Vec<(String, DistError)> = Vec::new();
    let mut zk_suite = None;
    for suite in recipe.zk_suites {
        let mut pkgs = recipe.zk_packages.to_vec();
        if *suite == recipe.deps_suite {
            pkgs.extend(deps.iter().copied());
        }
        let check = Some(("libzookeeper-java", version));
        match fetch_suite(cfg, suite, &pkgs, check, &debs.join(suite), progress).await {
            Ok(fetched) => {
                packages.extend(fetched.into_iter().map(|p| format!("{suite}:{p}")));
                suites_used.push(suite);
                zk_suite = Some(*suite);
                break;
            }
            Err(e) => {
                tracing::info!(version, suite, error = %e, "ZooKeeper packages unavailable from this suite");
                let _ = std::fs::remove_dir_all(debs.join(suite));
                failures.push((suite.to_string(), e));
            }
        }
    }
    let Some(zk_suite) = zk_suite else {
        return Err(match failures.len() {
            1 => failures.remove(0).1,
            _ => DistError::DebianSuites {
                version: version.into(),
                attempts: failures.into_iter().map(|(s, e)| format!("Debian {s}: {e}")).collect(),
            },
        });
    };
    if zk_suite != recipe.deps_suite {
        let suite = recipe.deps_suite;
        let fetched = fetch_suite(cfg, suite, &deps, None, &debs.join(suite), progress).await?;
        packages.extend(fetched.into_iter().map(|p| format!("{suite}:{p}")));
        suites_used.push(suite);
    }

    let mut files: Vec<PathBuf> = Vec::new();
    for suite in &suites_used {
        let mut f: Vec<PathBuf> = std::fs::read_dir(debs.join(suite))
            .map_err(|e| DistError::io("listing downloaded packages", e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "deb"))
            .collect();
        f.sort();
        files.extend(f);
    }
    progress.stage(&format!("extracting {} packages", files.len()));
    std::fs::create_dir_all(&root).map_err(|e| DistError::io("creating the extraction dir", e))?;
    for deb in &files {
        let mut c = Command::new("dpkg");
        c.arg("-x").arg(deb).arg(&root);
        proc::run(c, Duration::from_secs(120), "dpkg unpacks the packages", None).await?;
    }
    let _ = std::fs::remove_dir_all(&debs);

    progress.stage(&format!("verifying ZooKeeper {version}"));
    let classpath = classpath_in(&root).map_err(|missing| DistError::Verify {
        version: version.into(),
        reason: format!("the unpacked packages lack {}", missing.join(", ")),
    })?;
    let origin = if zk_suite == recipe.deps_suite {
        format!("debian:{zk_suite}")
    } else {
        format!("debian:{zk_suite} (dependencies from {})", recipe.deps_suite)
    };
    let mut m = cache::verified_manifest(staging, classpath, version, java, &origin, "the jars").await?;
    m.packages = packages;
    Ok((m, zk_suite))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_deb_is_found_by_package_and_exact_version() {
        let p = |name: &str, version: &str| PkgInfo { name: name.into(), version: version.into(), size: 1 };
        let netty = p("libnetty-java", "1:4.1.48-7+deb12u1");
        assert!(is_deb_of("libnetty-java_1%3a4.1.48-7+deb12u1_all.deb", &netty));
        assert!(!is_deb_of("libnetty-java_1%3a4.1.48-7_all.deb", &netty), "another version");
        assert!(!is_deb_of("libnetty-java-extra_1%3a4.1.48-7+deb12u1_all.deb", &netty), "another package");
        assert!(!is_deb_of("libnetty-java_1%3a4.1.48-7+deb12u1_all.deb.partial", &netty));
        assert!(is_deb_of("zookeeper_3.8.0-11+deb12u2_all.deb", &p("zookeeper", "3.8.0-11+deb12u2")));
    }

    #[test]
    fn suites_are_chosen_per_exact_version() {
        assert_eq!(suites_for("3.8.0"), ["bookworm"]);
        assert_eq!(suites_for("3.9.3"), ["trixie"]);
        assert_eq!(suites_for("3.9.6"), ["forky", "sid"]);
        // Not per minor line: other patch releases of 3.8 and 3.9 are in no
        // suite we know of.
        for v in ["3.8.4", "3.9.2", "3.9.4", "3.9", "3.7.1", "", "3.9.6.1"] {
            assert!(suites_for(v).is_empty(), "{v}");
        }
    }

    #[test]
    fn every_supported_version_has_a_recipe() {
        for v in crate::dist::supported_versions() {
            let r = debian_recipe(v).unwrap_or_else(|| panic!("no Debian recipe for {v}"));
            assert_eq!(r.version, *v);
            assert!(!r.zk_suites.is_empty());
            assert_eq!(r.deps_suite, "bookworm");
        }
        let r = debian_recipe("3.9.6").unwrap();
        assert_eq!(r.zk_suites, ["forky", "sid"]);
        let r = debian_recipe("3.9.3").unwrap();
        assert_eq!((r.zk_suites, r.deps_suite), (&["trixie"][..], "bookworm"));
        let r = debian_recipe("3.8.0").unwrap();
        assert_eq!((r.zk_suites, r.deps_suite), (&["bookworm"][..], "bookworm"));
        assert!(r.zk_packages.contains(&"libzookeeper-java"));
        assert!(debian_recipe("3.8.1").is_none());
        assert!(debian_recipe("3.9.4").is_none());
        let deps = r.dep_packages();
        assert!(deps.contains(&"libjetty9-java") && deps.contains(&"liblog4j1.2-java"));
        assert_eq!(deps.len(), 13);
    }

    #[test]
    fn mirror_from_deb822() {
        let text = "\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
";
        assert_eq!(parse_mirror(text).as_deref(), Some("http://deb.debian.org/debian"));
        let sec_first = "\
Types: deb
URIs: http://security.debian.org/debian-security
Suites: bookworm-security
Components: main

Types: deb-src deb
URIs: https://mirror.example/debian
Suites: trixie
Components: contrib main
";
        assert_eq!(parse_mirror(sec_first).as_deref(), Some("https://mirror.example/debian"));
        let disabled = "Types: deb\nURIs: http://a/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n";
        assert_eq!(parse_mirror(disabled), None);
    }

    #[test]
    fn mirror_from_one_line() {
        let text = "\
# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb http://security.debian.org/debian-security bookworm-security main
deb [arch=amd64 signed-by=/k.gpg] http://ftp.de.debian.org/debian/ bookworm main contrib
";
        assert_eq!(parse_mirror(text).as_deref(), Some("http://ftp.de.debian.org/debian"));
        assert_eq!(parse_mirror("deb http://archive.ubuntu.com/ubuntu jammy main\n"), None);
        assert_eq!(parse_mirror("deb http://snapshot.debian.org/archive/debian/20250520T000000Z bookworm main"), None);
        assert_eq!(parse_mirror("deb http://x/debian bookworm contrib\n"), None);
    }

    #[test]
    fn apt_cache_show_parsing() {
        let text = "\
Package: libzookeeper-java
Version: 3.8.0-11+deb12u2
Installed-Size: 1722
Depends: junit4, libcommons-cli-java
Size: 1234567
Description: x
 more

Package: libnetty-java
Version: 1:4.1.48-7+deb12u2
Size: 42
";
        let p = parse_show(text);
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[0],
            PkgInfo { name: "libzookeeper-java".into(), version: "3.8.0-11+deb12u2".into(), size: 1234567 }
        );
        assert_eq!(upstream_version(&p[0].version), "3.8.0");
        assert_eq!(upstream_version(&p[1].version), "4.1.48");
        assert_eq!(upstream_version("3.9.3-1+deb13u1"), "3.9.3");
        assert_eq!(upstream_version("1:3.8.0+dfsg-2"), "3.8.0");
    }

    #[test]
    fn symlinks_resolve_inside_the_tree() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let jd = root.join(JAVA_DIR);
        std::fs::create_dir_all(&jd).unwrap();
        std::fs::write(jd.join("zookeeper-3.8.0.jar"), b"PK").unwrap();
        std::os::unix::fs::symlink("zookeeper-3.8.0.jar", jd.join("zookeeper.jar")).unwrap();
        std::os::unix::fs::symlink("/usr/share/java/zookeeper-3.8.0.jar", jd.join("zookeeper-jute.jar")).unwrap();
        let r = resolve_in_tree(root, jd.join("zookeeper.jar")).unwrap();
        assert_eq!(r, jd.join("zookeeper-3.8.0.jar"));
        let r = resolve_in_tree(root, jd.join("zookeeper-jute.jar")).unwrap();
        assert_eq!(r, jd.join("zookeeper-3.8.0.jar"));
        let missing = classpath_in(root).unwrap_err();
        assert!(missing.contains(&"jetty9-server.jar".to_string()));
        assert!(!missing.contains(&"zookeeper.jar".to_string()));
    }
}
