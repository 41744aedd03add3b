//! Server-log diagnosis: what the cluster did, read from each member's own
//! log, joined with the recorded history to explain a violation (which
//! election or sync dropped which acknowledged writes, on which members)
//! and to name it against a catalogue of known upstream bugs.
//!
//! - [`logline`]: one log line into an event (pure);
//! - [`events`]: a member's events from its log files, whole or since a mark;
//! - [`explain`]: truncations and the acknowledged writes they dropped (pure);
//! - [`known_bugs`]: the catalogue and the attribution of a violation (pure);
//! - [`finding`]: the diagnosis joined to the verdict, live or offline;
//! - [`trigger`]: server events a step waits for (pure).

pub mod events;
pub mod explain;
pub mod finding;
pub mod known_bugs;
pub mod logline;
pub mod trigger;

pub use events::{LogMark, MemberEvent, read_logs, read_saved_logs};
pub use explain::{AckedWrite, Diagnosis, Truncation, acked_writes, diagnose};
pub use finding::Finding;
pub use known_bugs::{Attribution, CATALOGUE, KnownBug, attribute};
