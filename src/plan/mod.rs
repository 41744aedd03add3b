//! Declarative YAML plans: an ensemble, the operator's settings, a
//! workload, a timeline of faults and operations, and checks. A plan uses
//! the step catalogue's own sentences (`do: kill the leader`,
//! `- the history is linearizable`), so a plan and a feature share one
//! vocabulary; a plan runs as a scenario (`zk-chaos run scenarios/x.yaml`)
//! or inside one (`When I run the plan "scenarios/x.yaml"`). Every problem
//! is reported with the file, line and what was expected.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cucumber::gherkin::{self, GherkinEnv};
use serde::Deserialize;

use crate::scenario::{ScenarioError, ScenarioWorld, StepResult, params};
use crate::steps::catalogue::Kind;
use crate::steps::matcher;

/// A plan file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The scenario's name.
    pub name: String,
    /// What it is about.
    #[serde(default)]
    pub description: Option<String>,
    /// Tags (without `@`), e.g. `slow`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The ensemble to stand up (omit inside a scenario that has one).
    #[serde(default)]
    pub ensemble: Option<EnsemblePlan>,
    /// Integrity znodes to create first.
    #[serde(default)]
    pub integrity: Option<IntegrityPlan>,
    /// The recorded workload.
    #[serde(default)]
    pub workload: Option<WorkloadPlan>,
    /// Faults and operations, in order.
    #[serde(default)]
    pub timeline: Vec<Entry>,
    /// `Then` sentences checked at the end.
    #[serde(default)]
    pub checks: Vec<String>,
}

/// The ensemble section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsemblePlan {
    /// The cluster's name.
    #[serde(default = "default_name")]
    pub name: String,
    /// Members.
    pub members: u32,
    /// ZooKeeper version.
    pub version: String,
    /// zoo.cfg settings.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// The update strategy's partition.
    #[serde(default)]
    pub partition: Option<u32>,
}

fn default_name() -> String {
    "zk".into()
}

/// The integrity section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrityPlan {
    /// Parent znode.
    pub path: String,
    /// How many znodes.
    pub znodes: u32,
}

/// The workload section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadPlan {
    /// Clients.
    pub clients: u32,
    /// Total ops/s (closed loop when absent).
    #[serde(default)]
    pub rate: Option<u32>,
    /// Keys.
    pub keys: u32,
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// When, from the start of the timeline (`10s`); absent: right after
    /// the previous entry.
    #[serde(default)]
    pub at: Option<String>,
    /// A `When` sentence of the catalogue, without `When`.
    #[serde(rename = "do")]
    pub action: String,
}

/// A plan that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The file cannot be read.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Problems, each `file:line: message`.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

/// One step of a plan, with the YAML line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStep {
    /// Its kind.
    pub kind: Kind,
    /// The sentence.
    pub text: String,
    /// A `key | value` table, for config.
    pub table: Option<Vec<Vec<String>>>,
    /// The line in the YAML file.
    pub line: usize,
}

/// Finds the line of the `n`th occurrence-in-order of texts in a YAML file.
struct Lines<'a> {
    lines: Vec<&'a str>,
    next: usize,
}

impl Lines<'_> {
    /// The first line at or after the cursor that contains `needle`
    /// (1-based); the cursor moves past it.
    fn find(&mut self, needle: &str) -> usize {
        for i in self.next..self.lines.len() {
            if self.lines[i].contains(needle) {
                self.next = i + 1;
                return i + 1;
            }
        }
        self.lines.iter().position(|l| l.contains(needle)).map_or(1, |i| i + 1)
    }

    /// The line (1-based) of the key `key:` with `value` at or after the
    /// cursor, without moving the cursor; `None` when there is none.
    fn peek_key(&self, key: &str, value: &str) -> Option<usize> {
        (self.next..self.lines.len())
            .find(|&i| {
                let t = self.lines[i].trim_start().trim_start_matches("- ");
                t.starts_with(&format!("{key}:")) && t.contains(value)
            })
            .map(|i| i + 1)
    }
}

/// Parse `text` (the contents of `path`) and turn it into steps, checking
/// every sentence against the catalogue.
pub fn parse(path: &Path, text: &str) -> Result<(Plan, Vec<PlanStep>), PlanError> {
    let file = path.display();
    let plan: Plan = serde_yaml::from_str(text).map_err(|e| {
        let at = e.location().map_or_else(String::new, |l| format!("{}:{}: ", l.line(), l.column()));
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        PlanError::Invalid(vec![format!("{file}:{at}{msg} (see scenarios/README.md for the format)")])
    })?;
    let mut lines = Lines { lines: text.lines().collect(), next: 0 };
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    let mut push =
        |kind: Kind, text: String, table: Option<Vec<Vec<String>>>, line: usize, problems: &mut Vec<String>| {
            if let Err(e) = matcher::find(kind, &text) {
                problems.push(format!("{file}:{line}: {e}"));
            }
            steps.push(PlanStep { kind, text, table, line });
        };
    if let Some(e) = &plan.ensemble {
        let line = lines.find("ensemble:");
        if let Err(msg) = params::version(&e.version) {
            problems.push(format!("{file}:{line}: ensemble.version: {msg}"));
        }
        if e.config.is_empty() {
            push(
                Kind::Given,
                format!("a {}-member ensemble \"{}\" running ZooKeeper {}", e.members, e.name, e.version),
                None,
                line,
                &mut problems,
            );
        } else {
            let table = e.config.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect();
            push(
                Kind::Given,
                format!("a {}-member ensemble \"{}\" running ZooKeeper {} with config:", e.members, e.name, e.version),
                Some(table),
                line,
                &mut problems,
            );
        }
        if let Some(p) = e.partition {
            push(
                Kind::Given,
                format!("the operator manages it with update strategy OnDelete and partition {p}"),
                None,
                line,
                &mut problems,
            );
        }
    }
    if let Some(i) = &plan.integrity {
        let line = lines.find("integrity:");
        push(Kind::Given, format!("{} znodes under \"{}\"", i.znodes, i.path), None, line, &mut problems);
    }
    if let Some(w) = &plan.workload {
        let line = lines.find("workload:");
        let text = match w.rate {
            Some(r) => format!("a workload of {} clients at {r} ops/s on {} keys", w.clients, w.keys),
            None => format!("a workload of {} clients on {} keys", w.clients, w.keys),
        };
        push(Kind::Given, text, None, line, &mut problems);
    }
    if !plan.timeline.is_empty() {
        let line = lines.find("timeline:");
        push(Kind::When, "the timeline starts".into(), None, line, &mut problems);
    }
    for entry in &plan.timeline {
        // `at:` usually sits on the line before the action: name its own line.
        let at_line = entry.at.as_ref().and_then(|at| lines.peek_key("at", at.trim()));
        let line = lines.find(&entry.action);
        if let Some(at) = &entry.at {
            let at_line = at_line.unwrap_or(line);
            match params::duration(at) {
                Ok(_) => push(Kind::When, format!("I wait until {at} into the timeline"), None, at_line, &mut problems),
                Err(msg) => problems.push(format!("{file}:{at_line}: at: {msg}")),
            }
        }
        push(Kind::When, entry.action.trim().trim_start_matches("When ").to_string(), None, line, &mut problems);
    }
    for check in &plan.checks {
        let line = lines.find(check);
        push(Kind::Then, check.trim().trim_start_matches("Then ").to_string(), None, line, &mut problems);
    }
    if steps.is_empty() {
        problems.push(format!("{file}:1: the plan does nothing: expected `ensemble`, `timeline` or `checks`"));
    }
    if problems.is_empty() { Ok((plan, steps)) } else { Err(PlanError::Invalid(problems)) }
}

fn read(path: &Path) -> Result<String, PlanError> {
    std::fs::read_to_string(path).map_err(|e| PlanError::Read { path: path.into(), reason: e.to_string() })
}

/// The plan at `path` as a Gherkin feature with one scenario.
pub fn load_feature(path: &Path) -> Result<gherkin::Feature, PlanError> {
    let (plan, steps) = parse(path, &read(path)?)?;
    let mut text = String::new();
    let tags: Vec<String> = std::iter::once("@plan".to_string())
        .chain(plan.tags.iter().map(|t| format!("@{}", t.trim_start_matches('@'))))
        .collect();
    let _ = writeln!(text, "{}\nFeature: {}\n", tags.join(" "), plan.name);
    if let Some(d) = &plan.description {
        let _ = writeln!(text, "  {}\n", d.replace('\n', "\n  "));
    }
    let _ = writeln!(text, "  Scenario: {}", plan.name);
    for s in &steps {
        let _ = writeln!(text, "    {} {}", s.kind.keyword(), s.text);
        for row in s.table.iter().flatten() {
            let _ = writeln!(text, "      | {} |", row.join(" | "));
        }
    }
    let mut f = gherkin::Feature::parse(&text, GherkinEnv::default())
        .map_err(|e| PlanError::Invalid(vec![format!("{}: {e}", path.display())]))?;
    f.path = Some(path.to_path_buf());
    Ok(f)
}

/// Run the plan at `path` inside `world`: its ensemble section is used
/// only when the scenario has no ensemble yet.
pub async fn run_in(world: &mut ScenarioWorld, path: &str) -> StepResult {
    let p = Path::new(path);
    let (plan, steps) = parse(p, &read(p).map_err(|e| ScenarioError::Input(e.to_string()))?)
        .map_err(|e| ScenarioError::Input(e.to_string()))?;
    let mut done = 0;
    for s in steps {
        if s.kind == Kind::Given && s.text.contains("-member ensemble") && world.has_cluster() {
            continue;
        }
        let (found, mut args) = matcher::find(s.kind, &s.text).map_err(|e| ScenarioError::Input(e.to_string()))?;
        args.table = s.table.clone();
        if found.def.is_action() {
            world.mark_action();
        }
        (found.def.run)(world, args)
            .await
            .map_err(|e| ScenarioError::Input(format!("{path}:{}: {} {}: {e}", s.line, s.kind.keyword(), s.text)))?;
        done += 1;
    }
    Ok(format!("plan `{}`: {done} steps", plan.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name: Leader loss under load\ntags: [slow]\nensemble:\n  members: 3\n  version: 3.8.0\n  config:\n    maxClientCnxns: \"100\"\nworkload:\n  clients: 4\n  rate: 200\n  keys: 20\ntimeline:\n  - at: 5s\n    do: kill the leader\n  - do: I pause pod 1 for 2s\nchecks:\n  - within 30s the ensemble has quorum\n  - the history is linearizable\n";

    #[test]
    fn a_plan_becomes_catalogue_steps_with_its_lines() {
        let (plan, steps) = parse(Path::new("p.yaml"), &GOOD.replace("do: kill", "do: I kill")).unwrap();
        assert_eq!(plan.tags, ["slow"]);
        let texts: Vec<(Kind, &str, usize)> = steps.iter().map(|s| (s.kind, s.text.as_str(), s.line)).collect();
        assert_eq!(texts[0], (Kind::Given, "a 3-member ensemble \"zk\" running ZooKeeper 3.8.0 with config:", 3));
        assert_eq!(texts[1], (Kind::Given, "a workload of 4 clients at 200 ops/s on 20 keys", 8));
        assert_eq!(texts[2], (Kind::When, "the timeline starts", 12));
        assert_eq!(texts[3], (Kind::When, "I wait until 5s into the timeline", 13));
        assert_eq!(texts[4], (Kind::When, "I kill the leader", 14));
        assert_eq!(texts[5], (Kind::When, "I pause pod 1 for 2s", 15));
        assert_eq!(texts[7], (Kind::Then, "the history is linearizable", 18));
        assert_eq!(steps[0].table.as_ref().unwrap()[0], ["maxClientCnxns", "100"]);
    }

    #[test]
    fn unknown_sentences_name_the_yaml_line_and_the_closest_step() {
        let err = parse(Path::new("p.yaml"), GOOD).unwrap_err().to_string();
        assert!(err.contains("p.yaml:14: no step matches `When kill the leader`"), "{err}");
        assert!(err.contains("When I kill the leader"), "{err}");
    }

    #[test]
    fn yaml_errors_name_the_line_and_column() {
        let err = parse(Path::new("p.yaml"), "name: x\nensemble:\n  members: three\n  version: 3.8.0\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p.yaml:3:"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
        let err = parse(Path::new("p.yaml"), "name: x\nensembel:\n  members: 3\n").unwrap_err().to_string();
        assert!(err.contains("p.yaml:2:") && err.contains("unknown field `ensembel`"), "{err}");
        let err = parse(Path::new("p.yaml"), "name: x\ntimeline:\n  - at: soon\n    do: I kill the leader\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.yaml:3: at: `soon` is not a duration"), "{err}");
        let huge = "name: x\ntimeline:\n  - at: 99999999999999999999999s\n    do: I kill the leader\n";
        let err = parse(Path::new("p.yaml"), huge).unwrap_err().to_string();
        assert!(err.contains("p.yaml:3: at: `99999999999999999999999s` is longer than"), "{err}");
        let err = parse(Path::new("p.yaml"), "name: x\n").unwrap_err().to_string();
        assert!(err.contains("the plan does nothing"), "{err}");
    }

    #[test]
    fn a_plan_file_loads_as_a_feature() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.yaml");
        std::fs::write(&p, GOOD.replace("do: kill", "do: I kill")).unwrap();
        let f = load_feature(&p).unwrap();
        assert_eq!(f.name, "Leader loss under load");
        assert_eq!(f.tags, ["plan", "slow"]);
        assert_eq!(f.scenarios[0].steps.len(), 8);
        assert_eq!(f.path.as_deref(), Some(p.as_path()));
    }
}
