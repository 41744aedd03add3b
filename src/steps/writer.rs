//! A cucumber writer that records every scenario's steps with their
//! timings and outcomes (for the summary and the run record) and shows
//! live progress: one line per running scenario with its step and what it
//! is doing (the fault in effect, the wait), fitted to the terminal's width,
//! or without a TTY plain lines labelled with their scenario and a
//! heartbeat every 10 s for a step still running.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::event::{self, Cucumber, Feature, Rule, Scenario, Step};
use cucumber::gherkin;
use cucumber::{Event, Writer, parser};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use super::console;
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
    /// Started but cut short: the run was interrupted (Ctrl-C, SIGTERM)
    /// before it finished.
    Interrupted,
}

/// What a run has recorded so far, readable from outside while it runs:
/// when the run is interrupted (its future dropped), the scenarios that
/// finished are still here, and the ones that had started are known.
#[derive(Default)]
pub struct LiveRun {
    inner: std::sync::Mutex<LiveInner>,
}

#[derive(Default)]
struct LiveInner {
    /// The run's context (its scenarios' evidence) once the run started.
    ctx: Option<Arc<RunContext>>,
    /// When the run started.
    started: Option<Instant>,
    /// Every scenario started, in start order, as last seen.
    scenarios: Vec<ScenarioOutcome>,
    /// Whether each of them finished.
    finished: Vec<bool>,
}

impl LiveRun {
    /// The run started now, with context `ctx`.
    pub fn start(&self, ctx: Arc<RunContext>) {
        let mut g = self.inner.lock().expect("not poisoned");
        g.ctx = Some(ctx);
        g.started = Some(Instant::now());
    }

    /// The run's context, once it started.
    pub fn context(&self) -> Option<Arc<RunContext>> {
        self.inner.lock().expect("not poisoned").ctx.clone()
    }

    /// Wall time since the run started (zero before).
    pub fn elapsed(&self) -> std::time::Duration {
        self.inner.lock().expect("not poisoned").started.map_or_else(Default::default, |t| t.elapsed())
    }

    /// Record scenario `i` as it is now.
    pub fn set(&self, i: usize, scenario: &ScenarioOutcome, finished: bool) {
        let mut g = self.inner.lock().expect("not poisoned");
        if g.scenarios.len() <= i {
            g.scenarios.resize_with(i + 1, || scenario.clone());
            g.finished.resize(i + 1, false);
        }
        g.scenarios[i] = scenario.clone();
        g.finished[i] = finished;
    }

    /// Every scenario started so far: the finished ones as they ended, the
    /// others marked [`Status::Interrupted`] with their wall time up to
    /// `now_ms` (ms since the run started), their running step (if any)
    /// failed with `why`.
    pub fn snapshot(&self, now_ms: u64, why: &str) -> Vec<ScenarioOutcome> {
        let g = self.inner.lock().expect("not poisoned");
        g.scenarios
            .iter()
            .zip(&g.finished)
            .map(|(s, done)| {
                let mut s = s.clone();
                if !done {
                    s.status = Status::Interrupted;
                    s.millis = now_ms.saturating_sub(s.started_ms);
                    s.steps.push(StepOutcome {
                        keyword: String::new(),
                        text: "(the step running when the run was interrupted)".into(),
                        line: 0,
                        status: Status::Interrupted,
                        millis: 0,
                        error: Some(why.to_string()),
                        detail: None,
                    });
                }
                s
            })
            .collect()
    }
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
    /// Without a terminal: the steps running now, for the heartbeat.
    running: Option<Arc<Running>>,
    live_run: Option<Arc<LiveRun>>,
}

/// The live lines: per running scenario its bar, its name and its step; a
/// ticker refreshes them twice a second, fitted to the terminal's width.
struct Bars {
    multi: MultiProgress,
    lines: std::sync::Mutex<HashMap<String, (ProgressBar, String, String)>>,
}

impl Bars {
    fn refresh(&self, ctx: &RunContext) {
        let width = console::terminal_width().saturating_sub(console::BAR_PREFIX);
        for (key, (bar, name, step)) in self.lines.lock().expect("not poisoned").iter() {
            bar.set_message(console::fit(name, step, &ctx.live(key), width));
        }
    }
}

/// A step running now, as the heartbeat sees it.
struct RunningStep {
    label: String,
    step: String,
    started: Instant,
    last_beat: Duration,
}

/// The steps running now (piped output): a ticker prints a heartbeat for
/// each that has run [`console::HEARTBEAT_EVERY`] since its start or last beat.
#[derive(Default)]
struct Running {
    steps: std::sync::Mutex<HashMap<String, RunningStep>>,
}

impl Running {
    fn beat(&self, ctx: &RunContext) {
        for (key, r) in self.steps.lock().expect("not poisoned").iter_mut() {
            let elapsed = r.started.elapsed();
            if console::heartbeat_due(elapsed, r.last_beat) {
                r.last_beat = elapsed;
                eprintln!("{}", console::heartbeat(&r.label, &r.step, elapsed, &ctx.live(key)));
            }
        }
    }
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
        let running = (!live).then(|| Arc::new(Running::default()));
        if let Some(r) = &running {
            let (weak, ctx) = (Arc::downgrade(r), ctx.clone());
            tokio::spawn(async move {
                while let Some(r) = weak.upgrade() {
                    r.beat(&ctx);
                    drop(r);
                    tokio::time::sleep(Duration::from_secs(1)).await;
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
            running,
            live_run: None,
        }
    }

    /// Mirror every scenario into `live` as it progresses (see [`LiveRun`]).
    pub fn with_live_run(mut self, live: Arc<LiveRun>) -> Self {
        self.live_run = Some(live);
        self
    }

    fn mirror(&self, i: usize, finished: bool) {
        if let Some(l) = &self.live_run {
            l.set(i, &self.scenarios[i], finished);
        }
    }

    /// Print a line of scenario `key`, every line of it labelled.
    fn say(&self, key: &str, text: String) {
        self.println(console::labelled(&console::label(key), &text));
    }

    fn println(&self, line: String) {
        match &self.bars {
            Some(b) => {
                let _ = b.multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    fn set_step(&self, key: &str, step: String) {
        if let Some(b) = &self.bars
            && let Some(line) = b.lines.lock().expect("not poisoned").get_mut(key)
        {
            line.2 = step;
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
                self.mirror(self.scenarios.len() - 1, false);
                if let Some(b) = &self.bars {
                    let bar = b.multi.add(ProgressBar::new_spinner());
                    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}").expect("valid"));
                    bar.enable_steady_tick(std::time::Duration::from_millis(200));
                    bar.set_message(s.name.clone());
                    b.lines.lock().expect("not poisoned").insert(key.clone(), (bar, s.name.clone(), String::new()));
                } else {
                    self.say(&key, format!("▶ {}: {}  ({key})", f.name, s.name));
                }
            }
            Scenario::Step(step, ev) | Scenario::Background(step, ev) => self.on_step(&key, &step, ev),
            Scenario::Hook(ty, event::Hook::Failed(_, info)) => {
                self.say(&key, format!("  hook {ty:?} failed in {key}: {}", panic_message(&*info)));
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
                self.mirror(i, true);
                if let Some(b) = &self.bars
                    && let Some((bar, ..)) = b.lines.lock().expect("not poisoned").remove(&key)
                {
                    bar.finish_and_clear();
                }
                if let Some(r) = &self.running {
                    r.steps.lock().expect("not poisoned").remove(&key);
                }
                self.say(&key, line);
            }
            _ => {}
        }
    }

    fn on_step(&mut self, key: &str, step: &gherkin::Step, ev: Step<ZkWorld>) {
        let Some(&i) = self.index.get(key) else { return };
        let (status, error) = match ev {
            Step::Started => {
                self.step_started.insert(key.to_string(), Instant::now());
                self.set_step(key, step.value.clone());
                if let Some(r) = &self.running {
                    let running = RunningStep {
                        label: console::label(key),
                        step: format!("{} {}", step.keyword.trim(), step.value),
                        started: Instant::now(),
                        last_beat: Duration::ZERO,
                    };
                    r.steps.lock().expect("not poisoned").insert(key.to_string(), running);
                }
                return;
            }
            Step::Passed(..) => (Status::Passed, None),
            Step::Skipped => (Status::Skipped, None),
            Step::Failed(_, _, _, err) => (Status::Failed, Some(step_error(&err))),
        };
        let millis = self.step_started.remove(key).map_or(0, |t| t.elapsed().as_millis() as u64);
        if let Some(r) = &self.running {
            r.steps.lock().expect("not poisoned").remove(key);
        }
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
            Status::Interrupted => "  ⏹",
        };
        let mut line = format!("{mark} {} {}  ({:.1}s)", out.keyword, out.text, millis as f64 / 1000.0);
        if let Some(e) = &out.error {
            line.push_str(&format!("\n      {}", e.replace('\n', "\n      ")));
        }
        if status == Status::Failed || self.bars.is_none() {
            self.say(key, line);
        }
        self.scenarios[i].steps.push(out);
        self.mirror(i, false);
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
