//! Who was leader when: one lane per member coloured by its role (leader,
//! follower, not serving, down) with what its server logged marked on it
//! (elections, syncs, truncations in red), a quorum lane above them, fault
//! windows shaded, on the same time axis as the timeline.

use std::fmt::Write as _;

use super::timeline::{LEFT, RIGHT, end_ns};
use super::{Scale, esc, open, role_colour, seconds_axis};
use crate::report::evidence::Evidence;
use crate::report::format;
use crate::report::probes::MemberRole;

const TOP: f64 = 10.0;
const LANE: f64 = 22.0;
const GAP: f64 = 6.0;

struct Segment<'a> {
    from: u64,
    until: u64,
    role: &'a MemberRole,
}

/// The role lanes of a scenario, `None` when it recorded no probes.
pub fn roles(ev: &Evidence) -> Option<String> {
    let p = ev.probes.as_ref().filter(|p| !p.states.is_empty())?;
    let t1 = end_ns(ev) as f64 / 1e9;
    let x = Scale::new(0.0, t1, LEFT, RIGHT);
    let lanes = p.ordinals.len() + 1;
    let axis_y = TOP + lanes as f64 * (LANE + GAP) + 4.0;
    let mut out = String::with_capacity(8 * 1024);
    open(&mut out, "roles", axis_y + 36.0, "member roles over time");
    let bottom = axis_y - 4.0;

    out.push_str(r#"<g class="faults">"#);
    for f in &ev.faults {
        let x0 = x.at(f.start_ns as f64 / 1e9);
        let x1 = x.at(f.heal_ns.map_or(t1, |h| h as f64 / 1e9));
        let _ = write!(
            out,
            r##"<rect class="fault" x="{x0:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#d9534f" fill-opacity="0.13"><title>{}</title></rect>"##,
            (x1 - x0).max(1.5),
            bottom - TOP,
            esc(&f.description)
        );
    }
    out.push_str("</g>");

    let lane_y = |i: usize| TOP + i as f64 * (LANE + GAP);
    let _ = write!(out, r#"<text x="4" y="{:.1}">quorum</text><g class="quorum">"#, lane_y(0) + 15.0);
    for s in &p.states {
        let (x0, x1) = (x.at(s.from_ns as f64 / 1e9), x.at(s.until_ns as f64 / 1e9));
        let (colour, word) = if s.quorum { ("#2e9d5b", "quorum") } else { ("#c9302c", "no quorum") };
        let leader = s.leader.map_or(format!("{} members claim to lead", s.leaders), |l| format!("leader {l}"));
        let _ = write!(
            out,
            r#"<rect class="role quorum-state" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{LANE}" fill="{colour}"><title>{} – {}: {word}, {leader}</title></rect>"#,
            lane_y(0),
            (x1 - x0).max(1.0),
            format::at(s.from_ns),
            format::at(s.until_ns)
        );
    }
    out.push_str("</g>");

    for (lane, ordinal) in p.ordinals.iter().enumerate() {
        let y = lane_y(lane + 1);
        let _ = write!(out, r#"<text x="4" y="{:.1}">member {ordinal}</text><g class="member">"#, y + 15.0);
        let mut segs: Vec<Segment> = Vec::new();
        for s in &p.states {
            let Some(m) = s.members.iter().find(|m| m.ordinal == *ordinal) else { continue };
            match segs.last_mut() {
                Some(last) if last.until == s.from_ns && last.role == m => last.until = s.until_ns,
                _ => segs.push(Segment { from: s.from_ns, until: s.until_ns, role: m }),
            }
        }
        for s in &segs {
            let (x0, x1) = (x.at(s.from as f64 / 1e9), x.at(s.until as f64 / 1e9));
            let w = (x1 - x0).max(1.0);
            let r = s.role;
            let detail = format!(
                "{}{}",
                r.version.as_ref().map_or(String::new(), |v| format!(", ZooKeeper {v}")),
                r.config_version.map_or(String::new(), |c| format!(", config {c:#x}"))
            );
            let _ = write!(
                out,
                r#"<g><title>member {ordinal}: {}{} ({} – {})</title><rect class="role {}" x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{LANE}" fill="{}"/>"#,
                esc(&r.role),
                esc(&detail),
                format::at(s.from),
                format::at(s.until),
                esc(&r.role),
                role_colour(&r.role)
            );
            let label = match (&r.version, w) {
                (Some(v), w) if w > 110.0 => format!("{} {v}", r.role),
                (_, w) if w > 52.0 => r.role.clone(),
                _ => String::new(),
            };
            if !label.is_empty() {
                let fill = if r.role == "leader" { "#fff" } else { "#102040" };
                let _ = write!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" fill="{fill}">{}</text>"#,
                    x0 + 4.0,
                    y + 15.0,
                    esc(&label)
                );
            }
            out.push_str("</g>");
        }
        // What the member's server logged: a tick per event, red where it
        // dropped committed history.
        for m in ev.server_marks.iter().filter(|m| m.ordinal == *ordinal) {
            let mx = x.at(m.at_ns as f64 / 1e9);
            let (colour, class, h) = if m.severe {
                ("#c9302c", "server-event severe", LANE + 6.0)
            } else {
                ("#102040", "server-event", 8.0)
            };
            let _ = write!(
                out,
                r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="2" height="{h:.1}" fill="{colour}"><title>member {ordinal} at {}: {}</title></rect>"#,
                mx - 1.0,
                if m.severe { y - 3.0 } else { y + LANE - 8.0 },
                format::at(m.at_ns),
                esc(&m.text)
            );
        }
        out.push_str("</g>");
    }
    seconds_axis(&mut out, &x, t1, axis_y, TOP);
    out.push_str("</svg>");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::probes::{ProbeState, ProbeTimeline};

    fn m(ordinal: u32, role: &str) -> MemberRole {
        MemberRole { ordinal, role: role.into(), config_version: Some(0x100000000), version: Some("3.8.0".into()) }
    }

    fn state(from_s: u64, until_s: u64, leader: Option<u32>, members: Vec<MemberRole>) -> ProbeState {
        ProbeState {
            from_ns: from_s * 1_000_000_000,
            until_ns: until_s * 1_000_000_000,
            leader,
            leaders: usize::from(leader.is_some()),
            quorum: leader.is_some(),
            members,
        }
    }

    #[test]
    fn lanes_merge_unchanged_roles_and_show_who_led() {
        let ev = Evidence {
            probes: Some(ProbeTimeline {
                samples: 20,
                ordinals: vec![0, 1, 2],
                states: vec![
                    state(0, 4, Some(2), vec![m(0, "follower"), m(1, "follower"), m(2, "leader")]),
                    state(4, 6, None, vec![m(0, "follower"), m(1, "follower"), m(2, "down")]),
                    state(6, 10, Some(1), vec![m(0, "follower"), m(1, "leader"), m(2, "follower")]),
                ],
            }),
            ..Evidence::default()
        };
        let mut ev = ev;
        ev.server_marks = vec![
            crate::report::ServerMark { ordinal: 2, at_ns: 5_000_000_000, text: "TRUNC <x>".into(), severe: true },
            crate::report::ServerMark { ordinal: 1, at_ns: 6_000_000_000, text: "LEADING".into(), severe: false },
        ];
        let svg = roles(&ev).unwrap();
        assert_eq!(svg.matches(r#"class="server-event severe""#).count(), 1);
        assert_eq!(svg.matches(r#"class="server-event""#).count(), 1);
        assert!(svg.contains("member 2 at 5.0 s: TRUNC &lt;x&gt;"), "escaped, with its time");
        assert_eq!(svg.matches(r#"class="role quorum-state""#).count(), 3);
        // member 0 follows throughout: one merged segment; members 1 and 2 change.
        assert_eq!(svg.matches(r#"class="role follower""#).count(), 3, "0: 0-10; 1: 0-6; 2: 6-10");
        assert_eq!(svg.matches(r#"class="role leader""#).count(), 2);
        assert_eq!(svg.matches(r#"class="role down""#).count(), 1);
        assert!(svg.contains("member 2: leader, ZooKeeper 3.8.0, config 0x100000000 (0.0 s – 4.0 s)"));
        assert!(roles(&Evidence::default()).is_none());
    }
}
