//! What the cluster did to acknowledged writes: from the members' server
//! log events and the recorded history, find every truncation (a member
//! dropping the end of its log to match a leader) and every acknowledged
//! write whose zxid fell in what was dropped, with the election that made
//! that leader and the members that still held the writes. Pure.

use serde::{Deserialize, Serialize};

use super::events::{MemberEvent, ordinal_of_sid, sid_of};
use super::logline::{EventKind, Role, SyncMode};
use crate::check::durability::op_zxid;
use crate::history::{Call, Operation};

/// An acknowledged write and where the server put it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckedWrite {
    /// The operation id in the history.
    pub id: u64,
    /// Its zxid.
    pub zxid: i64,
    /// What it did, e.g. `set /k3`.
    pub what: String,
}

/// Every acknowledged write with a known zxid, in zxid order.
pub fn acked_writes(ops: &[Operation]) -> Vec<AckedWrite> {
    let mut out: Vec<AckedWrite> = ops
        .iter()
        .filter(|o| o.is_ok() && o.call.is_write())
        .filter_map(|o| Some(AckedWrite { id: o.id, zxid: op_zxid(o)?, what: describe(&o.call) }))
        .collect();
    out.sort_by_key(|w| (w.zxid, w.id));
    out
}

fn describe(call: &Call) -> String {
    match call {
        Call::Create { path, .. } => format!("create {path}"),
        Call::CreateSequential { prefix, .. } => format!("create -s {prefix}"),
        Call::Set { path, .. } => format!("set {path}"),
        Call::Cas { path, expected_version, .. } => format!("cas {path} (version {expected_version})"),
        Call::Delete { path, .. } => format!("delete {path}"),
        Call::Multi { ops } => format!("multi of {}", ops.len()),
        other => format!("{other:?}"),
    }
}

/// `0x<epoch><counter>` as ZooKeeper prints it.
pub fn zxid_hex(z: i64) -> String {
    format!("0x{:x}", z as u64)
}

/// A zxid's epoch.
pub fn epoch_of(z: i64) -> u32 {
    ((z as u64) >> 32) as u32
}

/// One member dropping committed history to follow a leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    /// The member that truncated.
    pub member: u32,
    /// When (unix ms, from its log).
    pub at_ms: i64,
    /// It kept everything up to this zxid...
    pub to_zxid: i64,
    /// ...and had its log up to this one before (when its log or the
    /// leader's says so).
    pub had_until: Option<i64>,
    /// The leader it synced with, when known.
    pub leader: Option<u32>,
    /// Where that leader's log ended when it stood for election (its vote).
    pub leader_log_end: Option<i64>,
    /// Whether that leader had restarted (loaded its data from disk) since
    /// it last synced with a leader of its own by DIFF.
    pub leader_restarted_after_diff: bool,
    /// Acknowledged writes whose zxid lies in `(to_zxid, had_until]`.
    pub acked_lost: Vec<AckedWrite>,
    /// Members whose log reached past `to_zxid` at the time (from their
    /// latest vote or load), with where it ended.
    pub holders: Vec<(u32, i64)>,
}

/// The diagnosis of one scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// Every truncation in the logs, in time order.
    pub truncations: Vec<Truncation>,
    /// DIFF syncs served by a leader that had itself joined its previous
    /// leader by DIFF (and not restarted since): `(learner, leader)`. Such
    /// a leader's in-memory committed log may have a hole (ZOOKEEPER-4925).
    pub diff_from_diffed_leader: Vec<(u32, u32)>,
    /// How many events the logs gave.
    pub events: usize,
}

impl Diagnosis {
    /// Truncations that dropped acknowledged writes.
    pub fn lossy(&self) -> impl Iterator<Item = &Truncation> {
        self.truncations.iter().filter(|t| !t.acked_lost.is_empty())
    }

    /// Acknowledged writes dropped by some truncation (deduplicated).
    pub fn acked_lost(&self) -> Vec<&AckedWrite> {
        let mut v: Vec<&AckedWrite> = self.lossy().flat_map(|t| t.acked_lost.iter()).collect();
        v.sort_by_key(|w| (w.zxid, w.id));
        v.dedup_by_key(|w| w.id);
        v
    }

    /// A paragraph per lossy truncation (empty when there is none).
    pub fn explain(&self) -> Vec<String> {
        self.lossy().map(Truncation::explain).collect()
    }
}

impl Truncation {
    /// What happened, in one paragraph.
    pub fn explain(&self) -> String {
        let range = match self.had_until {
            Some(h) => format!("{}..={}", zxid_hex(self.to_zxid + 1), zxid_hex(h)),
            None => format!("everything after {}", zxid_hex(self.to_zxid)),
        };
        let leader = match (self.leader, self.leader_log_end) {
            (Some(l), Some(end)) => format!(
                "leader pod {l}, elected with its log ending at {end}{}",
                if self.leader_restarted_after_diff {
                    " (it had synced by DIFF, then restarted from what was on its disk)"
                } else {
                    ""
                },
                end = zxid_hex(end)
            ),
            (Some(l), None) => format!("leader pod {l}"),
            _ => "its leader".to_string(),
        };
        let examples: Vec<String> = self
            .acked_lost
            .iter()
            .take(3)
            .map(|w| format!("op {} {} (zxid {})", w.id, w.what, zxid_hex(w.zxid)))
            .collect();
        let holders: Vec<String> =
            self.holders.iter().map(|(o, z)| format!("pod {o} (log to {})", zxid_hex(*z))).collect();
        format!(
            "pod {m} truncated its log to {to} to follow {leader}: {range} was dropped on pod {m}; \
             {n} acknowledged write(s) fell in it, e.g. {ex}{held}",
            m = self.member,
            to = zxid_hex(self.to_zxid),
            n = self.acked_lost.len(),
            ex = examples.join(", "),
            held = if holders.is_empty() { String::new() } else { format!("; held by {}", holders.join(", ")) },
        )
    }
}

/// The latest vote (or load) of `member` at or before `at_ms`.
fn log_end_at(events: &[MemberEvent], member: u32, at_ms: i64) -> Option<i64> {
    events.iter().filter(|e| e.ordinal == member && e.at_ms <= at_ms).rev().find_map(|e| match e.kind {
        EventKind::ElectionStarted { zxid } => Some(zxid),
        EventKind::Loaded { last_zxid } => Some(last_zxid),
        _ => None,
    })
}

/// Find every truncation and what it dropped.
pub fn diagnose(events: &[MemberEvent], acked: &[AckedWrite]) -> Diagnosis {
    let mut truncations = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let EventKind::Sync { mode: SyncMode::Trunc, zxid: to } = e.kind else { continue };
        // The leader: the member that sent this member a TRUNC most
        // recently, else the last member that announced LEADING.
        let sid = sid_of(e.ordinal);
        let before = &events[..=i];
        let leader = before
            .iter()
            .rev()
            .find_map(|x| match x.kind {
                EventKind::LeaderSends { peer, mode: SyncMode::Trunc, .. } if peer == sid => Some(x.ordinal),
                _ => None,
            })
            .or_else(|| {
                before.iter().rev().find_map(|x| {
                    matches!(x.kind, EventKind::Role { role: Role::Leading } | EventKind::LeaderEstablished { .. })
                        .then_some(x.ordinal)
                })
            });
        // What the member had: the leader's view of its log, else its vote.
        let from_leader = before.iter().rev().find_map(|x| match x.kind {
            EventKind::LearnerSync { peer, peer_last_zxid, .. } if peer == sid && Some(x.ordinal) == leader => {
                Some(peer_last_zxid)
            }
            _ => None,
        });
        let had_until = from_leader.or_else(|| log_end_at(events, e.ordinal, e.at_ms)).filter(|h| *h > to);
        let leader_log_end = leader.and_then(|l| log_end_at(events, l, e.at_ms));
        let leader_restarted_after_diff = leader.is_some_and(|l| {
            let mine: Vec<&MemberEvent> = before.iter().filter(|x| x.ordinal == l).collect();
            let last_diff = mine.iter().rposition(|x| matches!(x.kind, EventKind::Sync { mode: SyncMode::Diff, .. }));
            let last_load = mine.iter().rposition(|x| matches!(x.kind, EventKind::Loaded { .. }));
            matches!((last_diff, last_load), (Some(d), Some(l)) if l > d)
        });
        let upper = had_until.unwrap_or(i64::MAX);
        let acked_lost: Vec<AckedWrite> = acked.iter().filter(|w| w.zxid > to && w.zxid <= upper).cloned().collect();
        let mut holders: Vec<(u32, i64)> = events
            .iter()
            .map(|x| x.ordinal)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|o| Some((o, log_end_at(events, o, e.at_ms)?)))
            .filter(|(o, z)| *z > to && Some(*o) != leader && *o != e.ordinal)
            .collect();
        holders.sort_unstable();
        truncations.push(Truncation {
            member: e.ordinal,
            at_ms: e.at_ms,
            to_zxid: to,
            had_until,
            leader,
            leader_log_end,
            leader_restarted_after_diff,
            acked_lost,
            holders,
        });
    }
    Diagnosis { truncations, diff_from_diffed_leader: diff_chains(events), events: events.len() }
}

/// DIFF syncs whose leader had joined by DIFF itself since its last start.
fn diff_chains(events: &[MemberEvent]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let EventKind::LeaderSends { peer, mode: SyncMode::Diff, .. } = e.kind else { continue };
        let Some(learner) = ordinal_of_sid(peer) else { continue };
        let leader = e.ordinal;
        let mine: Vec<&MemberEvent> = events[..i].iter().filter(|x| x.ordinal == leader).collect();
        let last_diff = mine.iter().rposition(|x| matches!(x.kind, EventKind::Sync { mode: SyncMode::Diff, .. }));
        let last_start = mine.iter().rposition(|x| matches!(x.kind, EventKind::Loaded { .. } | EventKind::Started));
        let diffed = match (last_diff, last_start) {
            (Some(d), Some(s)) => d > s,
            (Some(_), None) => true,
            _ => false,
        };
        if diffed && !out.contains(&(learner, leader)) {
            out.push((learner, leader));
        }
    }
    out
}

/// The member `sid` names, for messages.
pub fn pod_of_sid(sid: u64) -> String {
    ordinal_of_sid(sid).map_or_else(|| format!("sid {sid}"), |o| format!("pod {o}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ordinal: u32, at_ms: i64, kind: EventKind) -> MemberEvent {
        MemberEvent { ordinal, at_ms, kind, message: String::new() }
    }

    fn w(id: u64, zxid: i64) -> AckedWrite {
        AckedWrite { id, zxid, what: format!("set /k{id}") }
    }

    /// The ZOOKEEPER-4643 shape: pod 2 synced by DIFF (in memory only),
    /// restarted from disk with an older log, won an election, and pod 0
    /// truncated to pod 2's log end.
    fn lossy_events() -> Vec<MemberEvent> {
        vec![
            ev(2, 10, EventKind::Sync { mode: SyncMode::Diff, zxid: 0x1_0000_0050 }),
            ev(2, 20, EventKind::Loaded { last_zxid: 0x1_0000_0010 }),
            ev(0, 30, EventKind::ElectionStarted { zxid: 0x1_0000_0050 }),
            ev(2, 31, EventKind::ElectionStarted { zxid: 0x1_0000_0010 }),
            ev(2, 40, EventKind::Role { role: Role::Leading }),
            ev(
                2,
                41,
                EventKind::LearnerSync {
                    peer: sid_of(0),
                    peer_last_zxid: 0x1_0000_0050,
                    leader_last_zxid: 0x1_0000_0010,
                },
            ),
            ev(2, 42, EventKind::LeaderSends { peer: sid_of(0), mode: SyncMode::Trunc, zxid: 0x1_0000_0010 }),
            ev(0, 43, EventKind::Sync { mode: SyncMode::Trunc, zxid: 0x1_0000_0010 }),
        ]
    }

    #[test]
    fn a_truncation_over_acknowledged_writes_is_found_and_explained() {
        let acked = vec![w(1, 0x1_0000_0005), w(2, 0x1_0000_0011), w(3, 0x1_0000_0050), w(4, 0x2_0000_0001)];
        let d = diagnose(&lossy_events(), &acked);
        assert_eq!(d.truncations.len(), 1);
        let t = &d.truncations[0];
        assert_eq!((t.member, t.leader, t.to_zxid, t.had_until), (0, Some(2), 0x1_0000_0010, Some(0x1_0000_0050)));
        assert_eq!(t.leader_log_end, Some(0x1_0000_0010));
        assert!(t.leader_restarted_after_diff);
        assert_eq!(t.acked_lost.iter().map(|w| w.id).collect::<Vec<_>>(), vec![2, 3]);
        let text = t.explain();
        assert!(text.contains("pod 0 truncated its log to 0x100000010"), "{text}");
        assert!(text.contains("2 acknowledged write(s)"), "{text}");
        assert!(text.contains("restarted"), "{text}");
        assert_eq!(d.acked_lost().len(), 2);
    }

    #[test]
    fn a_truncation_of_unacknowledged_history_loses_nothing() {
        let acked = vec![w(1, 0x1_0000_0005), w(4, 0x2_0000_0001)];
        let d = diagnose(&lossy_events(), &acked);
        assert_eq!(d.truncations.len(), 1);
        assert!(d.lossy().next().is_none());
        assert!(d.explain().is_empty());
    }

    #[test]
    fn a_diff_served_by_a_leader_that_joined_by_diff_is_a_chain() {
        let events = vec![
            ev(1, 1, EventKind::Loaded { last_zxid: 5 }),
            ev(1, 2, EventKind::Sync { mode: SyncMode::Diff, zxid: 9 }),
            ev(1, 3, EventKind::Role { role: Role::Leading }),
            ev(1, 4, EventKind::LeaderSends { peer: sid_of(2), mode: SyncMode::Diff, zxid: 9 }),
            // pod 0 restarted after its DIFF: its memory came from disk.
            ev(0, 5, EventKind::Sync { mode: SyncMode::Diff, zxid: 9 }),
            ev(0, 6, EventKind::Loaded { last_zxid: 9 }),
            ev(0, 7, EventKind::LeaderSends { peer: sid_of(2), mode: SyncMode::Diff, zxid: 9 }),
        ];
        assert_eq!(diagnose(&events, &[]).diff_from_diffed_leader, vec![(2, 1)]);
    }

    #[test]
    fn no_truncation_no_finding() {
        let events = vec![ev(0, 1, EventKind::Sync { mode: SyncMode::Diff, zxid: 5 })];
        assert!(diagnose(&events, &[w(1, 3)]).truncations.is_empty());
    }
}
