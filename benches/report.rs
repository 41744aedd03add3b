//! The report of a run with 10 scenarios over 1M recorded operations in
//! all (synthetic histories, 100k operations over 120 s each): summarising
//! the bundles into evidence, rendering every file, and the sizes written
//! (printed once before the measurements).

#[path = "../tests/support/sample.rs"]
mod sample;
#[path = "../tests/support/synthetic.rs"]
mod synthetic;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use zk_chaos::check::suite::{Bundle, SuiteReport};
use zk_chaos::report::{self, Evidence, RunRecord, ScenarioRecord};

fn record_of(evidences: Vec<Evidence>) -> RunRecord {
    let mut record = sample::assemble(evidences[0].clone(), evidences[1].clone());
    let template = record.features[0].scenarios[0].clone();
    record.features[0].scenarios = evidences
        .into_iter()
        .enumerate()
        .map(|(i, ev)| ScenarioRecord { name: format!("scenario {i}"), evidence: Some(ev), ..template.clone() })
        .collect();
    record.features.truncate(1);
    record
}

fn bench(c: &mut Criterion) {
    let bundles: Vec<Bundle> =
        (0..10).map(|i| synthetic::bundle(&synthetic::Spec::new(100_000, 120, 100 + i))).collect();
    let reports: Vec<SuiteReport> = bundles.iter().map(sample::summarise_only).collect();
    let summarise = || -> Vec<Evidence> {
        bundles.iter().zip(&reports).map(|(b, r)| Evidence::from_bundle(b, r).unwrap()).collect()
    };
    let record = record_of(summarise());
    let dir = tempfile::tempdir().unwrap();

    let t = Instant::now();
    let w = report::write(&record, dir.path()).unwrap();
    let sizes = |name: &str| std::fs::metadata(dir.path().join(name)).map_or(0, |m| m.len()) as f64 / 1e6;
    eprintln!(
        "report of 10 scenarios / 1M ops: written in {:.3} s; index.html {:.2} MB, record.json {:.2} MB, junit.xml {:.3} MB, cucumber.json {:.3} MB",
        t.elapsed().as_secs_f64(),
        sizes("index.html"),
        sizes("record.json"),
        sizes("junit.xml"),
        sizes("cucumber.json"),
    );
    drop(w);

    let mut g = c.benchmark_group("report_10_scenarios_1M_ops");
    g.sampling_mode(SamplingMode::Flat).sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("summarise bundles into evidence", |b| b.iter(|| black_box(summarise())));
    g.bench_function("render and write every file", |b| {
        b.iter(|| black_box(report::write(&record, dir.path()).unwrap()))
    });
    g.bench_function("render index.html only", |b| b.iter(|| black_box(report::html::render(&record).unwrap())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
