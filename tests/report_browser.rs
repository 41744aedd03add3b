//! The report as a person sees it: rendered from a run record (synthetic
//! recorded runs judged by the real checkers, with a linearizability
//! violation and a lost write, and markup in a step, a fault and a log
//! line), opened in headless Chromium. It must load with no console error
//! (the page's Content-Security-Policy turns any attempt to load or run
//! something into one), every chart must be drawn with data, hostile text
//! must show as text, and a screenshot is saved in `target/report-test/`.
//! A control page proves the error detection itself works.

#[path = "support/chromium.rs"]
mod chromium;
#[path = "support/not_run.rs"]
mod not_run;
#[path = "support/sample.rs"]
mod sample;
#[path = "support/synthetic.rs"]
mod synthetic;

use std::path::PathBuf;

use chromium::{Browser, REPORT_DOM_CHECK};
use serde_json::Value;
use zk_chaos::report;

fn out_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/report-test");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn chart<'a>(dom: &'a Value, name: &str) -> Vec<&'a Value> {
    dom["charts"].as_array().unwrap().iter().filter(|c| c["name"] == name).collect()
}

#[test]
fn the_report_loads_cleanly_in_chromium_with_every_chart_drawn() {
    let Some(bin) = chromium::find(&not_run::test_name!()) else { return };
    let reports = out_dir().join("reports");
    let _ = std::fs::remove_dir_all(&reports);
    let record = sample::record(6_000, 20);
    let run_dir = report::run_dir(&reports, &record);
    let w = report::write(&record, &run_dir).unwrap();
    let index = report::write_index(&reports).unwrap();

    let mut browser = Browser::launch(&bin);
    let page = browser.open(&w.html, REPORT_DOM_CHECK, true);
    let shot = out_dir().join("report.png");
    std::fs::write(&shot, page.screenshot.as_ref().unwrap()).unwrap();
    eprintln!(
        "screenshot: {} ({} bytes); page: {}",
        shot.display(),
        page.screenshot.as_ref().unwrap().len(),
        w.html.display()
    );
    for warning in &page.warnings {
        eprintln!("console warning: {warning}");
    }
    assert!(page.errors.is_empty(), "console errors: {:#?}", page.errors);

    let dom = &page.dom;
    assert_eq!(dom["verdict"], "FAILED");
    assert!(dom["title"].as_str().unwrap().contains(&record.run_id));
    assert_eq!(dom["scripts"], 0, "no script element, not even injected ones");
    assert_eq!(dom["images"], 0);
    // Two scenarios recorded a workload: a timeline and role lanes each;
    // the failing one has the linearizability lane view.
    let expect = [("timeline", 2), ("roles", 2), ("linearizability", 1)];
    for (name, n) in expect {
        let charts = chart(dom, name);
        assert_eq!(charts.len(), n, "{name}: {charts:?}");
        for c in charts {
            assert!(
                c["width"].as_f64().unwrap() > 600.0 && c["height"].as_f64().unwrap() > 80.0,
                "{name} laid out: {c}"
            );
            let (els, drawn) = (c["elements"].as_u64().unwrap(), c["drawn"].as_u64().unwrap());
            assert!(drawn >= 5 && drawn * 10 >= els * 9, "{name}: {drawn} of {els} data elements drawn");
        }
    }
    // Every second of a 20 s workload has a throughput bar.
    assert!(chart(dom, "timeline")[0]["elements"].as_u64().unwrap() >= 20);
    let text = dom["text"].as_str().unwrap();
    for hostile in [sample::HOSTILE_STEP, sample::HOSTILE_LOG, "<again>"] {
        assert!(text.contains(hostile), "{hostile} is shown as text");
    }
    assert!(text.contains("Lost writes\n1") || text.contains("LOST WRITES\n1"), "the lost write is counted");
    assert!(text.contains(report::score::FORMULA), "the score's formula is on the page");
    let hrefs: Vec<&str> = dom["hrefs"].as_array().unwrap().iter().filter_map(|h| h.as_str()).collect();
    assert!(hrefs.iter().all(|h| !h.starts_with("javascript:")), "{hrefs:?}");
    assert!(hrefs.contains(&"record.json") && hrefs.contains(&"junit.xml") && hrefs.contains(&"cucumber.json"));

    let page = browser.open(&index, REPORT_DOM_CHECK, true);
    std::fs::write(out_dir().join("index.png"), page.screenshot.as_ref().unwrap()).unwrap();
    assert!(page.errors.is_empty(), "console errors on the index: {:#?}", page.errors);
    let trend = chart(&page.dom, "trend");
    assert_eq!(trend.len(), 1);
    assert_eq!(trend[0]["drawn"], 1, "one run, one point");
}

/// The detection the test above relies on: a page whose script throws and
/// a report-style page (with its Content-Security-Policy) that tries to run
/// a script both produce console errors.
#[test]
fn the_browser_check_sees_console_errors_and_blocked_content() {
    let Some(bin) = chromium::find(&not_run::test_name!()) else { return };
    let dir = tempfile::tempdir().unwrap();
    let throws = dir.path().join("throws.html");
    std::fs::write(&throws, "<!doctype html><title>t</title><p>x</p><script>throw new Error('boom')</script>").unwrap();
    let blocked = dir.path().join("blocked.html");
    std::fs::write(
        &blocked,
        r#"<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><title>b</title><svg class="chart" data-chart="x"></svg><script>document.title = 'ran'</script>"#,
    )
    .unwrap();
    let mut browser = Browser::launch(&bin);
    let p = browser.open(&throws, REPORT_DOM_CHECK, false);
    assert!(p.errors.iter().any(|e| e.contains("boom")), "{:?}", p.errors);
    let p = browser.open(&blocked, REPORT_DOM_CHECK, false);
    assert!(p.errors.iter().any(|e| e.contains("Content Security Policy")), "{:?}", p.errors);
    assert_eq!(p.dom["title"], "b", "the script did not run");
    let empty = chart(&p.dom, "x");
    assert_eq!(empty[0]["drawn"], 0, "an empty chart is seen as empty");
}
