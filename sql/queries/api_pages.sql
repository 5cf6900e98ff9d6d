-- GET /api/pages: page effectiveness per (site, path) over whole UTC days [from_day, to_day),
-- from committed generations of r_page_daily. Rates are fractions in [0, 1]; times in seconds.
-- exit_rate = exits / pageviews; bounce_rate = single-page sessions entering here / entrances;
-- conversion_share = visits through the page that reach a goal later / visits through it.
-- params: site String = '', site2 String = '', from_day String = '2026-01-05', to_day String = '2026-01-08', limit UInt64 = 1000
SELECT
    site, path,
    sum(pageviews) AS t_pageviews,
    uniqExactMerge(visitors) AS t_visitors,
    sum(entrances) AS t_entrances,
    sum(exits) AS t_exits,
    round(if(t_pageviews = 0, 0, t_exits / t_pageviews), 6) AS exit_rate,
    round(if(t_entrances = 0, 0, sum(bounces) / t_entrances), 6) AS bounce_rate,
    round(if(sum(timed) = 0, 0, sum(time_sum_ms) / sum(timed) / 1000), 3) AS avg_time_s,
    round(toFloat64(quantileExactMerge(0.5)(time_median)) / 1000, 3) AS median_time_s,
    sum(visits) AS t_visits,
    sum(visits_from_mailing) AS t_from_mailing,
    sum(visits_from_campaign) AS t_from_campaign,
    sum(converting_visits) AS t_converting,
    round(if(t_visits = 0, 0, t_converting / t_visits), 6) AS conversion_share
FROM r_page_daily
WHERE (toString(day), version) IN
      (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
  AND (? = '' OR site = ?)
  AND day >= toDate(?) AND day < toDate(?)
GROUP BY site, path
ORDER BY t_pageviews DESC, site, path
LIMIT ?
