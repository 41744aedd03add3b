//! The kind backend's tool side: kind, docker and kubectl driven as
//! processes, each call bounded and its failure explained.
//!
//! - [`runner`]: run one command (timeout, captured output, errors with the
//!   command line and stderr); [`testkit`] scripts it for tests;
//! - [`commands`]: the exact argv of every call, pure;
//! - [`parse`]: what the tools print, parsed;
//! - [`preflight`]: docker (engine up), kind (new enough), kubectl;
//! - [`cluster`]: create or reuse, wait for nodes, kubeconfig, delete, status;
//! - [`images`]: build and load the operator image, load ZooKeeper images;
//! - [`deploy`]: apply the operator's manifests and wait for its rollout;
//! - [`node`]: a shell on kind nodes for pause and partitions;
//! - [`setup`]: all of the above in order (`zk-chaos kind up`).
//!
//! The Kubernetes side (pods, probes, faults over the API) is
//! [`crate::backend::kube`]; it needs none of this with another cluster.

pub mod cluster;
pub mod commands;
pub mod deploy;
pub mod error;
pub mod images;
pub mod node;
pub mod parse;
pub mod preflight;
pub mod runner;
pub mod setup;
pub mod testkit;

pub use cluster::{DEFAULT_NAME, Kind, KindCluster, KindStatus, UpOptions, UpOutcome};
pub use error::KindError;
pub use runner::{Cmd, CmdError, Runner, SystemRunner, Tool};
