//! One run from flags to verdict: send the load while sampling the collector's RSS and its
//! drop counter, then reconcile with ClickHouse, and describe the result for people and as JSON.

use std::time::Duration;

use serde::Serialize;

use crate::cli::Flags;
use crate::drive::{self, Pace, Plan, Tally};
use crate::metrics::{self, CounterTracker};
use crate::reconcile::{self, Expectation, Verdict};
use crate::rss::{self, RssSummary};
use crate::stats::{self, Summary, Window};
use crate::traffic::Mix;

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Run id (the `site` of every hit).
    pub site: String,
    /// `max` or `rate`.
    pub mode: &'static str,
    /// Target rate in rate mode.
    pub target_rate: Option<f64>,
    /// Connections used.
    pub connections: usize,
    /// Wall time of the sending phase.
    pub elapsed_s: f64,
    /// Answered requests per second (any answer).
    pub req_per_s: f64,
    /// Accepted hits per second.
    pub hits_per_s: f64,
    /// Counts by route and answer.
    pub tally: Tally,
    /// Latency of 2xx answers.
    pub latency: Summary,
    /// Latency of 503 answers.
    pub rejected_latency: Summary,
    /// 2xx latency per window.
    pub windows: Vec<Window>,
    /// Collector RSS while the load ran (when watched).
    pub rss: Option<RssSummary>,
    /// Pixel hits the collector counted as intentionally dropped during the run.
    pub intentional_drops: u64,
    /// What ClickHouse had to hold.
    pub expectation: Expectation,
    /// The reconciliation (None with `--no-reconcile`).
    pub verdict: Option<Verdict>,
    /// Answers that break the contract (pixel not 200, 400 to a valid beacon, 503 without
    /// Retry-After, unreadable 202).
    pub contract_violations: u64,
    /// Reconciliation could not run (ClickHouse unreachable).
    pub reconcile_error: Option<String>,
}

impl Report {
    /// Whether the run proves what it should: counts reconciled and no contract violations.
    pub fn ok(&self) -> bool {
        self.contract_violations == 0
            && self.reconcile_error.is_none()
            && self.verdict.as_ref().is_none_or(|v| v.ok)
    }
}

/// Bucket of `--series`: fine enough to see a ClickHouse insert (~100 ms) as its own stall.
const SERIES_BUCKET_MS: u32 = 100;

/// Runs the load described by the flags, then reconciles.
pub async fn execute(f: &Flags) -> Report {
    let plan = Plan {
        target: f.target,
        pace: f.pace,
        connections: f.connections,
        duration: f.duration,
        max_requests: f.max_requests,
        timeout: f.timeout,
        mix: Mix {
            site: f.site.clone(),
            beacon_share: f.beacon_share,
            max_batch: f.max_batch,
            invalid_share: f.invalid_share,
        },
        seed: f.seed,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The drop counter's baseline is read before the first request, so nothing counted by
    // earlier runs (or before this one started) is taken for ours.
    let mut drops = CounterTracker::default();
    scrape(f, &mut drops).await;
    let sampler = tokio::spawn(sample(f.clone(), drops, stop_rx));
    let mut out = drive::run(plan).await;
    let _ = stop_tx.send(true);
    let (rss_kib, drops) = sampler.await.unwrap_or_default();

    let t = &out.tally;
    // The collector's drop counter covers every route; the beacon part is exactly the hits of
    // the beacons it answered 503, so what is left was dropped behind a pixel's 200.
    let drops = drops.saturating_sub(t.beacon_503_hits);
    let accepted = t.answered_accepted_hits().saturating_sub(drops);
    let expectation = Expectation {
        accepted,
        unknown: t.unknown_hits,
        allow_loss: f.allow_loss,
    };
    let contract_violations =
        t.pixel_other + t.beacon_400 + t.beacon_other + t.beacon_503_no_retry_after;
    let (verdict, reconcile_error) = match &f.clickhouse {
        None => (None, None),
        Some(ch) => {
            match reconcile::settle_and_check(ch, &f.site, &expectation, f.settle_timeout).await {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(e.to_string())),
            }
        }
    };
    let secs = out.elapsed.as_secs_f64().max(1e-9);
    let windows = stats::windows(&out.ok_latency, f.window_s);
    if let Some(path) = &f.series {
        let csv = stats::series_csv(&out.ok_latency, SERIES_BUCKET_MS, out.started_unix_ms);
        if let Err(e) = std::fs::write(path, csv) {
            eprintln!("loadgen: cannot write {}: {e}", path.display());
        }
    }
    let mut ok: Vec<u32> = out.ok_latency.iter().map(|s| s.micros).collect();
    let mut rejected: Vec<u32> = out.rejected_latency.iter().map(|s| s.micros).collect();
    out.ok_latency.clear();
    Report {
        site: f.site.clone(),
        mode: if matches!(f.pace, Pace::Max) {
            "max"
        } else {
            "rate"
        },
        target_rate: match f.pace {
            Pace::Rate(r) => Some(r),
            Pace::Max => None,
        },
        connections: f.connections,
        elapsed_s: secs,
        req_per_s: (t.requests - t.connect_errors) as f64 / secs,
        hits_per_s: accepted as f64 / secs,
        tally: t.clone(),
        latency: stats::summarize(&mut ok),
        rejected_latency: stats::summarize(&mut rejected),
        windows,
        rss: f.watch.as_ref().map(|_| rss::summarize(&rss_kib)),
        intentional_drops: drops,
        expectation,
        verdict,
        contract_violations,
        reconcile_error,
    }
}

/// `--check-only`: reconciles a site filled by another tool (wrk) against a known count.
pub async fn check_only(f: &Flags, accepted: u64) -> Result<Verdict, String> {
    let ch = f
        .clickhouse
        .as_ref()
        .ok_or("--check-only needs ClickHouse (drop --no-reconcile)")?;
    let e = Expectation {
        accepted,
        unknown: f.unknown,
        allow_loss: f.allow_loss,
    };
    reconcile::settle_and_check(ch, &f.site, &e, f.settle_timeout)
        .await
        .map_err(|e| e.to_string())
}

/// Samples RSS every 250 ms and the drop counter every second until told to stop; a last
/// scrape after the stop catches drops counted at the very end.
async fn sample(
    f: Flags,
    mut drops: CounterTracker,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> (Vec<u64>, u64) {
    let mut kib = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if let Some(k) = f.watch.as_ref().and_then(|w| w.rss_kib()) {
            kib.push(k);
        }
        if n.is_multiple_of(4) {
            scrape(&f, &mut drops).await;
        }
        n += 1;
    }
    scrape(&f, &mut drops).await;
    (kib, drops.total() as u64)
}

async fn scrape(f: &Flags, drops: &mut CounterTracker) {
    if let Some(url) = &f.metrics_url {
        if let Ok(text) = crate::http::get_text(url, Duration::from_secs(2)).await {
            drops.observe(metrics::sum(&text, &f.drop_metric));
        }
    }
}

/// The human summary printed after a run.
pub fn describe(r: &Report) -> String {
    let t = &r.tally;
    let mut s = format!(
        "site {} | {} | {} connections | {:.1} s\n\
         answered {:.0} req/s, accepted {:.0} hits/s\n\
         2xx latency p50 {:.2} ms  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  ({} answers)\n",
        r.site,
        match r.target_rate {
            Some(x) => format!("open loop at {x:.0} req/s"),
            None => "closed loop (max)".into(),
        },
        r.connections,
        r.elapsed_s,
        r.req_per_s,
        r.hits_per_s,
        r.latency.p50_ms,
        r.latency.p90_ms,
        r.latency.p99_ms,
        r.latency.p999_ms,
        r.latency.max_ms,
        r.latency.count,
    );
    s += &format!(
        "pixels 200: {} valid, {} invalid, {} other | beacons 202: {} ({} hits), 503: {} ({} hits, p99 {:.2} ms), 400: {}, other: {}\n\
         connect errors {} | unknown outcome {} ({} hits) | intentional pixel drops {} | not sent (time ran out) {}\n",
        t.pixel_ok, t.pixel_invalid_ok, t.pixel_other, t.beacon_accepted, t.beacon_accepted_hits,
        t.beacon_503, t.beacon_503_hits, r.rejected_latency.p99_ms, t.beacon_400, t.beacon_other,
        t.connect_errors, t.unknown, t.unknown_hits, r.intentional_drops, t.not_sent,
    );
    if let Some(m) = &r.rss {
        s += &format!(
            "collector RSS max {:.1} MiB (first quarter {:.1}, last quarter {:.1}; {} samples)\n",
            m.max_mib, m.first_quarter_mib, m.last_quarter_mib, m.samples
        );
    }
    match (&r.verdict, &r.reconcile_error) {
        (Some(v), _) => {
            s += &format!(
                "ClickHouse: expected {} | distinct {} | FINAL rows {} | raw rows {} | after OPTIMIZE {} | lost {} | extra {} | replays folded {} | settled in {} ms\n",
                r.expectation.accepted, v.counts.distinct, v.counts.final_rows, v.counts.raw_rows,
                v.counts.rows_after_optimize, v.lost, v.extra, v.duplicates_folded, v.settle_ms
            );
            for p in &v.problems {
                s += &format!("MISMATCH: {p}\n");
            }
        }
        (None, Some(e)) => s += &format!("ClickHouse check failed: {e}\n"),
        (None, None) => s += "ClickHouse check skipped (--no-reconcile)\n",
    }
    if r.contract_violations > 0 {
        s += &format!(
            "CONTRACT: {} answers broke the contract (see counts above)\n",
            r.contract_violations
        );
    }
    s += if r.ok() {
        "RESULT: ok\n"
    } else {
        "RESULT: FAILED\n"
    };
    s
}
