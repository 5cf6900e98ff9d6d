//! Metric names of the metric jobs; `crate::telemetry` lists them in its catalogue.

/// Job runs (scheduled and `POST /api/refresh`), by `job`.
pub const JOB_RUNS: &str = "aggregator_job_runs_total";
/// Job runs that failed, by `job`.
pub const JOB_FAILURES: &str = "aggregator_job_failures_total";
/// Time a job run took, by `job`.
pub const JOB_DURATION: &str = "aggregator_job_duration_seconds";
/// Unix time of the last successful run, by `job`.
pub const JOB_LAST_SUCCESS: &str = "aggregator_job_last_success_timestamp_seconds";
/// Buckets (days, mailings) recomputed, by `job`.
pub const JOB_BUCKETS: &str = "aggregator_job_buckets_total";

/// Every job metric name.
pub const NAMES: &[&str] = &[
    JOB_RUNS,
    JOB_FAILURES,
    JOB_DURATION,
    JOB_LAST_SUCCESS,
    JOB_BUCKETS,
];

/// Buckets for job durations: a full recompute of 10 M hits targets < 10 s, an increment < 1 s.
pub const DURATION_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Help texts.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(JOB_RUNS, "Metric job runs, by job.");
    describe_counter!(JOB_FAILURES, "Metric job runs that failed, by job.");
    describe_histogram!(JOB_DURATION, Unit::Seconds, "Time a metric job run took.");
    describe_gauge!(
        JOB_LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last successful run of a metric job."
    );
    describe_counter!(JOB_BUCKETS, "Days or mailings recomputed by a metric job.");
}
