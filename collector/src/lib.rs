//! The collector library: HTTP edge, enrichment, batching, spool. `main.rs` only wires it.
#![forbid(unsafe_code)]
