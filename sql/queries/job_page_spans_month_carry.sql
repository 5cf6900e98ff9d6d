-- Job "page_spans", incremental month: the month rows of generation `old_version` whose
-- (site, path) did not change on any day (cityHash64(site, path) not in `changed`, see
-- job_page_spans_changed.sql) are carried to the new generation `version` as they are; the
-- changed ones are merged again from the day rows (job_page_spans_months.sql with `pairs`).
-- params: version UInt64 = 19, month String = '2026-01-01', end String = '2026-02-01', old_version UInt64 = 18, changed Array(UInt64) = [1, 2]
INSERT INTO r_page_spans
SELECT
    span_start, span_end, toUInt64(?) AS generation, site, path, pageviews, visitors,
    entrances, exits, bounces, timed, time_sum_ms, median_ms, visits, converting_visits,
    visits_from_mailing, visits_from_campaign, visitor_set, time_set
FROM r_page_spans
WHERE span_start = toDate(?) AND span_end = toDate(?) AND version = toUInt64(?)
  AND NOT has(CAST(? AS Array(UInt64)), cityHash64(site, path))
