//! The embedded `local` backend: each pod is a real ZooKeeper server JVM in
//! its own network namespace on a per-run bridge, with a volume that
//! outlives it and StatefulSet semantics for ordinals.

pub mod cleanup;
pub mod cluster;
pub mod cpu;
pub mod diagnose;
pub mod disk;
pub mod ensemble;
pub mod firewall;
pub mod hostnet;
pub mod naming;
pub mod net;
pub mod pod;
pub mod state;

pub use ensemble::{EnsembleError, EnsembleSpec, LocalEnsemble};
