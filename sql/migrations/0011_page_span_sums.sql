-- A checksum per day row of r_page_spans (0006), so job "page_spans" re-merges a month only for
-- the (site, path) rows whose day row changed, and carries the others to the new generation
-- (aggregator/src/metrics/spans.rs). A table of its own rather than ALTER ... ADD COLUMN:
-- 18.16 has no ADD COLUMN IF NOT EXISTS, and every migration statement must be safe to run
-- twice. Runs on ClickHouse 18.16 and on current ClickHouse.
--
-- checksum is the sum (mod 2^64) of cityHash64 over the day's pageviews of the path of every
-- input of the day row (the visitor where it is the visitor's first view of the path that day,
-- the time where the view is timed, the entrance/exit/bounce/visit/conversion/source flags),
-- so equal multisets of pageviews give equal sums: two day rows with different inputs have
-- the same checksum with probability 2^-64.
-- Generations as in 0004_results.sql: one row per (day, site, path) and generation of the
-- day row.
CREATE TABLE IF NOT EXISTS r_page_span_sums
(
    span_start Date,
    version UInt64,
    site String,
    path String,
    checksum UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(span_start)
ORDER BY (span_start, site, path);
