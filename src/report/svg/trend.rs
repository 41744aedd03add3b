//! The trend over runs: the reliability score of each run, oldest first,
//! a dot per run coloured by its verdict.

use std::fmt::Write as _;

use super::{Scale, WIDTH, esc, open, y_tick};

const LEFT: f64 = 44.0;
const RIGHT: f64 = WIDTH - 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 172.0;

/// One run on the trend.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// The run id.
    pub label: String,
    /// Its score, 0 to 100.
    pub score: f64,
    /// Whether it passed.
    pub passed: bool,
}

/// The score trend over `points` (oldest first).
pub fn trend(points: &[TrendPoint]) -> String {
    let mut out = String::with_capacity(4096);
    open(&mut out, "trend", BOTTOM + 30.0, "reliability score over runs");
    let y = Scale::new(0.0, 100.0, BOTTOM, TOP);
    out.push_str(r#"<g class="axis y">"#);
    for v in [0.0, 25.0, 50.0, 75.0, 100.0] {
        y_tick(&mut out, LEFT, RIGHT, y.at(v), &v.to_string());
    }
    out.push_str("</g>");
    let n = points.len();
    let x = Scale::new(0.0, n.saturating_sub(1).max(1) as f64, LEFT + 10.0, RIGHT - 10.0);
    let at = |i: usize| if n == 1 { (LEFT + RIGHT) / 2.0 } else { x.at(i as f64) };
    if n > 1 {
        let d: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}{:.1} {:.1}", if i == 0 { 'M' } else { 'L' }, at(i), y.at(p.score)))
            .collect();
        let _ = write!(
            out,
            r##"<path class="line score" d="{}" fill="none" stroke="#1f4e9c" stroke-width="1.5"/>"##,
            d.join("")
        );
    }
    for (i, p) in points.iter().enumerate() {
        let colour = if p.passed { "#2e9d5b" } else { "#c9302c" };
        let _ = write!(
            out,
            r#"<circle class="point {}" cx="{:.1}" cy="{:.1}" r="4.5" fill="{colour}"><title>{}: score {:.1}, {}</title></circle>"#,
            if p.passed { "passed" } else { "failed" },
            at(i),
            y.at(p.score),
            esc(&p.label),
            p.score,
            if p.passed { "passed" } else { "failed" }
        );
    }
    if n == 0 {
        let _ = write!(out, r#"<text x="{:.1}" y="{:.1}">no runs yet</text>"#, LEFT + 10.0, BOTTOM / 2.0);
    }
    let _ = write!(
        out,
        r#"<text x="{LEFT}" y="{:.1}">oldest</text><text x="{RIGHT}" y="{:.1}" text-anchor="end">newest</text></svg>"#,
        BOTTOM + 20.0,
        BOTTOM + 20.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dot_per_run_and_a_line_through_them() {
        let pts: Vec<TrendPoint> = [(90.0, true), (40.0, false), (100.0, true)]
            .iter()
            .enumerate()
            .map(|(i, (s, p))| TrendPoint { label: format!("run-{i}<"), score: *s, passed: *p })
            .collect();
        let svg = trend(&pts);
        assert_eq!(svg.matches(r#"class="point passed""#).count(), 2);
        assert_eq!(svg.matches(r#"class="point failed""#).count(), 1);
        let d = svg.split(r#"class="line score" d=""#).nth(1).unwrap().split('"').next().unwrap();
        assert!(d.starts_with('M') && d.matches('L').count() == 2, "{d}");
        assert!(svg.contains("run-1&lt;: score 40.0, failed"));
        // 100 is at the top, 40 lower down.
        assert!(svg.contains(&format!(r#"cy="{:.1}""#, TOP)));
        assert!(trend(&[]).contains("no runs yet"));
        assert_eq!(trend(&pts[..1]).matches("class=\"line").count(), 0, "one run: a dot, no line");
    }
}
