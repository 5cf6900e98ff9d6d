-- Job "page_spans", step 1: one r_page_days row (migration 0012) per (day, site, path) of the
-- given days, as generation `version`, each day from the pageviews of the generation of job
-- "days" that is committed for it (versions[i] for days[i]; the day range lets the primary
-- key skip the rest). Same figures as r_page_daily, finished (visitors, median) plus what
-- months and other ranges merge: day_first marks one view per (visitor, path, day), so
-- visitors is a count and visitor_hashes gets one sipHash64 per visitor (sorted: a row is the
-- same whichever node or thread wrote it); visit_first marks one view per (session, path),
-- and a visit converts when its first view of the page does (a goal at or after the first
-- view is at or after some view, and the other way round).
-- params: version UInt64 = 18, first_day String = '2026-01-05', last_day String = '2026-01-07', versions Array(UInt64) = [7,7,7], days Array(String) = ['2026-01-05','2026-01-06','2026-01-07']
INSERT INTO r_page_days
SELECT
    day, toUInt64(?) AS generation, site, path,
    count() AS pageviews,
    sum(day_first) AS visitors,
    sum(is_entrance) AS entrances,
    sum(is_exit) AS exits,
    sum(is_bounce) AS bounces,
    sum(timed) AS timed_views,
    sumIf(time_ms, timed = 1) AS time_sum_ms,
    toUInt64(quantileExactIf(0.5)(time_ms, timed = 1)) AS median_ms,
    sum(visit_first) AS visits,
    sumIf(visit_first, converts_after = 1) AS converting_visits,
    sumIf(from_mailing, is_entrance = 1) AS visits_from_mailing,
    sumIf(from_campaign, is_entrance = 1) AS visits_from_campaign,
    arraySort(groupArrayIf(sipHash64(visitor_id), day_first = 1)) AS visitor_hashes,
    quantileExactStateIf(0.5)(time_ms, timed = 1) AS time_set
FROM r_pageviews_v2
WHERE day >= toDate(?) AND day <= toDate(?)
  AND version = CAST(? AS Array(UInt64))[indexOf(CAST(? AS Array(String)), toString(day))]
GROUP BY day, site, path
