//! Small text formatting shared by the renderers: durations and slugs.

/// A duration in ns for people: `850 µs`, `12 ms`, `3.42 s`, `2 min 05 s`.
pub fn duration(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ns == 0 {
        "0 s".to_string()
    } else if ns < 1_000_000 {
        format!("{} µs", ns / 1000)
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        let s = ns / 1_000_000_000;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// A time offset in seconds on a history clock: `12.3 s`.
pub fn at(ns: u64) -> String {
    format!("{:.1} s", ns as f64 / 1e9)
}

/// Escape text for XML/HTML content and attribute values; characters XML
/// 1.0 cannot carry (control characters other than tab and newlines,
/// U+FFFE, U+FFFF) become U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A lowercase ASCII slug for ids and file names (at most 48 characters).
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 48 {
            break;
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() { "x".to_string() } else { trimmed.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(850_000), "850 µs");
        assert_eq!(duration(12_400_000), "12 ms");
        assert_eq!(duration(3_421_000_000), "3.42 s");
        assert_eq!(duration(125_000_000_000), "2 min 05 s");
        assert_eq!(at(12_340_000_000), "12.3 s");
    }

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(slug("Leader loss: <script>alert(1)</script>"), "leader-loss-script-alert-1-script");
        assert_eq!(slug("../../etc"), "etc");
        assert_eq!(slug("ü"), "x");
    }
}
