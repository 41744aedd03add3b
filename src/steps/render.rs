//! The step catalogue as Markdown (what `zk-chaos steps` prints), generated
//! from [`super::catalogue`] so it never drifts from the code.

use std::fmt::Write as _;

use super::catalogue::Kind;
use super::matcher::{CATALOGUE, PARAMETERS};

/// The catalogue as Markdown.
pub fn markdown() -> String {
    let mut out = String::from("# zk-chaos step catalogue\n\n");
    out.push_str("Generated from the code (`zk-chaos steps`). `And` and `But` continue the previous keyword.\n\n");
    out.push_str("## Parameter types\n\n| type | matches |\n|---|---|\n");
    out.push_str("| `{int}` | a whole number |\n| `{string}` | text in double quotes |\n");
    for (name, _, doc) in PARAMETERS {
        let _ = writeln!(out, "| `{{{name}}}` | {doc} |");
    }
    for kind in [Kind::Given, Kind::When, Kind::Then] {
        let _ = writeln!(out, "\n## {}\n", kind.keyword());
        for c in CATALOGUE.iter().filter(|c| c.def.kind == kind) {
            let _ = writeln!(
                out,
                "- **{} {}**  \n  {}  \n  e.g. `{}`",
                kind.keyword(),
                c.def.expr.replace("\\/", "/"),
                c.def.doc,
                c.def.example.lines().next().unwrap_or_default()
            );
            for extra in c.def.example.lines().skip(1) {
                let _ = writeln!(out, "  `{}`", extra.trim());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// `features/STEPS.md` is this catalogue; `ZK_CHAOS_BLESS=1` rewrites it.
    #[test]
    fn the_committed_catalogue_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("features/STEPS.md");
        let md = super::markdown();
        if std::env::var_os("ZK_CHAOS_BLESS").is_some() {
            std::fs::write(&path, &md).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == md, "features/STEPS.md is stale: run `ZK_CHAOS_BLESS=1 cargo test --lib steps::render`");
    }

    #[test]
    fn the_catalogue_lists_every_step_with_its_example() {
        let md = super::markdown();
        for c in super::CATALOGUE.iter() {
            assert!(md.contains(c.def.example.lines().next().unwrap()), "{}", c.def.expr);
        }
        assert!(md.contains("`{selector}`"));
    }
}
