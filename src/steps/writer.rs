//! A cucumber writer that records every scenario's steps with their
//! timings and outcomes (for the summary and the run record) and shows
//! live progress: one line per running scenario with its step and what it
//! is doing (the fault in effect, the wait), or plain lines without a TTY.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use cucumber::event::{self, Cucumber, Feature, Rule, Scenario, Step};
use cucumber::gherkin;
use cucumber::{Event, Writer, parser};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use super::{ZkWorld, panic_message};
use crate::scenario::{RunContext, ScenarioEvidence};

/// A step's or scenario's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It held.
    Passed,
    /// It failed.
    Failed,
    /// Not run (an earlier step failed).
    Skipped,
}

/// One step as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    /// `Given`, `When`, `Then`, `And`...
    pub keyword: String,
    /// The text after the keyword.
    pub text: String,
    /// Its line in the feature.
    pub line: usize,
    /// Its outcome.
    pub status: Status,
    /// Wall time.
    pub millis: u64,
    /// The failure message.
    pub error: Option<String>,
    /// What it found (from the scenario's world).
    pub detail: Option<String>,
}

/// One scenario as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioOutcome {
    /// `<feature path>:<line>`.
    pub key: String,
    /// The feature's name.
    pub feature: String,
    /// The feature's file.
    pub path: String,
    /// The scenario's name.
    pub name: String,
    /// Its line.
    pub line: usize,
    /// Its tags and its feature's.
    pub tags: Vec<String>,
    /// Its outcome.
    pub status: Status,
    /// When it started, ms since the run started.
    pub started_ms: u64,
    /// Wall time.
    pub millis: u64,
    /// Its steps.
    pub steps: Vec<StepOutcome>,
    /// What it recorded (faults, probes, checkers...).
    pub evidence: Option<ScenarioEvidence>,
}

/// The writer.
pub struct Collector {
    ctx: Arc<RunContext>,
    start: Instant,
    /// Every scenario, in start order.
    pub scenarios: Vec<ScenarioOutcome>,
    /// Parse errors reported by cucumber.
    pub parse_errors: Vec<String>,
    index: HashMap<String, usize>,
    step_started: HashMap<String, Instant>,
    bars: Option<Arc<Bars>>,
}

/// The live lines: per running scenario its bar and the text before the
/// live part; a ticker refreshes the live part twice a second.
struct Bars {
    multi: MultiProgress,
    lines: std::sync::Mutex<HashMap<String, (ProgressBar, String)>>,
}

impl Bars {
    fn refresh(&self, ctx: &RunContext) {
        for (key, (bar, base)) in self.lines.lock().expect("not poisoned").iter() {
            let live = ctx.live(key);
            bar.set_message(if live.is_empty() { base.clone() } else { format!("{base} ⟶ {live}") });
        }
    }
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

impl Collector {
    /// A collector; `live` shows progress bars (on a TTY), otherwise plain
    /// lines go to stderr.
    pub fn new(ctx: Arc<RunContext>, live: bool) -> Self {
        let bars = live.then(|| Arc::new(Bars { multi: MultiProgress::new(), lines: Default::default() }));
        if let Some(b) = &bars {
            let (weak, ctx) = (Arc::downgrade(b), ctx.clone());
            tokio::spawn(async move {
                while let Some(b) = weak.upgrade() {
                    b.refresh(&ctx);
                    drop(b);
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            });
        }
        Self {
            ctx,
            start: Instant::now(),
            scenarios: Vec::new(),
            parse_errors: Vec::new(),
            index: HashMap::new(),
            step_started: HashMap::new(),
            bars,
        }
    }

    fn println(&self, line: String) {
        match &self.bars {
            Some(b) => {
                let _ = b.multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    fn set_base(&self, key: &str, base: String) {
        if let Some(b) = &self.bars
            && let Some(line) = b.lines.lock().expect("not poisoned").get_mut(key)
        {
            line.1 = base;
        }
    }

    fn on_scenario(&mut self, f: &gherkin::Feature, s: &gherkin::Scenario, ev: Scenario<ZkWorld>) {
        let key = super::scenario_key(f, s);
        match ev {
            Scenario::Started => {
                let path = f.path.as_ref().map_or_else(String::new, |p| p.display().to_string());
                self.index.insert(key.clone(), self.scenarios.len());
                self.scenarios.push(ScenarioOutcome {
                    key: key.clone(),
                    feature: f.name.clone(),
                    path,
                    name: s.name.clone(),
                    line: s.position.line,
                    tags: f.tags.iter().chain(&s.tags).cloned().collect(),
                    status: Status::Passed,
                    started_ms: self.start.elapsed().as_millis() as u64,
                    millis: 0,
                    steps: Vec::new(),
                    evidence: None,
                });
                if let Some(b) = &self.bars {
                    let bar = b.multi.add(ProgressBar::new_spinner());
                    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}").expect("valid"));
                    bar.enable_steady_tick(std::time::Duration::from_millis(200));
                    let base = shorten(&s.name, 40);
                    bar.set_message(base.clone());
                    b.lines.lock().expect("not poisoned").insert(key.clone(), (bar, base));
                } else {
                    self.println(format!("▶ {}: {}  ({key})", f.name, s.name));
                }
            }
            Scenario::Step(step, ev) | Scenario::Background(step, ev) => self.on_step(&key, &step, ev),
            Scenario::Hook(ty, event::Hook::Failed(_, info)) => {
                self.println(format!("  hook {ty:?} failed in {key}: {}", panic_message(&*info)));
            }
            Scenario::Finished => {
                let elapsed = self.start.elapsed().as_millis() as u64;
                let Some(&i) = self.index.get(&key) else { return };
                let sc = &mut self.scenarios[i];
                sc.millis = elapsed.saturating_sub(sc.started_ms);
                if sc.steps.iter().any(|s| s.status == Status::Failed) {
                    sc.status = Status::Failed;
                }
                let (mark, status) = if sc.status == Status::Passed { ("✔", "passed") } else { ("✘", "FAILED") };
                let line = format!("{mark} {}: {} {status} in {:.1}s", sc.feature, sc.name, sc.millis as f64 / 1000.0);
                if let Some(b) = &self.bars
                    && let Some((bar, _)) = b.lines.lock().expect("not poisoned").remove(&key)
                {
                    bar.finish_and_clear();
                }
                self.println(line);
            }
            _ => {}
        }
    }

    fn on_step(&mut self, key: &str, step: &gherkin::Step, ev: Step<ZkWorld>) {
        let Some(&i) = self.index.get(key) else { return };
        let (status, error) = match ev {
            Step::Started => {
                self.step_started.insert(key.to_string(), Instant::now());
                let sc = &self.scenarios[i];
                self.set_base(key, format!("{} │ {}", shorten(&sc.name, 40), shorten(&step.value, 48)));
                return;
            }
            Step::Passed(..) => (Status::Passed, None),
            Step::Skipped => (Status::Skipped, None),
            Step::Failed(_, _, _, err) => (Status::Failed, Some(step_error(&err))),
        };
        let millis = self.step_started.remove(key).map_or(0, |t| t.elapsed().as_millis() as u64);
        let out = StepOutcome {
            keyword: step.keyword.trim().to_string(),
            text: step.value.clone(),
            line: step.position.line,
            status,
            millis,
            error,
            detail: None,
        };
        let mark = match status {
            Status::Passed => "  ✔",
            Status::Failed => "  ✘",
            Status::Skipped => "  -",
        };
        let mut line = format!("{mark} {} {}  ({:.1}s)", out.keyword, out.text, millis as f64 / 1000.0);
        if let Some(e) = &out.error {
            line.push_str(&format!("\n      {}", e.replace('\n', "\n      ")));
        }
        if status == Status::Failed || self.bars.is_none() {
            self.println(line);
        }
        self.scenarios[i].steps.push(out);
    }

    /// Refresh the live lines with what each scenario is doing now.
    pub fn tick(&self) {
        if let Some(b) = &self.bars {
            b.refresh(&self.ctx);
        }
    }
}

fn step_error(e: &event::StepError) -> String {
    match e {
        event::StepError::Panic(info) => panic_message(&**info),
        other => other.to_string(),
    }
}

impl Writer<ZkWorld> for Collector {
    type Cli = cucumber::cli::Empty;

    async fn handle_event(&mut self, ev: parser::Result<Event<Cucumber<ZkWorld>>>, _cli: &Self::Cli) {
        self.tick();
        match ev {
            Err(e) => {
                let msg = e.to_string();
                self.println(format!("✘ {msg}"));
                self.parse_errors.push(msg);
            }
            Ok(ev) => match ev.value {
                Cucumber::Feature(f, Feature::Scenario(s, ev))
                | Cucumber::Feature(f, Feature::Rule(_, Rule::Scenario(s, ev))) => {
                    self.on_scenario(&f, &s, ev.event);
                }
                _ => {}
            },
        }
    }
}

/// The collector keys every event by its scenario, so interleaved events of
/// concurrent scenarios are fine: no reordering needed.
impl cucumber::writer::Normalized for Collector {}
