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
#[cfg(feature = "sabotage")]
pub mod sabotage;
pub mod settings;
pub mod status;
pub mod supervisor;
pub mod testkit;
pub mod validate;

/// The environment variable that plants an operator bug (see `sabotage`,
/// a test-only module).
pub const SABOTAGE_ENV: &str = "ZK_CHAOS_SABOTAGE";

/// Whether this build can plant operator bugs (cargo feature `sabotage`:
/// on for the crate's own tests, off in a release build).
pub const SABOTAGE_BUILT: bool = cfg!(feature = "sabotage");

/// Why `ZK_CHAOS_SABOTAGE` cannot be honoured, if it is set on a build
/// without planted bugs; `None` otherwise.
pub fn sabotage_refused() -> Option<String> {
    refusal(std::env::var_os(SABOTAGE_ENV), SABOTAGE_BUILT)
}

/// The refusal of `ZK_CHAOS_SABOTAGE=value` by a build that has (`built`)
/// or lacks the planted bugs.
fn refusal(value: Option<std::ffi::OsString>, built: bool) -> Option<String> {
    let v = value.filter(|_| !built)?;
    Some(format!(
        "{SABOTAGE_ENV}={} is set, but this build has no planted operator bugs: they are test-only (cargo feature `sabotage`, on in `cargo test`); unset it",
        v.to_string_lossy()
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sabotage_asked_of_a_build_without_it_is_refused_by_name() {
        let why = super::refusal(Some("leader-first".into()), false).unwrap();
        assert!(why.contains("ZK_CHAOS_SABOTAGE=leader-first") && why.contains("feature `sabotage`"), "{why}");
        assert_eq!(super::refusal(Some("leader-first".into()), true), None);
        assert_eq!(super::refusal(None, false), None);
    }
}
