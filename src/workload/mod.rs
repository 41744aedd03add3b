//! Client workloads that run while faults happen: Jepsen's client and
//! generator. A workload only talks to the ensemble and records what it saw
//! (`crate::history`); judging is the checkers' job.

pub mod generate;
pub mod pace;
pub mod record;
pub mod run;
pub mod stats;
pub mod writer;

pub use generate::{Generator, OpMix, WorkloadSpec};
pub use run::{Recorder, RunOutput};
pub use writer::{Writer, WriterReport};
