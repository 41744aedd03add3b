//! A finding: the diagnosis of one scenario joined to the checkers'
//! verdict and named against the known-bug catalogue. Built the same way
//! live (at the end of a scenario) and offline (`zk-chaos check <scenario
//! dir>`).

use serde::Serialize;

use super::events::MemberEvent;
use super::explain::{Diagnosis, acked_writes, diagnose};
use super::known_bugs::{Attribution, attribute};
use super::logline::EventKind;
use crate::history::Operation;

/// What the logs and the history say together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Every ZooKeeper version the ensemble ran.
    pub versions: Vec<String>,
    /// What the logs show.
    pub diagnosis: Diagnosis,
    /// Whether a history checker found a violation.
    pub violation: bool,
    /// The violation against the known-bug catalogue (only when there is
    /// a violation).
    pub attribution: Option<Attribution>,
}

/// The versions the servers announced in their logs.
pub fn logged_versions(events: &[MemberEvent]) -> Vec<String> {
    let mut v: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Version { version } => Some(version.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

impl Finding {
    /// Diagnose `ops` against the members' log `events`; `versions` adds
    /// to what the logs announce (a backend may know better).
    pub fn new(events: &[MemberEvent], ops: &[Operation], versions: &[String], violation: bool) -> Self {
        let diagnosis = diagnose(events, &acked_writes(ops));
        let mut all = logged_versions(events);
        all.extend(versions.iter().cloned());
        all.sort();
        all.dedup();
        let attribution = violation.then(|| attribute(&diagnosis, true, &all));
        Self { versions: all, diagnosis, violation, attribution }
    }

    /// What to append to a failing checker's evidence: the attribution and
    /// what the logs show.
    pub fn explain(&self) -> String {
        let mut out = Vec::new();
        if let Some(a) = &self.attribution {
            out.push(format!("diagnosis: {}", a.headline()));
        }
        let lossy = self.diagnosis.explain();
        if lossy.is_empty() {
            out.push(format!(
                "server logs ({} events): no truncation dropped an acknowledged write",
                self.diagnosis.events
            ));
        }
        let no_truncation = lossy.is_empty();
        out.extend(lossy.into_iter().map(|l| format!("  {l}")));
        // DIFF chains are ordinary; they only matter to a loss that no
        // truncation explains (ZOOKEEPER-4925).
        if no_truncation && self.violation {
            for (learner, leader) in &self.diagnosis.diff_from_diffed_leader {
                out.push(format!("  pod {learner} synced by DIFF from pod {leader}, which had itself joined by DIFF"));
            }
        }
        out.join("\n")
    }
}
