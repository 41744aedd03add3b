//! What every scenario of one run shares: the seed, the base spec of the
//! local backend, where output goes, the live progress lines and the
//! evidence finished scenarios hand in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use super::evidence::ScenarioEvidence;
use crate::backend::BackendConfig;
use crate::backend::local::EnsembleSpec;

/// The run-wide context.
#[derive(Debug)]
pub struct RunContext {
    /// The run's seed; each scenario derives its own from it.
    pub seed: u64,
    /// The template for local ensembles (work dir, pool, heap, tick); on
    /// every backend, the heap and tick of new ensembles.
    pub base: EnsembleSpec,
    /// Where ensembles are stood up.
    pub backend: BackendConfig,
    /// The run's output directory (`reports/<run-id>`).
    pub out_dir: PathBuf,
    /// When set, random schedules run only the faults at these positions
    /// (0-based, at their original offsets): how a failing schedule is
    /// shrunk and its smallest failing form replayed.
    pub schedule_subset: Option<Vec<usize>>,
    names: AtomicU32,
    live: Mutex<BTreeMap<String, String>>,
    ops: Mutex<BTreeMap<String, String>>,
    evidence: Mutex<Vec<ScenarioEvidence>>,
}

/// FNV-1a, for stable per-name seeds and directory suffixes.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl RunContext {
    /// A context writing under `out_dir`, on the local backend.
    pub fn new(seed: u64, base: EnsembleSpec, out_dir: PathBuf) -> Self {
        Self {
            seed,
            base,
            backend: BackendConfig::Local,
            out_dir,
            schedule_subset: None,
            names: AtomicU32::new(0),
            live: Mutex::default(),
            ops: Mutex::default(),
            evidence: Mutex::default(),
        }
    }

    /// The same, standing ensembles up on `backend`.
    pub fn with_backend(mut self, backend: BackendConfig) -> Self {
        self.backend = backend;
        self
    }

    /// The same, random schedules keeping only the faults at `subset`.
    pub fn with_schedule_subset(mut self, subset: Option<Vec<usize>>) -> Self {
        self.schedule_subset = subset;
        self
    }

    /// The seed of the scenario keyed `key`.
    pub fn scenario_seed(&self, key: &str) -> u64 {
        self.seed ^ fnv(key)
    }

    /// Where scenario `key` writes its history while it runs (the report
    /// then files it under `scenarios/<nn>-<name>/bundle`).
    pub fn scenario_dir(&self, key: &str) -> PathBuf {
        let slug: String = key
            .rsplit('/')
            .next()
            .unwrap_or(key)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect();
        let slug: String = slug.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
        self.out_dir.join("work").join(format!("{}-{:04x}", &slug[..slug.len().min(48)], fnv(key) & 0xffff))
    }

    /// A cluster name unique on this machine for `base` (several scenarios
    /// and runs may all ask for "zk").
    pub fn unique_name(&self, base: &str) -> String {
        let n = self.names.fetch_add(1, Ordering::Relaxed);
        format!("{base}-{:x}{n}", std::process::id() & 0xfff)
    }

    /// Set what scenario `key` is doing now (empty clears it).
    pub fn set_live(&self, key: &str, what: String) {
        self.live.lock().expect("not poisoned").insert(key.to_string(), what);
    }

    /// Set scenario `key`'s workload figures (empty clears them).
    pub fn set_ops(&self, key: &str, ops: String) {
        self.ops.lock().expect("not poisoned").insert(key.to_string(), ops);
    }

    /// What scenario `key` is doing now, and its workload's figures.
    pub fn live(&self, key: &str) -> String {
        let what = self.live.lock().expect("not poisoned").get(key).cloned().unwrap_or_default();
        let ops = self.ops.lock().expect("not poisoned").get(key).cloned().unwrap_or_default();
        match (what.is_empty(), ops.is_empty()) {
            (_, true) => what,
            (true, false) => ops,
            (false, false) => format!("{what} · {ops}"),
        }
    }

    /// Hand in a finished scenario's evidence.
    pub fn push_evidence(&self, e: ScenarioEvidence) {
        self.live.lock().expect("not poisoned").remove(&e.name);
        self.ops.lock().expect("not poisoned").remove(&e.name);
        self.evidence.lock().expect("not poisoned").push(e);
    }

    /// Take every scenario's evidence handed in so far.
    pub fn take_evidence(&self) -> Vec<ScenarioEvidence> {
        std::mem::take(&mut *self.evidence.lock().expect("not poisoned"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_and_dirs_are_stable_per_key_and_differ_between_keys() {
        let c = RunContext::new(7, EnsembleSpec::new("x", 3, "3.8.0"), PathBuf::from("/tmp/r"));
        assert_eq!(c.scenario_seed("a.feature:3"), c.scenario_seed("a.feature:3"));
        assert_ne!(c.scenario_seed("a.feature:3"), c.scenario_seed("a.feature:9"));
        let d = c.scenario_dir("features/leader_loss.feature:12");
        assert!(d.starts_with("/tmp/r/work"), "{d:?}");
        assert!(d.to_string_lossy().contains("leader-loss-feature-12-"), "{d:?}");
        assert_ne!(c.unique_name("zk"), c.unique_name("zk"));
    }
}
