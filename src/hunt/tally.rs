//! Per-scenario counts over repeated attempts, and the summary printed at
//! the end of a hunt.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One failed attempt of one scenario.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The attempt (0-based).
    pub attempt: u32,
    /// The attempt's run seed (`--seed`).
    pub seed: u64,
    /// The failing step (`line N: Then ...`) and its first message line.
    pub step: String,
    /// The scenario's kept directory, when known.
    pub dir: Option<String>,
}

/// One scenario's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScenarioTally {
    /// `Feature: Scenario`.
    pub name: String,
    /// Attempts run.
    pub attempts: u32,
    /// Its failures.
    pub failures: Vec<Failure>,
}

impl ScenarioTally {
    /// Failures / attempts (0 without attempts).
    pub fn failure_rate(&self) -> f64 {
        if self.attempts == 0 { 0.0 } else { self.failures.len() as f64 / f64::from(self.attempts) }
    }
}

/// Counts per scenario key (`path:line`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Per key.
    pub scenarios: BTreeMap<String, ScenarioTally>,
}

/// The command that replays scenario `key` as attempt seed `seed` ran it.
pub fn replay_command(key: &str, seed: u64) -> String {
    format!("zk-chaos run {key} --seed {seed}")
}

impl Tally {
    /// Record one attempt of `key` (named `name`): passed, or failed with `failure`.
    pub fn record(&mut self, key: &str, name: &str, failure: Option<Failure>) {
        let t = self.scenarios.entry(key.to_string()).or_default();
        t.name = name.to_string();
        t.attempts += 1;
        t.failures.extend(failure);
    }

    /// Whether any attempt failed.
    pub fn any_failed(&self) -> bool {
        self.scenarios.values().any(|t| !t.failures.is_empty())
    }

    /// The summary: per scenario attempts, failures, rate and failing
    /// seeds, then a replay command per failure.
    pub fn render(&self, run_seed: u64, attempts_planned: u32, stopped_early: bool) -> String {
        let mut out = String::new();
        let runs = self.scenarios.values().map(|t| t.attempts).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "\nhunt: seed {run_seed}, {runs} of {attempts_planned} attempt(s){}",
            if stopped_early { " (stopped at the first failure: --until-fail)" } else { "" }
        );
        let _ = writeln!(out, "  {:>8} {:>8} {:>6}  scenario", "attempts", "failures", "rate");
        for (key, t) in &self.scenarios {
            let seeds: Vec<String> = t.failures.iter().map(|f| f.seed.to_string()).collect();
            let _ = writeln!(
                out,
                "  {:>8} {:>8} {:>5.0}%  {}  ({key}){}",
                t.attempts,
                t.failures.len(),
                t.failure_rate() * 100.0,
                t.name,
                if seeds.is_empty() {
                    String::new()
                } else {
                    format!("\n{:>30}failing seeds: {}", "", seeds.join(", "))
                }
            );
        }
        for (key, t) in &self.scenarios {
            for f in &t.failures {
                let _ = writeln!(out, "  FAIL attempt {} of {key}: {}", f.attempt + 1, f.step);
                let _ = writeln!(out, "       replay: {}", replay_command(key, f.seed));
                if let Some(d) = &f.dir {
                    let _ = writeln!(out, "       kept:   {d}");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rates_and_replay_commands() {
        let mut t = Tally::default();
        let fail = |attempt, seed| Failure { attempt, seed, step: "line 12: Then x".into(), dir: None };
        t.record("features/a.feature:6", "A: one", None);
        t.record("features/a.feature:6", "A: one", Some(fail(1, 77)));
        t.record("features/a.feature:6", "A: one", None);
        t.record("features/a.feature:6", "A: one", Some(fail(3, 99)));
        t.record("features/b.feature:3", "B: two", None);
        let a = &t.scenarios["features/a.feature:6"];
        assert_eq!((a.attempts, a.failures.len()), (4, 2));
        assert!((a.failure_rate() - 0.5).abs() < 1e-9);
        assert!(t.any_failed());
        let text = t.render(5, 4, false);
        assert!(text.contains("failing seeds: 77, 99"), "{text}");
        assert!(text.contains("replay: zk-chaos run features/a.feature:6 --seed 99"), "{text}");
        assert!(text.contains("       1        0     0%  B: two"), "{text}");
        assert!(t.render(5, 10, true).contains("4 of 10 attempt(s) (stopped at the first failure"));
    }
}
