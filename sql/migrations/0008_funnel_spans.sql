-- Finished funnel figures per defined funnel, site and span of whole UTC days (every day
-- with hits, every calendar month), written by the aggregator's job "funnels"
-- (aggregator/src/metrics/funnel_spans.rs), so GET /api/funnels/{name} for a day or a month
-- reads one small row instead of walking the raw hits of the range. Runs on ClickHouse 18.16
-- and on current ClickHouse.
-- account '' holds the figures of every visitor; each other row those of the visitors whose
-- person belongs to that account. steps is the JSON array of per-step figures the API shows,
-- levels the JSON array of [person, account, steps reached] of every known person who
-- reached step 1 (the API keeps those who dropped and whose consent stands at request time).
-- Generations as in 0004_results.sql: readers only read a span's committed version.
CREATE TABLE IF NOT EXISTS r_funnel_spans
(
    funnel String,
    site String,
    account String,
    span_start Date,
    span_end Date,
    version UInt64,
    steps String,
    levels String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (funnel, site, account, span_start, span_end);
