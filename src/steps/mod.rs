//! The Gherkin step library on cucumber-rs: a [`ZkWorld`] per scenario
//! around a [`ScenarioWorld`], one dispatching step function per keyword
//! that matches the text against our [`catalogue`] (so unknown and
//! ambiguous steps get suggestions), and the hooks that set a scenario up
//! and always tear it down.

pub mod args;
pub mod catalogue;
pub mod console;
pub mod load;
pub mod matcher;
pub mod output;
pub mod render;
pub mod runner;
pub mod writer;

use std::fmt;
use std::sync::{Arc, RwLock};

use cucumber::gherkin::StepType;
use futures::future::LocalBoxFuture;

use crate::scenario::{RunContext, ScenarioWorld};
use catalogue::Kind;

/// The run context the worlds of this process use (cucumber builds worlds
/// without arguments).
static CONTEXT: RwLock<Option<Arc<RunContext>>> = RwLock::new(None);

/// Install the context for the next run.
pub fn set_context(ctx: Arc<RunContext>) {
    *CONTEXT.write().expect("not poisoned") = Some(ctx);
}

fn context() -> Arc<RunContext> {
    CONTEXT.read().expect("not poisoned").clone().expect("steps::set_context was called before the run")
}

/// A step's failure, carried as the panic payload cucumber catches (the
/// panic hook stays quiet about these).
#[derive(Debug, Clone)]
pub struct StepFailure(pub String);

/// The cucumber world: the scenario, once the `before` hook named it.
#[derive(Default)]
pub struct ZkWorld {
    /// The scenario's world.
    pub inner: Option<ScenarioWorld>,
}

impl fmt::Debug for ZkWorld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ZkWorld")
    }
}

impl cucumber::World for ZkWorld {
    type Error = std::convert::Infallible;

    async fn new() -> Result<Self, Self::Error> {
        Ok(Self::default())
    }
}

/// The key of a scenario: `<feature path>:<line>`.
pub fn scenario_key(feature: &cucumber::gherkin::Feature, scenario: &cucumber::gherkin::Scenario) -> String {
    let path = feature.path.as_ref().map_or_else(|| feature.name.clone(), |p| p.display().to_string());
    format!("{path}:{}", scenario.position.line)
}

fn kind_of(ty: StepType) -> Kind {
    match ty {
        StepType::Given => Kind::Given,
        StepType::When => Kind::When,
        StepType::Then => Kind::Then,
    }
}

/// The one step function registered for every keyword.
pub fn dispatch<'a>(w: &'a mut ZkWorld, ctx: cucumber::step::Context) -> LocalBoxFuture<'a, ()> {
    Box::pin(async move {
        let step = ctx.step;
        let (found, mut args) = match matcher::find(kind_of(step.ty), &step.value) {
            Ok(x) => x,
            Err(e) => std::panic::panic_any(StepFailure(e.to_string())),
        };
        args.table = step.table.as_ref().map(|t| t.rows.clone());
        let Some(world) = w.inner.as_mut() else {
            std::panic::panic_any(StepFailure("the scenario was not set up (no before hook)".into()))
        };
        if found.def.is_action() {
            world.mark_action();
        }
        match (found.def.run)(world, args).await {
            Ok(detail) => world.note_step(step.position.line, detail),
            Err(e) => {
                world.note_step(step.position.line, format!("FAILED: {e}"));
                std::panic::panic_any(StepFailure(e.to_string()))
            }
        }
    })
}

/// The message of a caught step panic.
pub fn panic_message(info: &(dyn std::any::Any + Send)) -> String {
    if let Some(f) = info.downcast_ref::<StepFailure>() {
        f.0.clone()
    } else if let Some(s) = info.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = info.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "the step panicked".into()
    }
}

/// Keep the default panic output for real panics, but not for step
/// failures (they are reported by the writer).
pub fn quiet_step_failures() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<StepFailure>().is_none() {
            default(info);
        }
    }));
}

/// The `before` hook: name the scenario and build its world.
pub fn before<'a>(
    feature: &'a cucumber::gherkin::Feature,
    _rule: Option<&'a cucumber::gherkin::Rule>,
    scenario: &'a cucumber::gherkin::Scenario,
    world: &'a mut ZkWorld,
) -> LocalBoxFuture<'a, ()> {
    Box::pin(async move {
        world.inner = Some(ScenarioWorld::new(context(), &scenario_key(feature, scenario)));
    })
}

/// The `after` hook: heal, stop, tear down and hand the evidence in,
/// whatever happened in the steps.
pub fn after<'a>(
    _feature: &'a cucumber::gherkin::Feature,
    _rule: Option<&'a cucumber::gherkin::Rule>,
    _scenario: &'a cucumber::gherkin::Scenario,
    _ev: &'a cucumber::event::ScenarioFinished,
    world: Option<&'a mut ZkWorld>,
) -> LocalBoxFuture<'a, ()> {
    Box::pin(async move {
        if let Some(inner) = world.and_then(|w| w.inner.as_mut()) {
            let evidence = inner.finish().await;
            context().push_evidence(evidence);
        }
    })
}
