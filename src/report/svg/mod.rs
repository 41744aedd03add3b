//! Hand-written SVG charts for the report: no script, no external fonts;
//! every text that did not come from this module is escaped.
//!
//! Every chart is an `<svg class="chart" data-chart="NAME">` whose data
//! elements carry a class (`bar`, `fault`, `role`, `op`, `point`, ...), so
//! tests and people can find them.

mod lanes;
mod roles;
mod timeline;
mod trend;

use std::fmt::Write as _;

pub use lanes::lanes;
pub use roles::roles;
pub use timeline::{MAX_BARS, timeline};
pub use trend::{TrendPoint, trend};

/// The width of every chart's view box.
pub const WIDTH: f64 = 1000.0;

/// Escape text for SVG/XML content and attribute values (characters XML
/// cannot carry become U+FFFD).
pub fn esc(s: &str) -> String {
    crate::report::format::xml_escape(s)
}

/// Cut `s` to at most `max` characters, with an ellipsis when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A linear map from a domain to a range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    pub(crate) fn new(d0: f64, d1: f64, r0: f64, r1: f64) -> Self {
        let d1 = if d1 > d0 { d1 } else { d0 + 1.0 };
        Self { d0, d1, r0, r1 }
    }
    pub(crate) fn at(&self, v: f64) -> f64 {
        self.r0 + (v.clamp(self.d0, self.d1) - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) for about `target`
/// ticks over `span`.
pub(crate) fn nice_step(span: f64, target: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / target.max(1.0);
    let pow = 10f64.powf(raw.log10().floor());
    let m = raw / pow;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * pow
}

/// Round `v` up to a nice axis maximum (at least 1).
pub(crate) fn nice_max(v: f64) -> f64 {
    if v <= 1.0 {
        return 1.0;
    }
    let step = nice_step(v, 5.0);
    (v / step).ceil() * step
}

/// An x axis of seconds below `y`: tick lines and labels.
pub(crate) fn seconds_axis(out: &mut String, x: &Scale, t1_s: f64, y: f64, top: f64) {
    let step = nice_step(t1_s, 10.0);
    let _ = write!(
        out,
        r##"<g class="axis x"><line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#888"/>"##,
        x.at(0.0),
        x.at(t1_s)
    );
    let mut t = 0.0;
    while t <= t1_s + 1e-9 {
        let px = x.at(t);
        let _ = write!(
            out,
            r##"<line x1="{px:.1}" y1="{top:.1}" x2="{px:.1}" y2="{y:.1}" stroke="#eee"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            y + 14.0,
            trim_num(t)
        );
        t += step;
    }
    let _ = write!(out, r##"<text x="{:.1}" y="{:.1}" text-anchor="end">s</text></g>"##, x.at(t1_s), y + 28.0);
}

/// A horizontal grid line across `[left, right]` at `y` with its label to the left.
pub(crate) fn y_tick(out: &mut String, left: f64, right: f64, y: f64, label: &str) {
    let _ = write!(
        out,
        r##"<line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
        left - 4.0,
        y + 4.0,
        esc(label)
    );
}

/// A number without a trailing `.0`.
pub(crate) fn trim_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{}", v.round() as i64) } else { format!("{v:.1}") }
}

/// The opening tag of a chart.
pub(crate) fn open(out: &mut String, name: &str, height: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" data-chart="{name}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" width="100%" role="img" aria-label="{}">"#,
        esc(label)
    );
}

/// Colours of member roles.
pub(crate) fn role_colour(role: &str) -> &'static str {
    match role {
        "leader" => "#1f4e9c",
        "follower" => "#7fa7e0",
        "observer" => "#b9cbe8",
        "read-only" => "#d9a93b",
        "not-serving" => "#e8912d",
        "standalone" => "#888888",
        _ => "#c9302c",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(esc("a\u{1}b\tc"), "a\u{fffd}b\tc");
    }

    #[test]
    fn nice_steps_and_scales() {
        assert_eq!(nice_step(100.0, 10.0), 10.0);
        assert_eq!(nice_step(37.0, 10.0), 5.0);
        assert_eq!(nice_step(0.013, 5.0), 0.005);
        assert_eq!(nice_max(0.3), 1.0);
        assert_eq!(nice_max(437.0), 500.0);
        let s = Scale::new(0.0, 10.0, 100.0, 200.0);
        assert_eq!(s.at(5.0), 150.0);
        assert_eq!(s.at(20.0), 200.0, "clamped");
        assert_eq!(Scale::new(3.0, 3.0, 0.0, 10.0).at(3.0), 0.0, "an empty domain does not divide by zero");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
