//! The linearizability failure view: the offending key's operations on a
//! time axis, one lane per client (a client whose operations overlap, after
//! an unknown outcome, gets extra rows), the longest linearizable prefix
//! numbered in linearization order and the operation that could not follow
//! it marked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Scale, WIDTH, clip, esc, nice_step, open, trim_num};
use crate::report::linear_view::{LaneOp, LinearFailure};

const LEFT: f64 = 70.0;
const RIGHT: f64 = WIDTH - 16.0;
const TOP: f64 = 26.0;
const ROW: f64 = 26.0;

fn op_end(o: &LaneOp, open_end: u64) -> u64 {
    o.complete_ns.unwrap_or(open_end)
}

/// The lane view of a linearizability failure.
pub fn lanes(f: &LinearFailure) -> String {
    let t0 = f.ops.iter().map(|o| o.invoke_ns).min().unwrap_or(0);
    let last = f.ops.iter().map(|o| o.complete_ns.unwrap_or(o.invoke_ns)).max().unwrap_or(t0 + 1);
    // Operations that never completed run past the last event, to the edge.
    let open_end = last + (last - t0).max(1) / 20 + 1;
    let x = Scale::new(0.0, (open_end - t0) as f64, LEFT, RIGHT);
    let px = |t: u64| x.at(t.saturating_sub(t0) as f64);

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
        let bx = px(b.invoke_ns);
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
            let (x0, x1) = (px(o.invoke_ns), px(op_end(o, open_end)));
            let w = (x1 - x0).max(2.0);
            let (kind, fill, stroke, sw) = if o.blocked {
                ("blocked", "#f6d3d2", "#c9302c", 2.5)
            } else if o.prefix_pos.is_some() {
                ("prefix", "#cfe8d6", "#2e9d5b", 1.2)
            } else {
                ("other", "#eeeeee", "#999999", 1.0)
            };
            let dash = if o.outcome == "unknown" { r#" stroke-dasharray="4 2""# } else { "" };
            let pos = o.prefix_pos.map_or(String::new(), |p| format!("#{p} "));
            let end = o.complete_ns.map_or("never completed".to_string(), |c| format!("{} ms", ms(c - t0)));
            let _ = write!(
                out,
                r#"<g><title>op {} (client {}): {} → {} [{}] {} ms .. {}{}</title><rect class="op {} {kind}" x="{x0:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{dash}/>"#,
                o.id,
                o.client,
                esc(&o.call),
                esc(&o.result),
                esc(&o.outcome),
                ms(o.invoke_ns - t0),
                end,
                o.prefix_pos.map_or(if o.blocked { "; could not be linearized".to_string() } else { String::new() }, |p| {
                    format!("; #{p} in the longest linearizable prefix")
                }),
                esc(&o.outcome),
                y + 3.0,
                ROW - 6.0
            );
            let chars = (w / 6.6) as usize;
            if chars >= 4 {
                let label = clip(&format!("{pos}{} → {}", o.call, o.result), chars);
                let _ = write!(out, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, x0 + 3.0, y + 17.0, esc(&label));
            }
            out.push_str("</g>");
        }
    }

    // Axis in milliseconds since the first operation shown.
    let span_ms = (open_end - t0) as f64 / 1e6;
    let step = nice_step(span_ms, 8.0);
    let _ = write!(out, r##"<g class="axis x"><line x1="{LEFT}" y1="{axis_y:.1}" x2="{RIGHT}" y2="{axis_y:.1}" stroke="#888"/>"##);
    let mut t = 0.0;
    while t <= span_ms + 1e-9 {
        let p = x.at(t * 1e6);
        let _ = write!(out, r#"<text x="{p:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, axis_y + 14.0, trim_num(t));
        t += step;
    }
    let _ = write!(out, r#"<text x="{RIGHT}" y="{:.1}" text-anchor="end">ms</text></g></svg>"#, axis_y + 28.0);
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
        let ys: std::collections::BTreeSet<&str> =
            svg.split("class=\"op ").skip(1).map(|s| s.split("y=\"").nth(1).unwrap().split('"').next().unwrap()).collect();
        assert_eq!(ys.len(), 3, "{ys:?}");
    }
}
