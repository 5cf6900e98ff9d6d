//! The collector's one metric catalogue: every name, its help text, its buckets, and the enums
//! its labels come from. Nothing else in the crate names a metric.

use std::sync::OnceLock;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Hits that reached a route (before validation), by route.
pub const HITS_RECEIVED: &str = "collector_hits_received_total";
/// Hits queued for ClickHouse, by route.
pub const HITS_ACCEPTED: &str = "collector_hits_accepted_total";
/// Hits refused as invalid, by reason.
pub const HITS_REJECTED: &str = "collector_hits_rejected_total";
/// Valid hits not stored because queue and spool were both full (`cause="intentional"`).
pub const HITS_DROPPED: &str = "collector_hits_dropped_total";
/// Rows per batch handed to ClickHouse.
pub const BATCH_ROWS: &str = "collector_batch_rows";
/// Time of one INSERT, successful or not.
pub const INSERT_DURATION: &str = "collector_insert_duration_seconds";
/// Failed INSERTs, by class.
pub const INSERT_ERRORS: &str = "collector_insert_errors_total";
/// Hits confirmed by ClickHouse.
pub const HITS_WRITTEN: &str = "collector_hits_written_total";
/// Hits waiting in the in-memory queue.
pub const QUEUE_HITS: &str = "collector_queue_hits";
/// Bytes of batches waiting in the spool.
pub const SPOOL_BYTES: &str = "collector_spool_bytes";
/// Segment files waiting in the spool.
pub const SPOOL_SEGMENTS: &str = "collector_spool_segments";
/// Hits written to the spool.
pub const SPOOLED_HITS: &str = "collector_spooled_hits_total";
/// Hits replayed from the spool into ClickHouse.
pub const REPLAYED_HITS: &str = "collector_replayed_hits_total";
/// Hits ClickHouse refused as bad data, set aside under `quarantine/`.
pub const QUARANTINED_HITS: &str = "collector_quarantined_hits_total";
/// Spool segments found torn or corrupt and moved aside.
pub const SPOOL_CORRUPT: &str = "collector_spool_corrupt_segments_total";
/// HTTP answers, by route template and status.
pub const HTTP_REQUESTS: &str = "collector_http_requests_total";
/// Public connections open now.
pub const CONNECTIONS: &str = "collector_connections";
/// Consent directory loads from ClickHouse, by `outcome` (ok, failed).
pub const DIRECTORY_RELOADS: &str = "collector_directory_reloads_total";
/// Persons whose `tracking` consent stands in the loaded directory.
pub const DIRECTORY_PERSONS: &str = "collector_directory_persons";
/// Identity links, by `outcome` (written, conflict, dropped, lost).
pub const IDENTITY_LINKS: &str = "collector_identity_links_total";

/// Every metric this binary exports (dashboards and alerts are checked against it).
pub const METRIC_NAMES: &[&str] = &[
    HITS_RECEIVED,
    HITS_ACCEPTED,
    HITS_REJECTED,
    HITS_DROPPED,
    BATCH_ROWS,
    INSERT_DURATION,
    INSERT_ERRORS,
    HITS_WRITTEN,
    QUEUE_HITS,
    SPOOL_BYTES,
    SPOOL_SEGMENTS,
    SPOOLED_HITS,
    REPLAYED_HITS,
    QUARANTINED_HITS,
    SPOOL_CORRUPT,
    HTTP_REQUESTS,
    CONNECTIONS,
    DIRECTORY_RELOADS,
    DIRECTORY_PERSONS,
    IDENTITY_LINKS,
];

/// Route templates, the only values of the `route` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /p.gif`
    Pixel,
    /// `POST /e` (and its preflight)
    Beacon,
    /// `GET /t.js`
    Script,
    /// `GET /r/{token}`
    Click,
    /// `GET /o/{token}.gif`
    Open,
    /// Anything else.
    Other,
}

impl Route {
    /// Every route, in label-index order.
    const ALL: [Route; 6] = [
        Self::Pixel,
        Self::Beacon,
        Self::Script,
        Self::Click,
        Self::Open,
        Self::Other,
    ];

    /// Label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pixel => "/p.gif",
            Self::Beacon => "/e",
            Self::Script => "/t.js",
            Self::Click => "/r/{token}",
            Self::Open => "/o/{token}.gif",
            Self::Other => "other",
        }
    }
}

/// Classes of insert failure, the only values of the `class` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertClass {
    /// ClickHouse refused the data itself; never retried.
    BadData,
    /// Slower than the insert timeout.
    Timeout,
    /// Anything else (down, network, overload); retried.
    Transient,
}

impl InsertClass {
    /// Label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::BadData => "bad_data",
            Self::Timeout => "timeout",
            Self::Transient => "transient",
        }
    }
}

/// Status label values, in the order [`status_index`] gives.
const STATUS_LABELS: [&str; 11] = [
    "200", "202", "204", "302", "304", "400", "404", "405", "413", "503", "other",
];

/// Index of a status code's label in [`STATUS_LABELS`].
fn status_index(status: u16) -> usize {
    match status {
        200 => 0,
        202 => 1,
        204 => 2,
        302 => 3,
        304 => 4,
        400 => 5,
        404 => 6,
        405 => 7,
        413 => 8,
        503 => 9,
        _ => 10,
    }
}

/// Handles of the series every request touches, registered once. A labelled `counter!`
/// builds its key and hashes it on each call (about 1% of the collector's CPU at full rate
/// when three of them ran per request); a handle is a pointer to the atomic.
struct Hot {
    received: [Counter; 6],
    accepted: [Counter; 6],
    http: [[Counter; 11]; 6],
}

/// Set by [`install`] right after the recorder is (handles taken earlier would be no-ops).
static HOT: OnceLock<Hot> = OnceLock::new();

impl Hot {
    fn register() -> Self {
        let per_route =
            |name: &'static str| Route::ALL.map(|r| counter!(name, "route" => r.label()));
        Self {
            received: per_route(HITS_RECEIVED),
            accepted: per_route(HITS_ACCEPTED),
            http: Route::ALL.map(|r| {
                STATUS_LABELS.map(|s| counter!(HTTP_REQUESTS, "route" => r.label(), "status" => s))
            }),
        }
    }
}

/// Installs the global Prometheus recorder once per process and returns its handle.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(BATCH_ROWS.into()),
                    &[1.0, 10.0, 100.0, 1_000.0, 5_000.0, 10_000.0, 50_000.0],
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(INSERT_DURATION.into()),
                        &[
                            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                        ],
                    )
                });
            let recorder = match builder {
                Ok(b) => b.build_recorder(),
                // Buckets are constants above; this cannot fail, but never panic at start.
                Err(_) => PrometheusBuilder::new().build_recorder(),
            };
            let handle = recorder.handle();
            // Another recorder may already be installed (tests); ours still renders.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            let _ = HOT.set(Hot::register());
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(HITS_RECEIVED, "Hits that reached a route, by route.");
    describe_counter!(HITS_ACCEPTED, "Hits queued for ClickHouse, by route.");
    describe_counter!(HITS_REJECTED, "Hits refused as invalid, by reason.");
    describe_counter!(
        HITS_DROPPED,
        "Valid hits not stored because queue and spool were full."
    );
    describe_histogram!(BATCH_ROWS, "Rows per batch handed to ClickHouse.");
    describe_histogram!(INSERT_DURATION, "Seconds per INSERT attempt.");
    describe_counter!(INSERT_ERRORS, "Failed INSERTs, by class.");
    describe_counter!(HITS_WRITTEN, "Hits confirmed by ClickHouse.");
    describe_gauge!(QUEUE_HITS, "Hits waiting in the in-memory queue.");
    describe_gauge!(SPOOL_BYTES, "Bytes waiting in the on-disk spool.");
    describe_gauge!(SPOOL_SEGMENTS, "Segments waiting in the on-disk spool.");
    describe_counter!(SPOOLED_HITS, "Hits written to the spool.");
    describe_counter!(
        REPLAYED_HITS,
        "Hits replayed from the spool into ClickHouse."
    );
    describe_counter!(QUARANTINED_HITS, "Hits refused by ClickHouse as bad data.");
    describe_counter!(SPOOL_CORRUPT, "Torn or corrupt spool segments moved aside.");
    describe_counter!(HTTP_REQUESTS, "HTTP answers, by route and status.");
    describe_gauge!(CONNECTIONS, "Public connections open now.");
    describe_counter!(DIRECTORY_RELOADS, "Consent directory loads, by outcome.");
    describe_gauge!(DIRECTORY_PERSONS, "Persons whose tracking consent stands.");
    describe_counter!(IDENTITY_LINKS, "Identity links, by outcome.");
}

/// Counts `n` hits arriving at `route`.
pub fn received(route: Route, n: u64) {
    match HOT.get() {
        Some(h) => h.received[route as usize].increment(n),
        None => counter!(HITS_RECEIVED, "route" => route.label()).increment(n),
    }
}

/// Counts `n` hits queued from `route`.
pub fn accepted(route: Route, n: u64) {
    match HOT.get() {
        Some(h) => h.accepted[route as usize].increment(n),
        None => counter!(HITS_ACCEPTED, "route" => route.label()).increment(n),
    }
}

/// Counts `n` invalid hits; `reason` comes from `enrich::REASONS` or the token errors.
pub fn rejected(reason: &'static str, n: u64) {
    counter!(HITS_REJECTED, "reason" => reason).increment(n);
}

/// Counts `n` valid hits dropped on purpose because queue and spool were full.
pub fn dropped(n: u64) {
    counter!(HITS_DROPPED, "cause" => "intentional").increment(n);
}

/// Records one INSERT attempt.
pub fn insert(seconds: f64, rows: usize, error: Option<InsertClass>) {
    histogram!(INSERT_DURATION).record(seconds);
    match error {
        None => counter!(HITS_WRITTEN).increment(rows as u64),
        Some(class) => counter!(INSERT_ERRORS, "class" => class.label()).increment(1),
    }
}

/// Records the size of a batch as it is formed.
pub fn batch(rows: usize) {
    histogram!(BATCH_ROWS).record(rows as f64);
}

/// Sets the queue depth.
pub fn queue_depth(n: usize) {
    gauge!(QUEUE_HITS).set(n as f64);
}

/// Sets the spool size.
pub fn spool_size(bytes: u64, segments: usize) {
    gauge!(SPOOL_BYTES).set(bytes as f64);
    gauge!(SPOOL_SEGMENTS).set(segments as f64);
}

/// Counts hits spooled.
pub fn spooled(rows: usize) {
    counter!(SPOOLED_HITS).increment(rows as u64);
}

/// Counts hits replayed from the spool.
pub fn replayed(rows: usize) {
    counter!(REPLAYED_HITS).increment(rows as u64);
}

/// Counts hits quarantined.
pub fn quarantined(rows: usize) {
    counter!(QUARANTINED_HITS).increment(rows as u64);
}

/// Counts a corrupt segment moved aside.
pub fn corrupt_segment() {
    counter!(SPOOL_CORRUPT).increment(1);
}

/// Counts one HTTP answer.
pub fn http(route: Route, status: u16) {
    let s = status_index(status);
    match HOT.get() {
        Some(h) => h.http[route as usize][s].increment(1),
        None => counter!(HTTP_REQUESTS, "route" => route.label(), "status" => STATUS_LABELS[s])
            .increment(1),
    }
}

/// Records a consent directory load.
pub fn directory_reload(ok: bool, consented_persons: usize) {
    counter!(DIRECTORY_RELOADS, "outcome" => if ok { "ok" } else { "failed" }).increment(1);
    if ok {
        gauge!(DIRECTORY_PERSONS).set(consented_persons as f64);
    }
}

/// Counts identity links by outcome: `written`, `conflict`, `dropped` (channel full) or
/// `lost` (ClickHouse refused past the retries).
pub fn identity_links(outcome: &'static str, n: u64) {
    if n > 0 {
        counter!(IDENTITY_LINKS, "outcome" => outcome).increment(n);
    }
}

/// Sets the number of open public connections.
pub fn connections(n: usize) {
    gauge!(CONNECTIONS).set(n as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_convention() {
        for n in METRIC_NAMES {
            assert!(n.starts_with("collector_"), "{n}");
            assert!(
                n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{n}"
            );
        }
        let mut sorted = METRIC_NAMES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), METRIC_NAMES.len(), "duplicate metric name");
    }

    /// The value of one series in a rendered exposition, 0 when absent.
    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    #[test]
    fn recorded_metrics_render() {
        let h = install();
        received(Route::Pixel, 3);
        batch(10);
        insert(0.01, 10, None);
        let text = h.render();
        assert!(
            text.contains("collector_hits_received_total{route=\"/p.gif\"}"),
            "{text}"
        );
        // The cached handles count into the installed recorder (other tests in this binary
        // may count too, so compare before and after, never against a fixed total).
        let accepted_e = "collector_hits_accepted_total{route=\"/e\"}";
        let open_304 = "collector_http_requests_total{route=\"/o/{token}.gif\",status=\"304\"}";
        let before = (value(&text, accepted_e), value(&text, open_304));
        accepted(Route::Beacon, 2);
        http(Route::Open, 304);
        let text = h.render();
        assert!(value(&text, accepted_e) >= before.0 + 2.0, "{text}");
        assert!(value(&text, open_304) >= before.1 + 1.0, "{text}");
        assert!(text.contains("collector_batch_rows_bucket"), "{text}");
        assert!(
            text.contains("collector_insert_duration_seconds_bucket"),
            "{text}"
        );
    }
}
