//! The collector binary.
fn main() {}
