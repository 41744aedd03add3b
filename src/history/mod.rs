//! The recorded history of a workload: what every client asked, when, and
//! what came back. The workload writes it (JSON Lines, one event per line,
//! so a crash mid-run keeps every invocation); the checkers read it and
//! never talk to a server.
//!
//! Model: an operation is an *invoke* event and, unless the client died
//! first, a *complete* event with the same `id`. Its outcome is `ok`,
//! `fail` (it definitely did not take effect) or `unknown` (it may or may
//! not have: connection loss, timeout, session expiry mid-op). Checkers must
//! allow an `unknown` op to have taken effect at any time after its invoke,
//! or never.

pub mod value;

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use value::{Value, ValueError};

/// A client (one ZooKeeper session at a time; a new session keeps the id).
pub type ClientId = u32;

/// A znode's metadata as far as the checkers use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatLite {
    /// zxid of the create.
    pub czxid: i64,
    /// zxid of the last modification.
    pub mzxid: i64,
    /// Data version (number of setData since create).
    pub version: i32,
}

/// What a client asked for. Paths are absolute znode paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "snake_case")]
pub enum Call {
    /// `create path value` (persistent).
    Create {
        /// The znode.
        path: String,
        /// The value written.
        value: Value,
    },
    /// `create -s prefix value`: a sequential znode under an append-only log.
    CreateSequential {
        /// The path prefix; the server appends a 10-digit counter.
        prefix: String,
        /// The value written.
        value: Value,
    },
    /// Unconditional `setData`.
    Set {
        /// The znode.
        path: String,
        /// The value written.
        value: Value,
    },
    /// `setData` only if the data version is still `expected_version` (CAS).
    Cas {
        /// The znode.
        path: String,
        /// The value written.
        value: Value,
        /// The version the client read.
        expected_version: i32,
    },
    /// `delete`, conditional when `expected_version` is set.
    Delete {
        /// The znode.
        path: String,
        /// The version precondition.
        expected_version: Option<i32>,
    },
    /// Plain `getData` (sequentially consistent: may be stale).
    Get {
        /// The znode.
        path: String,
    },
    /// `sync` then `getData` (linearizable).
    SyncGet {
        /// The znode.
        path: String,
    },
    /// `exists`.
    Exists {
        /// The znode.
        path: String,
    },
    /// An atomic `multi` of creates, sets, CAS and deletes.
    Multi {
        /// The sub-operations, applied all or none.
        ops: Vec<Call>,
    },
}

impl Call {
    /// The znode the call is about (for `Multi`, none; for sequential
    /// creates, the prefix).
    pub fn path(&self) -> Option<&str> {
        match self {
            Call::Create { path, .. }
            | Call::Set { path, .. }
            | Call::Cas { path, .. }
            | Call::Delete { path, .. }
            | Call::Get { path }
            | Call::SyncGet { path }
            | Call::Exists { path } => Some(path),
            Call::CreateSequential { prefix, .. } => Some(prefix),
            Call::Multi { .. } => None,
        }
    }

    /// Whether the call can change state.
    pub fn is_write(&self) -> bool {
        !matches!(self, Call::Get { .. } | Call::SyncGet { .. } | Call::Exists { .. })
    }
}

/// What came back from a call that succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum Ret {
    /// A create: the actual path (sequential creates get a suffix) and stat.
    Created {
        /// The path created.
        path: String,
        /// Its stat, when the server returned one.
        stat: Option<StatLite>,
    },
    /// A set or CAS: the new stat.
    Written {
        /// The stat after the write.
        stat: StatLite,
    },
    /// A delete.
    Deleted,
    /// A read: the raw data (hex-free: values are UTF-8 text) and stat;
    /// `None` when the znode did not exist (NoNode).
    Read {
        /// The data read, as text.
        data: Option<String>,
        /// Its stat.
        stat: Option<StatLite>,
    },
    /// `exists`: the stat, `None` when absent.
    Exists {
        /// The stat.
        stat: Option<StatLite>,
    },
    /// A `multi`: one result per sub-operation.
    Multi {
        /// Sub-results in order.
        results: Vec<Ret>,
    },
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// It took effect and returned `ret`.
    Ok {
        /// What it returned.
        ret: Ret,
    },
    /// It definitely did not take effect (e.g. BadVersion, NoNode, NodeExists).
    Fail {
        /// The ZooKeeper error, e.g. `bad_version`.
        error: String,
    },
    /// It may or may not have taken effect (connection loss, timeout,
    /// session expired mid-op).
    Unknown {
        /// Why the outcome is unknown.
        error: String,
    },
}

/// One line of a history file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A client invoked a call.
    Invoke {
        /// Operation id, unique in the history.
        id: u64,
        /// The client.
        client: ClientId,
        /// The ZooKeeper session id at invoke time (0 when not connected).
        session: i64,
        /// Monotonic nanoseconds since the history started.
        time_ns: u64,
        /// The call.
        call: Call,
        /// When the open-loop schedule wanted it started (ns, same clock),
        /// for a rated workload; `time_ns` minus this is how late it started.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intended_ns: Option<u64>,
    },
    /// The call ended.
    Complete {
        /// The operation id of the invoke.
        id: u64,
        /// Monotonic nanoseconds since the history started.
        time_ns: u64,
        /// The outcome.
        #[serde(flatten)]
        outcome: Outcome,
        /// The zxid the server reported for the reply, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zxid: Option<i64>,
    },
}

/// An operation: an invoke paired with its completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Operation id.
    pub id: u64,
    /// The client.
    pub client: ClientId,
    /// The session at invoke time.
    pub session: i64,
    /// When it was invoked.
    pub invoke_ns: u64,
    /// When it completed; `None` when the client never saw an answer (the
    /// outcome is then `Unknown`).
    pub complete_ns: Option<u64>,
    /// The call.
    pub call: Call,
    /// How it ended.
    pub outcome: Outcome,
    /// Reply zxid, when known.
    pub zxid: Option<i64>,
}

impl Operation {
    /// Whether it definitely took effect.
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok { .. })
    }
    /// Whether it may have taken effect but the client does not know.
    pub fn is_unknown(&self) -> bool {
        matches!(self.outcome, Outcome::Unknown { .. })
    }
    /// The return value, when ok.
    pub fn ret(&self) -> Option<&Ret> {
        match &self.outcome {
            Outcome::Ok { ret } => Some(ret),
            _ => None,
        }
    }
}

/// A history file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A line is not an event.
    #[error("{path}:{line}: not a history event: {source}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// Events that do not pair up.
    #[error("{path}:{line}: {reason}")]
    Inconsistent {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Pair invokes with completes. An invoke without a complete becomes an
/// `Unknown` operation with no completion time. `path` and line numbers are
/// for messages (line = index + 1).
pub fn pair(events: &[Event], path: &str) -> Result<Vec<Operation>, HistoryError> {
    let mut open: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    let mut ops: Vec<Operation> = Vec::new();
    let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for (i, e) in events.iter().enumerate() {
        let bad = |reason: String| HistoryError::Inconsistent { path: path.to_string(), line: i + 1, reason };
        match e {
            Event::Invoke { id, client, session, time_ns, call, .. } => {
                if !seen.insert(*id) {
                    return Err(bad(format!("operation id {id} invoked twice")));
                }
                open.insert(*id, ops.len());
                ops.push(Operation {
                    id: *id,
                    client: *client,
                    session: *session,
                    invoke_ns: *time_ns,
                    complete_ns: None,
                    call: call.clone(),
                    outcome: Outcome::Unknown { error: "never completed".into() },
                    zxid: None,
                });
            }
            Event::Complete { id, time_ns, outcome, zxid } => {
                let idx =
                    open.remove(id).ok_or_else(|| bad(format!("operation id {id} completed but never invoked")))?;
                let op = &mut ops[idx];
                if *time_ns < op.invoke_ns {
                    return Err(bad(format!("operation {id} completed before it was invoked")));
                }
                op.complete_ns = Some(*time_ns);
                op.outcome = outcome.clone();
                op.zxid = *zxid;
            }
        }
    }
    Ok(ops)
}

/// Write events as JSON Lines.
pub fn write_events(mut w: impl Write, events: &[Event]) -> std::io::Result<()> {
    for e in events {
        serde_json::to_writer(&mut w, e)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// Read a JSON Lines history file.
pub fn read_events(path: &Path) -> Result<Vec<Event>, HistoryError> {
    let p = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|source| HistoryError::Io { path: p.clone(), source })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|source| HistoryError::Io { path: p.clone(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|source| HistoryError::Parse {
            path: p.clone(),
            line: i + 1,
            source,
        })?);
    }
    Ok(out)
}

/// Read a JSON Lines history file that a killed writer may have cut
/// short: a last line that does not parse and has no newline after it is
/// torn, not corrupt. Returns the events up to the last complete one and
/// the torn line's number; a bad line anywhere else is still an error.
pub fn read_events_tolerant(path: &Path) -> Result<(Vec<Event>, Option<usize>), HistoryError> {
    let p = path.display().to_string();
    let text = std::fs::read(path).map_err(|source| HistoryError::Io { path: p.clone(), source })?;
    let text = String::from_utf8_lossy(&text);
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(e) => out.push(e),
            Err(_) if i + 1 == lines.len() && !complete => return Ok((out, Some(i + 1))),
            Err(source) => return Err(HistoryError::Parse { path: p.clone(), line: i + 1, source }),
        }
    }
    Ok((out, None))
}

/// Read and pair a history file.
pub fn read_history(path: &Path) -> Result<Vec<Operation>, HistoryError> {
    pair(&read_events(path)?, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(writer: u32, seq: u64) -> Value {
        Value::new(writer, seq)
    }

    #[test]
    fn a_torn_last_line_is_read_up_to_the_last_complete_event() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("history.jsonl");
        let e = Event::Invoke {
            id: 2,
            client: 1,
            session: 8,
            time_ns: 11,
            call: Call::SyncGet { path: "/k".into() },
            intended_ns: None,
        };
        let mut good = Vec::new();
        write_events(&mut good, std::slice::from_ref(&e)).unwrap();
        let mut torn = good.clone();
        torn.extend_from_slice(b"{\"type\":\"ok\",\"id\":1,\"ti");
        std::fs::write(&p, &torn).unwrap();
        let (events, cut) = read_events_tolerant(&p).unwrap();
        assert_eq!((events.len(), cut), (1, Some(2)));
        assert!(read_events(&p).is_err(), "the strict reader refuses it");
        // A bad line followed by a newline is corruption, not a torn tail.
        torn.push(b'\n');
        std::fs::write(&p, &torn).unwrap();
        assert!(read_events_tolerant(&p).is_err());
        std::fs::write(&p, &good).unwrap();
        assert_eq!(read_events_tolerant(&p).unwrap().1, None);
    }

    #[test]
    fn events_round_trip_through_json_lines_and_pair_up() {
        let events = vec![
            Event::Invoke {
                id: 1,
                client: 0,
                session: 7,
                time_ns: 10,
                call: Call::Create { path: "/k".into(), value: v(0, 1) },
                intended_ns: Some(9),
            },
            Event::Invoke {
                id: 2,
                client: 1,
                session: 8,
                time_ns: 11,
                call: Call::SyncGet { path: "/k".into() },
                intended_ns: None,
            },
            Event::Complete {
                id: 1,
                time_ns: 20,
                outcome: Outcome::Ok { ret: Ret::Created { path: "/k".into(), stat: None } },
                zxid: Some(0x100000001),
            },
            Event::Invoke {
                id: 3,
                client: 0,
                session: 7,
                time_ns: 21,
                call: Call::Set { path: "/k".into(), value: v(0, 2) },
                intended_ns: None,
            },
            Event::Complete {
                id: 3,
                time_ns: 30,
                outcome: Outcome::Unknown { error: "connection_loss".into() },
                zxid: None,
            },
        ];
        let mut buf = Vec::new();
        write_events(&mut buf, &events).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 5);
        let back: Vec<Event> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(back, events);
        let ops = pair(&back, "h").unwrap();
        assert_eq!(ops.len(), 3);
        assert!(ops[0].is_ok() && ops[0].complete_ns == Some(20));
        assert!(ops[1].is_unknown() && ops[1].complete_ns.is_none(), "never completed");
        assert!(ops[2].is_unknown() && ops[2].complete_ns == Some(30));
    }

    #[test]
    fn inconsistent_histories_name_the_line() {
        let e = pair(
            &[Event::Complete { id: 9, time_ns: 1, outcome: Outcome::Fail { error: "x".into() }, zxid: None }],
            "h",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("h:1:"), "{e}");
        let inv = Event::Invoke {
            id: 1,
            client: 0,
            session: 0,
            time_ns: 5,
            call: Call::Get { path: "/a".into() },
            intended_ns: None,
        };
        let e = pair(&[inv.clone(), inv], "h").unwrap_err();
        assert!(e.to_string().contains("invoked twice"));
    }
}
