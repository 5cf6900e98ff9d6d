-- GET /api/pages for a range that is exactly one span of r_page_spans (a UTC day or a
-- calendar month): the finished figures of that span's committed generation, read as
-- numbers (no aggregate state is touched). Columns as api_pages.sql.
-- params: span_start String = '2026-01-01', span_end String = '2026-02-01', version UInt64 = 18, site String = '', site2 String = '', limit UInt64 = 1000
SELECT
    site, path, pageviews, visitors, entrances, exits, bounces, timed, time_sum_ms, median_ms,
    visits, visits_from_mailing, visits_from_campaign, converting_visits
FROM r_page_spans
WHERE span_start = toDate(?) AND span_end = toDate(?) AND version = ?
  AND (? = '' OR site = ?)
ORDER BY pageviews DESC, site, path
LIMIT ?
