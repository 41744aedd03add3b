//! The timeline of a scenario: throughput per second (ok, failed, unknown,
//! stacked) above latency p50/p99 (log scale), with fault windows shaded
//! and labelled, write-unavailability windows under the axis, operator
//! actions and leader changes marked.

use std::fmt::Write as _;

use super::{Scale, WIDTH, clip, esc, nice_max, nice_step, open, seconds_axis, trim_num, y_tick};
use crate::report::evidence::{Bucket, Evidence};
use crate::report::format;

/// Most bars drawn; longer series are merged into wider columns.
pub const MAX_BARS: usize = 600;

/// Left edge of the plot area (shared with the role lanes).
pub(crate) const LEFT: f64 = 72.0;
/// Right edge of the plot area.
pub(crate) const RIGHT: f64 = WIDTH - 16.0;
const THR_TOP: f64 = 40.0;
const THR_BOT: f64 = 200.0;
const LAT_TOP: f64 = 222.0;
const LAT_BOT: f64 = 322.0;
const UNAVAIL_Y: f64 = 328.0;
const AXIS_Y: f64 = 336.0;
const HEIGHT: f64 = 376.0;

struct Col {
    t0: f64,
    t1: f64,
    b: Bucket,
}

/// Merge buckets `k` at a time: counts add up, p50 is the count-weighted
/// mean of the p50s, p99 the maximum of the p99s.
fn columns(buckets: &[Bucket], bucket_s: f64) -> Vec<Col> {
    let k = buckets.len().div_ceil(MAX_BARS).max(1);
    buckets
        .chunks(k)
        .enumerate()
        .map(|(i, chunk)| {
            let mut b = Bucket::default();
            let (mut weight, mut p50_sum) = (0u64, 0f64);
            for c in chunk {
                b.ok += c.ok;
                b.failed += c.failed;
                b.unknown += c.unknown;
                b.p99_us = b.p99_us.max(c.p99_us);
                if c.p50_us > 0 {
                    let w = u64::from(c.ok + c.failed + c.unknown).max(1);
                    weight += w;
                    p50_sum += c.p50_us as f64 * w as f64;
                }
            }
            if weight > 0 {
                b.p50_us = (p50_sum / weight as f64).round() as u64;
            }
            let t0 = (i * k) as f64 * bucket_s;
            Col { t0, t1: t0 + chunk.len() as f64 * bucket_s, b }
        })
        .collect()
}

fn latency_label(us: f64) -> String {
    if us >= 1e6 {
        format!("{} s", trim_num(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", trim_num(us / 1e3))
    } else {
        format!("{} µs", trim_num(us))
    }
}

/// The end of the time axis, ns: the latest thing the scenario's charts show
/// (shared by the timeline and the role lanes so they line up).
pub(crate) fn end_ns(ev: &Evidence) -> u64 {
    let series = ev.series.buckets.len() as u64 * ev.series.bucket_ns;
    let faults = ev.faults.iter().map(|f| f.heal_ns.unwrap_or(f.start_ns)).max().unwrap_or(0);
    let actions = ev.operator_actions.iter().map(|a| a.at_ns).max().unwrap_or(0);
    let probes = ev.probes.as_ref().and_then(|p| p.states.last()).map_or(0, |s| s.until_ns);
    let windows = ev.availability.windows.iter().map(|w| w.end_ns).max().unwrap_or(0);
    series.max(faults).max(actions).max(probes).max(windows).max(1_000_000_000)
}

/// The timeline chart of one scenario's evidence.
pub fn timeline(ev: &Evidence) -> String {
    let mut out = String::with_capacity(16 * 1024);
    open(&mut out, "timeline", HEIGHT, "throughput and latency over time, with faults");
    let t1 = end_ns(ev) as f64 / 1e9;
    let x = Scale::new(0.0, t1, LEFT, RIGHT);
    let bucket_s = ev.series.bucket_ns.max(1) as f64 / 1e9;
    let cols = columns(&ev.series.buckets, bucket_s);
    let end_of = |start: u64, heal: Option<u64>| heal.map_or(t1, |h| h as f64 / 1e9).max(start as f64 / 1e9);

    // Fault windows, behind everything, labelled above the panels.
    out.push_str(r#"<g class="faults">"#);
    for (i, f) in ev.faults.iter().enumerate() {
        let (x0, x1) = (x.at(f.start_ns as f64 / 1e9), x.at(end_of(f.start_ns, f.heal_ns)));
        let title = format!(
            "F{}: {} ({} – {})",
            i + 1,
            f.description,
            format::at(f.start_ns),
            f.heal_ns.map_or("never healed".into(), format::at)
        );
        let ly = if i % 2 == 0 { 14.0 } else { 30.0 };
        let _ = write!(
            out,
            r##"<g><title>{}</title><rect class="fault" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#d9534f" fill-opacity="0.13"/><line x1="{x0:.1}" y1="{:.1}" x2="{x0:.1}" y2="{LAT_BOT:.1}" stroke="#d9534f" stroke-width="1"/><text class="fault-label" x="{:.1}" y="{ly:.1}" fill="#a02622">{}</text></g>"##,
            esc(&title),
            ly - 10.0,
            (x1 - x0).max(1.5),
            LAT_BOT - ly + 10.0,
            ly - 10.0,
            x0 + 2.0,
            esc(&clip(&format!("F{} {}", i + 1, f.description), 28))
        );
    }
    out.push_str("</g>");

    // Throughput, stacked.
    let max_total = cols.iter().map(|c| c.b.ok + c.b.failed + c.b.unknown).max().unwrap_or(0);
    // Bars show operations per bucket (per merged column when merged).
    let per_col_max = nice_max(max_total as f64);
    let y = Scale::new(0.0, per_col_max, THR_BOT, THR_TOP);
    let step = nice_step(per_col_max, 4.0);
    out.push_str(r#"<g class="axis y">"#);
    let mut v = 0.0;
    while v <= per_col_max + 1e-9 {
        y_tick(&mut out, LEFT, RIGHT, y.at(v), &trim_num(v));
        v += step;
    }
    let unit = if cols.len() < ev.series.buckets.len() {
        format!("ops per {}", format::duration(((cols[0].t1 - cols[0].t0) * 1e9) as u64))
    } else {
        "ops/s".to_string()
    };
    let _ = write!(out, r#"<text x="4" y="{:.1}">{}</text></g>"#, THR_TOP - 2.0, esc(&unit));
    out.push_str(r#"<g class="throughput">"#);
    for c in &cols {
        let total = c.b.ok + c.b.failed + c.b.unknown;
        if total == 0 {
            continue;
        }
        let (x0, x1) = (x.at(c.t0), x.at(c.t1));
        let w = ((x1 - x0) * 0.85).max(0.6);
        let _ = write!(
            out,
            "<g><title>{} – {}: {} ok, {} failed, {} unknown; p50 {}, p99 {}</title>",
            trim_num(c.t0),
            format::at((c.t1 * 1e9) as u64),
            c.b.ok,
            c.b.failed,
            c.b.unknown,
            latency_label(c.b.p50_us as f64),
            latency_label(c.b.p99_us as f64)
        );
        let mut base = 0u32;
        for (n, class, colour) in
            [(c.b.ok, "ok", "#2e9d5b"), (c.b.failed, "failed", "#e8912d"), (c.b.unknown, "unknown", "#8e5ac8")]
        {
            if n == 0 {
                continue;
            }
            let (top, bot) = (y.at(f64::from(base + n)), y.at(f64::from(base)));
            let _ = write!(
                out,
                r#"<rect class="bar {class}" x="{x0:.2}" y="{top:.2}" width="{w:.2}" height="{:.2}" fill="{colour}"/>"#,
                (bot - top).max(0.5)
            );
            base += n;
        }
        out.push_str("</g>");
    }
    out.push_str("</g>");

    // Latency, log scale.
    let lat: Vec<&Col> = cols.iter().filter(|c| c.b.p50_us > 0).collect();
    if lat.is_empty() {
        let _ = write!(out, r#"<text x="{:.1}" y="{:.1}">no latency data</text>"#, LEFT + 8.0, LAT_TOP + 20.0);
    } else {
        let lo = lat.iter().map(|c| c.b.p50_us.max(1)).min().unwrap_or(1) as f64;
        let hi = lat.iter().map(|c| c.b.p99_us.max(c.b.p50_us).max(1)).max().unwrap_or(1) as f64;
        let (d0, d1) = (lo.log10().floor(), hi.log10().ceil().max(lo.log10().floor() + 1.0));
        let ly = Scale::new(d0, d1, LAT_BOT, LAT_TOP);
        out.push_str(r#"<g class="axis y">"#);
        let mut d = d0;
        while d <= d1 + 1e-9 {
            y_tick(&mut out, LEFT, RIGHT, ly.at(d), &latency_label(10f64.powf(d)));
            d += 1.0;
        }
        let _ = write!(out, r#"<text x="4" y="{:.1}">latency</text></g>"#, LAT_TOP - 6.0);
        for (class, colour, pick) in [
            ("p99", "#c9302c", (|b: &Bucket| b.p99_us) as fn(&Bucket) -> u64),
            ("p50", "#1f4e9c", |b: &Bucket| b.p50_us),
        ] {
            let mut d_attr = String::new();
            let mut prev_end: Option<f64> = None;
            for c in &lat {
                let v = pick(&c.b).max(1) as f64;
                let (px, py) = (x.at((c.t0 + c.t1) / 2.0), ly.at(v.log10()));
                let cmd = if prev_end.is_some_and(|e| (c.t0 - e).abs() < 1e-9) { 'L' } else { 'M' };
                let _ = write!(d_attr, "{cmd}{px:.1} {py:.1}");
                prev_end = Some(c.t1);
            }
            let _ = write!(
                out,
                r#"<path class="line {class}" d="{d_attr}" fill="none" stroke="{colour}" stroke-width="1.6"><title>latency {class}</title></path>"#
            );
        }
    }

    // Unavailability windows under the panels.
    out.push_str(r#"<g class="unavailability">"#);
    for w in &ev.availability.windows {
        let (x0, x1) = (x.at(w.start_ns as f64 / 1e9), x.at(w.end_ns as f64 / 1e9));
        let _ = write!(
            out,
            r##"<rect class="unavailable" x="{x0:.1}" y="{UNAVAIL_Y}" width="{:.1}" height="5" fill="#c9302c"><title>no acknowledged write for {} ({} – {}){}</title></rect>"##,
            (x1 - x0).max(1.0),
            format::duration(w.duration_ns),
            format::at(w.start_ns),
            format::at(w.end_ns),
            if w.until_end { ", until the end" } else { "" }
        );
    }
    out.push_str("</g>");

    // Leader changes and operator actions.
    out.push_str(r#"<g class="markers">"#);
    for lc in &ev.leader_changes {
        let px = x.at(lc.at_ns as f64 / 1e9);
        let _ = write!(
            out,
            r##"<g><title>{}: leader {} → {} (no leader for {})</title><line class="leader-change" x1="{px:.1}" y1="{THR_TOP}" x2="{px:.1}" y2="{LAT_BOT}" stroke="#5b2a86" stroke-width="1.5"/><text x="{:.1}" y="{:.1}" fill="#5b2a86">L {}→{}</text></g>"##,
            format::at(lc.at_ns),
            lc.from,
            lc.to,
            format::duration(lc.leaderless_ns),
            px + 3.0,
            THR_TOP + 12.0,
            lc.from,
            lc.to
        );
    }
    for a in &ev.operator_actions {
        let px = x.at(a.at_ns as f64 / 1e9);
        let _ = write!(
            out,
            r##"<g><title>{}: {}</title><line class="action" x1="{px:.1}" y1="{THR_TOP}" x2="{px:.1}" y2="{LAT_BOT}" stroke="#1a7f9c" stroke-dasharray="4 3"/><path d="M{px:.1} {:.1}l5 6l-5 6l-5 -6z" fill="#1a7f9c"/></g>"##,
            format::at(a.at_ns),
            esc(&a.text),
            THR_TOP - 12.0
        );
    }
    out.push_str("</g>");

    seconds_axis(&mut out, &x, t1, AXIS_Y, THR_TOP);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::availability::{Availability, Window};
    use crate::report::probes::LeaderChange;
    use crate::report::record::{FaultEntry, OperatorAction};

    fn evidence(seconds: usize) -> Evidence {
        let buckets = (0..seconds)
            .map(|i| Bucket {
                ok: 100 + (i % 7) as u32,
                failed: u32::from(i % 5 == 0),
                unknown: u32::from(i % 11 == 0),
                p50_us: 2000,
                p99_us: 9000 + i as u64,
            })
            .collect();
        Evidence {
            series: crate::report::evidence::Series { bucket_ns: 1_000_000_000, buckets },
            faults: vec![FaultEntry {
                name: "kill".into(),
                description: "SIGKILL leader <zk-2>".into(),
                targets: vec![2],
                start_ns: 3_000_000_000,
                heal_ns: Some(6_000_000_000),
            }],
            operator_actions: vec![OperatorAction { at_ns: 7_000_000_000, text: "reconfig -add 3 & <b>".into() }],
            leader_changes: vec![LeaderChange { at_ns: 4_000_000_000, from: 2, to: 0, leaderless_ns: 900_000_000 }],
            availability: Availability {
                threshold_ns: 1_000_000_000,
                writes: 1,
                ok_writes: 1,
                failed_writes: 0,
                unknown_writes: 0,
                windows: vec![Window {
                    start_ns: 3_000_000_000,
                    end_ns: 4_500_000_000,
                    duration_ns: 1_500_000_000,
                    until_end: false,
                }],
                longest_window: None,
                faults: vec![],
            },
            ..Evidence::default()
        }
    }

    #[test]
    fn every_element_is_drawn_and_labels_are_escaped() {
        let svg = timeline(&evidence(12));
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches(r#"class="bar ok""#).count(), 12);
        assert_eq!(svg.matches(r#"class="bar failed""#).count(), 3, "seconds 0, 5, 10");
        assert_eq!(svg.matches(r#"class="bar unknown""#).count(), 2, "seconds 0, 11");
        assert_eq!(svg.matches(r#"class="fault""#).count(), 1);
        assert_eq!(svg.matches(r#"class="leader-change""#).count(), 1);
        assert_eq!(svg.matches(r#"class="action""#).count(), 1);
        assert_eq!(svg.matches(r#"class="unavailable""#).count(), 1);
        assert!(svg.contains(r#"class="line p50" d="M"#) && svg.contains(r#"class="line p99" d="M"#));
        assert!(svg.contains("SIGKILL leader &lt;zk-2&gt;") && !svg.contains("<zk-2>"));
        assert!(svg.contains("reconfig -add 3 &amp; &lt;b&gt;"));
        // The fault window spans 3 s of a 12 s axis over 924 px.
        let w = svg.split(r#"class="fault" "#).nth(1).unwrap();
        let width: f64 = w.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        assert!((width - 3.0 / 12.0 * (RIGHT - LEFT)).abs() < 0.2, "{width}");
    }

    #[test]
    fn long_series_are_merged_into_at_most_max_bars_columns() {
        let svg = timeline(&evidence(3600));
        let bars = svg.matches(r#"class="bar ok""#).count();
        assert!((MAX_BARS / 2..=MAX_BARS).contains(&bars), "{bars}");
        assert!(svg.contains("ops per 6.00 s"), "merged columns say so");
        let cols = columns(&evidence(3600).series.buckets, 1.0);
        let total: u32 = cols.iter().map(|c| c.b.ok).sum();
        let expected: u32 = evidence(3600).series.buckets.iter().map(|b| b.ok).sum();
        assert_eq!(total, expected, "merging keeps every operation");
        assert_eq!(cols[0].b.p99_us, 9005, "p99 is the maximum of the merged buckets");
    }

    #[test]
    fn an_empty_series_still_draws_axes_and_faults() {
        let mut ev = evidence(0);
        ev.series.buckets.clear();
        let svg = timeline(&ev);
        assert!(svg.contains("no latency data"));
        assert_eq!(svg.matches(r#"class="bar "#).count(), 0);
        assert_eq!(svg.matches(r#"class="fault""#).count(), 1);
    }
}
