//! The zk-chaos operator: the `ZookeeperCluster` resource and the pure
//! planner that turns "what the spec asks for" and "what is observed" into
//! the next small, safe step.
//!
//! Data flows one way: [`observed::Observed`] (read from the world) and the
//! [`crd::ZookeeperClusterSpec`] go into [`planner::plan`], which returns a
//! [`action::Plan`]: a few [`action::Action`]s for an executor (the kube-rs
//! controller or the local supervisor) plus the status to publish. The
//! planner keeps no state of its own, so an operator that crashes anywhere
//! resumes correctly from what it observes.

pub mod action;
pub mod assess;
pub mod crd;
pub mod invariants;
pub mod k8s;
pub mod load;
pub mod members;
pub mod observed;
pub mod planner;
pub mod report;
pub mod revision;
pub mod settings;
pub mod status;
pub mod testkit;
pub mod validate;
