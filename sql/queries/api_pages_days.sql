-- GET /api/pages for a range of several days that is not one span (a week, the last 30 days
-- across a month boundary): merges the day rows of r_page_days (migration 0012), day days[i]
-- at its committed generation versions[i] (the day range lets the primary key skip the
-- rest). Visitors are the distinct 64-bit visitor hashes of the concatenated day arrays
-- (arrayUniq: ~4x faster than merging uniqExact states). Columns as api_pages.sql.
-- params: first_day String = '2026-01-05', end_day String = '2026-01-08', versions Array(UInt64) = [18,18,18], days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], site String = '', site2 String = '', limit UInt64 = 1000
SELECT
    site, path,
    sum(pageviews) AS t_pageviews,
    toUInt64(arrayUniq(groupArrayArray(visitor_hashes))) AS t_visitors,
    sum(entrances) AS t_entrances,
    sum(exits) AS t_exits,
    sum(bounces) AS t_bounces,
    sum(timed) AS t_timed,
    sum(time_sum_ms) AS t_time_sum_ms,
    toUInt64(quantileExactMerge(0.5)(time_set)) AS t_median_ms,
    sum(visits) AS t_visits,
    sum(visits_from_mailing) AS t_from_mailing,
    sum(visits_from_campaign) AS t_from_campaign,
    sum(converting_visits) AS t_converting
FROM r_page_days
WHERE day >= toDate(?) AND day < toDate(?)
  AND version = CAST(? AS Array(UInt64))[indexOf(CAST(? AS Array(String)), toString(day))]
  AND (? = '' OR site = ?)
GROUP BY site, path
ORDER BY t_pageviews DESC, site, path
LIMIT ?
