-- Watermark of job "days" across midnights: for each given midnight (named by the day after
-- it), a fingerprint of the hits of its bridge visitors on the two days around it. A bridge
-- visitor has a web hit (not a bot) in the last 30 minutes before the midnight and one in the
-- first 30 minutes after it: only such a visitor can have a session or a client retry across
-- it (job_pageviews.sql), so a day's rows depend on a neighbour day's hits only through these.
-- When it changes, both days are recomputed; a change of a day's other hits leaves the
-- neighbour alone. Same measure as fingerprint_days.sql (count, id bits, latest ts_ms), over
-- distinct event ids, so merges folding replayed copies do not move it (the rows are few); a
-- midnight without bridge visitors has no row.
-- params: from DateTime = 1767657600, to DateTime = 1767830400, from2 DateTime = 1767657600, to2 DateTime = 1767830400, midnights Array(String) = ['2026-01-06','2026-01-07'], from3 DateTime = 1767657600, to3 DateTime = 1767830400, midnights3 Array(String) = ['2026-01-06','2026-01-07']
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
        PREWHERE received_at >= toDateTime(?) - 86400 AND received_at < toDateTime(?)
             AND cityHash64(site, visitor_id) IN
        (
            SELECT cityHash64(site, visitor_id)
            FROM
            (
                SELECT site, visitor_id,
                       toDate(received_at) + (toUInt32(received_at) % 86400 >= 84600) AS m
                FROM hits
                -- Band hits (received in the first or last 30 minutes of their day: received_at is
                -- the second of ts_ms), at the ends of each day's rows: PREWHERE reads little else.
                PREWHERE received_at >= toDateTime(?) - 86400 AND received_at < toDateTime(?)
                     AND (toUInt32(received_at) % 86400 < 1800 OR toUInt32(received_at) % 86400 >= 84600)
                WHERE type IN ('pageview', 'event', 'ping', 'outbound', 'download')
                  AND is_bot = 0 AND visitor_id != ''
                  AND has(CAST(? AS Array(Date)),
                          toDate(received_at) + (toUInt32(received_at) % 86400 >= 84600))
                GROUP BY site, visitor_id, m
                HAVING min(toUInt32(received_at) % 86400 >= 84600) = 0
                   AND max(toUInt32(received_at) % 86400 >= 84600) = 1
            )
        )
        WHERE type IN ('pageview', 'event', 'ping', 'outbound', 'download')
          AND is_bot = 0 AND visitor_id != ''
    )
    ARRAY JOIN [toDate(received_at), toDate(received_at) + 1] AS m
    WHERE (site, visitor_id, m) IN
    (
        SELECT site, visitor_id,
               toDate(received_at) + (toUInt32(received_at) % 86400 >= 84600) AS m
        FROM hits
        -- Band hits (received in the first or last 30 minutes of their day: received_at is
        -- the second of ts_ms), at the ends of each day's rows: PREWHERE reads little else.
        PREWHERE received_at >= toDateTime(?) - 86400 AND received_at < toDateTime(?)
             AND (toUInt32(received_at) % 86400 < 1800 OR toUInt32(received_at) % 86400 >= 84600)
        WHERE type IN ('pageview', 'event', 'ping', 'outbound', 'download')
          AND is_bot = 0 AND visitor_id != ''
          AND has(CAST(? AS Array(Date)),
                  toDate(received_at) + (toUInt32(received_at) % 86400 >= 84600))
        GROUP BY site, visitor_id, m
        HAVING min(toUInt32(received_at) % 86400 >= 84600) = 0
           AND max(toUInt32(received_at) % 86400 >= 84600) = 1
    )
)
GROUP BY m
ORDER BY m
