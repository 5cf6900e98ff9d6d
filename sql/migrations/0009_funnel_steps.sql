-- The funnel steps each known person reached, for the activity change feed (GET
-- /api/activities?after=CURSOR), written by the aggregator's job "funnels"
-- (aggregator/src/metrics/funnel_spans.rs): per defined funnel, each person's walk over
-- their timeline (visits with their pages, events), as the person timeline shows it.
-- activity_id identifies a step (funnel, person, step, time); first_seen is the generation
-- that first produced it, the first key of the feed's cursor, kept across recomputes.
-- detail is the step as JSON: {"funnel", "step", "step_index"}.
-- Generations as in 0004_results.sql; a funnel's bucket is '{funnel}|steps'. Runs on
-- ClickHouse 18.16 and on current ClickHouse.
CREATE TABLE IF NOT EXISTS r_funnel_steps
(
    funnel String,
    version UInt64,
    first_seen UInt64,
    activity_id UInt64,
    person_id String,
    ts_ms UInt64,
    detail String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (funnel, activity_id);
