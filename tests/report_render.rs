//! The report from a run record to files, without a browser: every file is
//! written and parses, the page says what the real checkers found, text
//! from feature files and logs is escaped, `zk-chaos report` re-renders and
//! rejects bad input clearly, the index lists runs, and a run of 10
//! scenarios over 1M operations renders quickly into a few MB.

#[path = "support/sample.rs"]
mod sample;
#[path = "support/synthetic.rs"]
mod synthetic;

use std::process::Command;
use std::time::Instant;

use zk_chaos::check::Verdict;
use zk_chaos::report::{self, Evidence, RunRecord};

/// HTML entities back to text (the ones the renderers write).
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

fn verdict<'a>(ev: &'a Evidence, checker: &str) -> &'a Verdict {
    &ev.checks.iter().find(|c| c.checker == checker).unwrap().verdict
}

#[test]
fn a_sample_run_renders_into_every_file_and_says_what_the_checkers_found() {
    let record = sample::record(6_000, 20);
    let good = record.features[0].scenarios[0].evidence.as_ref().unwrap();
    let bad = record.features[0].scenarios[1].evidence.as_ref().unwrap();
    // The real checkers: the synthetic run is valid, the tampered one is not.
    for c in &good.checks {
        assert!(c.verdict.is_valid(), "{}: {:?}", c.checker, c.verdict);
    }
    assert!(verdict(bad, "linearizable-writes").is_invalid());
    assert!(verdict(bad, "durability-and-integrity").is_invalid());
    assert_eq!(bad.lost_writes, 1);
    let lf = bad.linearizability_failure.as_ref().expect("the lane view's data");
    assert!(lf.ops.iter().any(|o| o.blocked) && lf.ops.iter().any(|o| o.prefix_pos.is_some()));
    assert_eq!(good.leader_changes.len(), 1, "{:?}", good.leader_changes);
    assert!(good.recovery[0].time_to_leader_ns.is_some(), "{:?}", good.recovery[0]);
    assert!(!good.availability.windows.is_empty(), "the outage is a window");

    let dir = tempfile::tempdir().unwrap();
    let run_dir = report::run_dir(dir.path(), &record);
    let w = report::write(&record, &run_dir).unwrap();
    for f in [&w.record, &w.html, &w.junit, &w.cucumber] {
        assert!(std::fs::metadata(f).unwrap().len() > 0, "{}", f.display());
    }
    assert_eq!(RunRecord::load(&run_dir).unwrap(), record, "record.json round-trips");
    let html = std::fs::read_to_string(&w.html).unwrap();
    assert_eq!(html.matches(r#"data-chart="timeline""#).count(), 2);
    assert_eq!(html.matches(r#"data-chart="roles""#).count(), 2);
    assert_eq!(html.matches(r#"data-chart="linearizability""#).count(), 1);
    assert_eq!(html.matches(r#"<section class="scenario "#).count(), 3);
    assert!(html.contains(r#"<div class="verdict" id="verdict">FAILED</div>"#));
    let lost = html.split("Lost writes</div>").nth(1).unwrap();
    assert!(lost.trim_start().starts_with(r#"<div class="big">1</div>"#), "{}", &lost[..80]);
    let s = report::score::score(&record);
    assert!(html.contains(&s.computation), "the score's computation is on the page");
    assert!(html.contains(report::score::FORMULA));
    assert!(s.value > 0.0 && s.value < 50.0, "two violations halve twice: {s:?}");
    // The failing step and its message are shown with the step.
    assert!(html.contains("linearizable-writes: INVALID &lt;script&gt;"));
    assert!(html.contains(r#"<tr class="step failed">"#));

    let xml = std::fs::read_to_string(&w.junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 3);
    let failure = cases[1].children().find(|n| n.has_tag_name("failure")).unwrap();
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .starts_with("Then the history is linearizable: linearizable-writes: INVALID")
    );
    let cucumber: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&w.cucumber).unwrap()).unwrap();
    assert_eq!(cucumber.as_array().unwrap().len(), 2);
    assert_eq!(cucumber[0]["elements"][1]["steps"][2]["result"]["status"], "failed");
}

#[test]
fn text_from_feature_files_logs_and_faults_is_escaped() {
    let record = sample::record(2_000, 10);
    let html = report::html::render(&record).unwrap();
    for raw in
        ["<script>alert('step')</script>", "<img src=x onerror", "<b>zk-0</b>", "<script>alert('error')", "<again>"]
    {
        assert!(!html.contains(raw), "{raw} reached the page unescaped");
    }
    let text = unescape(&html);
    assert!(text.contains(sample::HOSTILE_STEP), "the step is shown, as text");
    assert!(text.contains(sample::HOSTILE_LOG), "the log line is shown, as text");
    assert!(html.contains("SIGKILL leader &lt;b&gt;zk-0&lt;/b&gt;"), "the fault, escaped, in the charts");
    assert!(!html.contains("href=\"javascript:"), "a scheme link is not linked");
    assert!(html.contains("javascript:alert("), "but shown as text");
    assert_eq!(html.matches("<script").count(), 0, "the page has no script at all");
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_zk-chaos")).args(args).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn zk_chaos_report_re_renders_an_old_run_and_rejects_bad_input_clearly() {
    let root = tempfile::tempdir().unwrap();
    let record = sample::record(2_000, 10);
    let run_dir = report::run_dir(root.path(), &record);
    report::write(&record, &run_dir).unwrap();
    let record_bytes = std::fs::read(run_dir.join("record.json")).unwrap();
    for f in ["index.html", "junit.xml", "cucumber.json"] {
        std::fs::remove_file(run_dir.join(f)).unwrap();
    }
    let (ok, out, _) = cli(&["report", "--help"]);
    assert!(ok && out.contains("Examples:") && out.contains("--index"), "{out}");
    let (ok, out, err) = cli(&["report", run_dir.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("index.html"), "{out}");
    for f in ["index.html", "junit.xml", "cucumber.json"] {
        assert!(run_dir.join(f).is_file(), "{f} re-rendered");
    }
    assert_eq!(std::fs::read(run_dir.join("record.json")).unwrap(), record_bytes, "the record is left as it was");
    let page = std::fs::read_to_string(run_dir.join("index.html")).unwrap();
    assert!(page.contains(&record.run_id) && page.contains(r#"data-chart="linearizability""#));

    // A second run that passed, and one whose record is broken.
    let mut passed = sample::record(2_000, 10);
    passed.features[0].scenarios.remove(1);
    passed.run_id = format!("{}-b", passed.run_id);
    report::write(&passed, &report::run_dir(root.path(), &passed)).unwrap();
    let broken = root.path().join("broken-run");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("record.json"), "{\n  \"schema_version\": 1,\n  \"run_id\": [\n}").unwrap();
    let (ok, out, err) = cli(&["report", "--index", root.path().to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let index = std::fs::read_to_string(root.path().join("index.html")).unwrap();
    assert_eq!(index.matches(r#"<tr class="run "#).count(), 3);
    assert_eq!(index.matches(r#"<tr class="run passed""#).count(), 1);
    assert_eq!(index.matches(r#"<tr class="run unreadable""#).count(), 1);
    assert!(
        unescape(&index).contains("broken-run/record.json:4:1: not a run record"),
        "the broken record is listed with its error"
    );
    assert_eq!(index.matches(r#"class="point "#).count(), 2, "two readable runs on the trend");

    // Bad input names the file, with line and column for JSON.
    let (ok, _, err) = cli(&["report", broken.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("broken-run/record.json:4:1: not a run record"), "{err}");
    let missing = root.path().join("nope");
    let (ok, _, err) = cli(&["report", missing.to_str().unwrap()]);
    assert!(!ok && err.contains("nope: no such run directory"), "{err}");
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (ok, _, err) = cli(&["report", empty.to_str().unwrap()]);
    assert!(!ok && err.contains("empty/record.json: no such run record"), "{err}");
    let future = root.path().join("future");
    std::fs::create_dir_all(&future).unwrap();
    std::fs::write(
        future.join("record.json"),
        String::from_utf8(record_bytes).unwrap().replacen("\"schema_version\": 1", "\"schema_version\": 9", 1),
    )
    .unwrap();
    let (ok, _, err) = cli(&["report", future.to_str().unwrap()]);
    assert!(!ok && err.contains("future/record.json: schema version 9, this zk-chaos reads version 1"), "{err}");
}

#[test]
fn a_run_that_failed_early_still_gets_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = RunRecord::start(report::Environment::detect("local", vec![], None));
    r.error = Some("cannot provision ZooKeeper 3.9.3: no network".into());
    r.finish(std::time::Duration::from_millis(300));
    let w = report::write(&r, dir.path()).unwrap();
    let html = std::fs::read_to_string(&w.html).unwrap();
    assert!(html.contains("The run failed outside its scenarios") && html.contains("no network"));
    assert!(html.contains("No scenario ran."));
    let xml = std::fs::read_to_string(&w.junit).unwrap();
    assert!(roxmltree::Document::parse(&xml).unwrap().descendants().any(|n| n.has_tag_name("error")));
}

/// 10 scenarios over 1M operations in all: the report summarises them
/// (per-second buckets) and renders in well under 2 s into a few MB.
#[test]
fn ten_scenarios_over_a_million_operations_render_quickly_and_small() {
    let t = Instant::now();
    let bundles: Vec<_> = (0..10).map(|i| synthetic::bundle(&synthetic::Spec::new(100_000, 120, 100 + i))).collect();
    let generated = t.elapsed();
    let total_ops: usize = bundles
        .iter()
        .map(|b| b.events.iter().filter(|e| matches!(e, zk_chaos::history::Event::Invoke { .. })).count())
        .sum();
    assert_eq!(total_ops, 1_000_000);
    let t = Instant::now();
    let evidences: Vec<Evidence> =
        bundles.iter().map(|b| Evidence::from_bundle(b, &sample::summarise_only(b)).unwrap()).collect();
    let summarised = t.elapsed();
    let mut record = sample::assemble(evidences[0].clone(), evidences[1].clone());
    let template = record.features[0].scenarios[0].clone();
    record.features[0].scenarios = evidences
        .into_iter()
        .enumerate()
        .map(|(i, ev)| report::ScenarioRecord { name: format!("scenario {i}"), evidence: Some(ev), ..template.clone() })
        .collect();
    record.features.truncate(1);
    let dir = tempfile::tempdir().unwrap();
    let w = report::write(&record, dir.path()).unwrap();
    let record_bytes = std::fs::metadata(&w.record).unwrap().len();
    eprintln!(
        "MEASURE report: 10 scenarios, {total_ops} ops: generated in {:.2}s, summarised in {:.2}s, \
         rendered and written in {:.3}s; index.html {:.2} MB, record.json {:.2} MB ({} build)",
        generated.as_secs_f64(),
        summarised.as_secs_f64(),
        w.elapsed.as_secs_f64(),
        w.html_bytes as f64 / 1e6,
        record_bytes as f64 / 1e6,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    assert!(w.html_bytes < 4_000_000, "index.html is {} bytes", w.html_bytes);
    assert!(record_bytes < 4_000_000, "record.json is {record_bytes} bytes");
    let limit = if cfg!(debug_assertions) { 10.0 } else { 2.0 };
    assert!(w.elapsed.as_secs_f64() < limit, "rendering took {:?}", w.elapsed);
}

/// The "Lost writes" card is never green beside an invalid durability
/// verdict: an old record whose count missed a kind of loss (it read 0 for a
/// run with acknowledged writes rolled back) still shows the card as bad.
#[test]
fn the_lost_writes_card_is_bad_whenever_durability_is_invalid() {
    let mut record = sample::record(6_000, 20);
    let bad = record.features[0].scenarios[1].evidence.as_mut().unwrap();
    assert!(verdict(bad, "durability-and-integrity").is_invalid());
    bad.lost_writes = 0;
    let html = report::html::render(&record).unwrap();
    let card = html.split("Lost writes</div>").next().unwrap().rsplit("<div class=\"card").next().unwrap();
    assert!(card.trim_start().starts_with("bad"), "{card}");
    assert!(html.contains("durability INVALID in 1 scenario(s)"));
}

#[test]
fn the_report_shows_target_versus_achieved_rate_and_flags_a_run_below_target() {
    use zk_chaos::history::{Call, Event};
    use zk_chaos::workload::pace::{Target, pace};
    // 10 ops/s for 2 s: every slot started on time, or only the first 5.
    let events = |kept: u64| -> Vec<Event> {
        (0..kept)
            .map(|k| Event::Invoke {
                id: k,
                client: 0,
                session: 1,
                time_ns: k * 100_000_000,
                call: Call::Get { path: "/k".into() },
                intended_ns: Some(k * 100_000_000),
            })
            .collect()
    };
    let target = Target { rate: 10.0, clients: 4, start_ns: 0, stop_ns: 2_000_000_000 };
    let mut record = sample::record(2_000, 5);
    let scenarios = &mut record.features[0].scenarios;
    scenarios[0].evidence.as_mut().unwrap().pace = pace(&events(20), &target);
    scenarios[1].evidence.as_mut().unwrap().pace = pace(&events(6), &target);
    let dir = tempfile::tempdir().unwrap();
    let w = report::write(&record, &report::run_dir(dir.path(), &record)).unwrap();
    let html = std::fs::read_to_string(&w.html).unwrap();
    assert!(html.contains("target 10 ops/s, achieved 10 ops/s (20 of 20 due operations started)"), "kept");
    assert!(html.contains("target 10 ops/s, achieved 3 ops/s (6 of 20 due operations started, 14 still due"), "below");
    assert_eq!(html.matches("Below target").count(), 1, "only the run below its target is flagged");
    assert_eq!(html.matches(r#"class="pace below""#).count(), 1);
    assert_eq!(RunRecord::load(&w.dir).unwrap(), record, "the pace round-trips");
}

/// A bundle whose history was cut at a line boundary (its end-of-history
/// marker missing, as a SIGKILL between writes leaves it) is said to be
/// cut short in the scenario's evidence and on the page.
#[test]
fn the_report_says_when_a_scenarios_history_was_cut_short() {
    use zk_chaos::check::suite::Bundle;
    let mut record = sample::record(2_000, 5);
    let dir = tempfile::tempdir().unwrap();
    let bundle_dir = dir.path().join("bundle");
    let whole = synthetic::bundle(&synthetic::Spec::new(2_000, 5, 1));
    whole.save(&bundle_dir).unwrap();
    let h = bundle_dir.join("history.jsonl");
    let text = std::fs::read_to_string(&h).unwrap();
    let kept: String = text.lines().take(text.lines().count() - 1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&h, kept).unwrap();
    let cut = Bundle::load(&bundle_dir).unwrap();
    assert!(cut.history_cut.is_some());
    let ev = Evidence::from_bundle(&cut, &sample::judge(&cut)).unwrap();
    assert!(ev.history_cut.as_deref().unwrap().contains("cut short"), "{:?}", ev.history_cut);
    record.features[0].scenarios[0].evidence = Some(ev);
    let html = report::html::render(&record).unwrap();
    assert_eq!(html.matches(r#"<p class="cut">"#).count(), 1, "only the cut scenario");
    assert!(unescape(&html).contains("the history was cut short: it ends after line"), "the page says so");
}
