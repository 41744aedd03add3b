//! The scenario engine, independent of how a scenario is written: a
//! Gherkin step (`crate::steps`) and a YAML plan entry (`crate::plan`) both
//! call the same [`ScenarioWorld`] methods.

pub mod context;
pub mod evidence;
pub mod expect;
pub mod params;
pub mod world;

pub use context::RunContext;
pub use evidence::{FaultEntry, ScenarioEvidence};
pub use expect::Expect;
pub use world::{ScenarioError, ScenarioWorld, StepResult};
