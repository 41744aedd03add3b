//! Names and labels of everything the docker backend creates. Every
//! container, network, volume and image carries [`LABEL_MANAGED_BY`] =
//! [`MANAGED_BY`] (cleanup removes by that label only, never by name), and
//! every per-ensemble object carries the run id in [`LABEL_RUN`].
//!
//! A member's container is named after the pod's DNS name as the headless
//! Service gives it (`<name>-<ordinal>.<name>-pods.<ns>.svc.cluster.local`):
//! Docker's embedded DNS resolves container names on a user-defined
//! network, so every member resolves every other by the name in the
//! dynamic config, and no alias is needed (testcontainers cannot set
//! network aliases). The network is `zkd-<run>`, a member's volume
//! `zkd-<run>-data-<pod>` (`data-<pod>` is the claim's name in Kubernetes).

use std::collections::BTreeMap;

use crate::backend::local::naming::RunId;
use crate::zkconfig::EnsembleNames;

/// The label every object we create carries.
pub const LABEL_MANAGED_BY: &str = "io.zk-chaos.managed-by";
/// Its value.
pub const MANAGED_BY: &str = "zk-chaos";
/// The backend that created the object (`docker`).
pub const LABEL_BACKEND: &str = "io.zk-chaos.backend";
/// The run an object belongs to (six hex digits).
pub const LABEL_RUN: &str = "io.zk-chaos.run";
/// The cluster name an object belongs to.
pub const LABEL_CLUSTER: &str = "io.zk-chaos.cluster";
/// A member's ordinal (containers and volumes).
pub const LABEL_ORDINAL: &str = "io.zk-chaos.ordinal";
/// The ZooKeeper version an image holds.
pub const LABEL_ZK_VERSION: &str = "io.zk-chaos.zookeeper-version";
/// The hash of the inputs an image was built from.
pub const LABEL_INPUTS: &str = "io.zk-chaos.inputs";
/// The prefix of the names of our networks and volumes.
pub const PREFIX: &str = "zkd";
/// The repository of the ZooKeeper images `zk-chaos image build` makes.
pub const IMAGE_REPOSITORY: &str = "zk-chaos/zookeeper";

/// The `docker ... --filter label=...` value selecting everything we made.
pub fn managed_filter() -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY}")
}

/// The filter value selecting one run's objects.
pub fn run_filter(run: &RunId) -> String {
    format!("{LABEL_RUN}={run}")
}

/// The image `zk-chaos image build <version>` makes.
pub fn image_tag(version: &str) -> String {
    format!("{IMAGE_REPOSITORY}:{version}")
}

/// The names of one docker run of an ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerNames {
    /// The run id.
    pub run: RunId,
    /// The ensemble's Kubernetes names.
    pub names: EnsembleNames,
}

impl DockerNames {
    /// The names of `names` in run `run`.
    pub fn new(run: RunId, names: EnsembleNames) -> Self {
        Self { run, names }
    }
    /// The run's user-defined network.
    pub fn network(&self) -> String {
        format!("{PREFIX}-{}", self.run)
    }
    /// Member `ordinal`'s container: its pod's DNS name.
    pub fn container(&self, ordinal: u32) -> String {
        self.names.pod_fqdn(ordinal)
    }
    /// Member `ordinal`'s volume (the PersistentVolume).
    pub fn volume(&self, ordinal: u32) -> String {
        format!("{PREFIX}-{}-data-{}", self.run, self.names.pod(ordinal))
    }
    /// The container holding member `ordinal`'s size-limited data volume
    /// mounted.
    pub fn disk_holder(&self, ordinal: u32) -> String {
        format!("{PREFIX}-{}-disk-{}", self.run, self.names.pod(ordinal))
    }
    /// The ordinal of one of this run's volume names.
    pub fn ordinal_of_volume(&self, volume: &str) -> Option<u32> {
        let pod = volume.strip_prefix(&format!("{PREFIX}-{}-data-", self.run))?;
        crate::operator::k8s::build::ordinal_of_name(&self.names, "", pod)
    }
    /// The labels of every object of this run.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
            (LABEL_BACKEND.to_string(), "docker".to_string()),
            (LABEL_RUN.to_string(), self.run.to_string()),
            (LABEL_CLUSTER.to_string(), self.names.name.clone()),
        ])
    }
    /// The labels of member `ordinal`'s container and volume.
    pub fn member_labels(&self, ordinal: u32) -> BTreeMap<String, String> {
        let mut l = self.labels();
        l.insert(LABEL_ORDINAL.to_string(), ordinal.to_string());
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> DockerNames {
        DockerNames::new(RunId::try_from("0a1b2c".to_string()).unwrap(), EnsembleNames::new("zk", "default"))
    }

    #[test]
    fn containers_are_named_as_the_headless_service_names_pods() {
        let n = names();
        assert_eq!(n.container(2), "zk-2.zk-pods.default.svc.cluster.local");
        assert_eq!(n.network(), "zkd-0a1b2c");
        assert_eq!(n.volume(1), "zkd-0a1b2c-data-zk-1");
    }

    #[test]
    fn volume_names_round_trip_to_ordinals() {
        let n = names();
        assert_eq!(n.ordinal_of_volume(&n.volume(7)), Some(7));
        assert_eq!(n.ordinal_of_volume("zkd-0a1b2c-data-zk-07"), None);
        assert_eq!(n.ordinal_of_volume("zkd-ffffff-data-zk-1"), None);
        assert_eq!(n.ordinal_of_volume("zkd-0a1b2c-data-other-1"), None);
    }

    #[test]
    fn every_object_is_labelled_as_ours_with_its_run() {
        let n = names();
        let l = n.member_labels(1);
        assert_eq!(l[LABEL_MANAGED_BY], MANAGED_BY);
        assert_eq!(l[LABEL_RUN], "0a1b2c");
        assert_eq!(l[LABEL_ORDINAL], "1");
        assert_eq!(l[LABEL_BACKEND], "docker");
        assert_eq!(managed_filter(), "io.zk-chaos.managed-by=zk-chaos");
        assert_eq!(run_filter(&n.run), "io.zk-chaos.run=0a1b2c");
        assert_eq!(image_tag("3.9.3"), "zk-chaos/zookeeper:3.9.3");
    }
}
