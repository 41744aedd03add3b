//! Server log events per member: read from the log files a backend keeps
//! per pod (whole, for the evidence and `zk-chaos check`), or followed
//! from an offset (for steps that wait for something to be logged).

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::logline::{self, EventKind};
use crate::textfile::{self, TextError};

/// One event of one member's server log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberEvent {
    /// The member's ordinal.
    pub ordinal: u32,
    /// Unix time in milliseconds (from the log line).
    pub at_ms: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// The log message it came from.
    pub message: String,
}

/// A short label for a member's lane in the report, and whether the event
/// dropped committed history; `None` for events not worth a mark.
pub fn mark(kind: &EventKind) -> Option<(String, bool)> {
    use super::explain::zxid_hex as z;
    use super::logline::{Role, SyncMode};
    Some(match kind {
        EventKind::Loaded { last_zxid } => (format!("loaded its data up to {}", z(*last_zxid)), false),
        EventKind::ElectionStarted { zxid } => (format!("election, standing with {}", z(*zxid)), false),
        EventKind::Role { role: Role::Leading } => ("LEADING".into(), false),
        EventKind::Role { role: Role::Following } => ("FOLLOWING".into(), false),
        EventKind::Sync { mode: SyncMode::Trunc, zxid } => (format!("TRUNC: dropped its log after {}", z(*zxid)), true),
        EventKind::Sync { mode, zxid } => (format!("{mode} from the leader at {}", z(*zxid)), false),
        EventKind::LeaderSends { peer, mode, zxid } if *peer != 0 => {
            (format!("sends {mode} {} to {}", z(*zxid), super::explain::pod_of_sid(*peer)), false)
        }
        EventKind::Shutdown { reason } => (format!("shutdown: {reason}"), false),
        _ => return None,
    })
}

/// The ordinal of a pod name `<cluster>-<ordinal>`.
pub fn ordinal_of_pod(pod: &str) -> Option<u32> {
    pod.rsplit_once('-').and_then(|(_, n)| n.parse().ok())
}

/// The server id (`myid`) of the member with `ordinal`.
pub fn sid_of(ordinal: u32) -> u64 {
    crate::zkconfig::server_id(ordinal)
}

/// The ordinal of the member with server id `sid`.
pub fn ordinal_of_sid(sid: u64) -> Option<u32> {
    (0..1024u32).find(|o| sid_of(*o) == sid)
}

/// Parse the events of one member's log text, in order.
pub fn parse_log(ordinal: u32, text: &str) -> Vec<MemberEvent> {
    text.lines()
        .filter_map(logline::parse_line)
        .filter_map(|l| {
            let kind = logline::classify(&l)?;
            Some(MemberEvent { ordinal, at_ms: l.at_ms, kind, message: l.message })
        })
        .collect()
}

/// The files of one log, oldest first: rotated `<file>.N` ... `<file>.1`,
/// then `<file>` (each kept plain or as `.gz`, see [`crate::textfile`]).
pub fn rotated(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = (1..=9)
        .rev()
        .map(|i| PathBuf::from(format!("{}.{i}", path.display())))
        .filter(|p| textfile::exists(p))
        .collect();
    out.push(path.to_path_buf());
    out
}

/// Every event of every member, from the log files a cluster keeps per
/// pod (`(pod name, path)`), sorted by time (stable per member). Each
/// file is read plain, else from its `.gz`. Missing or unreadable files
/// contribute nothing (see [`read_saved_logs`] to hear of the latter).
pub fn read_logs(files: &[(String, PathBuf)]) -> Vec<MemberEvent> {
    collect_logs(files, false).unwrap_or_default()
}

/// [`read_logs`] over saved logs (a scenario's `logs/<pod>/zookeeper.log`
/// or its `.gz`): a missing file contributes nothing, but one that is
/// there and cannot be read (a corrupt `.gz`) is an error naming it.
pub fn read_saved_logs(files: &[(String, PathBuf)]) -> Result<Vec<MemberEvent>, TextError> {
    collect_logs(files, true)
}

fn collect_logs(files: &[(String, PathBuf)], strict: bool) -> Result<Vec<MemberEvent>, TextError> {
    let mut out = Vec::new();
    for (pod, path) in files {
        let Some(ordinal) = ordinal_of_pod(pod) else { continue };
        for f in rotated(path) {
            match textfile::read_text(&f) {
                Ok(bytes) => out.extend(parse_log(ordinal, &String::from_utf8_lossy(&bytes))),
                Err(TextError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) if strict => return Err(e),
                Err(_) => {}
            }
        }
    }
    out.sort_by_key(|e| e.at_ms);
    Ok(out)
}

/// Where each log file ended at some moment, so that later reads see only
/// what was logged after it.
#[derive(Debug, Clone, Default)]
pub struct LogMark {
    offsets: Vec<(u32, PathBuf, u64)>,
}

impl LogMark {
    /// Mark the current end of every file.
    pub fn now(files: &[(String, PathBuf)]) -> Self {
        let offsets = files
            .iter()
            .filter_map(|(pod, p)| {
                let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                Some((ordinal_of_pod(pod)?, p.clone(), len))
            })
            .collect();
        Self { offsets }
    }

    /// The log lines (message text with their parsed events) member
    /// `ordinal` wrote after the mark. A file that shrank (rotated) is
    /// read from its start.
    pub fn lines_since(&self, files: &[(String, PathBuf)], ordinal: u32) -> Vec<(String, Option<EventKind>)> {
        let mut out = Vec::new();
        for (pod, path) in files {
            if ordinal_of_pod(pod) != Some(ordinal) {
                continue;
            }
            let from = self.offsets.iter().find(|(o, p, _)| *o == ordinal && p == path).map_or(0, |(_, _, n)| *n);
            let Ok(mut f) = std::fs::File::open(path) else { continue };
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let start = if len < from { 0 } else { from };
            let mut buf = Vec::new();
            if f.seek(SeekFrom::Start(start)).is_ok() && f.read_to_end(&mut buf).is_ok() {
                for line in String::from_utf8_lossy(&buf).lines() {
                    if let Some(l) = logline::parse_line(line) {
                        let kind = logline::classify(&l);
                        out.push((l.message, kind));
                    }
                }
            }
        }
        out
    }
}

impl LogMark {
    /// Block until member `ordinal` logs a line after the mark that
    /// `matches`, or `within` passes: `Ok(the line)` or `Err(its last lines
    /// since the mark)`. Polls the files' sizes every millisecond, so the
    /// caller learns of the line within about a millisecond of its write (a
    /// trigger must land inside windows of about 10 ms).
    pub fn wait_blocking(
        &self,
        files: &[(String, PathBuf)],
        ordinal: u32,
        within: std::time::Duration,
        matches: impl Fn(&[(String, Option<EventKind>)]) -> Option<String>,
    ) -> Result<String, Vec<String>> {
        let deadline = std::time::Instant::now() + within;
        let size = || -> u64 {
            files
                .iter()
                .filter(|(pod, _)| ordinal_of_pod(pod) == Some(ordinal))
                .map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
                .sum()
        };
        let mut seen = u64::MAX;
        loop {
            let now = size();
            if now != seen {
                seen = now;
                let lines = self.lines_since(files, ordinal);
                if let Some(line) = matches(&lines) {
                    return Ok(line);
                }
                if std::time::Instant::now() >= deadline {
                    return Err(lines.iter().rev().take(3).map(|(m, _)| m.clone()).collect());
                }
            } else if std::time::Instant::now() >= deadline {
                let lines = self.lines_since(files, ordinal);
                return Err(lines.iter().rev().take(3).map(|(m, _)| m.clone()).collect());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_and_sids_map_to_ordinals() {
        assert_eq!(ordinal_of_pod("zk-2"), Some(2));
        assert_eq!(ordinal_of_pod("my-zk-10"), Some(10));
        assert_eq!(ordinal_of_pod("zk"), None);
        for o in 0..7 {
            assert_eq!(ordinal_of_sid(sid_of(o)), Some(o));
        }
    }

    #[test]
    fn a_mark_sees_only_what_came_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zookeeper.log");
        let line = |m: &str| format!("2026-11-29 16:10:05,123 [myid:1] - INFO  [main:QuorumPeer@1] - {m}\n");
        std::fs::write(&path, line("LOOKING")).unwrap();
        let files = vec![("zk-0".to_string(), path.clone())];
        let mark = LogMark::now(&files);
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, line("FOLLOWING").as_bytes()).unwrap();
        let seen = mark.lines_since(&files, 0);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, "FOLLOWING");
        assert!(mark.lines_since(&files, 1).is_empty());
        let all = read_logs(&files);
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn saved_logs_are_read_compressed_too_and_a_corrupt_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let line = |m: &str| format!("2026-11-29 16:10:05,123 [myid:1] - INFO  [main:QuorumPeer@1] - {m}\n");
        let plain = dir.path().join("zk-0/zookeeper.log");
        let packed = dir.path().join("zk-1/zookeeper.log");
        for p in [&plain, &packed] {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        }
        std::fs::write(&plain, line("LOOKING")).unwrap();
        let storage = textfile::Storage::Gzip;
        textfile::write_text(&packed, (line("LOOKING") + &line("FOLLOWING")).as_bytes(), storage).unwrap();
        assert!(!packed.exists());
        let files = vec![
            ("zk-0".to_string(), plain.clone()),
            ("zk-1".to_string(), packed.clone()),
            ("zk-2".to_string(), dir.path().join("zk-2/zookeeper.log")),
        ];
        let all = read_saved_logs(&files).unwrap();
        assert_eq!(all.iter().filter(|e| e.ordinal == 1).count(), 2, "{all:?}");
        assert_eq!(all.iter().filter(|e| e.ordinal == 0).count(), 1, "{all:?}");
        assert_eq!(read_logs(&files), all);

        std::fs::write(textfile::gz_path(&packed), b"garbage").unwrap();
        let e = read_saved_logs(&files).unwrap_err().to_string();
        assert!(e.contains("zk-1/zookeeper.log.gz") && e.contains("cannot decompress"), "{e}");
        assert_eq!(read_logs(&files).len(), 1, "the live reader skips what it cannot read");
    }
}
