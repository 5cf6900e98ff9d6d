-- Job "days", step 2: page effectiveness per (day, site, path) from the pageviews of
-- generation `version` (written by job_pageviews.sql in the same run). The day range lets
-- the primary key skip the other days' rows.
-- Visits are sessions through the page; a visit converts when a goal is reached in the same
-- session at or after a view of the page. Visits from mailings/campaigns count the sessions
-- that entered on the page from one. Median time keeps an exact state so days merge exactly.
-- Exact counts without distinct sets, from the flags job_pageviews.sql computes once: a visit
-- is the first view of the page in its session (visit_first), and it converts when that view
-- does (converts_after only falls along a session, so the first view has the most goals
-- after it); the visitor state takes one row per visitor and page (day_first).
-- params: version UInt64 = 7, first_day String = '2026-01-05', last_day String = '2026-01-07', source_version UInt64 = 7
INSERT INTO r_page_daily
SELECT
    day, toUInt64(?) AS generation, site, path,
    count() AS pageviews,
    uniqExactStateIf(visitor_id, day_first = 1) AS visitors,
    sum(is_entrance) AS entrances,
    sum(is_exit) AS exits,
    sum(is_bounce) AS bounces,
    sum(timed) AS timed_views,
    sumIf(time_ms, timed = 1) AS time_sum_ms,
    quantileExactStateIf(0.5)(time_ms, timed = 1) AS time_median,
    sum(visit_first) AS visits,
    sum(visit_first * converts_after) AS converting_visits,
    sumIf(from_mailing, is_entrance = 1) AS visits_from_mailing,
    sumIf(from_campaign, is_entrance = 1) AS visits_from_campaign
FROM r_pageviews_v2
WHERE day >= toDate(?) AND day <= toDate(?) AND version = ?
GROUP BY day, site, path
