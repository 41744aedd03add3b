//! A seeded random schedule: every `period`, one of the given faults for
//! `duration`. Generating it is pure (same seed, same schedule); running it
//! starts and heals each fault in order and returns the fault records.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::FaultError;
use super::fault::{ActiveFault, Fault};
use super::target::FaultTarget;
use crate::workload::record::FaultRecord;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    /// One fault per period.
    pub period: Duration,
    /// How long each fault stays (at most `period`).
    pub duration: Duration,
    /// How many faults.
    pub count: usize,
    /// The faults to pick from.
    pub faults: Vec<Fault>,
    /// The seed of every random choice (fault, start within the period, and
    /// later the selectors' resolution).
    pub seed: u64,
}

/// One planned fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// Its position in the generated schedule (kept by [`Schedule::subset`];
    /// it also seeds the resolution of its selectors, so a fault resolves
    /// the same way with or without the others).
    pub index: usize,
    /// When to start it, from the start of the schedule.
    pub offset: Duration,
    /// How long to leave it in effect.
    pub duration: Duration,
    /// The fault.
    pub fault: Fault,
}

/// A deterministic list of faults.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The seed it came from (also seeds selector resolution when run).
    pub seed: u64,
    /// The faults, in order, never overlapping.
    pub entries: Vec<Scheduled>,
}

/// Seed offset of the resolution RNG, so it differs from the plan's stream.
const RESOLVE_STREAM: u64 = 0x006e_656d_6573_6973;

impl Schedule {
    /// Fault `i` starts at a random point of `[i*period, (i+1)*period -
    /// duration]` (millisecond steps), so faults never overlap.
    pub fn generate(spec: &ScheduleSpec) -> Result<Self, FaultError> {
        if spec.faults.is_empty() {
            return Err(FaultError::Invalid("a schedule needs at least one fault to pick from".into()));
        }
        if spec.duration.is_zero() || spec.duration > spec.period {
            return Err(FaultError::Invalid(format!(
                "fault duration {:?} must be positive and at most the period {:?}",
                spec.duration, spec.period
            )));
        }
        let mut rng = StdRng::seed_from_u64(spec.seed);
        let slack_ms = u64::try_from((spec.period - spec.duration).as_millis()).unwrap_or(u64::MAX);
        let entries = (0..spec.count)
            .map(|i| {
                let fault = spec.faults.choose(&mut rng).expect("not empty").clone();
                let jitter = Duration::from_millis(rng.random_range(0..=slack_ms));
                Scheduled { index: i, offset: spec.period * i as u32 + jitter, duration: spec.duration, fault }
            })
            .collect();
        Ok(Self { seed: spec.seed, entries })
    }

    /// Only the entries whose [`Scheduled::index`] is in `keep`, at their
    /// original offsets (for shrinking a failing schedule).
    pub fn subset(&self, keep: &[usize]) -> Self {
        let entries = self.entries.iter().filter(|e| keep.contains(&e.index)).cloned().collect();
        Self { seed: self.seed, entries }
    }

    /// When the last fault is healed, from the start.
    pub fn length(&self) -> Duration {
        self.entries.last().map_or(Duration::ZERO, |e| e.offset + e.duration)
    }
}

/// Faults in effect, shared between whoever starts them and whoever must
/// heal them at the end (a scenario's teardown): a schedule cancelled
/// part-way leaves its fault here instead of leaking it.
#[derive(Debug, Default)]
pub struct ActiveFaults(std::sync::Mutex<Vec<(u64, ActiveFault)>>);

impl ActiveFaults {
    /// Remember `fault`; returns a token to take it back with.
    pub fn push(&self, fault: ActiveFault) -> u64 {
        let mut v = self.0.lock().expect("not poisoned");
        let token = v.iter().map(|(t, _)| *t + 1).max().unwrap_or(0);
        v.push((token, fault));
        token
    }

    /// Take back the fault `token` names, when nobody healed it yet.
    pub fn take(&self, token: u64) -> Option<ActiveFault> {
        let mut v = self.0.lock().expect("not poisoned");
        let i = v.iter().position(|(t, _)| *t == token)?;
        Some(v.remove(i).1)
    }

    /// Take every fault still in effect, newest first.
    pub fn take_all(&self) -> Vec<ActiveFault> {
        let mut v = std::mem::take(&mut *self.0.lock().expect("not poisoned"));
        v.reverse();
        v.into_iter().map(|(_, f)| f).collect()
    }

    /// How many are in effect.
    pub fn len(&self) -> usize {
        self.0.lock().expect("not poisoned").len()
    }

    /// Whether none is in effect.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heal every fault still in effect (each heal runs even when another
    /// fails); returns the heal errors.
    pub async fn heal_all(&self, target: &dyn FaultTarget) -> Vec<FaultError> {
        let mut errors = Vec::new();
        for f in self.take_all() {
            if let Err(e) = f.heal(target).await {
                errors.push(e);
            }
        }
        errors
    }
}

/// Run `schedule` against `target`: start each fault at its offset (or as
/// soon as the previous one is healed), heal it `duration` after it took
/// effect, and record `(description, start, heal)` on `clock` (the history's
/// clock, e.g. `|| rec.now_ns()`). A fault that fails to start undoes its
/// own partial work; one that fails to heal still runs every heal step;
/// either way the error is returned with nothing left active. A fault in
/// effect sits in `active`, so when this future is dropped part-way the
/// owner of `active` heals it.
pub async fn run_schedule(
    target: &dyn FaultTarget,
    schedule: &Schedule,
    clock: impl Fn() -> u64,
    active: &ActiveFaults,
) -> Result<Vec<FaultRecord>, FaultError> {
    let begin = tokio::time::Instant::now();
    let mut records = Vec::with_capacity(schedule.entries.len());
    for entry in &schedule.entries {
        let mut rng = StdRng::seed_from_u64((schedule.seed ^ RESOLVE_STREAM).wrapping_add(entry.index as u64));
        tokio::time::sleep_until(begin + entry.offset).await;
        // Started when its action begins (see the world's `inject`).
        let started = clock();
        let fault = entry.fault.start(target, &mut rng).await?;
        let effects = fault.effects().to_vec();
        let description = fault.description().to_string();
        let token = active.push(fault);
        // Held from when the probes show it in effect (a killed member seen
        // down), never from before.
        super::effect::await_effects(target, &effects, super::effect::EFFECT_TIMEOUT).await?;
        tracing::info!(fault = description, "fault started");
        // In effect for the full duration from when it took effect.
        tokio::time::sleep(entry.duration).await;
        if let Some(fault) = active.take(token) {
            fault.heal(target).await?;
        }
        records.push((description, started, Some(clock())));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Selector;

    fn spec(seed: u64) -> ScheduleSpec {
        ScheduleSpec {
            period: Duration::from_secs(10),
            duration: Duration::from_secs(4),
            count: 20,
            faults: vec![
                Fault::Kill(Selector::Leader),
                Fault::Pause(Selector::RandomFollower),
                Fault::Split { minority: Selector::Minority },
                Fault::Bridge,
            ],
            seed,
        }
    }

    #[test]
    fn same_seed_same_schedule() {
        let a = Schedule::generate(&spec(7)).unwrap();
        assert_eq!(a, Schedule::generate(&spec(7)).unwrap());
        assert_ne!(a, Schedule::generate(&spec(8)).unwrap());
        assert_eq!(a.entries.len(), 20);
        // With 20 draws from 4 faults, more than one kind shows up.
        assert!(a.entries.iter().any(|e| e.fault != a.entries[0].fault));
    }

    #[test]
    fn faults_stay_in_their_period_and_never_overlap() {
        for seed in 0..50 {
            let s = Schedule::generate(&spec(seed)).unwrap();
            for (i, e) in s.entries.iter().enumerate() {
                let slot = Duration::from_secs(10) * i as u32;
                assert!(e.offset >= slot && e.offset + e.duration <= slot + Duration::from_secs(10), "{e:?}");
            }
            assert!(s.length() <= Duration::from_secs(200));
        }
    }

    #[test]
    fn a_subset_keeps_the_chosen_faults_at_their_offsets() {
        let full = Schedule::generate(&spec(3)).unwrap();
        let sub = full.subset(&[1, 4]);
        assert_eq!(sub.entries, vec![full.entries[1].clone(), full.entries[4].clone()]);
        assert_eq!(sub.entries[1].index, 4);
        assert!(full.subset(&[]).entries.is_empty());
    }

    #[test]
    fn malformed_specs_are_rejected() {
        let mut s = spec(1);
        s.duration = Duration::from_secs(11);
        assert!(matches!(Schedule::generate(&s), Err(FaultError::Invalid(_))));
        s.duration = Duration::ZERO;
        assert!(Schedule::generate(&s).is_err());
        let mut s = spec(1);
        s.faults.clear();
        assert!(Schedule::generate(&s).is_err());
        s.faults.push(Fault::Bridge);
        s.duration = s.period;
        assert_eq!(Schedule::generate(&s).unwrap().entries[3].offset, Duration::from_secs(30));
    }
}
