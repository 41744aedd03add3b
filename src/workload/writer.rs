//! A steady writer: creates one sequential znode after another through the
//! ensemble's connect string and records which writes were acknowledged,
//! which failed, and the longest stretch in which no write succeeded.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{self, SessionOptions, zk};

/// What a writer saw.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WriterReport {
    /// The parent znode of the writes.
    pub dir: String,
    /// Paths of acknowledged creates, in order.
    pub acked: Vec<String>,
    /// Writes whose outcome is unknown or failed.
    pub failed: u64,
    /// The longest time between two acknowledged writes (the write
    /// unavailability window seen by the client).
    pub longest_gap: Duration,
    /// How long the writer ran.
    pub ran_for: Duration,
}

/// A running writer; [`Writer::stop`] returns its report.
pub struct Writer {
    stop: watch::Sender<bool>,
    task: JoinHandle<WriterReport>,
    /// The parent znode the writes go under.
    pub dir: String,
}

impl Writer {
    /// Start writing under `dir` (created if missing) every `interval`.
    pub fn start(servers: String, dir: &str, interval: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let dir = dir.to_string();
        let d = dir.clone();
        let task = tokio::spawn(async move {
            let opts =
                SessionOptions { session_timeout: Duration::from_secs(6), connect_timeout: Duration::from_secs(3) };
            let start = Instant::now();
            let mut last_ok = Instant::now();
            let mut report = WriterReport { dir: d.clone(), ..WriterReport::default() };
            let mut session: Option<zk::Client> = None;
            let mut dir_ready = false;
            let mut seq = 0u64;
            while !*stopped.borrow() {
                if session.is_none() {
                    session = client::connect(&servers, opts).await.ok();
                }
                if let (Some(c), false) = (&session, dir_ready) {
                    dir_ready = match client::create(c, &d, b"").await {
                        Ok(_) | Err(client::ClientError::Op { source: zk::Error::NodeExists, .. }) => true,
                        Err(_) => false,
                    };
                }
                if let (Some(c), true) = (&session, dir_ready) {
                    let path = format!("{d}/w{seq:08}");
                    let op = tokio::time::timeout(Duration::from_secs(5), client::create(c, &path, b"x")).await;
                    match op {
                        Ok(Ok(_)) => {
                            report.longest_gap = report.longest_gap.max(last_ok.elapsed());
                            last_ok = Instant::now();
                            report.acked.push(path);
                            seq += 1;
                        }
                        Ok(Err(client::ClientError::Op { source: zk::Error::NodeExists, .. })) => {
                            // An earlier attempt whose answer was lost did happen.
                            seq += 1;
                        }
                        Ok(Err(e)) => {
                            report.failed += 1;
                            if matches!(
                                e,
                                client::ClientError::Op {
                                    source: zk::Error::SessionExpired | zk::Error::ClientClosed,
                                    ..
                                }
                            ) {
                                session = None;
                            }
                        }
                        Err(_) => {
                            report.failed += 1;
                            session = None;
                        }
                    }
                } else {
                    report.failed += 1;
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stopped.changed() => {}
                }
            }
            report.longest_gap = report.longest_gap.max(last_ok.elapsed().min(interval));
            report.ran_for = start.elapsed();
            report
        });
        Self { stop, task, dir }
    }

    /// Stop and return the report.
    pub async fn stop(self) -> WriterReport {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

/// Which of `acked` are missing from the ensemble (read after `sync`).
pub async fn missing_writes(servers: &str, dir: &str, acked: &[String]) -> Result<Vec<String>, client::ClientError> {
    let opts = SessionOptions { session_timeout: Duration::from_secs(10), connect_timeout: Duration::from_secs(10) };
    let c = client::connect(servers, opts).await?;
    c.sync(dir).await.map_err(|source| client::ClientError::Op { op: "sync", path: dir.to_string(), source })?;
    let children = c.list_children(dir).await.map_err(|source| client::ClientError::Op {
        op: "list",
        path: dir.to_string(),
        source,
    })?;
    let have: std::collections::HashSet<String> = children.into_iter().map(|n| format!("{dir}/{n}")).collect();
    Ok(acked.iter().filter(|p| !have.contains(*p)).cloned().collect())
}
