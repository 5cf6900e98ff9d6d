-- Result tables of the aggregator's metric jobs (sql/queries/job_*.sql). Runs on ClickHouse
-- 18.16 and on current ClickHouse.
--
-- Every job recomputes whole buckets (a UTC day of hits, or one mailing) and writes them as a
-- new generation `version`; readers only see generations listed in r_generations, which a job
-- writes after all rows of the generation are in. So a reader never sees half a run, a rerun
-- of the same bucket gives the same rows, and ReplacingMergeTree(version) folds the older
-- generations away on merge.

-- Committed generations and the fingerprint of the input each was computed from (the
-- watermark: a bucket is recomputed only when its fingerprint changes).
CREATE TABLE IF NOT EXISTS r_generations
(
    job String,
    bucket String,
    version UInt64,
    fingerprint String,
    committed_at DateTime
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (job, bucket);

-- One row per pageview with its session facts (sessions: 30 min inactivity, cut at UTC
-- midnight; ordered by ts_ms then event_id, never by arrival).
CREATE TABLE IF NOT EXISTS r_pageviews
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
    converts_after UInt8
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, site, visitor_id, ts_ms, event_id);

-- Page effectiveness per day; visitors and the median keep aggregate states so any range of
-- days merges exactly.
CREATE TABLE IF NOT EXISTS r_page_daily
(
    day Date,
    version UInt64,
    site String,
    path String,
    pageviews UInt64,
    visitors AggregateFunction(uniqExact, String),
    entrances UInt64,
    exits UInt64,
    bounces UInt64,
    timed UInt64,
    time_sum_ms UInt64,
    time_median AggregateFunction(quantileExact(0.5), UInt64),
    visits UInt64,
    converting_visits UInt64,
    visits_from_mailing UInt64,
    visits_from_campaign UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, site, path);

-- Person-level activities (opens, clicks, visits with pages, events, conversions) of hits
-- that carried a person; first_seen is the generation that first produced the row, the first
-- key of the change feed's cursor.
CREATE TABLE IF NOT EXISTS r_activities
(
    day Date,
    version UInt64,
    first_seen UInt64,
    activity_id UInt64,
    person_id String,
    ts_ms UInt64,
    event_id String,
    kind String,
    site String,
    mailing_id String,
    link_id String,
    verdict String,
    path String,
    event_name String,
    detail String,
    pages Array(String),
    page_ts Array(UInt64),
    duration_ms UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, activity_id);

-- Mailing response per recipient of the send log (0 = never).
CREATE TABLE IF NOT EXISTS r_mailing_recipients
(
    mailing_id String,
    person_id String,
    version UInt64,
    account_id String,
    sent_ms UInt64,
    first_open_ms UInt64,
    first_human_open_ms UInt64,
    first_click_ms UInt64,
    first_human_click_ms UInt64,
    clicks UInt64,
    human_clicks UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (mailing_id, person_id);

-- Clicks per link of a mailing.
CREATE TABLE IF NOT EXISTS r_mailing_links
(
    mailing_id String,
    link_id String,
    version UInt64,
    clicks UInt64,
    human_clicks UInt64,
    unique_clickers UInt64,
    human_unique_clickers UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (mailing_id, link_id);
