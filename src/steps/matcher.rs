//! Matching step text against the catalogue: cucumber expressions compiled
//! to regexes with our parameter types, exact matches by kind, and the
//! closest known steps when nothing (or more than one thing) matches.

use std::collections::HashMap;
use std::sync::LazyLock;

use cucumber_expressions::Expression;
use regex::Regex;

use super::args::Args;
use super::catalogue::{self, Kind, StepDef};

/// Our custom parameter types and their regexes (no capture groups inside).
pub const PARAMETERS: &[(&str, &str, &str)] = &[
    ("duration", r"\d+(?:\.\d+)?\s?(?:ms|s|m|h)", "`30s`, `500ms`, `2m`, `1.5s`"),
    ("version", r"\d+\.\d+\.\d+", "a ZooKeeper version: `3.9.6`, `3.9.3`, `3.8.0`"),
    (
        "selector",
        r"the leader|a random follower|a random member|a majority|a minority|pod \d+|member [A-Z]",
        "`the leader`, `pod 2`, `a random follower`, `a random member`, `a majority`, `a minority`, `member C` (named earlier)",
    ),
    (
        "event",
        r"starts syncing with the leader|syncs with the leader by DIFF|truncates its log|finishes syncing with the leader|starts leading|starts following|starts an election|loads its data",
        "a server event read from the member's log: `starts syncing with the leader`, `syncs with the leader by DIFF`, `truncates its log`, `finishes syncing with the leader`, `starts leading`, `starts following`, `starts an election`, `loads its data`",
    ),
    ("action", r"I .+", "another When step, e.g. `I kill the leader`"),
];

/// A catalogue entry with its compiled regex.
pub struct Compiled {
    /// The entry.
    pub def: StepDef,
    /// Its anchored regex.
    pub regex: Regex,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.def.kind.keyword(), self.def.expr)
    }
}

/// The compiled catalogue (built once).
pub static CATALOGUE: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
    let params: HashMap<&str, &str> = PARAMETERS.iter().map(|(n, r, _)| (*n, *r)).collect();
    catalogue::all()
        .into_iter()
        .map(|def| {
            let regex = Expression::regex_with_parameters(def.expr, &params)
                .unwrap_or_else(|e| panic!("step expression `{}` does not compile: {e}", def.expr));
            Compiled { def, regex }
        })
        .collect()
});

/// Why a step's text found no single step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// Nothing matches.
    #[error("no step matches `{keyword} {text}`{}", suggest(.suggestions))]
    Unknown {
        /// The keyword used.
        keyword: &'static str,
        /// The text.
        text: String,
        /// The closest known steps (examples).
        suggestions: Vec<String>,
    },
    /// Only steps of another kind match.
    #[error("`{text}` is a {found} step, but it is used as {used}: write `{found} {text}`")]
    WrongKind {
        /// The text.
        text: String,
        /// The kind it was used as.
        used: &'static str,
        /// The kind that matches.
        found: &'static str,
    },
    /// More than one step matches.
    #[error("`{text}` is ambiguous; it matches: {}", .candidates.join(" | "))]
    Ambiguous {
        /// The text.
        text: String,
        /// The expressions it matches.
        candidates: Vec<String>,
    },
}

fn suggest(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; closest known steps:\n    {}\n  (`zk-chaos steps` lists them all)", s.join("\n    "))
    }
}

fn unquote(s: &str) -> String {
    let t = s.trim();
    if t.len() >= 2 && (t.starts_with('"') && t.ends_with('"') || t.starts_with('\'') && t.ends_with('\'')) {
        t[1..t.len() - 1].replace("\\\"", "\"")
    } else {
        t.to_string()
    }
}

/// Find the one step of `kind` that matches `text` and its arguments.
pub fn find(kind: Kind, text: &str) -> Result<(&'static Compiled, Args), MatchError> {
    let text = text.trim();
    let matching: Vec<&Compiled> = CATALOGUE.iter().filter(|c| c.regex.is_match(text)).collect();
    let of_kind: Vec<&Compiled> = matching.iter().copied().filter(|c| c.def.kind == kind).collect();
    match of_kind.as_slice() {
        [one] => {
            let caps = one.regex.captures(text).expect("matched");
            let captures = caps.iter().skip(1).flatten().map(|m| unquote(m.as_str())).collect();
            Ok((one, Args { captures, table: None }))
        }
        [] => match matching.first() {
            Some(other) => {
                Err(MatchError::WrongKind { text: text.into(), used: kind.keyword(), found: other.def.kind.keyword() })
            }
            None => Err(MatchError::Unknown {
                keyword: kind.keyword(),
                text: text.into(),
                suggestions: closest(kind, text),
            }),
        },
        many => Err(MatchError::Ambiguous {
            text: text.into(),
            candidates: many.iter().map(|c| c.def.expr.to_string()).collect(),
        }),
    }
}

/// The three known steps closest to `text` (examples of the same kind
/// first), by normalised Levenshtein similarity on words.
pub fn closest(kind: Kind, text: &str) -> Vec<String> {
    let mut scored: Vec<(f64, &Compiled)> = CATALOGUE
        .iter()
        .map(|c| {
            let example = c.def.example.lines().next().unwrap_or_default();
            let example = example.split_once(' ').map_or(example, |(_, rest)| rest);
            let mut s = strsim::normalized_levenshtein(&text.to_lowercase(), &example.to_lowercase());
            if c.def.kind == kind {
                s += 0.05;
            }
            (s, c)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(3).map(|(_, c)| c.def.example.lines().next().unwrap_or_default().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_expression_compiles_and_every_example_matches_exactly_its_own_step() {
        for c in CATALOGUE.iter() {
            let first = c.def.example.lines().next().unwrap();
            let (kw, text) = first.split_once(' ').unwrap();
            assert_eq!(kw, c.def.kind.keyword(), "{first}");
            let (found, _) = find(c.def.kind, text).unwrap_or_else(|e| panic!("{first}: {e}"));
            assert_eq!(found.def.expr, c.def.expr, "{first}");
        }
    }

    #[test]
    fn arguments_are_captured_typed_and_unquoted() {
        let (c, a) = find(Kind::Given, r#"a 5-member ensemble "orders" running ZooKeeper 3.9.3"#).unwrap();
        assert!(c.def.expr.starts_with("a {int}-member"));
        assert_eq!(a.captures, ["5", "orders", "3.9.3"]);
        let (_, a) = find(Kind::When, "I partition the leader from the rest for 1.5s").unwrap();
        assert_eq!(a.selector(0).unwrap(), crate::faults::Selector::Leader);
        assert_eq!(a.duration(1).unwrap(), std::time::Duration::from_millis(1500));
        let (_, a) = find(Kind::When, "I kill pod 2").unwrap();
        assert_eq!(a.selector(0).unwrap(), crate::faults::Selector::Ordinal(2));
        let (_, a) = find(Kind::When, "I wait up to 60s until 2 pods run 3.9.3").unwrap();
        assert_eq!(a.captures, ["60s", "2", "3.9.3"]);
    }

    #[test]
    fn unknown_steps_suggest_the_closest_ones() {
        let err = find(Kind::When, "I kil the leader").unwrap_err();
        let MatchError::Unknown { suggestions, .. } = &err else { panic!("{err}") };
        assert_eq!(suggestions[0], "When I kill the leader", "{err}");
        assert!(err.to_string().contains("closest known steps"), "{err}");
        let err = find(Kind::Then, "within 30s the ensemble has quorom").unwrap_err();
        assert!(err.to_string().contains("Then within 30s the ensemble has quorum"), "{err}");
    }

    #[test]
    fn a_step_used_with_the_wrong_keyword_says_which_keyword() {
        let err = find(Kind::Given, "I kill the leader").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`I kill the leader` is a When step, but it is used as Given: write `When I kill the leader`"
        );
    }

    #[test]
    fn bad_parameters_do_not_match() {
        assert!(find(Kind::When, "I kill the queen").is_err());
        assert!(find(Kind::When, "I upgrade to 3.9").is_err());
        assert!(find(Kind::When, "I wait forever").is_err());
    }
}
