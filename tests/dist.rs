//! Real-server checks of `zk_chaos::dist`: resolve 3.8.0, 3.9.3 and 3.9.6 (the
//! first run downloads into the cache: `$ZK_CHAOS_CACHE_DIR` or the default
//! one), start a single-member quorum on loopback, and check it leads, logs
//! to `zookeeper.log`, and serves the admin server.
//!
//! `capture_4lw_fixtures` (ignored) runs a 3-member ensemble per version and
//! writes the raw 4lw and admin outputs under `tests/fixtures/4lw/`:
//! `cargo test --test dist -- --ignored capture_4lw_fixtures` (every
//! supported version; `ZK_CHAOS_CAPTURE_VERSIONS=3.9.6` for some only).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use zk_chaos::dist::{self, DistConfig, Distribution, JvmOptions, NoProgress, Progress};

const LOOPBACK: &str = "127.0.0.1";
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Progress to stderr (visible with --nocapture).
struct EprintProgress(&'static str);

impl Progress for EprintProgress {
    fn stage(&self, msg: &str) {
        eprintln!("[{}] {msg}", self.0);
    }
}

/// A port nobody listens on right now (the kernel's pick).
fn free_port() -> u16 {
    TcpListener::bind((LOOPBACK, 0)).unwrap().local_addr().unwrap().port()
}

#[derive(Debug, Clone, Copy)]
struct Member {
    id: u64,
    client: u16,
    quorum: u16,
    election: u16,
    admin: u16,
}

impl Member {
    fn new(id: u64) -> Self {
        Self { id, client: free_port(), quorum: free_port(), election: free_port(), admin: free_port() }
    }

    fn line(&self) -> String {
        format!(
            "server.{}={LOOPBACK}:{}:{}:participant;{LOOPBACK}:{}",
            self.id, self.quorum, self.election, self.client
        )
    }
}

/// A running server, stopped (SIGTERM, then SIGKILL after 10 s) on drop, so
/// no JVM outlives a failed or panicking test.
struct Server {
    child: Option<Child>,
    member: Member,
    dir: PathBuf,
}

impl Server {
    fn start(d: &Distribution, dir: &Path, me: Member, all: &[Member]) -> Server {
        let data = dir.join("data");
        let logs = dir.join("log");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(data.join("myid"), format!("{}\n", me.id)).unwrap();
        let dynamic = dir.join("zoo.cfg.dynamic");
        let lines: String = all.iter().map(|m| m.line() + "\n").collect();
        std::fs::write(&dynamic, lines).unwrap();
        let cfg = format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nstandaloneEnabled=false\nreconfigEnabled=true\n\
             4lw.commands.whitelist=srvr,stat,mntr,conf,ruok\nadmin.enableServer=true\n\
             admin.serverAddress={LOOPBACK}\nadmin.serverPort={}\ndynamicConfigFile={}\n",
            data.display(),
            me.admin,
            dynamic.display()
        );
        let conf = dir.join("zoo.cfg");
        std::fs::write(&conf, cfg).unwrap();
        let console = std::fs::File::create(dir.join("console.out")).unwrap();
        let child = Command::new(&d.java)
            .args(d.server_args(&JvmOptions::default(), &conf, &logs))
            .stdin(Stdio::null())
            .stdout(console.try_clone().unwrap())
            .stderr(console)
            .spawn()
            .unwrap();
        Server { child: Some(child), member: me, dir: dir.to_path_buf() }
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    fn four(&self, word: &str) -> Vec<u8> {
        four_letter(self.member.client, word).unwrap_or_default()
    }

    fn mode(&self) -> Option<String> {
        let out = String::from_utf8_lossy(&self.four("srvr")).into_owned();
        out.lines().find_map(|l| l.strip_prefix("Mode: ")).map(|m| m.trim().to_string())
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.dir.join("console.out")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn four_letter(port: u16, word: &str) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr(port), IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.write_all(word.as_bytes())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// GET `path` over plain HTTP/1.0: `(status line, body)`.
fn http_get(port: u16, path: &str) -> std::io::Result<(String, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr(port), IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {LOOPBACK}:{port}\r\nAccept: application/json\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or(std::io::ErrorKind::InvalidData)?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.lines().next().unwrap_or("").to_string();
    Ok((status, raw[split + 4..].to_vec()))
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Poll `f` every 200 ms until it is true or `limit` passes.
fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn resolve(version: &str) -> Distribution {
    let cfg = DistConfig::from_env();
    let t = Instant::now();
    let d = dist::resolve(version, &cfg, &EprintProgress("dist")).await.unwrap_or_else(|e| panic!("{e}"));
    eprintln!("resolved ZooKeeper {version} from {} in {:?} ({} jars)", d.source, t.elapsed(), d.classpath.len());
    let t = Instant::now();
    let again = dist::resolve(version, &cfg, &NoProgress).await.unwrap();
    eprintln!("cached resolve of {version}: {:?}", t.elapsed());
    assert_eq!(again.classpath, d.classpath);
    d
}

async fn single_member_quorum(version: &str) {
    let d = resolve(version).await;
    assert_eq!(d.version, version);
    let tmp = tempfile::tempdir().unwrap();
    let me = Member::new(1);
    let server = Server::start(&d, tmp.path(), me, &[me]);

    let leads = wait_for(Duration::from_secs(30), || server.mode().as_deref() == Some("leader"));
    assert!(
        leads,
        "ZooKeeper {version} did not become leader within 30 s; srvr: {:?}\nconsole:\n{}",
        String::from_utf8_lossy(&server.four("srvr")),
        server.console()
    );
    let srvr = String::from_utf8_lossy(&server.four("srvr")).into_owned();
    assert!(srvr.contains(&format!("Zookeeper version: {version}")), "{srvr}");

    let log = tmp.path().join("log").join(dist::LOG_FILE);
    let len = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    assert!(len > 0, "{} is missing or empty", log.display());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("QuorumPeer"), "unexpected log content:\n{text}");

    let (status, body) = http_get(me.admin, "/commands/stat").unwrap();
    assert!(status.contains(" 200"), "admin server: {status}");
    let json: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("admin /commands/stat is not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    assert_eq!(json["command"], "stats", "{json}");
    assert_eq!(json["server_stats"]["server_state"], "leader", "{json}");

    let ruok = server.four("ruok");
    assert_eq!(ruok, b"imok");
}

#[tokio::test]
async fn zookeeper_3_8_0_serves_on_loopback() {
    single_member_quorum("3.8.0").await;
}

#[tokio::test]
async fn zookeeper_3_9_3_serves_on_loopback() {
    single_member_quorum("3.9.3").await;
}

#[tokio::test]
async fn zookeeper_3_9_6_serves_on_loopback() {
    single_member_quorum("3.9.6").await;
}

/// Every version zk-chaos fetches by itself has a test above.
#[test]
fn every_supported_version_is_served_here() {
    let src = include_str!("dist.rs");
    for v in dist::supported_versions() {
        let test = format!("fn zookeeper_{}_serves_on_loopback()", v.replace('.', "_"));
        assert!(src.contains(&test), "tests/dist.rs has no `{test}`");
    }
}

/// Run a 3-member ensemble of each version and save the raw 4lw outputs of a
/// leader, a follower and a member that lost quorum, and the leader's admin
/// `stat` and `monitor` JSON, under `tests/fixtures/4lw/<version>/`.
#[tokio::test]
#[ignore = "writes fixtures; run explicitly"]
async fn capture_4lw_fixtures() {
    let only = std::env::var("ZK_CHAOS_CAPTURE_VERSIONS").unwrap_or_default();
    let only: Vec<&str> = only.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
    for version in dist::supported_versions() {
        if only.is_empty() || only.contains(version) {
            capture(version).await;
        }
    }
}

async fn capture(version: &str) {
    let d = resolve(version).await;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/4lw").join(version);
    std::fs::create_dir_all(&out).unwrap();
    let save = |name: &str, bytes: &[u8]| {
        assert!(!bytes.is_empty(), "{version}: empty output for {name}");
        std::fs::write(out.join(name), bytes).unwrap();
    };

    let tmp = tempfile::tempdir().unwrap();
    let members: Vec<Member> = (1..=3).map(Member::new).collect();
    let mut servers: Vec<Server> =
        members.iter().map(|m| Server::start(&d, &tmp.path().join(format!("zk{}", m.id)), *m, &members)).collect();

    let formed = wait_for(Duration::from_secs(60), || {
        let modes: Vec<Option<String>> = servers.iter().map(Server::mode).collect();
        modes.iter().filter(|m| m.as_deref() == Some("leader")).count() == 1
            && modes.iter().filter(|m| m.as_deref() == Some("follower")).count() == 2
    });
    assert!(formed, "{version}: ensemble did not form; console of 1:\n{}", servers[0].console());
    let leader = servers.iter().position(|s| s.mode().as_deref() == Some("leader")).unwrap();
    let follower = (0..3).find(|i| *i != leader).unwrap();
    let synced = wait_for(Duration::from_secs(30), || {
        String::from_utf8_lossy(&servers[leader].four("mntr")).contains("zk_synced_followers\t2")
    });
    assert!(synced, "{version}: followers did not sync");

    // Some traffic so the counters are not all zero.
    let client_port = servers[follower].member.client;
    let client = zookeeper_client::Client::connect(&format!("{LOOPBACK}:{client_port}")).await.unwrap();
    let opts = zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    client.create("/fixture", b"x", &opts).await.unwrap();
    for i in 0..5 {
        client.create(&format!("/fixture/n{i}"), format!("value {i}").as_bytes(), &opts).await.unwrap();
        client.get_data(&format!("/fixture/n{i}")).await.unwrap();
    }
    client.sync("/fixture").await.unwrap();

    for (role, idx) in [("leader", leader), ("follower", follower)] {
        for word in ["srvr", "stat", "mntr", "conf"] {
            save(&format!("{role}-{word}.txt"), &servers[idx].four(word));
        }
    }
    for (cmd, name) in [("stat", "leader-admin-stat.json"), ("monitor", "leader-admin-monitor.json")] {
        let (status, body) = http_get(servers[leader].member.admin, &format!("/commands/{cmd}")).unwrap();
        assert!(status.contains(" 200"), "{version} admin {cmd}: {status}");
        serde_json::from_slice::<serde_json::Value>(&body).unwrap();
        save(name, &body);
    }
    drop(client);

    // Keep the follower; stop the other two, so it loses quorum.
    for (i, s) in servers.iter_mut().enumerate() {
        if i != follower {
            s.stop();
        }
    }
    let lone = &servers[follower];
    let not_serving = wait_for(Duration::from_secs(30), || {
        String::from_utf8_lossy(&lone.four("srvr")).contains("not currently serving")
    });
    assert!(not_serving, "{version}: the lone member still serves");
    for word in ["srvr", "mntr", "conf"] {
        save(&format!("notserving-{word}.txt"), &lone.four(word));
    }
    drop(servers);
    eprintln!("wrote fixtures to {}", out.display());
}
