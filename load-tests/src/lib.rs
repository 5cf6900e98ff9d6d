//! The load generator as a library: realistic pixel and beacon traffic against a collector on
//! loopback, bounded by time and count, with latency figures and a count reconciliation
//! against ClickHouse afterwards. `main.rs` only reads flags and prints.
#![forbid(unsafe_code)]

pub mod cli;
pub mod drive;
pub mod gif;
pub mod http;
pub mod metrics;
pub mod reconcile;
pub mod report;
pub mod rss;
pub mod stats;
pub mod target;
pub mod traffic;
