-- Job "page_spans", step 2: one r_page_spans row per (calendar month, site, path) of the
-- given months, as generation `version`, merged from the day rows (r_page_days, migration
-- 0012) of those months: day days[i] is read at version versions[i] (the rows step 1 just
-- wrote, or the committed ones of days that did not change). Visitors and the median are
-- finished here once, so a request for the month reads numbers; the visitors are the distinct
-- hashes of the days' visitor arrays (arrayUniq over their concatenation: ~4x faster than
-- merging uniqExact states). The month keeps no states (they stay empty): a range of several
-- spans merges the day rows instead.
-- `pairs` (cityHash64(site, path)) limits the rows to those pages, empty: every page. A month
-- whose previous generation is at hand is merged again only for the pages whose day row
-- changed (job_page_spans_changed.sql), the rest carried (job_page_spans_month_carry.sql).
-- params: version UInt64 = 18, from_day String = '2026-01-01', to_day String = '2026-02-01', months Array(String) = ['2026-01-01'], versions Array(UInt64) = [18,18,18], days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], pairs Array(UInt64) = [], pairs2 Array(UInt64) = []
INSERT INTO r_page_spans (span_start, span_end, version, site, path, pageviews, visitors,
    entrances, exits, bounces, timed, time_sum_ms, median_ms, visits, converting_visits,
    visits_from_mailing, visits_from_campaign)
SELECT
    month, addMonths(month, 1), toUInt64(?), site, path,
    sum(d_pageviews), toUInt64(arrayUniq(groupArrayArray(d_visitor_hashes))), sum(d_entrances),
    sum(d_exits), sum(d_bounces), sum(d_timed), sum(d_time_sum_ms),
    toUInt64(quantileExactMerge(0.5)(d_time_set)), sum(d_visits), sum(d_converting_visits),
    sum(d_visits_from_mailing), sum(d_visits_from_campaign)
FROM
(
    SELECT
        toStartOfMonth(day) AS month, site, path, pageviews AS d_pageviews,
        visitor_hashes AS d_visitor_hashes, entrances AS d_entrances, exits AS d_exits,
        bounces AS d_bounces, timed AS d_timed, time_sum_ms AS d_time_sum_ms,
        time_set AS d_time_set, visits AS d_visits, converting_visits AS d_converting_visits,
        visits_from_mailing AS d_visits_from_mailing,
        visits_from_campaign AS d_visits_from_campaign
    FROM r_page_days
    WHERE day >= toDate(?) AND day < toDate(?)
      AND has(CAST(? AS Array(String)), toString(toStartOfMonth(day)))
      AND version = CAST(? AS Array(UInt64))[indexOf(CAST(? AS Array(String)), toString(day))]
      AND (empty(CAST(? AS Array(UInt64))) OR has(CAST(? AS Array(UInt64)), cityHash64(site, path)))
)
GROUP BY month, site, path
