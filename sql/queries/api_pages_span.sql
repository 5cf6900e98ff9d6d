-- GET /api/pages for a range that is exactly one span (a UTC day or a calendar month): the
-- finished figures of that span's committed generation, read as numbers (no aggregate state
-- or visitor array is touched). A month's row is in r_page_spans (0006), a day's in
-- r_page_days (0012); the span [span_start, span_end) picks the table (a day row has
-- span_end = day + 1, a month row spans more than one day). Columns as api_pages.sql.
-- params: span_start String = '2026-01-01', span_end String = '2026-02-01', version UInt64 = 18, site String = '', site2 String = '', day String = '2026-01-01', day_end String = '2026-02-01', day_version UInt64 = 18, day_site String = '', day_site2 String = '', limit UInt64 = 1000
SELECT
    site, path, pageviews, visitors, entrances, exits, bounces, timed, time_sum_ms, median_ms,
    visits, visits_from_mailing, visits_from_campaign, converting_visits
FROM
(
    SELECT
        site, path, pageviews, visitors, entrances, exits, bounces, timed, time_sum_ms,
        median_ms, visits, visits_from_mailing, visits_from_campaign, converting_visits
    FROM r_page_spans
    WHERE span_start = toDate(?) AND span_end = toDate(?) AND version = ?
      AND span_end > span_start + 1
      AND (? = '' OR site = ?)
    UNION ALL
    SELECT
        site, path, pageviews, visitors, entrances, exits, bounces, timed, time_sum_ms,
        median_ms, visits, visits_from_mailing, visits_from_campaign, converting_visits
    FROM r_page_days
    WHERE day = toDate(?) AND day + 1 = toDate(?) AND version = ?
      AND (? = '' OR site = ?)
)
ORDER BY pageviews DESC, site, path
LIMIT ?
