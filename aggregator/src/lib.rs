//! The aggregator library: schema, CRM/mailing intake, metric jobs and the API.
#![forbid(unsafe_code)]
