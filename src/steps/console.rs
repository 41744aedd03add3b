//! The console's text, kept pure: every line of a concurrent run labelled
//! with its scenario (piped output interleaves two scenarios), the
//! heartbeat printed during long waits, and the live line fitted to the
//! terminal's width.

use std::time::Duration;

/// How often a step still running prints a heartbeat when the output is
/// not a terminal (on a terminal the live line shows the same, refreshed).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

/// The width assumed when the terminal's cannot be read.
pub const DEFAULT_WIDTH: usize = 80;

/// Columns the progress bar's spinner and elapsed time take before the
/// message (`{spinner} {elapsed:>4} `).
pub const BAR_PREFIX: usize = 7;

/// A scenario's short label from its key (`<feature path>:<line>`): the
/// file's stem and the line, e.g. `features/leader_loss.feature:12` ->
/// `leader_loss:12`.
pub fn label(key: &str) -> String {
    let (path, line) = key.rsplit_once(':').unwrap_or((key, ""));
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split_once('.').map_or(file, |(s, _)| s);
    if line.is_empty() { stem.to_string() } else { format!("{stem}:{line}") }
}

/// `text` with every line (continuation lines included) prefixed by
/// `[label] `, so interleaved output still says which scenario wrote it.
pub fn labelled(label: &str, text: &str) -> String {
    text.lines().map(|l| format!("[{label}] {l}")).collect::<Vec<_>>().join("\n")
}

/// The heartbeat of a step still running: what it waits for (the step),
/// for how long, and what it last saw (the scenario's live text).
pub fn heartbeat(label: &str, step: &str, elapsed: Duration, live: &str) -> String {
    let mut line = format!("[{label}]   … still running after {:.0}s: {step}", elapsed.as_secs_f64());
    if !live.is_empty() {
        line.push_str(" ⟶ ");
        line.push_str(live);
    }
    line
}

/// Whether a step running for `elapsed`, whose last heartbeat was at
/// `last_beat` (of its running time), is due another.
pub fn heartbeat_due(elapsed: Duration, last_beat: Duration) -> bool {
    elapsed >= last_beat + HEARTBEAT_EVERY
}

fn cut(s: &str, n: usize) -> String {
    match n {
        _ if s.chars().count() <= n => s.to_string(),
        0 => String::new(),
        _ => format!("{}…", s.chars().take(n - 1).collect::<String>()),
    }
}

/// The live line's message, `name │ step ⟶ live`, fitted to `width`
/// columns: nothing is cut when it fits; otherwise the live part gives way
/// first (down to 24 columns), then the step (to 24), then the name (to
/// 16), then the live part entirely. The result never exceeds `width`.
pub fn fit(name: &str, step: &str, live: &str, width: usize) -> String {
    const SEP: usize = 3; // " │ " and " ⟶ " are 3 columns each
    let len = |s: &str| s.chars().count();
    // Columns for [name, step, live].
    let mut cols = [len(name), len(step), len(live)];
    let total = |c: &[usize; 3]| c[0] + if c[1] > 0 { SEP + c[1] } else { 0 } + if c[2] > 0 { SEP + c[2] } else { 0 };
    for (part, floor) in [(2, 24), (1, 24), (0, 16), (2, 0)] {
        let over = total(&cols).saturating_sub(width);
        if over == 0 {
            break;
        }
        cols[part] -= over.min(cols[part].saturating_sub(floor));
    }
    let [n, s, l] = cols;
    let mut out = cut(name, n);
    if s > 0 {
        out.push_str(" │ ");
        out.push_str(&cut(step, s));
    }
    if l > 0 {
        out.push_str(" ⟶ ");
        out.push_str(&cut(live, l));
    }
    cut(&out, width)
}

/// The terminal's width in columns: standard error's, else standard
/// output's, else `COLUMNS`, else [`DEFAULT_WIDTH`]. Read at every refresh,
/// so a resized terminal is followed.
pub fn terminal_width() -> usize {
    for fd in [libc::STDERR_FILENO, libc::STDOUT_FILENO] {
        // SAFETY: TIOCGWINSZ only writes into the winsize we own.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            return usize::from(ws.ws_col);
        }
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|&c| c > 0).unwrap_or(DEFAULT_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_is_the_file_stem_and_line() {
        assert_eq!(label("features/leader_loss.feature:12"), "leader_loss:12");
        assert_eq!(label("/abs/scenarios/leader-flapping.yaml:1"), "leader-flapping:1");
        assert_eq!(label("plain"), "plain");
    }

    #[test]
    fn every_line_of_a_message_is_labelled() {
        assert_eq!(
            labelled("a:1", "  ✘ Then x\n      why\n      more"),
            "[a:1]   ✘ Then x\n[a:1]       why\n[a:1]       more"
        );
    }

    #[test]
    fn the_heartbeat_says_what_is_awaited_for_how_long_and_what_was_seen() {
        let h = heartbeat(
            "a:1",
            "Then within 120s every member serves in quorum",
            Duration::from_secs(30),
            "waiting: x; last seen: pod 2 down",
        );
        assert_eq!(
            h,
            "[a:1]   … still running after 30s: Then within 120s every member serves in quorum ⟶ waiting: x; last seen: pod 2 down"
        );
        assert!(!heartbeat_due(Duration::from_secs(9), Duration::ZERO));
        assert!(heartbeat_due(Duration::from_secs(10), Duration::ZERO));
        assert!(!heartbeat_due(Duration::from_secs(15), Duration::from_secs(10)));
    }

    #[test]
    fn the_live_line_uses_the_whole_width_and_never_more() {
        let name = "Rolling upgrade 3.8.0 to 3.9.6 with a partition";
        let step = "within 120s every member serves in quorum";
        let live = "waiting: every member serves in quorum; last seen: pod 0 not serving, pod 1 leader, pod 2 follower";
        // Wide: nothing cut.
        let wide = fit(name, step, live, 300);
        assert_eq!(wide, format!("{name} │ {step} ⟶ {live}"));
        for w in [200, 160, 120, 100, 80, 60, 40, 20, 5, 0] {
            let f = fit(name, step, live, w);
            assert!(f.chars().count() <= w, "{w}: {f}");
        }
        // The width is used: at 160 columns the line fills it (no 80-column cut).
        assert_eq!(fit(name, step, live, 160).chars().count(), 160);
        // The live part gives way before the name and step.
        let f = fit(name, step, live, 140);
        assert!(f.starts_with(&format!("{name} │ {step} ⟶ waiting")), "{f}");
        // Without a live part, no arrow.
        assert_eq!(fit("n", "s", "", 80), "n │ s");
    }
}
