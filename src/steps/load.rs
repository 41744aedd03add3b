//! Loading what a run runs: `.feature` files (or directories of them) and
//! YAML plans (turned into features), with every step checked against the
//! catalogue before anything is stood up. Every problem is reported with
//! its file and line.

use std::path::{Path, PathBuf};

use cucumber::feature::Ext as _;
use cucumber::gherkin::{self, GherkinEnv, tagexpr::TagOperation};
use cucumber::tag::Ext as _;

use super::catalogue::Kind;
use super::matcher;

/// Problems found while loading.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path does not exist or cannot be read.
    #[error("{path}: {reason}")]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Parse or step errors, one `file:line: message` each.
    #[error("{} problem(s) in the scenarios:\n{}", .0.len(), .0.join("\n"))]
    Invalid(Vec<String>),
    /// The tag expression does not parse.
    #[error("bad tag expression `{expr}`: {reason} (e.g. `@smoke and not @slow`)")]
    Tags {
        /// The expression.
        expr: String,
        /// Why.
        reason: String,
    },
}

/// The tag filter when none is given on the local backend: soaks,
/// kind-only scenarios and `@race` reproductions (choreographies that race
/// the servers and do not reproduce every time; run them with `--tags @race
/// --repeat N`) are out.
pub const DEFAULT_TAGS: &str = "not @slow and not @kind and not @race";

/// The tag filter when none is given on Kubernetes (`kind`, `kube`): soaks
/// and `@race` reproductions are out.
pub const DEFAULT_KUBE_TAGS: &str = "not @slow and not @race";

/// The tag expression a run on `backend` (`local`, `docker`, `kind`,
/// `kube`) uses, from the user's `tags` (or the backend's default).
/// Scenarios tagged `@local-only` (faults only the local backend can do)
/// are always out elsewhere; `@no-kube` ones (faults Kubernetes cannot do
/// here, such as a size-limited data disk) are always out on Kubernetes.
pub fn backend_tags(backend: &str, tags: Option<&str>) -> String {
    match backend {
        "local" => tags.unwrap_or(DEFAULT_TAGS).to_string(),
        "docker" => format!("({}) and not @local-only", tags.unwrap_or(DEFAULT_TAGS)),
        _ => format!("({}) and not @local-only and not @no-kube", tags.unwrap_or(DEFAULT_KUBE_TAGS)),
    }
}

/// Parse a tag expression.
pub fn tags(expr: &str) -> Result<TagOperation, LoadError> {
    expr.parse::<TagOperation>().map_err(|e| LoadError::Tags { expr: expr.into(), reason: e.to_string() })
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let meta = std::fs::metadata(path).map_err(|e| LoadError::Path { path: path.into(), reason: e.to_string() })?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| LoadError::Path { path: path.into(), reason: e.to_string() })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("feature" | "yaml" | "yml")) {
            out.push(p);
        }
    }
    Ok(())
}

/// A Gherkin parse error as `file:line:column: what was expected` (the
/// parser's own message names only the file).
fn gherkin_error(e: &gherkin::ParseFileError) -> String {
    match e {
        gherkin::ParseFileError::Reading { path, source } => format!("{}: {source}", path.display()),
        gherkin::ParseFileError::Parsing { path, error, source } => {
            // The position and the expected tokens are private; their
            // message is `Error at LINE:COL: {"token", ...}`.
            let text = source.to_string();
            let rest = text.strip_prefix("Error at ").unwrap_or(&text);
            let (at, expected) = rest.split_once(": ").unwrap_or(("", rest));
            let mut tokens: Vec<String> = expected
                .trim_matches(|c| c == '{' || c == '}')
                .split(", ")
                .map(|t| {
                    let t = t.strip_prefix('"').unwrap_or(t);
                    let t = t.strip_suffix('"').unwrap_or(t);
                    match t.replace("\\\"", "\"").as_str() {
                        "\\n" => "a new line".to_string(),
                        other => format!("`{other}`"),
                    }
                })
                .filter(|t| !t.is_empty())
                .collect();
            tokens.sort();
            tokens.dedup();
            let why = match error {
                Some(env) => format!("{}; ", env.to_string().trim_end_matches('.')),
                None => String::new(),
            };
            let expected = match tokens.as_slice() {
                [] => "unexpected text".to_string(),
                [one] => format!("expected {one}"),
                many => format!("expected one of: {}", many.join(", ")),
            };
            format!("{}:{at}: Gherkin syntax error: {why}{expected}", path.display())
        }
    }
}

/// Every step of a feature with its kind (`And`/`But` resolved), line and
/// text; outline steps with `<placeholders>` are checked after expansion.
fn steps(f: &gherkin::Feature) -> Vec<&gherkin::Step> {
    let mut out: Vec<&gherkin::Step> = f.background.iter().flat_map(|b| &b.steps).collect();
    for s in &f.scenarios {
        out.extend(&s.steps);
    }
    for r in &f.rules {
        out.extend(r.background.iter().flat_map(|b| &b.steps));
        for s in &r.scenarios {
            out.extend(&s.steps);
        }
    }
    out
}

/// Check every step of `f` against the catalogue.
pub fn lint(f: &gherkin::Feature, problems: &mut Vec<String>) {
    let path = f.path.as_ref().map_or_else(|| f.name.clone(), |p| p.display().to_string());
    for step in steps(f) {
        let kind = match step.ty {
            gherkin::StepType::Given => Kind::Given,
            gherkin::StepType::When => Kind::When,
            gherkin::StepType::Then => Kind::Then,
        };
        match matcher::find(kind, &step.value) {
            Err(e) => problems.push(format!("{path}:{}: {e}", step.position.line)),
            Ok((c, args)) => {
                if let Err(e) = matcher::check_args(c, &args) {
                    problems.push(format!("{path}:{}: `{}`: {e}", step.position.line, step.value.trim()));
                }
            }
        }
    }
}

/// Load and check `paths`; keep the scenarios `filter` selects. Features
/// with nothing selected are dropped.
/// `file.feature:12` names the scenario at line 12 (as cucumber does).
fn split_line(p: &Path) -> Option<(PathBuf, usize)> {
    let s = p.to_str()?;
    let (file, line) = s.rsplit_once(':')?;
    let line = line.parse().ok()?;
    Path::new(file).is_file().then(|| (PathBuf::from(file), line))
}

pub fn load(paths: &[PathBuf], filter: &TagOperation) -> Result<Vec<gherkin::Feature>, LoadError> {
    let mut files = Vec::new();
    let mut lines: Vec<(PathBuf, usize)> = Vec::new();
    for p in paths {
        match split_line(p) {
            Some((file, line)) if !p.exists() => {
                files.push(file.clone());
                lines.push((file, line));
            }
            _ => collect_files(p, &mut files)?,
        }
    }
    let mut problems = Vec::new();
    let mut features = Vec::new();
    for file in files {
        let parsed = match file.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => crate::plan::load_feature(&file).map_err(|e| e.to_string()),
            _ => gherkin::Feature::parse_path(&file, GherkinEnv::default()).map_err(|e| gherkin_error(&e)),
        };
        let feature = match parsed.and_then(|f| f.expand_examples().map_err(|e| e.to_string())) {
            Ok(f) => f,
            Err(e) => {
                problems.push(if e.contains(&*file.to_string_lossy()) {
                    e
                } else {
                    format!("{}: {e}", file.display())
                });
                continue;
            }
        };
        if count(std::slice::from_ref(&feature)) == 0 {
            problems.push(format!(
                "{}:{}: `{}` has no scenarios (expected lines starting with `Scenario:`; a misspelt keyword reads as description)",
                file.display(),
                feature.position.line,
                feature.name
            ));
        }
        lint(&feature, &mut problems);
        features.push(feature);
    }
    // `file.feature:LINE` must name a scenario (before any tag filter).
    for (file, line) in &lines {
        let Some(f) = features.iter().find(|f| f.path.as_ref() == Some(file)) else { continue };
        let starts: Vec<usize> =
            f.scenarios.iter().chain(f.rules.iter().flat_map(|r| &r.scenarios)).map(|s| s.position.line).collect();
        if !starts.contains(line) {
            let list = starts.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ");
            problems.push(format!(
                "{}:{line}: no scenario starts at line {line} (scenarios start at line {list})",
                file.display()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(LoadError::Invalid(problems));
    }
    for f in &mut features {
        let wanted: Vec<usize> = lines.iter().filter(|(p, _)| f.path.as_ref() == Some(p)).map(|(_, l)| *l).collect();
        if !wanted.is_empty() {
            f.scenarios.retain(|s| wanted.contains(&s.position.line));
            for r in &mut f.rules {
                r.scenarios.retain(|s| wanted.contains(&s.position.line));
            }
        }
        let feature_tags = f.tags.clone();
        f.scenarios.retain(|s| filter.eval(feature_tags.iter().chain(&s.tags)));
        for r in &mut f.rules {
            let rule_tags: Vec<String> = feature_tags.iter().chain(&r.tags).cloned().collect();
            r.scenarios.retain(|s| filter.eval(rule_tags.iter().chain(&s.tags)));
        }
        f.rules.retain(|r| !r.scenarios.is_empty());
    }
    features.retain(|f| !f.scenarios.is_empty() || !f.rules.is_empty());
    Ok(features)
}

/// How many scenarios the features hold.
pub fn count(features: &[gherkin::Feature]) -> usize {
    features.iter().map(|f| f.scenarios.len() + f.rules.iter().map(|r| r.scenarios.len()).sum::<usize>()).sum()
}

/// The scenarios of `all` missing from `selected` (the same paths loaded
/// without and with the tag filter), as `<key>: <name> (<tags>)`.
pub fn left_out(all: &[gherkin::Feature], selected: &[gherkin::Feature]) -> Vec<String> {
    let scenarios = |fs: &[gherkin::Feature]| -> Vec<(String, String, Vec<String>)> {
        fs.iter()
            .flat_map(|f| {
                f.scenarios.iter().chain(f.rules.iter().flat_map(|r| r.scenarios.iter())).map(move |s| {
                    let tags = f.tags.iter().chain(&s.tags).map(|t| format!("@{t}")).collect();
                    (super::scenario_key(f, s), s.name.clone(), tags)
                })
            })
            .collect()
    };
    let chosen: std::collections::BTreeSet<String> = scenarios(selected).into_iter().map(|(k, ..)| k).collect();
    scenarios(all)
        .into_iter()
        .filter(|(k, ..)| !chosen.contains(k))
        .map(|(k, name, tags)| format!("{k}: {name} ({})", tags.join(" ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn unknown_steps_are_reported_with_file_line_and_suggestions_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "bad.feature",
            "Feature: bad\n  Scenario: typo\n    Given a 3-member ensemble \"zk\" running ZooKeeper 3.8.0\n    When I kil the leader\n    Then within 30s the ensemble has quorum\n    And I kill pod 1\n",
        );
        let err = load(std::slice::from_ref(&p), &tags(DEFAULT_TAGS).unwrap()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("{}:4: no step matches `When I kil the leader`", p.display())), "{text}");
        assert!(text.contains("When I kill the leader"), "{text}");
        assert!(
            text.contains(&format!("{}:6: `I kill pod 1` is a When step, but it is used as Then", p.display())),
            "{text}"
        );
    }

    #[test]
    fn step_arguments_that_cannot_run_fail_the_load_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "args.feature",
            "Feature: args\n  Scenario: zero\n    Given a 0-member ensemble \"zk\" running ZooKeeper 3.9.6\n    When I kill pod 99999999999\n",
        );
        let text = load(std::slice::from_ref(&p), &tags(DEFAULT_TAGS).unwrap()).unwrap_err().to_string();
        assert!(text.contains(&format!("{}:3: `a 0-member ensemble", p.display())), "{text}");
        assert!(text.contains("1 to 99 members, not 0"), "{text}");
        assert!(text.contains(&format!("{}:4: `I kill pod 99999999999`: ", p.display())), "{text}");
    }

    #[test]
    fn the_bundled_features_and_plans_load_with_every_tag() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let all = tags("@x or not @x").unwrap();
        let f = load(&[root.join("features"), root.join("scenarios")], &all).unwrap_or_else(|e| panic!("{e}"));
        assert!(count(&f) > 10);
    }

    #[test]
    fn gherkin_syntax_errors_name_the_line_the_column_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "syntax.feature",
            "Feature: x\n  Scenario: a\n    Given a 3-member ensemble \"zk\" running ZooKeeper 3.9.6 with config:\n      | a | b |\n      | c |\n",
        );
        let text = load(std::slice::from_ref(&p), &tags(DEFAULT_TAGS).unwrap()).unwrap_err().to_string();
        assert!(!text.contains("Could not parse feature file"), "{text}");
        let want = format!(
            "{}:6:1: Gherkin syntax error: Inconsistent cell count; expected one of: `\"|\"`, `inconsistent table row sizes`",
            p.display()
        );
        assert!(text.contains(&want), "{text}");
    }

    #[test]
    fn gherkin_syntax_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "syntax.feature", "Feature: x\n  Scenaro: missing i\n    Given nothing\n");
        let text = load(std::slice::from_ref(&p), &tags(DEFAULT_TAGS).unwrap()).unwrap_err().to_string();
        assert!(text.contains(&format!("{}:1: `x` has no scenarios", p.display())), "{text}");
        let p = write(
            dir.path(),
            "empty.feature",
            "just words
",
        );
        let text = load(std::slice::from_ref(&p), &tags(DEFAULT_TAGS).unwrap()).unwrap_err().to_string();
        assert!(text.contains(&*p.to_string_lossy()), "{text}");
    }

    #[test]
    fn tags_select_scenarios_and_slow_ones_are_out_by_default() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "t.feature",
            "@family\nFeature: t\n  @smoke\n  Scenario: a\n    When I wait 1s\n\n  @slow\n  Scenario: b\n    When I wait 1s\n\n  @kind\n  Scenario: c\n    When I wait 1s\n",
        );
        let all = |expr: &str| count(&load(&[dir.path().to_path_buf()], &tags(expr).unwrap()).unwrap());
        assert_eq!(all(DEFAULT_TAGS), 1);
        assert_eq!(all("@slow"), 1);
        assert_eq!(all("@family"), 3);
        assert_eq!(all("@nothing"), 0);
        let one = load(&[dir.path().join("t.feature:8")], &tags("@slow or not @slow").unwrap()).unwrap();
        assert_eq!(count(&one), 1, "file:line picks the scenario at that line");
        assert_eq!(one[0].scenarios[0].name, "b");
        let e = load(&[dir.path().join("t.feature:999")], &tags("@slow or not @slow").unwrap()).unwrap_err();
        assert!(
            e.to_string().contains("t.feature:999: no scenario starts at line 999 (scenarios start at line 4, 8, 12)"),
            "{e}"
        );
        assert!(tags("@a and and").is_err());
        let missing = load(&[dir.path().join("nope")], &tags(DEFAULT_TAGS).unwrap()).unwrap_err();
        assert!(matches!(missing, LoadError::Path { .. }), "{missing}");
        // What the tags leave out is listed, with its tags.
        let paths = [dir.path().to_path_buf()];
        let everything = load(&paths, &tags("not @zk-chaos-no-such-tag").unwrap()).unwrap();
        let left = left_out(&everything, &load(&paths, &tags(DEFAULT_TAGS).unwrap()).unwrap());
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left[0].ends_with("t.feature:8: b (@family @slow)"), "{left:?}");
        assert!(left[1].ends_with("t.feature:12: c (@family @kind)"), "{left:?}");
    }

    #[test]
    fn kube_backends_run_kind_scenarios_and_never_local_only_ones() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "b.feature",
            "Feature: b
  Scenario: anywhere
    When I wait 1s

  @kind
  Scenario: kind only
    When I wait 1s

  @local-only
  Scenario: local only
    When I wait 1s

  @slow @local-only
  Scenario: slow local
    When I wait 1s

  @no-kube
  Scenario: containers too
    When I wait 1s
",
        );
        let names = |backend: &str, user: Option<&str>| -> Vec<String> {
            let expr = backend_tags(backend, user);
            let features = load(&[dir.path().to_path_buf()], &tags(&expr).unwrap()).unwrap();
            features.iter().flat_map(|f| f.scenarios.iter().map(|s| s.name.clone())).collect()
        };
        assert_eq!(names("local", None), ["anywhere", "local only", "containers too"]);
        assert_eq!(names("docker", None), ["anywhere", "containers too"]);
        assert_eq!(names("kind", None), ["anywhere", "kind only"]);
        assert_eq!(names("kube", None), ["anywhere", "kind only"]);
        assert_eq!(names("kind", Some("@slow")), Vec::<String>::new(), "local-only stays out even when asked for");
        assert_eq!(names("kind", Some("@no-kube")), Vec::<String>::new(), "no-kube stays out even when asked for");
        assert_eq!(names("local", Some("@slow")), ["slow local"]);
        assert_eq!(backend_tags("kube", Some("@a or @b")), "(@a or @b) and not @local-only and not @no-kube");
    }
}
