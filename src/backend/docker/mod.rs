//! The `docker` backend (`--backend docker`, cargo feature `docker`): each
//! member of an ensemble is a container of an image of its ZooKeeper
//! version, on a user-defined network of its own, named as the headless
//! Service names the pod, with a named volume that outlives it; the
//! container is the operator's StatefulSet pod template rendered for
//! Docker ([`spec`]), and the embedded operator's planner drives the
//! members through the same [`PodRuntime`](crate::operator::supervisor::runtime::PodRuntime)
//! seam as the local backend's.
//!
//! The pure parts ([`naming`], [`spec`], [`cpu`], [`disk`]) build without the feature, so
//! their rules are tested in every build.

pub mod cpu;
pub mod disk;
pub mod naming;
pub mod spec;

#[cfg(feature = "docker")]
pub mod cleanup;
#[cfg(feature = "docker")]
pub mod cluster;
#[cfg(feature = "docker")]
pub mod engine;
#[cfg(feature = "docker")]
pub mod ensemble;
#[cfg(feature = "docker")]
pub mod error;
#[cfg(feature = "docker")]
pub mod image;

#[cfg(feature = "docker")]
pub use cluster::DockerCluster;
#[cfg(feature = "docker")]
pub use ensemble::{DockerEnsemble, DockerSettings};
#[cfg(feature = "docker")]
pub use error::DockerError;
