-- The mailing opens and clicks of the hits, copied per UTC day by job "days" (generations as
-- in 0004_results.sql), so job "mailings" and its watermark read a small table by mailing
-- instead of scanning the type and mailing_id of every hit on each refresh. A copy made by
-- the job rather than a materialized view: it needs no backfill, and it follows the day's
-- recompute (replays, erasures) like every other result table.
-- Runs on ClickHouse 18.16 and on current ClickHouse.
CREATE TABLE IF NOT EXISTS r_mail_hits
(
    day Date,
    version UInt64,
    mailing_id String,
    event_id UUID,
    type String,
    person_id String,
    link_id String,
    verdict String,
    ts_ms UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (mailing_id, day, event_id);
