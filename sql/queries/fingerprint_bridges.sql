-- Watermark of job "days" across midnights: for each given midnight (named by the day after
-- it), a fingerprint of the hits of its bridge visitors on the two days around it. A bridge
-- visitor has a web hit (not a bot) in the last 30 minutes before the midnight and one in the
-- first 30 minutes after it: only such a visitor can have a session or a client retry across
-- it (job_pageviews.sql), so a day's rows depend on a neighbour day's hits only through these.
-- When it changes, both days are recomputed; a change of a day's other hits leaves the
-- neighbour alone. Same measure as fingerprint_days.sql (count, id bits, latest ts_ms), over
-- distinct event ids, so merges folding replayed copies do not move it (the rows are few); a
-- midnight without bridge visitors has no row.
-- Every received_at range is also bound on toDate(received_at), the hits key's second column:
-- 18.16 does not derive that bound from a received_at range, and without it one day's read
-- scanned most of its month.
-- params: from DateTime = 1767657600, to DateTime = 1767830400, midnights Array(String) = ['2026-01-06','2026-01-07'], from2 DateTime = 1767657600, to2 DateTime = 1767830400, from3 DateTime = 1767657600, to3 DateTime = 1767830400, midnights3 Array(String) = ['2026-01-06','2026-01-07']
SELECT
    toString(m) AS midnight,
    concat(toString(count()), ':',
           toString(sum(reinterpretAsUInt64(reinterpretAsString(event_id)))), ':',
           toString(max(ts_ms))) AS fp
FROM
(
    SELECT DISTINCT m, event_id, ts_ms
    FROM
    (
        -- Only the bridge visitors' rows are read past PREWHERE (a hash of site and visitor;
        -- the exact (site, visitor, midnight) test follows).
        SELECT site, visitor_id, received_at, event_id, ts_ms
        FROM hits
        PREWHERE cityHash64(site, visitor_id) IN
        (
            SELECT cityHash64(site, visitor_id)
            FROM
            (
                -- @include fragments/bridge_visitors.sql (n=10; keys=site, visitor_id; to=toDateTime(?); where=has(CAST(? AS Array(Date)), m))
            )
        )
        WHERE received_at >= (toDateTime(?) - 86400 AS lo_11) AND received_at < (toDateTime(?) AS hi_11)
          AND toDate(received_at) >= toDate(lo_11) AND toDate(received_at) <= toDate(hi_11)
          AND type IN ('pageview', 'event', 'ping', 'outbound', 'download')
          AND is_bot = 0 AND visitor_id != ''
    )
    ARRAY JOIN [toDate(received_at), toDate(received_at) + 1] AS m
    WHERE (site, visitor_id, m) IN
    (
        -- @include fragments/bridge_visitors.sql (n=12; keys=site, visitor_id; to=toDateTime(?); where=has(CAST(? AS Array(Date)), m))
    )
)
GROUP BY m
ORDER BY m
