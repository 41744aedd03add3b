//! A matched step's arguments: the captures of its expression, in order,
//! and its data table, with typed accessors whose errors name the
//! argument.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::faults::Selector;
use crate::scenario::{ScenarioError, params};

/// Captured arguments of one step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args {
    /// Captures, in order (quotes of `{string}` removed).
    pub captures: Vec<String>,
    /// The data table under the step, when there is one.
    pub table: Option<Vec<Vec<String>>>,
}

fn bad(i: usize, what: &str, e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::Input(format!("argument {} ({what}): {e}", i + 1))
}

impl Args {
    fn get(&self, i: usize) -> Result<&str, ScenarioError> {
        self.captures.get(i).map(String::as_str).ok_or_else(|| bad(i, "missing", "no such argument"))
    }

    /// A non-negative integer.
    pub fn u32(&self, i: usize) -> Result<u32, ScenarioError> {
        self.get(i)?.trim().parse().map_err(|e| bad(i, "a number", e))
    }

    /// A quoted string, unquoted.
    pub fn string(&self, i: usize) -> Result<String, ScenarioError> {
        Ok(self.get(i)?.to_string())
    }

    /// A duration like `30s`.
    pub fn duration(&self, i: usize) -> Result<Duration, ScenarioError> {
        params::duration(self.get(i)?).map_err(|e| bad(i, "a duration", e))
    }

    /// A version like `3.9.3`.
    pub fn version(&self, i: usize) -> Result<String, ScenarioError> {
        params::version(self.get(i)?).map_err(|e| bad(i, "a version", e))
    }

    /// A selector like `the leader`.
    pub fn selector(&self, i: usize) -> Result<Selector, ScenarioError> {
        self.get(i)?.parse().map_err(|e| bad(i, "a selector", e))
    }

    /// A server event like `starts syncing with the leader`.
    pub fn event(&self, i: usize) -> Result<crate::diagnose::trigger::ServerEvent, ScenarioError> {
        self.get(i)?.parse().map_err(|e| bad(i, "a server event", e))
    }

    /// A member name: one capital letter.
    pub fn name(&self, i: usize) -> Result<char, ScenarioError> {
        let s = self.get(i)?.trim();
        let mut c = s.chars();
        match (c.next(), c.next()) {
            (Some(ch), None) if ch.is_ascii_uppercase() => Ok(ch),
            _ => Err(bad(i, "a member name", format!("`{s}` is not one capital letter (A-Z)"))),
        }
    }

    /// The data table as `key | value` pairs.
    pub fn table_map(&self) -> Result<BTreeMap<String, String>, ScenarioError> {
        let rows = self
            .table
            .as_ref()
            .ok_or_else(|| ScenarioError::Input("this step needs a table under it: `| key | value |` rows".into()))?;
        rows.iter()
            .enumerate()
            .map(|(n, r)| match r.as_slice() {
                [k, v] => Ok((k.trim().to_string(), v.trim().to_string())),
                _ => Err(ScenarioError::Input(format!(
                    "table row {}: expected 2 cells (key | value), found {}",
                    n + 1,
                    r.len()
                ))),
            })
            .collect()
    }
}
