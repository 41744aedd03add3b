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
        r"the leader|a random follower|a random member|a majority|a minority|every member|pod \d+|member [A-Z]",
        "`the leader`, `pod 2`, `a random follower`, `a random member`, `a majority`, `a minority`, `every member`, `member C` (named earlier)",
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

/// Check a matched step's arguments before anything runs: counts fit,
/// ensembles have 1 to 99 members, durations parse within bounds, and
/// ZooKeeper versions are ones this machine can provision (any
/// `MAJOR.MINOR.PATCH` when the user points `ZK_CHAOS_ZK_HOME*` at
/// distributions). The message says which argument and why.
pub fn check_args(step: &Compiled, args: &Args) -> Result<(), String> {
    let user_dists = std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with(crate::dist::ZK_HOME_ENV));
    check_args_with(step, args, user_dists)
}

fn check_args_with(step: &Compiled, args: &Args, user_dists: bool) -> Result<(), String> {
    static PARAM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{(\w*)\}").expect("valid"));
    let expr = step.def.expr;
    for (i, m) in PARAM.captures_iter(expr).enumerate() {
        let Some(value) = args.captures.get(i) else { break };
        let whole = m.get(0).expect("group 0");
        match &m[1] {
            "int" => {
                let n: u32 =
                    value.parse().map_err(|_| format!("`{value}` does not fit a count (0 to {})", u32::MAX))?;
                let max = crate::operator::crd::MAX_REPLICAS;
                let members = expr[whole.end()..].starts_with("-member") || expr[whole.end()..].starts_with(" member");
                if members && !(1..=max).contains(&n) {
                    return Err(format!("an ensemble has 1 to {max} members, not {n}"));
                }
            }
            "duration" => {
                crate::scenario::params::duration(value)?;
            }
            "selector" => {
                args.selector(i).map_err(|e| e.to_string())?;
            }
            "version" => {
                crate::scenario::params::version(value)?;
                let known = crate::dist::supported_versions();
                if !user_dists && !known.contains(&value.as_str()) {
                    return Err(format!(
                        "ZooKeeper {value} is not one this machine provisions ({}); point {}_<MAJOR>_<MINOR>_<PATCH> at an unpacked distribution for another",
                        known.join(", "),
                        crate::dist::ZK_HOME_ENV
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
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
    fn arguments_that_cannot_run_are_refused_before_anything_runs() {
        let check = |kind, text: &str| {
            let (c, a) = find(kind, text).unwrap();
            check_args_with(c, &a, false)
        };
        let e = check(Kind::Given, r#"a 0-member ensemble "zk" running ZooKeeper 3.9.6"#).unwrap_err();
        assert_eq!(e, "an ensemble has 1 to 99 members, not 0");
        let e = check(Kind::Given, r#"a 3-member ensemble "zk" running ZooKeeper 9.9.9"#).unwrap_err();
        assert!(e.starts_with("ZooKeeper 9.9.9 is not one this machine provisions (3."), "{e}");
        let e = check(Kind::When, "I kill pod 99999999999").unwrap_err();
        assert!(e.contains("pod 99999999999"), "{e}");
        let e = check(Kind::When, "I delete pod 99999999999").unwrap_err();
        assert!(e.contains("does not fit a count"), "{e}");
        let e = check(Kind::When, "I scale to 0 members").unwrap_err();
        assert!(e.contains("1 to 99 members"), "{e}");
        check(Kind::Given, r#"a 3-member ensemble "zk" running ZooKeeper 3.9.6"#).unwrap();
        check(Kind::When, "I kill pod 2").unwrap();
        let (c, a) = find(Kind::Given, r#"a 3-member ensemble "zk" running ZooKeeper 9.9.9"#).unwrap();
        check_args_with(c, &a, true).expect("any version when the user points at distributions");
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
