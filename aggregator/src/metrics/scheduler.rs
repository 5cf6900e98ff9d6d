//! Runs the metric jobs: every `AGGREGATOR_REFRESH_S` in the background, and on demand
//! (`POST /api/refresh`), never two refreshes at once in a process, each job counted in
//! `/metrics` (runs, failures, duration, last success).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Mutex;

use super::jobs::{self, Job, JobReport};
use super::telemetry as t;
use crate::api::AppState;

/// One refresh at a time: jobs write generations in version order, and a second refresh
/// racing the first would only redo its work.
static REFRESH: Mutex<()> = Mutex::const_new(());

/// Runs every job now (after any refresh already running). `force` recomputes every bucket
/// whether or not its input changed (benchmarks, operators after a SQL change).
pub async fn refresh(
    state: &AppState,
    force: bool,
) -> Result<Vec<JobReport>, clickhouse::error::Error> {
    let _one = REFRESH.lock().await;
    let mut reports = Vec::new();
    for job in Job::ALL {
        let started = Instant::now();
        let version = state.versions.next(1);
        let result = jobs::run(&state.ch, job, version, force).await;
        let label = job.as_str();
        metrics::counter!(t::JOB_RUNS, "job" => label).increment(1);
        metrics::histogram!(t::JOB_DURATION, "job" => label)
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(report) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                metrics::gauge!(t::JOB_LAST_SUCCESS, "job" => label).set(now);
                metrics::counter!(t::JOB_BUCKETS, "job" => label)
                    .increment(report.buckets.len() as u64);
                tracing::debug!(
                    job = label,
                    buckets = report.buckets.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "metric job done"
                );
                reports.push(report);
            }
            Err(e) => {
                metrics::counter!(t::JOB_FAILURES, "job" => label).increment(1);
                tracing::warn!(job = label, error = %e, "metric job failed; its buckets stay due and rerun next time");
                return Err(e);
            }
        }
    }
    Ok(reports)
}

/// Refreshes every `AGGREGATOR_REFRESH_S` until the task is dropped or aborted.
pub async fn run_forever(state: Arc<AppState>) {
    let period = Duration::from_secs(state.config.refresh_s.max(1));
    // The first run comes one period after start, so a server that starts and stops at once
    // (tests, a crash loop) does not recompute anything.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Failures are counted and logged inside; the next tick retries.
        let _ = refresh(&state, false).await;
    }
}

/// Starts the background refresh; the returned guard stops it when dropped.
pub fn spawn(state: Arc<AppState>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(run_forever(state)))
}

/// Aborts the background task when the server that owns it goes away.
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
