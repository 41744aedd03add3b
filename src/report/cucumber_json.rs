//! Cucumber JSON, the format cucumber-js and cucumber-jvm write and
//! existing report tools read: an array of features (`uri`, `id`,
//! `keyword`, `name`, `line`, `tags`, `elements`), each element a scenario
//! with its steps; a step's `result` has `status` (`passed`, `failed`,
//! `skipped`), `duration` in nanoseconds and `error_message`. A run that
//! failed outside its scenarios appears as a `zk-chaos run` feature with a
//! failed scenario, so tools count it.

use serde::Serialize;

use super::format::slug;
use super::record::{FeatureRecord, Outcome, RunRecord, ScenarioRecord, StepRecord};

#[derive(Serialize)]
struct Tag<'a> {
    name: &'a str,
    line: u32,
}

#[derive(Serialize)]
struct StepResult<'a> {
    status: &'static str,
    duration: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

#[derive(Serialize)]
struct Step<'a> {
    keyword: String,
    name: &'a str,
    line: u32,
    result: StepResult<'a>,
}

#[derive(Serialize)]
struct Element<'a> {
    id: String,
    keyword: &'a str,
    name: &'a str,
    description: &'a str,
    line: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    tags: Vec<Tag<'a>>,
    steps: Vec<Step<'a>>,
}

#[derive(Serialize)]
struct Feature<'a> {
    uri: &'a str,
    id: String,
    keyword: &'static str,
    name: &'a str,
    description: &'a str,
    line: u32,
    tags: Vec<Tag<'a>>,
    elements: Vec<Element<'a>>,
}

fn tags(tags: &[String], line: u32) -> Vec<Tag<'_>> {
    tags.iter().map(|t| Tag { name: t, line }).collect()
}

/// A step's Cucumber status: Cucumber has no "interrupted", so a step
/// cut short is `skipped` (its error message says why).
fn status(o: Outcome) -> &'static str {
    match o {
        Outcome::Interrupted => Outcome::Skipped.as_str(),
        o => o.as_str(),
    }
}

fn step(s: &StepRecord) -> Step<'_> {
    Step {
        keyword: format!("{} ", s.keyword.trim_end()),
        name: &s.text,
        line: s.line,
        result: StepResult { status: status(s.outcome), duration: s.duration_ns, error_message: s.error.as_deref() },
    }
}

fn element<'a>(feature_id: &str, i: usize, s: &'a ScenarioRecord) -> Element<'a> {
    Element {
        id: format!("{feature_id};{}-{}", slug(&s.name), i + 1),
        keyword: if s.keyword.is_empty() { "Scenario" } else { &s.keyword },
        name: &s.name,
        description: "",
        line: s.line,
        kind: "scenario",
        tags: tags(&s.tags, s.line.saturating_sub(1)),
        steps: s.steps.iter().map(step).collect(),
    }
}

fn feature(f: &FeatureRecord) -> Feature<'_> {
    let id = slug(&f.name);
    Feature {
        uri: &f.path,
        keyword: "Feature",
        name: &f.name,
        description: &f.description,
        line: f.line,
        tags: tags(&f.tags, f.line.saturating_sub(1)),
        elements: f.scenarios.iter().enumerate().map(|(i, s)| element(&id, i, s)).collect(),
        id,
    }
}

/// The Cucumber JSON of a run.
pub fn render(r: &RunRecord) -> String {
    let mut features: Vec<Feature> = Vec::new();
    let run_error = r.error.as_deref().map(|err| ScenarioRecord {
        name: "run".into(),
        keyword: "Scenario".into(),
        duration_ns: r.duration_ns,
        outcome: Outcome::Failed,
        steps: vec![StepRecord {
            keyword: "Given".into(),
            text: "the run starts".into(),
            line: 0,
            duration_ns: r.duration_ns,
            outcome: Outcome::Failed,
            error: Some(err.to_string()),
        }],
        ..ScenarioRecord::default()
    });
    if let Some(s) = &run_error {
        features.push(Feature {
            uri: "zk-chaos",
            id: "zk-chaos-run".into(),
            keyword: "Feature",
            name: "zk-chaos run",
            description: "",
            line: 0,
            tags: Vec::new(),
            elements: vec![element("zk-chaos-run", 0, s)],
        });
    }
    features.extend(r.features.iter().map(feature));
    serde_json::to_string_pretty(&features).expect("cucumber JSON serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::junit::tests::sample;
    use crate::report::record::Environment;
    use serde_json::Value;

    #[test]
    fn features_scenarios_and_steps_in_cucumber_shape() {
        let json: Value = serde_json::from_str(&render(&sample())).unwrap();
        let features = json.as_array().unwrap();
        assert_eq!(features.len(), 1);
        let f = &features[0];
        assert_eq!(f["uri"], "features/leader.feature");
        assert_eq!(f["keyword"], "Feature");
        assert_eq!(f["name"], "Leader loss & <recovery>");
        assert_eq!(f["line"], 1);
        let elements = f["elements"].as_array().unwrap();
        assert_eq!(elements.len(), 3);
        let s = &elements[1];
        assert_eq!(s["type"], "scenario");
        assert_eq!(s["keyword"], "Scenario");
        assert_eq!(s["line"], 9);
        assert!(s["id"].as_str().unwrap().starts_with("leader-loss-recovery;partition-script"));
        let steps = s["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[1]["keyword"], "Then ");
        assert_eq!(steps[1]["name"], "no write is lost");
        assert_eq!(steps[1]["result"]["status"], "failed");
        assert_eq!(steps[1]["result"]["duration"], 1_500_000_000u64);
        assert!(steps[1]["result"]["error_message"].as_str().unwrap().starts_with("1 lost write"));
        assert!(steps[0]["result"].get("error_message").is_none());
        assert_eq!(steps[2]["result"]["status"], "skipped");
    }

    #[test]
    fn an_early_failure_is_a_failed_scenario() {
        let mut r = RunRecord::start(Environment::default());
        r.error = Some("no Java".into());
        let json: Value = serde_json::from_str(&render(&r)).unwrap();
        let step = &json[0]["elements"][0]["steps"][0];
        assert_eq!(step["result"]["status"], "failed");
        assert_eq!(step["result"]["error_message"], "no Java");
        let empty: Value = serde_json::from_str(&render(&RunRecord::start(Environment::default()))).unwrap();
        assert_eq!(empty, serde_json::json!([]));
    }
}
