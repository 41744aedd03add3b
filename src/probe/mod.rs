//! Probing members: the wire (4lw over TCP, admin HTTP), body parsers, and
//! the per-member and ensemble status built from them. A probe only reads.

pub mod parse;
pub mod sampler;
pub mod status;
pub mod wire;

pub use parse::{Mode, NOT_SERVING};
pub use status::{EnsembleStatus, MemberStatus, probe_all, probe_member};
