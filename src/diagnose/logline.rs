//! One ZooKeeper server log line into a [`EventKind`], when it says
//! something the diagnosis uses: elections, roles, sync with the leader
//! (DIFF / SNAP / TRUNC), truncations, what a restarted server loaded,
//! snapshots, shutdowns and exceptions. Pure: no I/O.
//!
//! The line format is the one zk-chaos configures (and ZooKeeper ships):
//! `%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n`, e.g.
//! `2026-11-29 16:10:05,123 [myid:1] - WARN  [QuorumPeer[myid=1](plain=...):Learner@557] - Truncating log to get in sync with the leader 0x200000041`.
//! Timestamps are read as UTC (the servers zk-chaos starts run with
//! `-Duser.timezone=UTC`).

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// How a learner is brought up to date by its leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// The leader sends the transactions the learner misses.
    Diff,
    /// The leader sends a whole snapshot.
    Snap,
    /// The learner drops the end of its log down to the leader's zxid.
    Trunc,
}

impl std::fmt::Display for SyncMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Diff => "DIFF",
            Self::Snap => "SNAP",
            Self::Trunc => "TRUNC",
        })
    }
}

/// A server role, as the server announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// In an election.
    Looking,
    /// Following a leader.
    Following,
    /// Leading.
    Leading,
    /// Observing.
    Observing,
}

/// What a log line says, as far as the diagnosis cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The server process started.
    Started,
    /// A (re)started server loaded its snapshot and log: `last_zxid` is
    /// the end of what it had on disk.
    Loaded {
        /// The highest zxid it loaded.
        last_zxid: i64,
    },
    /// It started an election, proposing itself with its log ending at
    /// `zxid`.
    ElectionStarted {
        /// The zxid of its vote (its last processed transaction).
        zxid: i64,
    },
    /// It took a role.
    Role {
        /// The role.
        role: Role,
    },
    /// As leader, a quorum accepted its new epoch; `zxid` is where the new
    /// epoch starts (its epoch is the new epoch).
    LeaderEstablished {
        /// `(new epoch << 32)`.
        zxid: i64,
    },
    /// As leader, it decided how to sync learner `peer` whose log ends at
    /// `peer_last_zxid` (its own ends at `leader_last_zxid`).
    LearnerSync {
        /// The learner's server id.
        peer: u64,
        /// The learner's last zxid.
        peer_last_zxid: i64,
        /// The leader's last processed zxid.
        leader_last_zxid: i64,
    },
    /// As leader, it sends `mode` to learner `peer` (for TRUNC, `zxid` is
    /// where the learner must truncate to).
    LeaderSends {
        /// The learner's server id.
        peer: u64,
        /// DIFF, SNAP or TRUNC.
        mode: SyncMode,
        /// The zxid of the message.
        zxid: i64,
    },
    /// As learner, it starts syncing with its leader in `mode`; for TRUNC,
    /// `zxid` is what it truncates its log to: every transaction it had
    /// after it is gone.
    Sync {
        /// DIFF, SNAP or TRUNC.
        mode: SyncMode,
        /// The leader's zxid (DIFF, SNAP) or the truncation point (TRUNC).
        zxid: i64,
    },
    /// It finished syncing and serves (`... - broadcast`).
    Broadcasting,
    /// It wrote a snapshot of its data tree at `zxid`.
    Snapshot {
        /// The snapshot's zxid.
        zxid: i64,
    },
    /// It shut its role or itself down.
    Shutdown {
        /// The reason it gave.
        reason: String,
    },
    /// The server's version, as it announces it at start.
    Version {
        /// e.g. `3.8.0`.
        version: String,
    },
    /// A WARN or ERROR line naming an exception.
    Exception {
        /// The message.
        text: String,
    },
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine {
    /// Unix time in milliseconds.
    pub at_ms: i64,
    /// `INFO`, `WARN`, ...
    pub level: String,
    /// The logging class (`Learner`, `QuorumPeer`, ...).
    pub class: String,
    /// The message.
    pub message: String,
    /// The server id in the line's `[myid:N]` (none before the server
    /// read its `myid` file).
    pub myid: Option<u64>,
}

static LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4}-\d\d-\d\d)[ T](\d\d):(\d\d):(\d\d)[,.](\d{3})\S* \[myid:([^\]]*)\] - (\w+)\s+\[(?:.*?):(\w+)@\d+\] - (.*)$",
    )
    .expect("log line regex")
});

/// Split a log line into time, level, class and message (`None` for
/// continuation lines such as stack traces).
pub fn parse_line(line: &str) -> Option<ParsedLine> {
    let c = LINE.captures(line.trim_end())?;
    let at_ms = unix_ms(&c[1], &c[2], &c[3], &c[4], &c[5])?;
    Some(ParsedLine {
        at_ms,
        myid: c[6].trim().parse().ok(),
        level: c[7].to_string(),
        class: c[8].to_string(),
        message: c[9].to_string(),
    })
}

fn unix_ms(date: &str, h: &str, m: &str, s: &str, ms: &str) -> Option<i64> {
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let days = days_from_civil(y, mo, da);
    let secs = days * 86_400 + h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60 + s.parse::<i64>().ok()?;
    Some(secs * 1000 + ms.parse::<i64>().ok()?)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn hex(s: &str) -> Option<i64> {
    let s = s.trim().trim_start_matches("0x");
    u64::from_str_radix(s, 16).ok().map(|v| v as i64)
}

macro_rules! re {
    ($name:ident, $re:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($re).expect($re));
    };
}

re!(LOADED, r"highest zxid is 0x([0-9a-fA-F]+)");
re!(VERSION, r"^Server environment:zookeeper\.version=(\d+\.\d+\.\d+)");
re!(NEW_ELECTION, r"^New election\. My id = \d+, proposed zxid=0x([0-9a-fA-F]+)");
re!(QUORUM_OF_SUPPORTERS, r"setting last processed zxid: 0x([0-9a-fA-F]+)");
re!(
    LEARNER_SYNC,
    r"Synchronizing with Learner sid: (\d+) maxCommittedLog=0x[0-9a-fA-F]+ minCommittedLog=0x[0-9a-fA-F]+ lastProcessedZxid=0x([0-9a-fA-F]+) peerLastZxid=0x([0-9a-fA-F]+)"
);
re!(SENDING, r"^Sending (DIFF|TRUNC|SNAP) zxid=0x([0-9a-fA-F]+)\s+for peer sid: (\d+)");
re!(SENDING_SNAPSHOT, r"^Sending snapshot last zxid of peer is 0x[0-9a-fA-F]+, zxid of leader is 0x([0-9a-fA-F]+)");
re!(GET_DIFF, r"^Getting a diff from the leader 0x([0-9a-fA-F]+)");
re!(GET_SNAP, r"^Getting a snapshot from leader 0x([0-9a-fA-F]+)");
re!(TRUNCATING, r"^Truncating log to get in sync with the leader 0x([0-9a-fA-F]+)");
re!(SNAPSHOTTING, r"^Snapshotting: 0x([0-9a-fA-F]+) to ");
re!(
    SHUTDOWN_REASON,
    r"(?i)^(?:shutdown called\. for the reason|shutdown leader! reason:|shutting down leader! reason:)\s*(.*)$"
);

/// What a message says (`None` when the diagnosis does not use it).
pub fn classify(line: &ParsedLine) -> Option<EventKind> {
    let msg = line.message.trim();
    let cap = |re: &Regex| re.captures(msg);
    if let Some(c) = cap(&TRUNCATING) {
        return Some(EventKind::Sync { mode: SyncMode::Trunc, zxid: hex(&c[1])? });
    }
    if let Some(c) = cap(&GET_DIFF) {
        return Some(EventKind::Sync { mode: SyncMode::Diff, zxid: hex(&c[1])? });
    }
    if let Some(c) = cap(&GET_SNAP) {
        return Some(EventKind::Sync { mode: SyncMode::Snap, zxid: hex(&c[1])? });
    }
    if let Some(c) = cap(&NEW_ELECTION) {
        return Some(EventKind::ElectionStarted { zxid: hex(&c[1])? });
    }
    if let Some(c) = cap(&LEARNER_SYNC) {
        return Some(EventKind::LearnerSync {
            peer: c[1].parse().ok()?,
            leader_last_zxid: hex(&c[2])?,
            peer_last_zxid: hex(&c[3])?,
        });
    }
    if let Some(c) = cap(&SENDING) {
        let mode = match &c[1] {
            "DIFF" => SyncMode::Diff,
            "TRUNC" => SyncMode::Trunc,
            _ => SyncMode::Snap,
        };
        return Some(EventKind::LeaderSends { peer: c[3].parse().ok()?, mode, zxid: hex(&c[2])? });
    }
    if msg.starts_with("Sending snapshot") {
        let zxid = cap(&SENDING_SNAPSHOT).and_then(|c| hex(&c[1])).unwrap_or(0);
        // The peer id is not in this message; the LearnerSync before it has it.
        return Some(EventKind::LeaderSends { peer: 0, mode: SyncMode::Snap, zxid });
    }
    if let Some(c) = cap(&QUORUM_OF_SUPPORTERS) {
        return Some(EventKind::LeaderEstablished { zxid: hex(&c[1])? });
    }
    if msg.contains("Snapshot loaded in")
        && let Some(c) = cap(&LOADED)
    {
        return Some(EventKind::Loaded { last_zxid: hex(&c[1])? });
    }
    if let Some(c) = cap(&SNAPSHOTTING) {
        return Some(EventKind::Snapshot { zxid: hex(&c[1])? });
    }
    match msg {
        "LOOKING" => return Some(EventKind::Role { role: Role::Looking }),
        "FOLLOWING" => return Some(EventKind::Role { role: Role::Following }),
        "LEADING" => return Some(EventKind::Role { role: Role::Leading }),
        "OBSERVING" => return Some(EventKind::Role { role: Role::Observing }),
        _ => {}
    }
    if msg.starts_with("Peer state changed:") && msg.ends_with("- broadcast") {
        return Some(EventKind::Broadcasting);
    }
    if let Some(c) = cap(&VERSION) {
        return Some(EventKind::Version { version: c[1].to_string() });
    }
    if msg.starts_with("Starting quorum peer") {
        return Some(EventKind::Started);
    }
    if let Some(c) = cap(&SHUTDOWN_REASON) {
        return Some(EventKind::Shutdown { reason: c[1].trim().to_string() });
    }
    if (line.level == "WARN" || line.level == "ERROR") && msg.contains("xception") {
        return Some(EventKind::Exception { text: msg.chars().take(300).collect() });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &str) -> Option<EventKind> {
        classify(&parse_line(line).expect("parses"))
    }

    #[test]
    fn the_line_format_splits_into_time_level_class_and_message() {
        let l = parse_line("2026-11-29 16:10:05,123 [myid:1] - WARN  [QuorumPeer[myid=1](plain=[0:0:0:0:0:0:0:0]:2181)(secure=disabled):Learner@557] - Truncating log to get in sync with the leader 0x200000041").unwrap();
        assert_eq!(l.level, "WARN");
        assert_eq!(l.class, "Learner");
        assert_eq!(l.message, "Truncating log to get in sync with the leader 0x200000041");
        // 2026-11-29T16:10:05.123Z
        assert_eq!(l.at_ms, 1_795_968_605_123);
        assert_eq!(l.myid, Some(1));
        assert_eq!(
            parse_line("2026-11-29 16:10:05,123 [myid:] - INFO  [main:QuorumPeerMain@1] - Starting").unwrap().myid,
            None
        );
        assert!(
            parse_line("\tat org.apache.zookeeper.server.quorum.Learner.syncWithLeader(Learner.java:557)").is_none()
        );
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn sync_lines_name_mode_and_zxid() {
        let p = "2026-11-29 16:10:05,123 [myid:3] - INFO  [QuorumPeer[myid=3](plain=0.0.0.0:2181)(secure=disabled):Learner@";
        assert_eq!(
            ev(&format!("{p}1] - Getting a diff from the leader 0x20000007f")),
            Some(EventKind::Sync { mode: SyncMode::Diff, zxid: 0x2_0000_007f })
        );
        assert_eq!(
            ev(&format!("{p}1] - Getting a snapshot from leader 0x300000000")),
            Some(EventKind::Sync { mode: SyncMode::Snap, zxid: 0x3_0000_0000 })
        );
        assert_eq!(
            ev(&format!("{p}1] - Truncating log to get in sync with the leader 0x200000041")),
            Some(EventKind::Sync { mode: SyncMode::Trunc, zxid: 0x2_0000_0041 })
        );
    }

    #[test]
    fn leader_side_sync_decisions() {
        let p = "2026-11-29 16:10:05,123 [myid:2] - INFO  [LearnerHandler-/10.0.0.11:4711:LearnerHandler@";
        assert_eq!(
            ev(&format!(
                "{p}1] - Synchronizing with Learner sid: 1 maxCommittedLog=0x20000007f minCommittedLog=0x100000001 lastProcessedZxid=0x20000007f peerLastZxid=0x200000041"
            )),
            Some(EventKind::LearnerSync { peer: 1, peer_last_zxid: 0x2_0000_0041, leader_last_zxid: 0x2_0000_007f })
        );
        assert_eq!(
            ev(&format!("{p}1] - Sending TRUNC zxid=0x200000041  for peer sid: 1")),
            Some(EventKind::LeaderSends { peer: 1, mode: SyncMode::Trunc, zxid: 0x2_0000_0041 })
        );
    }

    #[test]
    fn elections_roles_and_loads() {
        let p = "2026-11-29 16:10:05,123 [myid:2] - INFO  [QuorumPeer[myid=2](plain=0.0.0.0:2181)(secure=disabled):";
        assert_eq!(
            ev(&format!("{p}FastLeaderElection@1] - New election. My id = 2, proposed zxid=0x200000041")),
            Some(EventKind::ElectionStarted { zxid: 0x2_0000_0041 })
        );
        assert_eq!(ev(&format!("{p}QuorumPeer@1] - LEADING")), Some(EventKind::Role { role: Role::Leading }));
        assert_eq!(
            ev(&format!("{p}ZKDatabase@1] - Snapshot loaded in 12 ms, highest zxid is 0x200000041, digest is 123")),
            Some(EventKind::Loaded { last_zxid: 0x2_0000_0041 })
        );
        assert_eq!(
            ev(&format!("{p}QuorumPeer@1] - Peer state changed: following - broadcast")),
            Some(EventKind::Broadcasting)
        );
        assert_eq!(ev(&format!("{p}QuorumPeer@1] - Peer state changed: following - synchronization - diff")), None);
        assert_eq!(ev(&format!("{p}Foo@1] - something else")), None);
        assert_eq!(
            ev(&format!(
                "{p}Environment@98] - Server environment:zookeeper.version=3.9.3-${{mvngit.commit.id}}, built on 2026-03-08 16:19 UTC"
            )),
            Some(EventKind::Version { version: "3.9.3".into() })
        );
    }
}
