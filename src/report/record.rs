//! The run record: one serializable, versioned description of a run, from
//! which every report file is rendered (so `zk-chaos report <run-dir>`
//! re-renders an old run from its `record.json` alone).
//!
//! What the runner fills, and where it comes from:
//!
//! | field | filled by |
//! |---|---|
//! | [`RunRecord::start`] (id, start time, [`Environment`]) | the runner, once, before the first scenario |
//! | [`FeatureRecord`] name, path, line, tags | the runner, from the parsed feature file |
//! | [`ScenarioRecord`] name, line, tags, start offset, duration, outcome | the runner, per scenario |
//! | [`StepRecord`] keyword, text, line, duration, outcome, error | the runner, per step |
//! | [`ScenarioRecord::evidence`] | [`Evidence::from_bundle`] over the recorded bundle and its `SuiteReport`; then the runner adds fault targets and operator actions |
//! | [`ScenarioRecord::links`], [`ScenarioRecord::logs`] | [`super::artifacts::save_scenario_artifacts`] |
//! | [`RunRecord::error`] | the runner, when the run failed outside any scenario |
//! | [`RunRecord::finish`] | the runner, at the end (also after an early failure) |
//!
//! Times inside a scenario's evidence are nanoseconds on that scenario's
//! history clock (`Recorder::now_ns`, zero when the recorder was created).

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::ReportError;
use super::evidence::Evidence;

/// The version of the record's JSON schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The file name of the record inside a run directory.
pub const RECORD_FILE: &str = "record.json";

/// One run: environment, features, scenarios, steps and their evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Always [`SCHEMA_VERSION`] when written by this build.
    pub schema_version: u32,
    /// The run id (also the run directory's name), e.g. `20250101-120000-3fa2c1`.
    pub run_id: String,
    /// When the run started, RFC 3339 (UTC).
    pub started: String,
    /// When it finished, RFC 3339; `None` while running or after a crash.
    #[serde(default)]
    pub finished: Option<String>,
    /// Wall time of the whole run, ns (0 until [`RunRecord::finish`]).
    #[serde(default)]
    pub duration_ns: u64,
    /// Where and how the run ran.
    pub environment: Environment,
    /// The features, in run order.
    #[serde(default)]
    pub features: Vec<FeatureRecord>,
    /// Why the run failed outside any scenario (setup, provisioning,
    /// a malformed feature file); reported as a failure in every output.
    #[serde(default)]
    pub error: Option<String>,
    /// Run-level links (relative to the run directory).
    #[serde(default)]
    pub links: Vec<Link>,
}

/// Where and how a run ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// `local` or `kind` (or a kubeconfig context).
    pub backend: String,
    /// ZooKeeper versions the run used, e.g. `["3.8.0", "3.9.3"]`.
    #[serde(default)]
    pub zookeeper_versions: Vec<String>,
    /// Host name.
    #[serde(default)]
    pub host: String,
    /// Kernel release (`uname -r`).
    #[serde(default)]
    pub kernel: String,
    /// The run's seed, when it has one.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The git revision of the checkout, `-dirty` appended when modified.
    #[serde(default)]
    pub git_revision: Option<String>,
    /// zk-chaos's version.
    #[serde(default)]
    pub zk_chaos_version: String,
    /// The command line of the run.
    #[serde(default)]
    pub command_line: Vec<String>,
}

impl Environment {
    /// Detect host, kernel, git revision (of the current directory), the
    /// zk-chaos version and the command line; the caller names the backend,
    /// the ZooKeeper versions and the seed.
    pub fn detect(backend: &str, zookeeper_versions: Vec<String>, seed: Option<u64>) -> Self {
        let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_default();
        Self {
            backend: backend.to_string(),
            zookeeper_versions,
            host: read("/proc/sys/kernel/hostname"),
            kernel: read("/proc/sys/kernel/osrelease"),
            seed,
            git_revision: git_revision(),
            zk_chaos_version: env!("CARGO_PKG_VERSION").to_string(),
            command_line: std::env::args().collect(),
        }
    }
}

fn git_revision() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = git(&["rev-parse", "--short=12", "HEAD"]).filter(|r| !r.is_empty())?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{rev}-dirty") } else { rev })
}

/// A feature file and its scenarios.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureRecord {
    /// The feature's name (`Feature: <name>`).
    pub name: String,
    /// Its file, relative to the repository (the Cucumber JSON `uri`).
    pub path: String,
    /// The line of `Feature:`.
    #[serde(default)]
    pub line: u32,
    /// The free text under `Feature:`.
    #[serde(default)]
    pub description: String,
    /// Tags, with their `@`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The scenarios, in run order (an outline's examples each count as one).
    #[serde(default)]
    pub scenarios: Vec<ScenarioRecord>,
}

/// How a scenario or a step ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It ran and held.
    Passed,
    /// It ran and failed.
    Failed,
    /// It did not run (an earlier step failed, or it was filtered out).
    #[default]
    Skipped,
    /// It was running when the run was interrupted (Ctrl-C, SIGTERM): cut
    /// short, neither passed nor failed.
    Interrupted,
}

impl Outcome {
    /// The word used in every output: `passed`, `failed`, `skipped`,
    /// `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// A scenario's outcome from its steps: failed when one failed,
    /// interrupted when one was cut short, skipped when none ran (or there
    /// are none), passed otherwise.
    pub fn of_steps(steps: &[StepRecord]) -> Self {
        if steps.iter().any(|s| s.outcome == Outcome::Failed) {
            Outcome::Failed
        } else if steps.iter().any(|s| s.outcome == Outcome::Interrupted) {
            Outcome::Interrupted
        } else if steps.iter().any(|s| s.outcome == Outcome::Passed) {
            Outcome::Passed
        } else {
            Outcome::Skipped
        }
    }
}

/// How many scenarios of a run ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Ran and held.
    pub passed: usize,
    /// Ran and failed.
    pub failed: usize,
    /// Did not run.
    pub skipped: usize,
    /// Cut short by an interrupted run.
    pub interrupted: usize,
}

impl Counts {
    /// Every scenario.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped + self.interrupted
    }
}

/// One scenario: its steps, and what its workload and checkers found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRecord {
    /// The scenario's name.
    pub name: String,
    /// `Scenario` or `Scenario Outline` (empty: `Scenario`).
    #[serde(default = "default_scenario_keyword")]
    pub keyword: String,
    /// The line of the scenario in its feature file.
    #[serde(default)]
    pub line: u32,
    /// Tags (feature tags not repeated), with their `@`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// When it started, ns after the run started (wall clock).
    #[serde(default)]
    pub start_offset_ns: u64,
    /// Its wall time, ns.
    #[serde(default)]
    pub duration_ns: u64,
    /// How it ended (see [`Outcome::of_steps`]).
    pub outcome: Outcome,
    /// The steps, background steps first.
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    /// The recorded workload, faults, probes and checker verdicts; `None`
    /// for a scenario that recorded no workload.
    #[serde(default)]
    pub evidence: Option<Evidence>,
    /// Saved artifacts (history, bundle, per-pod logs), relative to the run directory.
    #[serde(default)]
    pub links: Vec<Link>,
    /// The last warning and error lines of each pod's server log.
    #[serde(default)]
    pub logs: Vec<LogExcerpt>,
}

fn default_scenario_keyword() -> String {
    "Scenario".into()
}

/// One step as run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// `Given`, `When`, `Then`, `And`, `But` (without trailing space).
    pub keyword: String,
    /// The step's text.
    pub text: String,
    /// Its line in the feature file.
    #[serde(default)]
    pub line: u32,
    /// Wall time, ns.
    #[serde(default)]
    pub duration_ns: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// The failure message (or why it was skipped).
    #[serde(default)]
    pub error: Option<String>,
}

/// Something the operator did, on the scenario's history clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorAction {
    /// When, ns on the history clock.
    pub at_ns: u64,
    /// What, e.g. `delete pod zk-2 (revision 3.9.3)` or `reconfig -add 4`.
    pub text: String,
}

/// Something a member's server logged that the diagnosis reads (an
/// election, a role, a sync with the leader, a truncation, a load from
/// disk), for the member's lane in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMark {
    /// The member.
    pub ordinal: u32,
    /// When, ns on the history clock.
    pub at_ns: u64,
    /// What, e.g. `TRUNC to 0x10000001c`.
    pub text: String,
    /// Whether it dropped committed history (a truncation).
    pub severe: bool,
}

/// A fault as injected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultEntry {
    /// Short name, e.g. `kill`, `isolate`, `netem`.
    pub name: String,
    /// What was done, with how selectors resolved (the fault's description).
    pub description: String,
    /// The ordinals it acted on (filled by the runner; empty when unknown).
    #[serde(default)]
    pub targets: Vec<u32>,
    /// When it took effect, ns on the history clock.
    pub start_ns: u64,
    /// When it was healed; `None` when it never was.
    pub heal_ns: Option<u64>,
}

/// A link to a saved artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// What it is, e.g. `history.jsonl` or `zk-0 zookeeper.log`.
    pub label: String,
    /// A path relative to the run directory (absolute URLs are not linked).
    pub href: String,
}

/// Selected lines of one pod's server log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogExcerpt {
    /// The pod, e.g. `zk-1`.
    pub pod: String,
    /// The lines, oldest first.
    pub lines: Vec<String>,
}

/// Format a system time as RFC 3339 (UTC, seconds).
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl RunRecord {
    /// A run starting now: a fresh run id (`YYYYMMDD-HHMMSS-xxxxxx`, UTC,
    /// sortable), the start time, and the environment.
    pub fn start(environment: Environment) -> Self {
        let now = SystemTime::now();
        let stamp: String = rfc3339(now).chars().filter(|c| c.is_ascii_digit()).take(14).collect();
        let nanos = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xff_ffff;
        Self {
            schema_version: SCHEMA_VERSION,
            run_id: format!("{}-{}-{salt:06x}", &stamp[..8.min(stamp.len())], &stamp[8.min(stamp.len())..]),
            started: rfc3339(now),
            finished: None,
            duration_ns: 0,
            environment,
            features: Vec::new(),
            error: None,
            links: Vec::new(),
        }
    }

    /// Mark the run finished now; `elapsed` is its wall time.
    pub fn finish(&mut self, elapsed: Duration) {
        self.finished = Some(rfc3339(SystemTime::now()));
        self.duration_ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    }

    /// Every scenario with its feature, in run order.
    pub fn scenarios(&self) -> impl Iterator<Item = (&FeatureRecord, &ScenarioRecord)> {
        self.features.iter().flat_map(|f| f.scenarios.iter().map(move |s| (f, s)))
    }

    /// Scenarios by outcome.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for (_, s) in self.scenarios() {
            match s.outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Failed => c.failed += 1,
                Outcome::Skipped => c.skipped += 1,
                Outcome::Interrupted => c.interrupted += 1,
            }
        }
        c
    }

    /// Whether the run passed: no error, at least one scenario passed, and
    /// none failed or was interrupted.
    pub fn passed(&self) -> bool {
        let c = self.counts();
        self.error.is_none() && c.failed == 0 && c.interrupted == 0 && c.passed > 0
    }

    /// Serialize as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a run record serialises")
    }

    /// Parse a record, checking the schema version first; `path` names the
    /// source in errors (with line and column for JSON errors).
    pub fn from_json(text: &str, path: &Path) -> Result<Self, ReportError> {
        #[derive(Deserialize)]
        struct Version {
            schema_version: Option<u32>,
        }
        let json_err = |source: serde_json::Error| ReportError::Json {
            path: path.to_path_buf(),
            line: source.line(),
            column: source.column(),
            source,
        };
        let v: Version = serde_json::from_str(text).map_err(json_err)?;
        match v.schema_version {
            Some(SCHEMA_VERSION) => serde_json::from_str(text).map_err(json_err),
            found => Err(ReportError::SchemaVersion { path: path.to_path_buf(), found, expected: SCHEMA_VERSION }),
        }
    }

    /// Read `record.json` from a run directory (or a record file).
    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let file = if path.is_dir() { path.join(RECORD_FILE) } else { path.to_path_buf() };
        if !path.exists() {
            return Err(ReportError::Missing { path: path.to_path_buf(), what: "run directory" });
        }
        if !file.is_file() {
            return Err(ReportError::Missing { path: file, what: "run record" });
        }
        let text = std::fs::read_to_string(&file).map_err(|source| ReportError::Io { path: file.clone(), source })?;
        Self::from_json(&text, &file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(outcome: Outcome) -> StepRecord {
        StepRecord { keyword: "Given".into(), text: "x".into(), outcome, ..StepRecord::default() }
    }

    #[test]
    fn scenario_outcome_follows_its_steps() {
        assert_eq!(Outcome::of_steps(&[]), Outcome::Skipped);
        assert_eq!(Outcome::of_steps(&[step(Outcome::Passed), step(Outcome::Passed)]), Outcome::Passed);
        assert_eq!(
            Outcome::of_steps(&[step(Outcome::Passed), step(Outcome::Failed), step(Outcome::Skipped)]),
            Outcome::Failed
        );
        assert_eq!(Outcome::of_steps(&[step(Outcome::Skipped)]), Outcome::Skipped);
        assert_eq!(
            Outcome::of_steps(&[step(Outcome::Passed), step(Outcome::Interrupted)]),
            Outcome::Interrupted,
            "cut short, not failed"
        );
        assert_eq!(serde_json::to_string(&Outcome::Interrupted).unwrap(), "\"interrupted\"");
    }

    #[test]
    fn run_ids_are_sortable_timestamps() {
        let r = RunRecord::start(Environment::default());
        let parts: Vec<&str> = r.run_id.split('-').collect();
        assert_eq!(parts.len(), 3, "{}", r.run_id);
        assert_eq!(parts[0].len(), 8);
        assert_eq!(parts[1].len(), 6);
        assert_eq!(parts[2].len(), 6);
        assert!(r.started.ends_with('Z') && r.started.starts_with(&parts[0][..4]), "{}", r.started);
        assert!(!r.passed(), "no scenario ran");
    }

    #[test]
    fn records_round_trip_and_bad_input_names_the_place() {
        let mut r = RunRecord::start(Environment::detect("local", vec!["3.8.0".into()], Some(7)));
        r.features.push(FeatureRecord {
            name: "F".into(),
            path: "features/f.feature".into(),
            scenarios: vec![ScenarioRecord {
                name: "S".into(),
                outcome: Outcome::Passed,
                steps: vec![step(Outcome::Passed)],
                ..ScenarioRecord::default()
            }],
            ..FeatureRecord::default()
        });
        r.finish(Duration::from_secs(3));
        let p = Path::new("run/record.json");
        let back = RunRecord::from_json(&r.to_json(), p).unwrap();
        assert_eq!(back, r);
        assert!(back.passed());

        let e = RunRecord::from_json("{\n  \"schema_version\": 1,\n  \"run_id\": 5\n}", p).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("run/record.json:3:"), "{msg}");
        let e = RunRecord::from_json(&r.to_json().replace("\"schema_version\": 1", "\"schema_version\": 2"), p)
            .unwrap_err();
        assert!(e.to_string().contains("schema version 2") && e.to_string().contains("run/record.json"), "{e}");
        let e = RunRecord::from_json("{\"run_id\": \"x\"}", p).unwrap_err();
        assert!(e.to_string().contains("no schema_version"), "{e}");
        let e = RunRecord::from_json("{ nope", p).unwrap_err();
        assert!(e.to_string().starts_with("run/record.json:1:"), "{e}");
    }
}
