-- GET /api/pages: page effectiveness per (site, path) over whole UTC days [from_day, to_day),
-- from committed generations of r_page_daily. Only integer counts and milliseconds come out;
-- the handler computes the rates from them (so they are exact):
-- exit_rate = exits / pageviews; bounce_rate = bounces (single-page sessions entering here) /
-- entrances; avg time = time_sum_ms / timed; conversion_share = converting visits / visits.
-- params: site String = '', site2 String = '', from_day String = '2026-01-05', to_day String = '2026-01-08', limit UInt64 = 1000
SELECT
    site, path,
    sum(pageviews) AS t_pageviews,
    uniqExactMerge(visitors) AS t_visitors,
    sum(entrances) AS t_entrances,
    sum(exits) AS t_exits,
    sum(bounces) AS t_bounces,
    sum(timed) AS t_timed,
    sum(time_sum_ms) AS t_time_sum_ms,
    toUInt64(quantileExactMerge(0.5)(time_median)) AS t_median_ms,
    sum(visits) AS t_visits,
    sum(visits_from_mailing) AS t_from_mailing,
    sum(visits_from_campaign) AS t_from_campaign,
    sum(converting_visits) AS t_converting
FROM r_page_daily
WHERE (toString(day), version) IN
      (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
  AND (? = '' OR site = ?)
  AND day >= toDate(?) AND day < toDate(?)
GROUP BY site, path
ORDER BY t_pageviews DESC, site, path
LIMIT ?
