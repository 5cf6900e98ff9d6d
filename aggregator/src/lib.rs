//! The aggregator library: config, schema commands, CRM/mailing intake, signed links, GDPR,
//! metric jobs and the API. `main.rs` only wires it.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod metrics;
pub mod server;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use server::run;
