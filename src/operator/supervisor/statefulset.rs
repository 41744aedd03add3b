//! The StatefulSet the embedded supervisor emulates on the local backend:
//! `OnDelete` updates with a partition, pod templates by revision, and the
//! controller rule that decides which pods to create or delete. Kept in the
//! run's state file, so a restarted supervisor finds it as it was, like the
//! StatefulSet object in the API server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backend::local::state::PodTemplate;
use crate::operator::observed::StatefulSetObservation;

/// The emulated StatefulSet object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalStatefulSet {
    /// Desired pod count.
    pub replicas: u32,
    /// Revision pods at ordinals `>= partition` are created at.
    pub update_revision: String,
    /// Revision pods below the partition are created at.
    pub current_revision: String,
    /// The `OnDelete` partition.
    pub partition: u32,
    /// Pod templates by revision (the ControllerRevisions).
    pub templates: BTreeMap<String, PodTemplate>,
}

impl LocalStatefulSet {
    /// What the planner sees of it.
    pub fn observation(&self) -> StatefulSetObservation {
        StatefulSetObservation {
            replicas: self.replicas,
            update_revision: self.update_revision.clone(),
            current_revision: self.current_revision.clone(),
            partition: self.partition,
        }
    }

    /// The revision a (re)created pod with `ordinal` gets.
    pub fn revision_for(&self, ordinal: u32) -> &str {
        if ordinal >= self.partition { &self.update_revision } else { &self.current_revision }
    }

    /// The template a (re)created pod with `ordinal` gets.
    pub fn template_for(&self, ordinal: u32) -> Option<&PodTemplate> {
        self.templates.get(self.revision_for(ordinal))
    }

    /// Apply `EnsureStatefulSet`: new replicas, update revision (with its
    /// template) and partition. Templates no pod can use any more are
    /// dropped.
    pub fn ensure(&mut self, replicas: u32, update_revision: &str, partition: u32, template: PodTemplate) {
        self.replicas = replicas;
        self.partition = partition;
        self.update_revision = update_revision.to_string();
        self.templates.entry(update_revision.to_string()).or_insert(template);
    }

    /// Once every pod runs the update revision, it becomes the current one
    /// (as the StatefulSet controller does); unused templates go.
    pub fn settle(&mut self, pod_revisions: &BTreeMap<u32, String>) {
        let all_updated = (0..self.replicas).all(|o| pod_revisions.get(&o) == Some(&self.update_revision));
        if all_updated {
            self.current_revision = self.update_revision.clone();
        }
        let keep: Vec<String> = pod_revisions
            .values()
            .cloned()
            .chain([self.update_revision.clone(), self.current_revision.clone()])
            .collect();
        self.templates.retain(|r, _| keep.contains(r));
    }

    /// The controller rule: pods to create (missing ordinals below
    /// `replicas`) and pods to delete (ordinals at or above it), given the
    /// ordinals that exist.
    pub fn diff(&self, existing: impl IntoIterator<Item = u32> + Clone) -> (Vec<u32>, Vec<u32>) {
        let have: Vec<u32> = existing.into_iter().collect();
        let create = (0..self.replicas).filter(|o| !have.contains(o)).collect();
        let mut delete: Vec<u32> = have.into_iter().filter(|o| *o >= self.replicas).collect();
        delete.sort_unstable_by(|a, b| b.cmp(a));
        (create, delete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zkconfig::ServerSettings;

    fn template(rev: &str, version: &str) -> PodTemplate {
        PodTemplate { revision: rev.into(), version: version.into(), settings: ServerSettings::default(), heap_mb: 64 }
    }

    fn sts() -> LocalStatefulSet {
        LocalStatefulSet {
            replicas: 3,
            update_revision: "a".into(),
            current_revision: "a".into(),
            partition: 0,
            templates: BTreeMap::from([("a".into(), template("a", "3.8.0"))]),
        }
    }

    #[test]
    fn below_the_partition_pods_come_back_at_the_current_revision() {
        let mut s = sts();
        s.ensure(3, "b", 2, template("b", "3.9.3"));
        assert_eq!(s.revision_for(2), "b");
        assert_eq!(s.revision_for(1), "a");
        assert_eq!(s.template_for(0).unwrap().version, "3.8.0");
        assert_eq!(s.template_for(2).unwrap().version, "3.9.3");
    }

    #[test]
    fn current_revision_moves_only_when_every_pod_is_updated() {
        let mut s = sts();
        s.ensure(3, "b", 0, template("b", "3.9.3"));
        let mut revs = BTreeMap::from([(0, "a".to_string()), (1, "b".to_string()), (2, "b".to_string())]);
        s.settle(&revs);
        assert_eq!(s.current_revision, "a");
        assert!(s.templates.contains_key("a"));
        revs.insert(0, "b".into());
        s.settle(&revs);
        assert_eq!(s.current_revision, "b");
        assert_eq!(s.templates.keys().collect::<Vec<_>>(), vec!["b"]);
    }

    #[test]
    fn diff_creates_missing_and_deletes_from_the_top() {
        let mut s = sts();
        assert_eq!(s.diff([0, 2]), (vec![1], vec![]));
        s.replicas = 1;
        assert_eq!(s.diff([0, 1, 2]), (vec![], vec![2, 1]));
        s.replicas = 5;
        assert_eq!(s.diff([0, 1, 2]), (vec![3, 4], vec![]));
    }
}
