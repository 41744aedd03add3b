//! The Apache-tarball path of provisioning, end to end over loopback: a
//! release tarball in the Apache layout (built here from the cached Debian
//! jars, since the real archive is out of reach) is served by a local HTTP
//! server with its `.sha512`; `resolve` must download, verify the digest,
//! unpack, check the jars are 3.8.0 and cache the result. A tampered
//! tarball must be refused. Runs in its own process: it sets env vars.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zk_chaos::dist::{self, DistConfig, DistSource, NoProgress};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> (Server, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 serves the test archive");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Server(child), port)
}

fn sh(cmd: &str) {
    let ok = Command::new("bash").args(["-ec", cmd]).status().unwrap().success();
    assert!(ok, "{cmd}");
}

#[tokio::test]
async fn the_apache_tarball_is_downloaded_verified_and_cached() {
    // The jars to pack come from a Debian-provisioned 3.8.0.
    let debian = dist::resolve("3.8.0", &DistConfig::from_env(), &NoProgress).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let lib = tmp.path().join("apache-zookeeper-3.8.0-bin/lib");
    std::fs::create_dir_all(&lib).unwrap();
    for jar in &debian.classpath {
        let name = jar.file_name().unwrap().to_str().unwrap();
        let name = if name == "zookeeper.jar" { "zookeeper-3.8.0.jar" } else { name };
        std::fs::copy(jar, lib.join(name)).unwrap();
    }
    let rel = archive.join("zookeeper-3.8.0");
    std::fs::create_dir_all(&rel).unwrap();
    sh(&format!(
        "cd {t} && tar -czf {r}/apache-zookeeper-3.8.0-bin.tar.gz apache-zookeeper-3.8.0-bin && \
         cd {r} && sha512sum apache-zookeeper-3.8.0-bin.tar.gz > apache-zookeeper-3.8.0-bin.tar.gz.sha512",
        t = tmp.path().display(),
        r = rel.display()
    ));
    let (_server, port) = serve(&archive);
    // SAFETY: this test binary has a single test; nothing else reads the env concurrently.
    unsafe { std::env::set_var("ZK_CHAOS_APACHE_MIRROR", format!("http://127.0.0.1:{port}")) };

    let cache = tmp.path().join("cache");
    let cfg = DistConfig::with_cache_dir(&cache);
    let d = dist::resolve("3.8.0", &cfg, &NoProgress).await.unwrap();
    assert_eq!(d.source, DistSource::ApacheTarball, "{d:?}");
    assert!(d.classpath.iter().any(|p| p.ends_with("lib/zookeeper-3.8.0.jar")), "{:?}", d.classpath);
    let again = dist::resolve("3.8.0", &cfg, &NoProgress).await.unwrap();
    assert_eq!(again.source, DistSource::Cache, "served from the cache the second time");

    // A tarball that does not match its published digest is refused (and
    // Debian is tried next; with no Debian either, the error lists both).
    sh(&format!("cd {r} && echo tampered >> apache-zookeeper-3.8.0-bin.tar.gz", r = rel.display()));
    unsafe { std::env::set_var("ZK_CHAOS_DEBIAN_MIRROR", "http://127.0.0.1:9/debian") };
    let cfg = DistConfig::with_cache_dir(tmp.path().join("cache2"));
    let err = dist::resolve("3.8.0", &cfg, &NoProgress).await.unwrap_err().to_string();
    assert!(err.contains("sha512") || err.contains("digest") || err.contains("checksum"), "{err}");
    assert!(err.contains("Debian"), "every source tried is listed: {err}");
}
