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
    /// The file (plain or `.gz`) could not be read.
    #[error(transparent)]
    Read(#[from] crate::textfile::TextError),
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

/// The history file format this version writes: a header line first, an
/// end-of-history marker last when the history was closed properly.
/// Version 1 (files without a header) had no marker, so such a file ending
/// at a line boundary is judged whole, as it always was.
pub const FORMAT_VERSION: u32 = 2;

/// A line of a history file that is not an event: the header and the
/// end-of-history marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Marker {
    /// The first line: `{"type":"history","version":2}`.
    History {
        /// The format version ([`FORMAT_VERSION`]).
        version: u32,
    },
    /// The last line, written when the history was closed properly:
    /// `{"type":"end","events":N}`.
    End {
        /// How many events the file holds.
        events: u64,
    },
}

/// How a history file falls short of what its writer recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cut {
    /// Its last line is torn (no newline, not an event): the writer was
    /// killed while writing it.
    Torn {
        /// The torn line (1-based).
        line: usize,
    },
    /// It ends at a line boundary but without the end-of-history marker
    /// that its format writes at close: the writer was killed between
    /// writes, and how much it had recorded after this is unknown.
    Unclosed {
        /// The last line the file holds (1-based).
        line: usize,
    },
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cut::Torn { line } => {
                write!(f, "the history was cut short: line {line} is torn (the run was killed while writing it)")
            }
            Cut::Unclosed { line: 0 } => {
                write!(f, "the history was cut short: the file is empty (the run was killed before writing to it)")
            }
            Cut::Unclosed { line } => write!(
                f,
                "the history was cut short: it ends after line {line} without its end-of-history marker (the run was killed between writes)"
            ),
        }
    }
}

/// Writes a history file as it happens: the header at once (flushed, so
/// a file of this format is never empty), then one event per line, and
/// the end-of-history marker at [`HistoryWriter::close`]. A file without
/// the marker was cut short (see [`read_events_tolerant`]).
pub struct HistoryWriter<W: Write> {
    out: W,
    events: u64,
}

impl HistoryWriter<std::io::BufWriter<std::fs::File>> {
    /// Create (truncate) `path` and write the header.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Self::new(std::io::BufWriter::new(std::fs::File::create(path)?))
    }
}

impl<W: Write> HistoryWriter<W> {
    /// Start a history on `out`: the header is written and flushed.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        serde_json::to_writer(&mut out, &Marker::History { version: FORMAT_VERSION })?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(Self { out, events: 0 })
    }

    /// Append one event.
    pub fn append(&mut self, e: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, e)?;
        self.out.write_all(b"\n")?;
        self.events += 1;
        Ok(())
    }

    /// Flush what was appended (the history stays open).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Close the history: write the end-of-history marker and flush.
    pub fn close(mut self) -> std::io::Result<W> {
        serde_json::to_writer(&mut self.out, &Marker::End { events: self.events })?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Write a whole, closed history: header, events, end-of-history marker.
pub fn write_events(w: impl Write, events: &[Event]) -> std::io::Result<()> {
    let mut h = HistoryWriter::new(w)?;
    for e in events {
        h.append(e)?;
    }
    h.close().map(|_| ())
}

/// One parsed line.
enum Line {
    Event(Event),
    Marker(Marker),
}

/// Parse a line: an event, else a marker; the event's error otherwise.
fn parse_line(line: &str) -> Result<Line, serde_json::Error> {
    match serde_json::from_str(line) {
        Ok(e) => Ok(Line::Event(e)),
        Err(e) => serde_json::from_str(line).map(Line::Marker).map_err(|_| e),
    }
}

/// Events and markers in file order, checked: the header only first, a
/// version this reader knows, nothing after the end marker, and the end
/// marker's count equal to the events read. Keeps the events, the format
/// version (1 without a header) and whether the end marker was read.
struct Lines {
    path: String,
    events: Vec<Event>,
    version: u32,
    ended: bool,
    last_line: usize,
}

impl Lines {
    fn new(path: String) -> Self {
        Self { path, events: Vec::new(), version: 1, ended: false, last_line: 0 }
    }

    fn push(&mut self, line_no: usize, line: Line) -> Result<(), HistoryError> {
        let bad = |reason: String| HistoryError::Inconsistent { path: self.path.clone(), line: line_no, reason };
        if self.ended {
            return Err(bad("a line after the end-of-history marker".into()));
        }
        match line {
            Line::Event(e) => self.events.push(e),
            Line::Marker(Marker::History { version }) => {
                if self.last_line != 0 {
                    return Err(bad("the history header is not the first line".into()));
                }
                if version > FORMAT_VERSION {
                    return Err(bad(format!(
                        "history format version {version} is newer than this zk-chaos reads ({FORMAT_VERSION})"
                    )));
                }
                self.version = version;
            }
            Line::Marker(Marker::End { events }) => {
                if events != self.events.len() as u64 {
                    return Err(bad(format!(
                        "the end-of-history marker counts {events} event(s), the file holds {}",
                        self.events.len()
                    )));
                }
                self.ended = true;
            }
        }
        self.last_line = line_no;
        Ok(())
    }

    /// Whether a file of this version that ends here was cut short. An
    /// empty file is: a writer of this format writes its header at once,
    /// and an empty history explains nothing a final state shows.
    fn unclosed(&self) -> bool {
        (self.version >= 2 || self.last_line == 0) && !self.ended
    }
}

/// The file `path`'s text is read from, for messages (`history.jsonl.gz`
/// when that is what is kept).
fn shown(path: &Path) -> String {
    crate::textfile::stored(path).unwrap_or_else(|| path.to_path_buf()).display().to_string()
}

/// Read a JSON Lines history file (markers checked, not returned); a
/// `<path>.gz` is read when `path` is not there.
pub fn read_events(path: &Path) -> Result<Vec<Event>, HistoryError> {
    let p = shown(path);
    let f = crate::textfile::open_text(path)?;
    let mut lines = Lines::new(p.clone());
    for (i, line) in f.lines().enumerate() {
        let line = line.map_err(|e| crate::textfile::reader_error(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed =
            parse_line(&line).map_err(|source| HistoryError::Parse { path: p.clone(), line: i + 1, source })?;
        lines.push(i + 1, parsed)?;
    }
    Ok(lines.events)
}

/// Read a JSON Lines history file (or its `.gz`) that a killed writer may have cut
/// short. A last line that does not parse and has no newline after it is
/// torn, not corrupt: the events up to the last complete one are returned
/// with [`Cut::Torn`]. A file of the current format that ends at a line
/// boundary without its end-of-history marker is [`Cut::Unclosed`]; a
/// file of the first format (no header) has no marker and is taken whole,
/// unless it is empty. A bad line anywhere else is still an error.
pub fn read_events_tolerant(path: &Path) -> Result<(Vec<Event>, Option<Cut>), HistoryError> {
    let p = shown(path);
    let text = crate::textfile::read_text(path)?;
    let text = String::from_utf8_lossy(&text);
    let complete = text.ends_with('\n');
    let raw: Vec<&str> = text.lines().collect();
    let mut lines = Lines::new(p.clone());
    for (i, line) in raw.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(l) => lines.push(i + 1, l)?,
            Err(_) if i + 1 == raw.len() && !complete => return Ok((lines.events, Some(Cut::Torn { line: i + 1 }))),
            Err(source) => return Err(HistoryError::Parse { path: p.clone(), line: i + 1, source }),
        }
    }
    let cut = lines.unclosed().then_some(Cut::Unclosed { line: lines.last_line });
    Ok((lines.events, cut))
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

    fn invoke(id: u64) -> Event {
        Event::Invoke {
            id,
            client: 1,
            session: 8,
            time_ns: 10 + id,
            call: Call::Set { path: "/k".into(), value: v(1, id) },
            intended_ns: None,
        }
    }

    /// The bytes of an open (never closed) history of `events`.
    fn open_history(events: &[Event]) -> Vec<u8> {
        let mut w = HistoryWriter::new(Vec::new()).unwrap();
        for e in events {
            w.append(e).unwrap();
        }
        w.flush().unwrap();
        w.out
    }

    #[test]
    fn a_compressed_history_reads_as_the_plain_one_and_a_corrupt_one_is_named() {
        use crate::textfile::{self, Storage};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("history.jsonl");
        let events =
            [Event::Complete { id: 1, time_ns: 2, outcome: Outcome::Unknown { error: "timeout".into() }, zxid: None }];
        let mut text = Vec::new();
        write_events(&mut text, &events).unwrap();
        textfile::write_text(&p, &text, Storage::Gzip).unwrap();
        assert!(!p.exists());
        assert_eq!(read_events(&p).unwrap(), events);
        assert_eq!(read_events_tolerant(&p).unwrap(), (events.to_vec(), None));
        std::fs::write(textfile::gz_path(&p), "plain text, not a gzip stream\n").unwrap();
        for e in [read_events(&p).unwrap_err(), read_events_tolerant(&p).unwrap_err()] {
            let e = e.to_string();
            assert!(e.contains("history.jsonl.gz: cannot decompress"), "{e}");
            assert_eq!(e.matches("history.jsonl").count(), 1, "named once: {e}");
        }
    }

    #[test]
    fn a_torn_last_line_is_read_up_to_the_last_complete_event() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("history.jsonl");
        let good = open_history(&[invoke(2)]);
        let mut torn = good.clone();
        torn.extend_from_slice(b"{\"type\":\"ok\",\"id\":1,\"ti");
        std::fs::write(&p, &torn).unwrap();
        let (events, cut) = read_events_tolerant(&p).unwrap();
        assert_eq!((events.len(), cut), (1, Some(Cut::Torn { line: 3 })));
        assert!(read_events(&p).is_err(), "the strict reader refuses it");
        // A bad line followed by a newline is corruption, not a torn tail.
        torn.push(b'\n');
        std::fs::write(&p, &torn).unwrap();
        assert!(read_events_tolerant(&p).is_err());
    }

    #[test]
    fn a_history_cut_at_a_line_boundary_lacks_its_end_marker_and_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("history.jsonl");
        let events = [invoke(1), invoke(2)];
        std::fs::write(&p, open_history(&events)).unwrap();
        let (read, cut) = read_events_tolerant(&p).unwrap();
        assert_eq!(read, events);
        assert_eq!(cut, Some(Cut::Unclosed { line: 3 }));
        assert!(cut.unwrap().to_string().contains("cut short"), "{}", cut.unwrap());
        // Closed properly: whole.
        let mut closed = Vec::new();
        write_events(&mut closed, &events).unwrap();
        std::fs::write(&p, &closed).unwrap();
        assert_eq!(read_events_tolerant(&p).unwrap(), (events.to_vec(), None));
        assert_eq!(read_events(&p).unwrap(), events);
        // A file of the first format (no header, no marker) is taken whole.
        let old: Vec<u8> =
            events.iter().flat_map(|e| format!("{}\n", serde_json::to_string(e).unwrap()).into_bytes()).collect();
        std::fs::write(&p, &old).unwrap();
        assert_eq!(read_events_tolerant(&p).unwrap(), (events.to_vec(), None));
        // A history header alone (killed before its first event) is cut too.
        std::fs::write(&p, open_history(&[])).unwrap();
        assert_eq!(read_events_tolerant(&p).unwrap(), (Vec::new(), Some(Cut::Unclosed { line: 1 })));
    }

    #[test]
    fn markers_out_of_place_or_miscounted_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("history.jsonl");
        let mut closed = Vec::new();
        write_events(&mut closed, &[invoke(1)]).unwrap();
        let text = String::from_utf8(closed).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let cases = [
            (format!("{}\n{}\n{}\n{}\n", lines[0], lines[1], lines[2], lines[1]), "after the end-of-history"),
            (format!("{}\n{}\n{}\n", lines[1], lines[0], lines[2]), "not the first line"),
            (format!("{}\n{}\n", lines[0], lines[2]), "counts 1 event(s), the file holds 0"),
            ("{\"type\":\"history\",\"version\":99}\n".to_string(), "newer than this zk-chaos reads"),
        ];
        for (text, needle) in cases {
            std::fs::write(&p, &text).unwrap();
            let e = read_events_tolerant(&p).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(read_events(&p).unwrap_err().to_string().contains(needle));
        }
    }

    proptest::proptest! {
        /// However a closed history is cut (any byte), the reader returns
        /// a prefix of its events and says it was cut, unless all of it
        /// is there; it never errors and never takes a cut file as whole.
        #[test]
        fn a_history_cut_anywhere_is_read_as_a_cut_prefix(n in 0u64..6, at in 0.0f64..=1.0) {
            let events: Vec<Event> = (1..=n).map(invoke).collect();
            let mut closed = Vec::new();
            write_events(&mut closed, &events).unwrap();
            let len = ((closed.len() as f64) * at) as usize;
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("history.jsonl");
            std::fs::write(&p, &closed[..len]).unwrap();
            let (read, cut) = read_events_tolerant(&p).unwrap();
            proptest::prop_assert!(events.starts_with(&read), "a prefix");
            // The end marker's newline is the only byte whose loss loses nothing.
            let whole = len + 1 >= closed.len();
            proptest::prop_assert_eq!(cut.is_none(), whole, "cut at {} of {}: {:?}", len, closed.len(), cut);
            if whole {
                proptest::prop_assert_eq!(read, events);
            }
        }
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
        assert_eq!(text.lines().count(), 7, "a header, five events, the end marker");
        let lines: Vec<&str> = text.lines().collect();
        let back: Vec<Event> = lines[1..6].iter().map(|l| serde_json::from_str(l).unwrap()).collect();
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
