-- Job "page_spans", step 1b: the checksum of each day row step 1 wrote (same days, same
-- generation of job "days" per day, as generation `version`) into r_page_span_sums
-- (migration 0011): the sum of cityHash64 of every pageview's inputs of the day row, so the
-- month step tells exactly (up to a 2^-64 chance) which (site, path) rows changed. (Not
-- "AS version": an alias named like a column replaces it in WHERE.) The 0/1 flags are packed
-- into one number (one bit each, so one-to-one): fewer arguments to hash per pageview.
-- params: version UInt64 = 18, first_day String = '2026-01-05', last_day String = '2026-01-07', versions Array(UInt64) = [7,7,7], days Array(String) = ['2026-01-05','2026-01-06','2026-01-07']
INSERT INTO r_page_span_sums
SELECT
    day AS span_start, toUInt64(?) AS generation, site, path,
    sum(cityHash64(if(day_first = 1, visitor_id, ''), if(timed = 1, time_ms, 0),
                   day_first + 2 * timed + 4 * is_entrance + 8 * is_exit + 16 * is_bounce
                   + 32 * visit_first + 64 * converts_after + 128 * from_mailing
                   + 256 * from_campaign)) AS checksum
FROM r_pageviews_v2
WHERE day >= toDate(?) AND day <= toDate(?)
  AND version = CAST(? AS Array(UInt64))[indexOf(CAST(? AS Array(String)), toString(day))]
GROUP BY day, site, path
