//! The aggregator's metric catalogue (every name, its help text and its buckets) and the
//! Prometheus recorder behind `/metrics`. Names follow `aggregator_<noun>_<unit>[_total]`;
//! labels come only from enums and route templates.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// API requests answered, by `route` template and `status` code.
pub const HTTP_REQUESTS: &str = "aggregator_http_requests_total";
/// Time to answer an API request, by `route` template.
pub const HTTP_DURATION: &str = "aggregator_http_request_duration_seconds";
/// Requests refused for a missing or wrong bearer token.
pub const AUTH_FAILURES: &str = "aggregator_auth_failures_total";
/// Rows stored by the intake endpoints, by `table`.
pub const INTAKE_ROWS: &str = "aggregator_intake_rows_total";
/// Intake requests refused whole because a row was bad, by `table`.
pub const INTAKE_REJECTED: &str = "aggregator_intake_rejected_requests_total";
/// Signed click and open URLs and person tokens handed out, by `kind`.
pub const TOKENS_SIGNED: &str = "aggregator_tokens_signed_total";
/// GDPR erasures carried out (a repeated delete is not counted).
pub const ERASURES: &str = "aggregator_erasures_total";
/// Time a GDPR erasure took, including waiting for its mutations.
pub const ERASURE_DURATION: &str = "aggregator_erasure_duration_seconds";
/// ClickHouse calls that failed, by `op`.
pub const CLICKHOUSE_ERRORS: &str = "aggregator_clickhouse_errors_total";

/// Every metric name the aggregator emits. Metric jobs (engineer D) add theirs here too.
pub const METRIC_NAMES: &[&str] = &[
    HTTP_REQUESTS,
    HTTP_DURATION,
    AUTH_FAILURES,
    INTAKE_ROWS,
    INTAKE_REJECTED,
    TOKENS_SIGNED,
    ERASURES,
    ERASURE_DURATION,
    CLICKHOUSE_ERRORS,
    crate::metrics::telemetry::JOB_RUNS,
    crate::metrics::telemetry::JOB_FAILURES,
    crate::metrics::telemetry::JOB_DURATION,
    crate::metrics::telemetry::JOB_LAST_SUCCESS,
    crate::metrics::telemetry::JOB_BUCKETS,
];

/// Buckets for API latency: the p99 target is 100 ms.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Buckets for erasures, which wait for mutations.
const ERASURE_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(HTTP_REQUESTS, "API requests answered, by route and status.");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an API request."
    );
    describe_counter!(
        AUTH_FAILURES,
        "Requests refused for a missing or wrong token."
    );
    describe_counter!(INTAKE_ROWS, "Rows stored by the intake endpoints.");
    describe_counter!(
        INTAKE_REJECTED,
        "Intake requests refused whole for a bad row."
    );
    describe_counter!(TOKENS_SIGNED, "Signed URLs and person tokens handed out.");
    describe_counter!(ERASURES, "GDPR erasures carried out.");
    describe_histogram!(ERASURE_DURATION, Unit::Seconds, "Time a GDPR erasure took.");
    describe_counter!(CLICKHOUSE_ERRORS, "ClickHouse calls that failed.");
    crate::metrics::telemetry::describe();
}

/// Installs the process-wide Prometheus recorder once and returns its handle; later calls
/// (several servers in one test process) share it.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(ERASURE_DURATION.into()),
                        ERASURE_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(crate::metrics::telemetry::JOB_DURATION.into()),
                        crate::metrics::telemetry::DURATION_BUCKETS,
                    )
                });
            // The bucket lists are non-empty constants, so the builder cannot refuse them.
            let recorder = builder
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (e.g. a test process hosting the
            // collector too); then our handle renders only what we describe, which is fine.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_convention() {
        for n in METRIC_NAMES {
            assert!(n.starts_with("aggregator_"), "{n}");
            let unit_ok = n.ends_with("_total") || n.ends_with("_seconds") || n.ends_with("_rows");
            assert!(unit_ok, "{n} must end in a unit");
        }
        let mut sorted = METRIC_NAMES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), METRIC_NAMES.len());
    }
}
