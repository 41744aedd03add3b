//! The linearizability failure view: the offending key's operations on a
//! time axis, one lane per client (a client whose operations overlap, after
//! an unknown outcome, gets extra rows), the longest linearizable prefix
//! numbered in linearization order and the operation that could not follow
//! it marked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{WIDTH, clip, esc, open};
use crate::report::linear_view::{LaneOp, LinearFailure};

const LEFT: f64 = 70.0;
const RIGHT: f64 = WIDTH - 16.0;
const TOP: f64 = 26.0;
const ROW: f64 = 26.0;

fn op_end(o: &LaneOp, open_end: u64) -> u64 {
    o.complete_ns.unwrap_or(open_end)
}

/// The x axis: every invoke and completion shown, in real-time order and
/// equally spaced (the order is what linearizability is about; durations
/// of a few milliseconds next to gaps of hundreds would be invisible).
struct EventAxis {
    times: Vec<u64>,
    slot: f64,
}

impl EventAxis {
    fn new(mut times: Vec<u64>) -> Self {
        times.sort_unstable();
        times.dedup();
        let slot = (RIGHT - LEFT) / times.len().max(1) as f64;
        Self { times, slot }
    }
    fn x(&self, t: u64) -> f64 {
        let rank = self.times.partition_point(|&e| e < t);
        LEFT + (rank as f64 + 0.5) * self.slot
    }
}

/// The lane view of a linearizability failure.
pub fn lanes(f: &LinearFailure) -> String {
    // The window is set by the operations with a definite outcome; an
    // unknown one (pending, maybe forever) is clipped to it.
    let definite: Vec<&LaneOp> = f.ops.iter().filter(|o| o.outcome != "unknown" || o.blocked).collect();
    let frame = if definite.is_empty() { f.ops.iter().collect() } else { definite };
    let t0 = frame.iter().map(|o| o.invoke_ns).min().unwrap_or(0);
    let last = frame.iter().map(|o| o.complete_ns.unwrap_or(o.invoke_ns)).max().unwrap_or(t0 + 1).max(t0 + 1);
    // Operations that never completed (or end after the window) run to the edge.
    let open_end = last + 1;
    let axis = EventAxis::new(
        f.ops
            .iter()
            .flat_map(|o| [o.invoke_ns.max(t0), op_end(o, open_end).clamp(t0, open_end)])
            .filter(|t| *t < open_end)
            .collect(),
    );

    // Rows: per client, greedy in invoke order.
    let mut by_client: BTreeMap<u32, Vec<&LaneOp>> = BTreeMap::new();
    for o in &f.ops {
        by_client.entry(o.client).or_default().push(o);
    }
    let mut rows: Vec<(u32, Vec<&LaneOp>)> = Vec::new();
    for (client, mut ops) in by_client {
        ops.sort_by_key(|o| o.invoke_ns);
        let mut mine: Vec<(u64, Vec<&LaneOp>)> = Vec::new();
        for o in ops {
            match mine.iter_mut().find(|(end, _)| *end < o.invoke_ns) {
                Some((end, v)) => {
                    *end = op_end(o, open_end);
                    v.push(o);
                }
                None => mine.push((op_end(o, open_end), vec![o])),
            }
        }
        rows.extend(mine.into_iter().map(|(_, v)| (client, v)));
    }

    let axis_y = TOP + rows.len() as f64 * ROW + 8.0;
    let mut out = String::with_capacity(8 * 1024);
    open(&mut out, "linearizability", axis_y + 36.0, "operations on the offending key, one lane per client");

    if let Some(b) = f.ops.iter().find(|o| o.blocked) {
        let bx = axis.x(b.invoke_ns) - axis.slot * 0.4;
        let _ = write!(
            out,
            r##"<line class="blocked-marker" x1="{bx:.1}" y1="{:.1}" x2="{bx:.1}" y2="{axis_y:.1}" stroke="#c9302c" stroke-dasharray="5 3"/><text x="{:.1}" y="{:.1}" fill="#c9302c">op {} cannot be linearized after the {}-op prefix</text>"##,
            TOP - 16.0,
            (bx + 4.0).min(RIGHT - 330.0),
            TOP - 8.0,
            b.id,
            f.longest_prefix_len
        );
    }

    let mut prev_client = None;
    for (i, (client, ops)) in rows.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        if prev_client != Some(*client) {
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#ddd"/><text x="4" y="{:.1}">client {client}</text>"##,
                y + 17.0
            );
        }
        prev_client = Some(*client);
        for o in ops {
            let clipped = o.invoke_ns < t0;
            let x0 = axis.x(o.invoke_ns.max(t0)) - axis.slot * 0.4;
            let x1 = match o.complete_ns {
                Some(c) if c < open_end => axis.x(c) + axis.slot * 0.4,
                _ => RIGHT,
            };
            let w = (x1 - x0).max(2.0);
            let (kind, fill, stroke, sw) = if o.blocked {
                ("blocked", "#f6d3d2", "#c9302c", 2.5)
            } else if o.prefix_pos.is_some() {
                ("prefix", "#cfe8d6", "#2e9d5b", 1.2)
            } else {
                ("other", "#eeeeee", "#999999", 1.0)
            };
            let dash = if o.outcome == "unknown" { r#" stroke-dasharray="4 2""# } else { "" };
            let end =
                o.complete_ns.map_or("never completed".to_string(), |c| format!("{} ms", ms(c.saturating_sub(t0))));
            let _ = write!(
                out,
                r#"<g><title>op {} (client {}): {} → {} [{}] {} ms .. {}{}</title><rect class="op {} {kind}" x="{x0:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{dash}/>"#,
                o.id,
                o.client,
                esc(&o.call),
                esc(&o.result),
                esc(&o.outcome),
                if clipped { format!("-{}", ms(t0 - o.invoke_ns)) } else { ms(o.invoke_ns - t0) },
                end,
                o.prefix_pos
                    .map_or(if o.blocked { "; could not be linearized".to_string() } else { String::new() }, |p| {
                        format!("; #{p} in the longest linearizable prefix")
                    }),
                esc(&o.outcome),
                y + 3.0,
                ROW - 6.0
            );
            let long = format!(
                "{}{}{} → {}",
                if clipped { "« " } else { "" },
                o.prefix_pos.map_or(if o.blocked { "✗ ".to_string() } else { String::new() }, |p| format!("#{p} ")),
                o.call,
                o.result
            );
            let short = match o.prefix_pos {
                Some(p) => format!("#{p}"),
                None if o.blocked => format!("✗{}", o.id),
                None => String::new(),
            };
            let fits = |s: &str| s.chars().count() as f64 * 6.4 + 6.0 <= w;
            let label = if fits(&long) {
                long
            } else if (w / 6.4) as usize >= 12 {
                clip(&long, (w / 6.4) as usize - 1)
            } else if fits(&short) {
                short
            } else {
                String::new()
            };
            if !label.is_empty() {
                let _ = write!(out, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, x0 + 3.0, y + 17.0, esc(&label));
            }
            out.push_str("</g>");
        }
    }

    // The axis: real time (ms since the first operation shown) at some events.
    let _ = write!(
        out,
        r##"<g class="axis x"><line x1="{LEFT}" y1="{axis_y:.1}" x2="{RIGHT}" y2="{axis_y:.1}" stroke="#888"/>"##
    );
    let every = (axis.times.len() / 8).max(1);
    for t in axis.times.iter().step_by(every) {
        let p = axis.x(*t);
        let _ = write!(
            out,
            r##"<line x1="{p:.1}" y1="{axis_y:.1}" x2="{p:.1}" y2="{:.1}" stroke="#888"/><text x="{p:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            axis_y + 4.0,
            axis_y + 16.0,
            ms(t.saturating_sub(t0))
        );
    }
    let _ = write!(
        out,
        r#"<text x="{RIGHT}" y="{:.1}" text-anchor="end">ms since the first operation shown; events in real-time order, equally spaced</text></g></svg>"#,
        axis_y + 30.0
    );
    out
}

fn ms(ns: u64) -> String {
    format!("{:.2}", ns as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: u64, client: u32, invoke_ms: u64, complete_ms: Option<u64>, prefix: Option<u32>) -> LaneOp {
        LaneOp {
            id,
            client,
            call: format!("set w{client}-s{id}"),
            outcome: if complete_ms.is_some() { "ok" } else { "unknown" }.into(),
            result: "v1".into(),
            invoke_ns: invoke_ms * 1_000_000,
            complete_ns: complete_ms.map(|c| c * 1_000_000),
            prefix_pos: prefix,
            blocked: false,
        }
    }

    #[test]
    fn an_unknown_op_that_ended_before_the_window_does_not_panic() {
        // The window starts at the first definite op (100 ms); an unknown op
        // that completed at 20 ms lies wholly before it.
        let mut early = op(2, 1, 10, Some(20), None);
        early.outcome = "unknown".into();
        let f = LinearFailure {
            keys: vec!["/k".into()],
            ops_in_partition: 2,
            longest_prefix_len: 1,
            state_after_prefix: vec![],
            blocked_id: 1,
            blocked: String::new(),
            ops: vec![op(1, 0, 100, Some(110), None), early],
            omitted: 0,
        };
        let svg = lanes(&f);
        assert_eq!(svg.matches("class=\"op ").count(), 2);
    }

    #[test]
    fn one_lane_per_client_with_prefix_and_blocked_op_marked() {
        let mut blocked = op(4, 1, 40, Some(50), None);
        blocked.blocked = true;
        blocked.call = "sync+get <x>".into();
        let f = LinearFailure {
            keys: vec!["/k".into()],
            ops_in_partition: 4,
            longest_prefix_len: 2,
            state_after_prefix: vec![],
            blocked_id: 4,
            blocked: String::new(),
            ops: vec![
                op(1, 0, 0, Some(10), Some(1)),
                // Client 0 moved on after an unknown outcome: a second row.
                op(2, 0, 12, None, None),
                op(3, 0, 20, Some(30), Some(2)),
                blocked,
            ],
            omitted: 0,
        };
        let svg = lanes(&f);
        assert_eq!(svg.matches("class=\"op ").count(), 4);
        assert_eq!(svg.matches(r#"class="op ok prefix""#).count(), 2);
        assert_eq!(svg.matches(r#"class="op ok blocked""#).count(), 1);
        assert_eq!(svg.matches(r#"class="op unknown other""#).count(), 1);
        assert_eq!(svg.matches(">client 0<").count(), 1);
        assert_eq!(svg.matches(">client 1<").count(), 1);
        assert!(svg.contains("op 4 cannot be linearized after the 2-op prefix"));
        assert!(svg.contains("#1 in the longest linearizable prefix"));
        assert!(svg.contains("sync+get &lt;x&gt;") && !svg.contains("<x>"));
        // Three rows: client 0 twice (the unknown op overlaps op 3), client 1 once.
        let rows = svg.matches(r#"stroke-dasharray="4 2""#).count();
        assert_eq!(rows, 1, "the unknown op is dashed");
        let ys: std::collections::BTreeSet<&str> = svg
            .split("class=\"op ")
            .skip(1)
            .map(|s| s.split("y=\"").nth(1).unwrap().split('"').next().unwrap())
            .collect();
        assert_eq!(ys.len(), 3, "{ys:?}");
    }

    #[test]
    fn a_long_pending_unknown_op_does_not_squeeze_the_window() {
        let mut blocked = op(3, 1, 10_030, Some(10_050), None);
        blocked.blocked = true;
        let f = LinearFailure {
            keys: vec!["/k".into()],
            ops_in_partition: 3,
            longest_prefix_len: 1,
            state_after_prefix: vec![],
            blocked_id: 3,
            blocked: String::new(),
            ops: vec![op(1, 2, 0, None, None), op(2, 0, 10_000, Some(10_020), Some(1)), blocked],
            omitted: 0,
        };
        let svg = lanes(&f);
        let width = |class: &str| -> f64 {
            let rest = svg.split(&format!("class=\"op {class}\"")).nth(1).unwrap();
            rest.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap()
        };
        assert!(width("ok prefix") > 250.0, "{}", width("ok prefix"));
        assert!(svg.contains("« "), "the clipped op says so");
        assert!(svg.contains("-10000.00 ms"), "its real invoke time is in its title");
    }
}
