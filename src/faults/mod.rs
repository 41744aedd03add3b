//! The nemesis: faults that act on a [`FaultTarget`] (any backend) and report what they
//! did. Following Jepsen's split, a fault never records history itself; it
//! returns an [`ActiveFault`] that knows how to undo exactly what it did and
//! how to describe it for a [`crate::workload::record::FaultRecord`].

pub mod effect;
pub mod fault;
pub mod schedule;
pub mod selector;
pub mod target;

pub use effect::{EFFECT_TIMEOUT, Effect, await_effects};
pub use fault::{ActiveFault, Fault};
pub use schedule::{ActiveFaults, Schedule, ScheduleSpec, Scheduled, run_schedule};
pub use selector::{Resolution, Selector, SelectorParseError};
pub use target::FaultTarget;

use crate::backend::kube::KubeError;
use crate::backend::local::EnsembleError;
use crate::sys::SysError;

/// Why a fault could not be started or healed.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The ensemble refused an action (no such pod, not running...).
    #[error(transparent)]
    Ensemble(#[from] EnsembleError),
    /// An `ip` or `tc` command failed.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// A selector could not be resolved against the live status.
    #[error("cannot resolve `{selector}`: {reason}")]
    Resolve {
        /// The selector, as text.
        selector: String,
        /// Why not.
        reason: String,
    },
    /// The fault was done, but probes did not show its effect in time.
    #[error("the fault did not take effect within {within:?}: waited for {awaited}; last seen: {seen}")]
    NotInEffect {
        /// The effects not seen.
        awaited: String,
        /// The bound.
        within: std::time::Duration,
        /// The last probe round, one member per entry.
        seen: String,
    },
    /// The fault or schedule is malformed.
    #[error("invalid fault: {0}")]
    Invalid(String),
    /// The host cannot inject this fault (e.g. no netem qdisc in the kernel).
    #[error("unsupported on this host: {0}")]
    Unsupported(String),
    /// The backend cannot inject this fault at all.
    #[error("unsupported on the {backend} backend: {why}")]
    UnsupportedOn {
        /// The backend's name.
        backend: &'static str,
        /// Why not.
        why: String,
    },
    /// The Kubernetes backend failed, or cannot do this fault at all
    /// (`unsupported on this backend: ...`).
    #[error(transparent)]
    Kube(Box<KubeError>),
}

impl From<KubeError> for FaultError {
    fn from(e: KubeError) -> Self {
        Self::Kube(Box::new(e))
    }
}

impl FaultError {
    /// Whether the fault cannot be done here at all (this host or this
    /// backend), as opposed to having failed.
    pub fn is_unsupported(&self) -> bool {
        match self {
            Self::Unsupported(_) | Self::UnsupportedOn { .. } => true,
            Self::Kube(k) => matches!(**k, KubeError::Unsupported { .. }),
            _ => false,
        }
    }
}
