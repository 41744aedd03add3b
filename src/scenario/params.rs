//! The parameter types of steps and plans: durations (`30s`, `500ms`,
//! `2m`, `1.5s`), ZooKeeper versions (`3.9.6`) and selectors (`the leader`,
//! `pod 2`, ...). Pure.

use std::time::Duration;

/// Parse `30s`, `500ms`, `2m`, `1.5s`, `1h` (a bare number is seconds).
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("`{text}` is not a duration: expected e.g. `30s`, `500ms`, `2m`"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "sec" | "secs" | "second" | "seconds" => n,
        "m" | "min" | "mins" | "minute" | "minutes" => n * 60.0,
        "h" | "hour" | "hours" => n * 3600.0,
        other => return Err(format!("`{text}`: unknown unit `{other}` (use ms, s, m or h)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("`{text}` is not a duration"));
    }
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(format!("`{text}` is longer than {} days, the longest duration a scenario takes", MAX_DAYS));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{text}` is not a duration: {e}"))
}

/// The longest duration accepted anywhere (a wait, a fault, a plan's `at:`),
/// in days: longer ones are typing mistakes, and would overflow clocks.
const MAX_DAYS: u64 = 30;
/// [`MAX_DAYS`] as a duration.
pub const MAX_DURATION: Duration = Duration::from_secs(MAX_DAYS * 86_400);

/// Check a ZooKeeper version: `<major>.<minor>.<patch>`.
pub fn version(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.trim().split('.').collect();
    if parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) {
        Ok(text.trim().to_string())
    } else {
        Err(format!("`{text}` is not a ZooKeeper version: expected e.g. `3.9.6`"))
    }
}

/// Format a duration the way steps write it (`1.5s`, `250ms`).
pub fn show(d: Duration) -> String {
    if d < Duration::from_secs(1) { format!("{}ms", d.as_millis()) } else { format!("{}s", d.as_secs_f64()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("7").unwrap(), Duration::from_secs(7));
        assert_eq!(duration("10 seconds").unwrap(), Duration::from_secs(10));
        for bad in ["", "s", "ten s", "5 parsecs", "1.2.3s", "99999999999999999999999s", "1e30s", "31 days", "745h"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert_eq!(duration("720h").unwrap(), MAX_DURATION);
        assert_eq!(show(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn versions() {
        assert_eq!(version("3.9.3").unwrap(), "3.9.3");
        for bad in ["3.9", "3.9.x", "v3.9.3", "3..3"] {
            assert!(version(bad).is_err(), "{bad}");
        }
    }
}
