//! A test, or a part of one, that cannot really run on this machine says
//! so where a plain `cargo test` shows it: libtest captures what `print!`
//! and `eprint!` write and shows it only for failing tests, so a skipped
//! test would otherwise read as `ok`. [`not_run!`] writes straight to the
//! process's standard error (never captured) one line,
//! `NOT RUN <test>: <what>: <reason>`, and appends it to the file named by
//! `ZK_CHAOS_NOT_RUN_LOG` when set (`.ci/run` lists them at the end).
//! Under `ZK_CHAOS_REQUIRE_ALL=1` a test that cannot run fails instead.

#![allow(dead_code, unused_macros)]

use std::io::Write as _;

/// The enclosing test function's path (`crate::test_name`), from the type
/// name of a nested function, without the async closures around it.
macro_rules! test_name {
    () => {{
        fn f() {}
        let name = std::any::type_name_of_val(&f);
        $crate::not_run::clean_name(name)
    }};
}

/// Report that `$what` did not run in the calling test, and why.
macro_rules! not_run {
    ($what:expr, $reason:expr) => {
        $crate::not_run::report(&$crate::not_run::test_name!(), &$what.to_string(), &$reason.to_string())
    };
}

#[allow(unused_imports)]
pub(crate) use {not_run, test_name};

/// `a::b::{{closure}}::f` -> `a::b`.
pub fn clean_name(type_name: &str) -> String {
    let s = type_name.strip_suffix("::f").unwrap_or(type_name);
    s.split("::").filter(|p| !p.starts_with("{{")).collect::<Vec<_>>().join("::")
}

/// The line printed for a test part that did not run.
pub fn line(test: &str, what: &str, reason: &str) -> String {
    format!("NOT RUN {test}: {what}: {reason}")
}

/// Print the line uncaptured, log it, and panic under `ZK_CHAOS_REQUIRE_ALL=1`.
pub fn report(test: &str, what: &str, reason: &str) {
    let line = line(test, what, reason);
    let _ = std::io::stderr().lock().write_all(format!("\n{line}\n").as_bytes());
    if let Some(path) = std::env::var_os("ZK_CHAOS_NOT_RUN_LOG") {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
        if let Ok(mut f) = file {
            let _ = writeln!(f, "{line}");
        }
    }
    assert!(std::env::var("ZK_CHAOS_REQUIRE_ALL").map_or(true, |v| v != "1"), "{line} (ZK_CHAOS_REQUIRE_ALL=1)");
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_name_is_the_test_function_without_closures() {
        assert_eq!(super::clean_name("faults_live::netem::{{closure}}::f"), "faults_live::netem");
        assert_eq!(super::clean_name("report_browser::loads::f"), "report_browser::loads");
    }
}
