-- The bridge rule, the one place it is written: a bridge is a visitor with a web hit (not a
-- bot) in the last 30 minutes before a UTC midnight and one in the first 30 minutes after it.
-- Only such a visitor can have a session or a client retry across that midnight
-- (job_pageviews.sql), so the days around a midnight depend on each other only through them.
-- Rows: the `keys` columns and m, the day after the midnight (a hit late in its day is next to
-- the following midnight), one per bridge; only the band hits (within 30 minutes of a
-- midnight) are read past PREWHERE.
-- Arguments (sql/queries/fragments/README.md):
--   n      number of the received_at range: its bounds are aliased lo_n and hi_n, which must
--          be unique within a query on 18.16
--   keys   what a bridge is per, e.g. `site, visitor_id` (`site, visitor_id, client_id`: the
--          same client id on both sides)
--   to     the received_at range's end, e.g. `toDateTime(?)`; the range starts a day before
--          the time bound to the fragment's own first `?`
--   where  a condition on the band hits, which may use m (such as the midnights wanted)
SELECT {{keys}},
       toDate(received_at) + (ts_ms >= (toUInt64(toDate(received_at)) + 1) * 86400000 - 1800000) AS m
FROM hits
-- Band hits, at the ends of a day's received_at range: PREWHERE reads little else.
PREWHERE ts_ms < toUInt64(toDate(received_at)) * 86400000 + 1800000
      OR ts_ms >= (toUInt64(toDate(received_at)) + 1) * 86400000 - 1800000
WHERE received_at >= (toDateTime(?) - 86400 AS lo_{{n}}) AND received_at < ({{to}} AS hi_{{n}})
  AND toDate(received_at) >= toDate(lo_{{n}}) AND toDate(received_at) <= toDate(hi_{{n}})
  AND type IN ('pageview', 'event', 'ping', 'outbound', 'download')
  AND is_bot = 0 AND visitor_id != ''
  AND ({{where}})
GROUP BY {{keys}}, m
HAVING min(ts_ms >= (toUInt64(toDate(received_at)) + 1) * 86400000 - 1800000) = 0
   AND max(ts_ms >= (toUInt64(toDate(received_at)) + 1) * 86400000 - 1800000) = 1
