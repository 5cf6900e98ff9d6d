-- The known persons who dropped out of a funnel in a span (reached step 1 but not the last
-- step), one row each, written by job "funnels" with the span's figures in r_funnel_spans
-- (whose `levels` column is no longer written): a person's id is a row of its own here, so
-- a GDPR erasure (which deletes the rows whose person_id is the person's, in every table
-- that has that column) removes it, instead of leaving it inside a JSON array of other rows.
-- account '' lists every visitor's persons; another account only that account's.
-- person_account is the person's account, level the steps reached. Generations as in
-- 0004_results.sql (the version of the span's row). Runs on ClickHouse 18.16 and current
-- ClickHouse.
CREATE TABLE IF NOT EXISTS r_funnel_span_persons
(
    funnel String,
    site String,
    account String,
    span_start Date,
    span_end Date,
    version UInt64,
    person_id String,
    person_account String,
    level UInt32
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (funnel, site, account, span_start, span_end, person_id);
