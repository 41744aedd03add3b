//! Client workloads that run while faults happen. A workload only talks to
//! the ensemble and records what it saw; judging comes later.

pub mod writer;

pub use writer::{Writer, WriterReport};
