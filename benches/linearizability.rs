//! Placeholder replaced by the checker's benchmark.
fn main() {}
