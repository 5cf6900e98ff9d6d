-- r_pageviews with two per-pageview flags the sessionizer computes once, so page effectiveness
-- counts visits and converting visits as sums and feeds the distinct-visitor states only one
-- row per (visitor, path, day), instead of exact distinct sets over every pageview. A new
-- table rather than ALTER ... ADD COLUMN: 18.16 has no ADD COLUMN IF NOT EXISTS, and every
-- migration statement must be safe to run twice (several replicas migrate at once). The old
-- r_pageviews is no longer written; nothing else needs it, since a run of job "days" reads
-- back only the pageviews of the generation it is writing.
-- Runs on ClickHouse 18.16 and on current ClickHouse.

-- One row per pageview with its session facts (sessions: 30 min inactivity, cut at UTC
-- midnight; ordered by ts_ms then event_id, never by arrival). visit_first: first view of
-- this path in its session; day_first: first view of this path by the visitor that day.
CREATE TABLE IF NOT EXISTS r_pageviews_v2
(
    day Date,
    version UInt64,
    site String,
    visitor_id String,
    person_id String,
    session_no UInt32,
    session_start_ms UInt64,
    session_end_ms UInt64,
    ts_ms UInt64,
    event_id String,
    path String,
    is_entrance UInt8,
    is_exit UInt8,
    is_bounce UInt8,
    timed UInt8,
    time_ms UInt64,
    from_mailing UInt8,
    from_campaign UInt8,
    converts_after UInt8,
    visit_first UInt8,
    day_first UInt8
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, site, visitor_id, ts_ms, event_id);
