//! The world's side of findings: naming members so a choreography can
//! follow the same server through role changes, waiting for what a member
//! logs (since the scenario's last action), healing one member's faults,
//! and the server-log diagnosis joined to the checkers' verdicts: what
//! the cluster did to acknowledged writes, and which known upstream bug
//! it is.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::{ScenarioError, ScenarioWorld, StepResult};
use crate::diagnose::trigger::Awaited;
use crate::diagnose::{self, Attribution, Finding, LogMark};
use crate::faults::Selector;
use crate::history::Event;

impl ScenarioWorld {
    /// Remember where every member's log ends: waits for server events
    /// look only at what is logged after the latest action.
    pub fn mark_action(&mut self) {
        if let Some(c) = &self.cluster {
            self.log_mark = LogMark::now(&c.log_files());
        }
    }

    async fn resolve_one(&mut self, sel: Selector) -> Result<u32, ScenarioError> {
        let c = self.cluster()?;
        let sel = sel.bind(&self.names)?;
        // A pod named by ordinal needs no probe round (a probe of a cut-off
        // member takes its timeout, and a trigger must not wait for it).
        if let Selector::Ordinal(o) = sel {
            let members = c.members().await;
            return if members.contains(&o) {
                Ok(o)
            } else {
                Err(ScenarioError::Input(format!("there is no pod {o} (members: {members:?})")))
            };
        }
        let status = c.status().await;
        let r = sel.resolve(&status, &mut self.rng)?;
        match r.ordinals.as_slice() {
            [o] => Ok(*o),
            _ => Err(ScenarioError::Input(format!("`{sel}` must name one member; it resolved to {}", r.description))),
        }
    }

    /// Name the current leader and its followers (in ordinal order), so
    /// later steps can say `member B` whatever its role is by then.
    pub async fn name_members(&mut self, leader: char, followers: &[char]) -> StepResult {
        let c = self.cluster()?;
        let st = c.status().await;
        let l = st.leader().ok_or_else(|| {
            ScenarioError::Expectation(format!(
                "there is no single leader to name: {}",
                super::super::expect::describe(&st)
            ))
        })?;
        let mut fs: Vec<u32> = st.members.iter().map(|m| m.ordinal).filter(|o| *o != l).collect();
        fs.sort_unstable();
        if fs.len() != followers.len() {
            return Err(ScenarioError::Input(format!(
                "{} follower name(s) given, but the ensemble has {} other member(s)",
                followers.len(),
                fs.len()
            )));
        }
        let mut all: Vec<char> = followers.to_vec();
        all.push(leader);
        if all.iter().collect::<BTreeSet<_>>().len() != all.len() {
            return Err(ScenarioError::Input("each member needs its own name".into()));
        }
        self.names.insert(leader, l);
        let mut parts = vec![format!("{leader} = pod {l} (leader)")];
        for (n, o) in followers.iter().zip(fs) {
            self.names.insert(*n, o);
            parts.push(format!("{n} = pod {o}"));
        }
        Ok(parts.join(", "))
    }

    /// Name one member.
    pub async fn name_member(&mut self, sel: Selector, name: char) -> StepResult {
        let o = self.resolve_one(sel).await?;
        self.names.insert(name, o);
        Ok(format!("{name} = pod {o} ({sel})"))
    }

    /// Heal every fault in effect that hit the selected member.
    pub async fn heal_member(&mut self, sel: Selector) -> StepResult {
        let o = self.resolve_one(sel).await?;
        let hits: Vec<usize> =
            self.open.iter().map(|(i, _)| *i).filter(|i| self.faults[*i].targets.contains(&o)).collect();
        if hits.is_empty() {
            return Err(ScenarioError::Precondition(format!("no fault in effect hits {sel} (pod {o})")));
        }
        let mut healed = Vec::new();
        for i in hits {
            healed.push(self.faults[i].description.clone());
            self.heal_one(i).await?;
        }
        Ok(format!("healed: {}", healed.join("; ")))
    }

    /// Wait until the selected member leads (or follows the leader).
    pub async fn wait_for_member(&mut self, within: Duration, sel: Selector, leads: bool) -> StepResult {
        let o = self.resolve_one(sel).await?;
        let expect = if leads { super::Expect::Leads(o) } else { super::Expect::Follows(o) };
        self.wait_for(within, expect).await.map(|d| format!("{sel} = pod {o}: {d}"))
    }

    /// Wait until the selected member logs `awaited` (after the latest
    /// action), at most `within`.
    pub async fn await_log(&mut self, sel: Selector, awaited: &Awaited, within: Duration) -> StepResult {
        let c = self.cluster()?;
        let o = self.resolve_one(sel).await?;
        let start = Instant::now();
        self.live(format!("waiting until pod {o} {awaited}"));
        let (files, mark, what) = (c.log_files(), self.log_mark.clone(), awaited.clone());
        let found = tokio::task::spawn_blocking(move || {
            mark.wait_blocking(&files, o, within, |lines| what.find(lines).map(String::from))
        })
        .await
        .map_err(|e| ScenarioError::Precondition(format!("the log watcher failed: {e}")))?;
        self.live("");
        match found {
            Ok(line) => Ok(format!("pod {o} after {:.1}s: {line}", start.elapsed().as_secs_f64())),
            Err(last) => Err(ScenarioError::Expectation(format!(
                "expected within {:.0}s that {sel} (pod {o}) {awaited}, but it did not; its last lines since the last action: {}",
                within.as_secs_f64(),
                if last.is_empty() { "none".to_string() } else { last.join(" | ") }
            ))),
        }
    }

    /// Diagnose the judged history against the members' logs.
    pub(super) async fn diagnose_judged(&mut self, events: &[Event], violation: bool) {
        let Some(c) = self.cluster.clone() else { return };
        let ops = crate::history::pair(events, "history").unwrap_or_default();
        let log_events = diagnose::read_logs(&c.log_files());
        let mut versions: Vec<String> = c.pods().await.into_iter().map(|p| p.version).collect();
        versions.push(c.spec().await.version);
        let finding = Finding::new(&log_events, &ops, &versions, violation);
        if let Ok(json) = serde_json::to_string_pretty(&finding) {
            let _ = std::fs::create_dir_all(&self.dir);
            let _ = std::fs::write(self.dir.join("diagnosis.json"), json);
        }
        self.finding = Some(finding);
    }

    /// The diagnosis, once the history was judged.
    pub fn finding(&self) -> Option<&Finding> {
        self.finding.as_ref()
    }

    /// The history checkers found a violation, and the diagnosis names it
    /// as the known bug `id` on the version run.
    pub async fn known_bug_reproduced(&mut self, id: &str) -> StepResult {
        let bug = diagnose::known_bugs::find(id)
            .ok_or_else(|| ScenarioError::Input(format!("`{id}` is not in the known-bug catalogue")))?;
        let report = self.judge().await?;
        let invalid: Vec<String> =
            report.results.iter().filter(|r| r.verdict.is_invalid()).map(|r| r.checker.clone()).collect();
        let finding = self.finding.as_ref().ok_or_else(|| ScenarioError::Precondition("no diagnosis".into()))?;
        let explained = finding.explain();
        if invalid.is_empty() {
            return Err(ScenarioError::Expectation(format!(
                "expected {} to be reproduced, but every history checker passed; {explained}",
                bug.id
            )));
        }
        match &finding.attribution {
            Some(Attribution::Known { id: got, .. }) if *got == bug.id => {
                Ok(format!("{} reproduced: {} invalid; {}", bug.id, invalid.join(", "), explained.replace('\n', " ")))
            }
            _ => Err(ScenarioError::Expectation(format!(
                "{} invalid, but the evidence is not {}: {explained}",
                invalid.join(", "),
                bug.id
            ))),
        }
    }
}
