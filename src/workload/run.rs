//! The clients: each runs its generator against its own ZooKeeper session
//! and records every operation as invoke/complete events with monotonic
//! timestamps, streaming them to a JSON Lines file as they happen.
//!
//! Outcome classification (see [`classify`]):
//!
//! | error | outcome | why |
//! |---|---|---|
//! | NoNode, NodeExists, BadVersion, NotEmpty, NoChildrenForEphemerals, NoAuth, InvalidAcl, BadArguments, Throttled, QuotaExceeded, AuthFailed, ReconfigDisabled, Unimplemented, NoWatcher | `fail` | the server rejected the request before applying it |
//! | ConnectionLoss, SessionExpired, SessionMoved, ClientClosed, Timeout, NoHosts, our own deadline, anything else | `unknown` | the request may have been applied and the answer lost |

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::generate::{Generator, WorkloadSpec};
use super::pace::{Schedule, Target};
use crate::client::{self, SessionOptions, zk};
use crate::history::{Call, Event, HistoryWriter, Outcome, Ret, StatLite};

/// Bound on one operation; past it the outcome is unknown.
pub const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a failed call definitely did not take effect (`fail`) or may
/// have (`unknown`). The table is in the module docs.
pub fn classify(e: &zk::Error) -> Outcome {
    use zk::Error as E;
    let name = format!("{e:?}").split(['(', ' ', '{']).next().unwrap_or("error").to_string();
    match e {
        E::NoNode
        | E::NodeExists
        | E::BadVersion
        | E::NotEmpty
        | E::NoChildrenForEphemerals
        | E::NoAuth
        | E::InvalidAcl
        | E::BadArguments(_)
        | E::Throttled
        | E::QuotaExceeded
        | E::AuthFailed
        | E::ReconfigDisabled
        | E::Unimplemented
        | E::NoWatcher => Outcome::Fail { error: name },
        _ => Outcome::Unknown { error: name },
    }
}

fn lite(s: &zk::Stat) -> StatLite {
    StatLite { czxid: s.czxid, mzxid: s.mzxid, version: s.version }
}

/// The history file being written.
type HistoryFile = HistoryWriter<std::io::BufWriter<std::fs::File>>;

/// Records events in memory and streams them to a file, which it closes
/// (the end-of-history marker) at [`Recorder::finish`] or when dropped.
pub struct Recorder {
    start: Instant,
    next_id: AtomicU64,
    /// Completions so far: ok, fail, unknown.
    counts: [AtomicU64; 3],
    sink: Mutex<(Vec<Event>, Option<HistoryFile>)>,
}

impl Recorder {
    /// A recorder that also writes JSON Lines to `path`, when given.
    pub fn new(path: Option<&Path>) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(HistoryWriter::create(p)?),
            None => None,
        };
        Ok(Self {
            start: Instant::now(),
            next_id: AtomicU64::new(1),
            counts: Default::default(),
            sink: Mutex::new((Vec::new(), file)),
        })
    }

    /// The instant the history's clock counts from.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Nanoseconds since the recorder started (monotonic).
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    async fn push(&self, e: Event) {
        let mut sink = self.sink.lock().await;
        if let Some(f) = sink.1.as_mut() {
            let _ = f.append(&e);
        }
        sink.0.push(e);
    }

    /// Record an invoke and return its operation id.
    pub async fn invoke(&self, client: u32, session: i64, call: &Call) -> u64 {
        self.invoke_scheduled(client, session, call, None).await
    }

    /// Record an invoke that the open-loop schedule wanted started at
    /// `intended_ns` (on this recorder's clock), and return its id.
    pub async fn invoke_scheduled(&self, client: u32, session: i64, call: &Call, intended_ns: Option<u64>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let time_ns = self.now_ns();
        self.push(Event::Invoke { id, client, session, time_ns, call: call.clone(), intended_ns }).await;
        id
    }

    /// Record a completion.
    pub async fn complete(&self, id: u64, outcome: Outcome, zxid: Option<i64>) {
        let time_ns = self.now_ns();
        let slot = match outcome {
            Outcome::Ok { .. } => 0,
            Outcome::Fail { .. } => 1,
            Outcome::Unknown { .. } => 2,
        };
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        self.push(Event::Complete { id, time_ns, outcome, zxid }).await;
    }

    /// Completions so far: `(ok, fail, unknown)`.
    pub fn counts(&self) -> (u64, u64, u64) {
        let c = |i: usize| self.counts[i].load(Ordering::Relaxed);
        (c(0), c(1), c(2))
    }

    /// Close the file (events recorded after this stay in memory only)
    /// and return every event.
    pub async fn finish(&self) -> Vec<Event> {
        let mut sink = self.sink.lock().await;
        if let Some(f) = sink.1.take() {
            let _ = f.close();
        }
        sink.0.clone()
    }
}

impl Drop for Recorder {
    /// A recorder dropped unfinished (its scenario ended early) still
    /// closes its file: nothing more was recorded. Only a killed process
    /// leaves a history without its end marker.
    fn drop(&mut self) {
        if let Some(f) = self.sink.get_mut().1.take() {
            let _ = f.close();
        }
    }
}

/// Execute one call on a session; `Err` carries the ZooKeeper error.
pub async fn execute(c: &zk::Client, call: &Call) -> Result<Ret, zk::Error> {
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    Ok(match call {
        Call::Create { path, value } => {
            let (stat, _) = c.create(path, &value.to_bytes(), &persistent).await?;
            Ret::Created { path: path.clone(), stat: Some(lite(&stat)) }
        }
        Call::CreateSequential { prefix, value } => {
            let (stat, seq) = c.create(prefix, &value.to_bytes(), &sequential).await?;
            Ret::Created { path: format!("{prefix}{seq}"), stat: Some(lite(&stat)) }
        }
        Call::Set { path, value } => Ret::Written { stat: lite(&c.set_data(path, &value.to_bytes(), None).await?) },
        Call::Cas { path, value, expected_version } => {
            Ret::Written { stat: lite(&c.set_data(path, &value.to_bytes(), Some(*expected_version)).await?) }
        }
        Call::Delete { path, expected_version } => {
            c.delete(path, *expected_version).await?;
            Ret::Deleted
        }
        Call::Get { path } | Call::SyncGet { path } => {
            if matches!(call, Call::SyncGet { .. }) {
                c.sync(path).await?;
            }
            match c.get_data(path).await {
                Ok((data, stat)) => {
                    Ret::Read { data: Some(String::from_utf8_lossy(&data).into_owned()), stat: Some(lite(&stat)) }
                }
                Err(zk::Error::NoNode) => Ret::Read { data: None, stat: None },
                Err(e) => return Err(e),
            }
        }
        Call::Exists { path } => Ret::Exists { stat: c.check_stat(path).await?.as_ref().map(lite) },
        Call::Multi { ops } => {
            let mut w = c.new_multi_writer();
            for op in ops {
                match op {
                    Call::Set { path, value } => w.add_set_data(path, &value.to_bytes(), None)?,
                    Call::Cas { path, value, expected_version } => {
                        w.add_set_data(path, &value.to_bytes(), Some(*expected_version))?
                    }
                    Call::Create { path, value } => w.add_create(path, &value.to_bytes(), &persistent)?,
                    Call::Delete { path, expected_version } => w.add_delete(path, *expected_version)?,
                    _ => return Err(zk::Error::BadArguments(&"only writes in a multi")),
                }
            }
            let results = w.commit().await.map_err(|e| match e {
                zk::MultiWriteError::RequestFailed { source } | zk::MultiWriteError::OperationFailed { source, .. } => {
                    source
                }
            })?;
            let results = results
                .into_iter()
                .map(|r| match r {
                    zk::MultiWriteResult::SetData { stat } => Ret::Written { stat: lite(&stat) },
                    zk::MultiWriteResult::Create { path, stat } => Ret::Created { path, stat: Some(lite(&stat)) },
                    zk::MultiWriteResult::Delete => Ret::Deleted,
                    _ => Ret::Exists { stat: None },
                })
                .collect();
            Ret::Multi { results }
        }
    })
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Every event, in record order.
    pub events: Vec<Event>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// For a rated workload: its schedule, from slot 0 to the stop, on the
    /// recorder's clock (see [`super::pace`]).
    pub target: Option<Target>,
}

/// Create the workload's root and log znodes (not recorded).
pub async fn prepare(servers: &str, spec: &WorkloadSpec) -> Result<(), client::ClientError> {
    let c = client::connect(servers, session_options()).await?;
    for path in [spec.root.clone(), spec.log_dir()] {
        match client::create(&c, &path, b"").await {
            Ok(_) | Err(client::ClientError::Op { source: zk::Error::NodeExists, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn session_options() -> SessionOptions {
    SessionOptions { session_timeout: Duration::from_secs(6), connect_timeout: Duration::from_secs(3) }
}

/// Run `spec` against `servers` until its duration is over, recording into
/// `recorder`.
pub async fn run(servers: &str, spec: &WorkloadSpec, recorder: Arc<Recorder>) -> RunOutput {
    let (_keep, never) = tokio::sync::watch::channel(false);
    run_until(servers, spec, recorder, never).await
}

/// Run `spec` against `servers` until its duration is over or `stop` turns
/// true (operations in flight then complete or time out), recording into
/// `recorder`. A rated workload is open loop: its clients share one
/// schedule on absolute times ([`super::pace`]).
pub async fn run_until(
    servers: &str,
    spec: &WorkloadSpec,
    recorder: Arc<Recorder>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> RunOutput {
    let start = Instant::now();
    let deadline = start + spec.duration;
    let schedule = spec.rate.map(|r| Arc::new(Schedule::new(recorder.now_ns(), r.max(0.001))));
    let tasks: Vec<_> = (0..spec.clients)
        .map(|client| {
            let servers = servers.to_string();
            let spec = spec.clone();
            let rec = recorder.clone();
            let stop = stop.clone();
            let schedule = schedule.clone();
            tokio::spawn(async move { client_loop(&servers, &spec, client, &rec, deadline, schedule, stop).await })
        })
        .collect();
    // The stop time, for the rate achieved: when told, or the deadline.
    let stop_ns = tokio::select! {
        _ = tokio::time::sleep_until(deadline.into()) => recorder.now_ns(),
        _ = stop.wait_for(|s| *s) => recorder.now_ns(),
    };
    for t in tasks {
        let _ = t.await;
    }
    let target = schedule.map(|s| Target { rate: s.rate(), clients: spec.clients, start_ns: s.start_ns(), stop_ns });
    RunOutput { events: recorder.finish().await, elapsed: start.elapsed(), target }
}

/// Wait until `due_ns` on the recorder's clock; false when told to stop first.
async fn wait_until_due(rec: &Recorder, due_ns: u64, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    let at = rec.start() + Duration::from_nanos(due_ns);
    if Instant::now() >= at {
        return !*stop.borrow();
    }
    let woke = tokio::select! {
        _ = tokio::time::sleep_until(at.into()) => true,
        _ = stop.wait_for(|s| *s) => false,
    };
    woke && !*stop.borrow()
}

async fn client_loop(
    servers: &str,
    spec: &WorkloadSpec,
    client: u32,
    rec: &Recorder,
    deadline: Instant,
    schedule: Option<Arc<Schedule>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut generator = Generator::new(spec, client);
    let mut versions: HashMap<String, i32> = HashMap::new();
    let mut session: Option<zk::Client> = None;
    while Instant::now() < deadline && !*stop.borrow() {
        if session.is_none() {
            session = client::connect(servers, session_options()).await.ok();
            if session.is_none() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        // Open loop: take the next slot of the shared schedule and start
        // it when due, or at once when it is already late (the backlog).
        let intended_ns = match &schedule {
            Some(s) => {
                let (_, due) = s.take();
                if !wait_until_due(rec, due, &mut stop).await || Instant::now() >= deadline {
                    break;
                }
                Some(due)
            }
            None => None,
        };
        let c = session.as_ref().expect("connected");
        let call = generator.next_call(&versions);
        let id = rec.invoke_scheduled(client, c.session_id().0, &call, intended_ns).await;
        let (outcome, zxid) = match tokio::time::timeout(OP_TIMEOUT, execute(c, &call)).await {
            Ok(Ok(ret)) => {
                remember_versions(&call, &ret, &mut versions);
                let zxid = ret_zxid(&ret);
                (Outcome::Ok { ret }, zxid)
            }
            Ok(Err(e)) => {
                if matches!(e, zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::NoHosts) {
                    session = None;
                }
                (classify(&e), None)
            }
            Err(_) => (Outcome::Unknown { error: "timeout".into() }, None),
        };
        rec.complete(id, outcome, zxid).await;
    }
}

fn ret_zxid(ret: &Ret) -> Option<i64> {
    match ret {
        Ret::Written { stat } => Some(stat.mzxid),
        Ret::Created { stat: Some(s), .. } => Some(s.czxid),
        _ => None,
    }
}

fn remember_versions(call: &Call, ret: &Ret, versions: &mut HashMap<String, i32>) {
    match (call, ret) {
        (Call::Get { path } | Call::SyncGet { path }, Ret::Read { stat: Some(s), .. }) => {
            versions.insert(path.clone(), s.version);
        }
        (Call::Set { path, .. } | Call::Cas { path, .. }, Ret::Written { stat }) => {
            versions.insert(path.clone(), stat.version);
        }
        (Call::Create { path, .. }, _) => {
            versions.insert(path.clone(), 0);
        }
        _ => {}
    }
}

/// The settle barrier: one write through the ensemble once the faults are
/// over, outside the workload's keys (`<root>/settle`). A new leader
/// reports `(epoch, 0)` as its last zxid while its followers still report
/// the last transaction they applied, until the first write of the epoch;
/// without a write after the last election, members that hold the same
/// data would never show the same zxid. After the barrier every member
/// that applied it reports a zxid of the current epoch, so the convergence
/// rule can compare zxids exactly. Returns the barrier's zxid.
pub async fn settle_barrier(servers: &str, spec: &WorkloadSpec) -> Result<i64, client::ClientError> {
    let c = client::connect(servers, session_options()).await?;
    let path = format!("{}/settle", spec.root);
    let stat = match client::create(&c, &path, b"settle").await {
        Ok(stat) => stat,
        Err(client::ClientError::Op { source: zk::Error::NodeExists, .. }) => c
            .set_data(&path, b"settle", None)
            .await
            .map_err(|source| client::ClientError::Op { op: "set", path: path.clone(), source })?,
        Err(e) => return Err(e),
    };
    Ok(stat.mzxid)
}

/// The state at the end: each key's data (after `sync`), and the log's
/// entries with their data, for the durability checker.
pub async fn read_final_state(
    servers: &str,
    spec: &WorkloadSpec,
) -> Result<std::collections::BTreeMap<String, Option<String>>, client::ClientError> {
    let c = client::connect(servers, SessionOptions::default()).await?;
    let op = |op: &'static str, path: &str| {
        let path = path.to_string();
        move |source| client::ClientError::Op { op, path, source }
    };
    c.sync(&spec.root).await.map_err(op("sync", &spec.root))?;
    let mut out = std::collections::BTreeMap::new();
    for path in spec.key_paths() {
        let data = match c.get_data(&path).await {
            Ok((d, _)) => Some(String::from_utf8_lossy(&d).into_owned()),
            Err(zk::Error::NoNode) => None,
            Err(e) => return Err(op("get", &path)(e)),
        };
        out.insert(path, data);
    }
    let log = spec.log_dir();
    for child in c.list_children(&log).await.map_err(op("list", &log))? {
        let path = format!("{log}/{child}");
        let (d, _) = c.get_data(&path).await.map_err(op("get", &path))?;
        out.insert(path, Some(String::from_utf8_lossy(&d).into_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_deliberately() {
        for e in [zk::Error::NoNode, zk::Error::NodeExists, zk::Error::BadVersion, zk::Error::NotEmpty] {
            assert!(matches!(classify(&e), Outcome::Fail { .. }), "{e:?}");
        }
        for e in [zk::Error::ConnectionLoss, zk::Error::SessionExpired, zk::Error::Timeout, zk::Error::ClientClosed] {
            assert!(matches!(classify(&e), Outcome::Unknown { .. }), "{e:?}");
        }
        assert_eq!(classify(&zk::Error::BadVersion), Outcome::Fail { error: "BadVersion".into() });
    }
}
