//! What the collector and the aggregator must agree on: the hit row and its RowBinary
//! encoding, link and person token signing, ClickHouse settings, config loading and the schema.
#![forbid(unsafe_code)]

pub mod ch;
pub mod config;
pub mod hit;
mod hit_ref;
pub mod schema;
pub mod token;
