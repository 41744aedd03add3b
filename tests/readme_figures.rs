//! The README's figures live in one table (between `figures:begin` and
//! `figures:end`). Every `code` row must equal the code's default, every
//! `measured` row must say how it was measured, and the code defaults the
//! README relies on must each have a row.

use std::collections::BTreeMap;
use std::process::Command;

/// `figure -> (value, source)` from the README's figures table.
fn figures() -> BTreeMap<String, (String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("<!-- figures:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- figures:end -->").next())
        .expect("the README has a figures table between <!-- figures:begin --> and <!-- figures:end -->");
    let mut out = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with('|')).skip(2) {
        let line = line.replace("\\|", "¦");
        let cells: Vec<String> = line.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect();
        assert_eq!(cells.len(), 3, "a figures row has figure, value, source: {line}");
        let dup = out.insert(cells[0].clone(), (cells[1].clone(), cells[2].clone()));
        assert!(dup.is_none(), "figure `{}` is given twice", cells[0]);
    }
    out
}

/// The `[default: X]` clap prints for `--flag` in `zk-chaos run --help`.
fn run_help_default(flag: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_zk-chaos")).args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let after = help.split(&format!("--{flag} ")).nth(1).unwrap_or_else(|| panic!("no --{flag} in run --help"));
    let d = after.split("[default: ").nth(1).unwrap_or_else(|| panic!("--{flag} has no default"));
    d.split(']').next().unwrap().to_string()
}

fn human(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[test]
fn every_code_figure_in_the_readme_is_the_codes_default() {
    let f = figures();
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap();
    let expected: BTreeMap<&str, String> = [
        ("rust-version", rust_version),
        ("zookeeper-versions", zk_chaos::dist::supported_versions().join(", ")),
        ("concurrency", run_help_default("concurrency")),
        ("keep-runs", zk_chaos::retention::DEFAULT_KEEP_RUNS.to_string()),
        ("state-min-age", human(zk_chaos::retention::STATE_MIN_AGE)),
        ("heartbeat", human(zk_chaos::steps::console::HEARTBEAT_EVERY)),
        ("poll-every", human(zk_chaos::scenario::expect::POLL_EVERY)),
        ("shrink-runs", run_help_default("shrink-runs")),
        ("shrink-time", run_help_default("shrink-time")),
    ]
    .into_iter()
    .collect();
    for (name, want) in &expected {
        let (value, source) = f.get(*name).unwrap_or_else(|| panic!("the README's figures table has no `{name}` row"));
        assert!(source.starts_with("code:"), "`{name}` is a code default: its source is `code: ...`, not {source}");
        assert_eq!(value, want, "the README says {name} is {value}; the code says {want}");
    }
    for (name, (value, source)) in &f {
        if source.starts_with("code:") {
            assert!(expected.contains_key(name.as_str()), "`{name}` claims to be a code figure but no test checks it");
        } else {
            let how = source.strip_prefix("measured:").unwrap_or_else(|| {
                panic!("`{name}`: a figure's source is `code: ...` or `measured: how, on what load`, not {source}")
            });
            assert!(how.trim().len() > 20, "`{name}` = {value}: say how it was measured: {source}");
        }
    }
}
