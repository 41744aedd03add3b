//! Server events a step can wait for, by name (`member C starts syncing
//! with the leader`) or by raw text (`pod 1 logs "..."`), matched against
//! what a member logged since the scenario's last action. Pure.

use std::fmt;
use std::str::FromStr;

use super::logline::{EventKind, Role, SyncMode};

/// A named server event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEvent {
    /// `starts syncing with the leader`: DIFF, SNAP or TRUNC begins.
    StartsSyncing,
    /// `syncs with the leader by DIFF`.
    SyncsByDiff,
    /// `truncates its log`.
    TruncatesLog,
    /// `finishes syncing with the leader`: it serves (`- broadcast`).
    FinishesSyncing,
    /// `starts leading`.
    StartsLeading,
    /// `starts following`.
    StartsFollowing,
    /// `starts an election`.
    StartsElection,
    /// `loads its data`: a (re)started server read its snapshot and log.
    LoadsData,
}

const NAMES: &[(&str, ServerEvent)] = &[
    ("starts syncing with the leader", ServerEvent::StartsSyncing),
    ("syncs with the leader by DIFF", ServerEvent::SyncsByDiff),
    ("truncates its log", ServerEvent::TruncatesLog),
    ("finishes syncing with the leader", ServerEvent::FinishesSyncing),
    ("starts leading", ServerEvent::StartsLeading),
    ("starts following", ServerEvent::StartsFollowing),
    ("starts an election", ServerEvent::StartsElection),
    ("loads its data", ServerEvent::LoadsData),
];

/// Text that names no server event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown server event `{text}`: expected one of {}", known_names())]
pub struct UnknownEvent {
    /// The text given.
    pub text: String,
}

fn known_names() -> String {
    NAMES.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

impl FromStr for ServerEvent {
    type Err = UnknownEvent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.split_whitespace().collect::<Vec<_>>().join(" ");
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&norm))
            .map(|(_, e)| *e)
            .ok_or_else(|| UnknownEvent { text: s.into() })
    }
}

impl fmt::Display for ServerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NAMES.iter().find(|(_, e)| e == self).map(|(n, _)| *n).unwrap_or("?"))
    }
}

impl ServerEvent {
    /// Whether a parsed log event is this one.
    pub fn matches(&self, kind: &EventKind) -> bool {
        match self {
            Self::StartsSyncing => matches!(kind, EventKind::Sync { .. }),
            Self::SyncsByDiff => matches!(kind, EventKind::Sync { mode: SyncMode::Diff, .. }),
            Self::TruncatesLog => matches!(kind, EventKind::Sync { mode: SyncMode::Trunc, .. }),
            Self::FinishesSyncing => matches!(kind, EventKind::Broadcasting),
            Self::StartsLeading => matches!(kind, EventKind::Role { role: Role::Leading }),
            Self::StartsFollowing => matches!(kind, EventKind::Role { role: Role::Following }),
            Self::StartsElection => matches!(kind, EventKind::ElectionStarted { .. }),
            Self::LoadsData => matches!(kind, EventKind::Loaded { .. }),
        }
    }
}

/// What a step waits for in a member's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Awaited {
    /// A named event.
    Event(ServerEvent),
    /// A line containing this text.
    Text(String),
}

impl Awaited {
    /// The first of `lines` (message, parsed event) that matches.
    pub fn find<'a>(&self, lines: &'a [(String, Option<EventKind>)]) -> Option<&'a str> {
        lines
            .iter()
            .find(|(msg, kind)| match self {
                Self::Event(e) => kind.as_ref().is_some_and(|k| e.matches(k)),
                Self::Text(t) => msg.contains(t.as_str()),
            })
            .map(|(m, _)| m.as_str())
    }
}

impl fmt::Display for Awaited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Event(e) => write!(f, "{e}"),
            Self::Text(t) => write!(f, "logs \"{t}\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for (n, e) in NAMES {
            assert_eq!(n.parse::<ServerEvent>().unwrap(), *e);
            assert_eq!(e.to_string(), *n);
        }
        let err = "starts dancing".parse::<ServerEvent>().unwrap_err().to_string();
        assert!(err.contains("`truncates its log`"), "{err}");
    }

    #[test]
    fn awaited_events_and_text_find_their_line() {
        let lines = vec![
            ("LOOKING".to_string(), Some(EventKind::Role { role: Role::Looking })),
            ("Getting a diff from the leader 0x5".to_string(), Some(EventKind::Sync { mode: SyncMode::Diff, zxid: 5 })),
        ];
        assert_eq!(Awaited::Event(ServerEvent::StartsSyncing).find(&lines), Some("Getting a diff from the leader 0x5"));
        assert_eq!(Awaited::Event(ServerEvent::SyncsByDiff).find(&lines), Some("Getting a diff from the leader 0x5"));
        assert_eq!(Awaited::Event(ServerEvent::TruncatesLog).find(&lines), None);
        assert_eq!(Awaited::Text("LOOK".into()).find(&lines), Some("LOOKING"));
        assert_eq!(Awaited::Text("nothing".into()).find(&lines), None);
    }
}
