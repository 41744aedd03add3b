//! zk-chaos: stand up ZooKeeper ensembles, break them, and prove they survive.
//!
//! Data flows one way: steps -> backend/operator -> workload/faults ->
//! checkers -> report. See the README's architecture section.

pub mod backend;
pub mod check;
pub mod client;
pub mod diagnose;
pub mod dist;
pub mod faults;
pub mod history;
pub mod hunt;
pub mod operator;
pub mod plan;
pub mod probe;
pub mod report;
pub mod retention;
pub mod scenario;
pub mod steps;
pub mod sys;
pub mod textfile;
pub mod workload;
pub mod zkconfig;
