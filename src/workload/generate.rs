//! The generator: which operation each client invokes next. Seeded per
//! client, so the same seed gives the same sequence of operation kinds, keys
//! and values. (A CAS carries the version the client last saw of its key,
//! which depends on what the servers answered; everything else is fixed by
//! the seed.)

use std::collections::HashMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

use crate::history::{Call, Value};

/// Relative weights of the operation kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpMix {
    /// `create`.
    pub create: u32,
    /// Unconditional `setData`.
    pub set: u32,
    /// `setData` with the last seen version.
    pub cas: u32,
    /// `delete`.
    pub delete: u32,
    /// Plain `getData`.
    pub get: u32,
    /// `sync` + `getData`.
    pub sync_get: u32,
    /// `exists`.
    pub exists: u32,
    /// `multi` of two sets.
    pub multi: u32,
    /// Sequential create in the append-only log.
    pub append: u32,
}

impl Default for OpMix {
    fn default() -> Self {
        Self { create: 10, set: 20, cas: 15, delete: 3, get: 15, sync_get: 15, exists: 5, multi: 5, append: 12 }
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    /// Concurrent clients, each with its own session.
    pub clients: u32,
    /// Total target rate in ops/s; `None` runs each client as fast as its
    /// previous operation completes (closed loop).
    pub rate: Option<f64>,
    /// How long to run.
    #[serde(with = "humantime_secs")]
    pub duration: Duration,
    /// Number of keys (znodes `<root>/k<n>`).
    pub keys: u32,
    /// Size of each written value in bytes.
    pub value_size: usize,
    /// Operation mix.
    pub mix: OpMix,
    /// Seed of the generators.
    pub seed: u64,
    /// The run's root znode.
    pub root: String,
}

mod humantime_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Duration::try_from_secs_f64(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl WorkloadSpec {
    /// `clients` clients over `keys` keys for `duration`, default mix.
    pub fn new(root: &str, clients: u32, keys: u32, duration: Duration, seed: u64) -> Self {
        Self { clients, rate: None, duration, keys, value_size: 32, mix: OpMix::default(), seed, root: root.into() }
    }
    /// The path of key `n`.
    pub fn key(&self, n: u32) -> String {
        format!("{}/k{n}", self.root)
    }
    /// The append-only log's directory.
    pub fn log_dir(&self) -> String {
        format!("{}/log", self.root)
    }
    /// Every key path.
    pub fn key_paths(&self) -> Vec<String> {
        (0..self.keys).map(|k| self.key(k)).collect()
    }
}

/// One client's generator.
pub struct Generator {
    rng: StdRng,
    client: u32,
    seq: u64,
    spec: WorkloadSpec,
    total: u32,
}

impl Generator {
    /// The generator of `client`, seeded from the spec's seed.
    pub fn new(spec: &WorkloadSpec, client: u32) -> Self {
        let m = &spec.mix;
        let total = m.create + m.set + m.cas + m.delete + m.get + m.sync_get + m.exists + m.multi + m.append;
        let seed = spec.seed ^ (u64::from(client).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        Self { rng: StdRng::seed_from_u64(seed), client, seq: 0, spec: spec.clone(), total: total.max(1) }
    }

    fn value(&mut self) -> Value {
        self.seq += 1;
        Value::sized(self.client, self.seq, self.spec.value_size)
    }

    fn key(&mut self) -> String {
        let k = self.rng.random_range(0..self.spec.keys.max(1));
        self.spec.key(k)
    }

    /// The next call; `versions` holds the data version this client last
    /// saw per key (for CAS).
    pub fn next_call(&mut self, versions: &HashMap<String, i32>) -> Call {
        let m = self.spec.mix.clone();
        let mut pick = self.rng.random_range(0..self.total);
        let mut take = |w: u32| {
            if pick < w {
                true
            } else {
                pick -= w;
                false
            }
        };
        if take(m.create) {
            let path = self.key();
            Call::Create { path, value: self.value() }
        } else if take(m.set) {
            let path = self.key();
            Call::Set { path, value: self.value() }
        } else if take(m.cas) {
            let path = self.key();
            let expected_version = versions.get(&path).copied().unwrap_or(0);
            Call::Cas { path, value: self.value(), expected_version }
        } else if take(m.delete) {
            Call::Delete { path: self.key(), expected_version: None }
        } else if take(m.get) {
            Call::Get { path: self.key() }
        } else if take(m.sync_get) {
            Call::SyncGet { path: self.key() }
        } else if take(m.exists) {
            Call::Exists { path: self.key() }
        } else if take(m.multi) {
            let (a, b) = (self.key(), self.key());
            let (va, vb) = (self.value(), self.value());
            Call::Multi { ops: vec![Call::Set { path: a, value: va }, Call::Set { path: b, value: vb }] }
        } else {
            let prefix = format!("{}/e-", self.spec.log_dir());
            Call::CreateSequential { prefix, value: self.value() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: u64) -> WorkloadSpec {
        WorkloadSpec::new("/r", 4, 10, Duration::from_secs(1), seed)
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let none = HashMap::new();
        let run = |seed| {
            let mut g = Generator::new(&spec(seed), 2);
            (0..200).map(|_| g.next_call(&none)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let mut other = Generator::new(&spec(7), 3);
        assert_ne!(run(7)[..20], (0..20).map(|_| other.next_call(&none)).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn the_mix_produces_every_kind_and_unique_values() {
        let mut g = Generator::new(&spec(1), 0);
        let calls: Vec<Call> = (0..2000).map(|_| g.next_call(&HashMap::new())).collect();
        let kind = |c: &Call| std::mem::discriminant(c);
        let kinds: std::collections::HashSet<_> = calls.iter().map(kind).collect();
        assert_eq!(kinds.len(), 9);
        let mut values = std::collections::HashSet::new();
        for c in &calls {
            let vs: Vec<Value> = match c {
                Call::Create { value, .. } | Call::Set { value, .. } | Call::Cas { value, .. } => vec![*value],
                Call::CreateSequential { value, .. } => vec![*value],
                Call::Multi { ops } => ops
                    .iter()
                    .filter_map(|o| match o {
                        Call::Set { value, .. } => Some(*value),
                        _ => None,
                    })
                    .collect(),
                _ => vec![],
            };
            for v in vs {
                assert!(values.insert(v), "values are unique");
                assert_eq!(v.to_string().len(), 32);
            }
        }
    }
}
