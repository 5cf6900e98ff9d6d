//! The load generator (placeholder until the load-test work lands).
fn main() {}
