//! Checkers: pure judgements over a recorded history (and probe samples).
//! A checker never talks to a server. Each returns a [`Verdict`]: valid,
//! invalid with evidence, or unknown with the reason (a budget ran out, the
//! history cannot decide) — never "valid" by default.

pub mod availability;
pub mod converge;
pub mod durability;
pub mod linear;
pub mod quorum;
pub mod restart;
pub mod rollout;
pub mod session;
pub mod status_truth;
pub mod suite;

use serde::{Deserialize, Serialize};

/// A checker's judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The property holds on this history.
    Valid,
    /// The property is violated; `evidence` says where, as small as possible.
    Invalid {
        /// Human-readable evidence (keys, operation ids, values).
        evidence: Vec<String>,
    },
    /// The checker could not decide (budget exhausted, missing data).
    Unknown {
        /// Why.
        reason: String,
    },
}

impl Verdict {
    /// Whether the verdict is `Valid`.
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid)
    }
    /// Whether the verdict is `Invalid`.
    pub fn is_invalid(&self) -> bool {
        matches!(self, Verdict::Invalid { .. })
    }
}

/// A named checker result, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The checker's name, e.g. `linearizable-writes`.
    pub checker: String,
    /// Its verdict.
    pub verdict: Verdict,
}
