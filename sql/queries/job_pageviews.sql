-- Job "days", step 1: sessionizes the web hits of the given UTC days and writes one row per
-- pageview with its session facts into r_pageviews_v2 as generation `version`.
-- Session rule: per (site, visitor), hits ordered by (day received, ts_ms, event_id) - never by
-- arrival or replica (received_at is the second of ts_ms, so this is ts_ms order); a gap of
-- more than 30 minutes starts a new session. A session runs across UTC midnight when the
-- visitor's last hit before it and first hit after it lie within 30 minutes of it and of each
-- other, unless the visitor covered the whole day before the midnight without a 30-minute pause
-- (first hit in its first 30 minutes, no gap over 30 minutes): continuous activity is cut at
-- the end of such a day, so a session spans at most two days and a day's rows depend only on
-- its neighbour days, never on a chain of them (see `covered` below).
-- Replayed copies of a hit (same event_id) and client retries are dropped after sorting, the
-- first in order stays: a retry has the same non-empty client_id of the site's visitor under
-- a new event_id, received the same day, or in the first 30 minutes of the next day while the
-- earlier one came in the last 30 minutes of the day before. Bots and hits without a visitor
-- are left out.
-- Rows: each pageview keeps the day it was received. session_no numbers the sessions that
-- start on that day from 1; a session continuing from the day before is 0 there, and keeps its
-- session_start_ms (the identity of a session is site, visitor and session_start_ms).
-- Time on page: until the next pageview of the session, else until the last hit (ping, event,
-- ...) of the session; a pageview with nothing after it has no time (timed = 0).
-- Source of a pageview: 1 mailing (mailing_id, utm_medium or referrer kind email), 2 campaign
-- (utm_campaign or referrer kind campaign), else 0.
-- visit_first marks the first view of a path in its session and day_first the first view of
-- a path by the visitor that day, so page effectiveness sums flags instead of building exact
-- distinct sets per page.
-- Two branches: nearly every visitor has no hit within 30 minutes on both sides of a midnight
-- next to the days (a "bridge"), and is sessionized per (day, site, visitor) as one day alone
-- (branch 1, the cheap path); the bridge visitors are sessionized over the days and their
-- neighbour days together (branch 2), and only the given days' rows are written. The bridge
-- set is the same subquery in both (cityHash64 of site and visitor: a collision only moves a
-- visitor to branch 2, which gives the same rows for it).
-- Visitors are split into `parts` disjoint parts by a hash (this run computes part `part`),
-- so a recompute of many hits is done in parts that each fit a query's memory.
-- All array work happens in one SELECT: ClickHouse 18.16 loses scalar columns of a subquery
-- that are used only inside a lambda. No lambda captures a per-hit array column (a captured
-- column is copied once per element, which makes a visitor's day quadratic): neighbours come
-- from shifted copies (arrayPopFront/arrayPushBack) zipped in as lambda arguments instead;
-- branch 2 captures only per-day arrays (a few elements).
-- The hits of a visitor's day are sorted once, as tuples (ts_ms, event_id, flags, path,
-- person, client_id): sorting each column by a key array costs a tuple sort per column. Only
-- pageviews carry their path into the arrays (strings in them are most of the GROUP BY's cost).
-- The event_id travels as UUIDStringToNum(toString(event_id)), the 16 bytes its 32 hex digits
-- spell in their written order: a FixedString(16) that orders and compares exactly like the
-- 36-byte string on 18.16 and on current ClickHouse (the UUID type itself does not: its memory
-- layout and order differ between versions), at less than half the string's size in the GROUP
-- BY's arena (peak memory of 10 M hits in one part 2.1 GiB before, 1.8 GiB after);
-- UUIDNumToString writes the same lowercase string back for the rows.
-- Every received_at range is also bound on toDate(received_at), the hits key's second column:
-- 18.16 does not derive that bound from a received_at range, and without it one day's read
-- scanned most of its month.
-- params: version UInt64 = 7, goal_events Array(String) = ['signup'], goal_paths Array(String) = ['/thank-you'], from DateTime = 1767571200, to DateTime = 1767830400, days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], parts UInt64 = 1, part UInt64 = 0, bridge_from DateTime = 1767571200, bridge_to DateTime = 1767830400, bridge_days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], version UInt64 = 7, goal_events Array(String) = ['signup'], goal_paths Array(String) = ['/thank-you'], bridge_from DateTime = 1767571200, bridge_to DateTime = 1767830400, bridge_days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], from DateTime = 1767571200, to DateTime = 1767830400, days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], parts UInt64 = 1, part UInt64 = 0, days Array(String) = ['2026-01-05','2026-01-06','2026-01-07']
INSERT INTO r_pageviews_v2
SELECT
    day, toUInt64(?) AS version, site, visitor_id,
    pp_person[indexOf(pp_sess, s)] AS person_id,
    toUInt32(s) AS session_no,
    sess_start[s] AS session_start_ms,
    sess_end[s] AS session_end_ms,
    t AS ts_ms, UUIDNumToString(pv.2) AS event_id, pv.4 AS path,
    -- @include fragments/pageview_facts.sql (ts=t; flags=pv.3)
FROM
(
    -- Two levels rather than one SELECT: 18.16 expands every alias reference into its whole
    -- expression, and analysing the chain of arrays in one SELECT cost ~0.05 s per run.
    SELECT
        day, site, visitor_id,
        arrayMap(x -> x.1, h) AS ts,
        arrayMap(x -> bitAnd(x.3, 1), h) AS is_pv,
        arrayMap(x -> bitAnd(bitShiftRight(x.3, 1), 1), h) AS is_goal,
        arrayMap(x -> x.5, h) AS persons,
        arrayMap((g, i) -> toUInt8(i = 1 OR g > 1800000), arrayDifference(ts), arrayEnumerate(ts)) AS starts,
        arrayCumSum(starts) AS sess,
        -- Per pageview, its path's first view in the day.
        arrayEnumerateUniq(pv_path) AS pv_day_n,
        -- @include fragments/session_arrays.sql (ts_at=1; path_at=4)
    FROM
    (
        SELECT
            toDate(received_at) AS day, site, visitor_id,
            -- (ts_ms, event_id, flags, path, person_id, client_id), the event_id as the 16 bytes
            -- of its hex digits (see the top).
            arraySort(groupArray((
                ts_ms, UUIDStringToNum(toString(event_id)),
                -- @include fragments/hit_fields.sql
            ))) AS sorted,
            -- A hit's identity: its client_id when it has one (a retry whose first answer was
            -- lost came again under a new event_id), else its event_id: the key (client_id, 16
            -- zero bytes) or ('', event_id), so the two kinds never meet. The first hit of each
            -- identity stays.
            arrayFilter((x, n) -> n = 1, sorted,
                        arrayEnumerateUniq(arrayMap(x -> x.6, sorted),
                                           arrayMap(x -> if(x.6 = '', x.2, toFixedString('', 16)), sorted))) AS h
        FROM hits
        WHERE received_at >= (toDateTime(?) AS lo_1) AND received_at < (toDateTime(?) AS hi_1)
          AND toDate(received_at) >= toDate(lo_1) AND toDate(received_at) <= toDate(hi_1)
          AND has(CAST(? AS Array(Date)), toDate(received_at))
          AND type IN ('pageview', 'event', 'ping', 'outbound', 'download')
          AND is_bot = 0 AND visitor_id != ''
          AND cityHash64(visitor_id) % ? = ?
        GROUP BY day, site, visitor_id
        -- Bridge visitors of the midnights before and after the days: branch 2 takes them.
        -- GLOBAL: HAVING runs where the shards' groups are merged, and there a plain subquery
        -- on a sharded table reads only that node's part (distributed_product_mode = local),
        -- which let the other shard's bridge visitors through twice in cluster mode.
        HAVING cityHash64(site, visitor_id) GLOBAL NOT IN
        (
            SELECT cityHash64(site, visitor_id)
            FROM
            (
                -- @include fragments/bridge_visitors.sql (n=2; keys=site, visitor_id; to=toDateTime(?) + 86400; where=has(CAST(? AS Array(Date)) AS bd, m) OR has(bd, m - 1))
            )
        )
    )
)
ARRAY JOIN
    pv_ts AS t,
    pv_sess AS s,
    pv_next_ts AS next_ts,
    pv_next_sess AS next_sess,
    pv_prev_sess AS prev_sess,
    pv_gcum AS g_cum,
    pv_goal AS g_here,
    pv_h AS pv,
    pv_visit_n AS v_n,
    pv_day_n AS d_n

UNION ALL

-- Branch 2: the bridge visitors, over the days and their neighbours (the same subquery picks
-- them), each visitor's hits as one sequence of (day, ts_ms, event_id, ...) tuples.
SELECT
    pv.1 AS day, toUInt64(?) AS version, site, visitor_id,
    pp_person[indexOf(pp_sess, s)] AS person_id,
    toUInt32(s - day_base[indexOf(k_days, pv.1)]) AS session_no,
    sess_start[s] AS session_start_ms,
    sess_end[s] AS session_end_ms,
    pv.2 AS ts_ms, UUIDNumToString(pv.3) AS event_id, pv.5 AS path,
    -- @include fragments/pageview_facts.sql (ts=pv.2; flags=pv.4)
FROM
(
    -- Nested levels instead of one SELECT: 18.16 expands every alias reference into its
    -- whole expression, which over this many chained arrays cost more analysis time than
    -- one day's data.
    SELECT
        site, visitor_id, u_days, u_covered,
        arrayMap(x -> x.1, h) AS hday,
        arrayMap(x -> x.2, h) AS ts,
        arrayMap(x -> bitAnd(x.4, 1), h) AS is_pv,
        arrayMap(x -> bitAnd(bitShiftRight(x.4, 1), 1), h) AS is_goal,
        arrayMap(x -> x.6, h) AS persons,
        arrayPopBack(arrayPushFront(hday, toDate(0))) AS prev_day,
        -- A new session: the first hit, a gap over 30 minutes (or backwards), or a new day
        -- that does not continue the previous day's session across their midnight.
        arrayMap((i, d, pd, t, pt) -> toUInt8(i = 1 OR t < pt OR t - pt > 1800000
                 OR (d != pd AND NOT (pd + 1 = d AND t < toUInt64(d) * 86400000 + 1800000
                                      AND pt >= toUInt64(d) * 86400000 - 1800000
                                      AND u_covered[indexOf(u_days, pd)] = 0))),
                 arrayEnumerate(ts), hday, prev_day, ts, arrayPopBack(arrayPushFront(ts, toUInt64(0)))) AS starts,
        arrayCumSum(starts) AS sess,
        arrayMap((d, pd) -> toUInt8(d != pd), hday, prev_day) AS k_first,
        -- Per day: sessions started before its first hit, so its own sessions count from 1
        -- and one continuing from the day before is 0.
        arrayFilter((d, f) -> f = 1, hday, k_first) AS k_days,
        arrayFilter((b, f) -> f = 1, arrayMap((s, st) -> s - st, sess, starts), k_first) AS day_base,
        -- Per pageview, its path's first view in its day.
        arrayEnumerateUniq(arrayMap(x -> x.1, pv_h), pv_path) AS pv_day_n,
        -- @include fragments/session_arrays.sql (ts_at=2; path_at=5)
    FROM
    (
        SELECT
            site, visitor_id,
            -- Whether each day was covered (first hit in its first 30 minutes, no gap over 30
            -- minutes), from every hit of the day, retries too: the day itself decides, so a
            -- neighbour's view of it is the same as its own.
            arrayMap(x -> x.1, raw) AS r_day,
            arrayMap(x -> x.2, raw) AS r_ts,
            arrayMap((d, p) -> toUInt8(d != p), r_day, arrayPopBack(arrayPushFront(r_day, toDate(0)))) AS r_first,
            arrayMap((f, d, t, p) -> toUInt8(if(f = 1, t >= toUInt64(d) * 86400000 + 1800000, t - p > 1800000)),
                     r_first, r_day, r_ts, arrayPopBack(arrayPushFront(r_ts, toUInt64(0)))) AS r_bad,
            arrayFilter((c, l) -> l = 1, arrayCumSum(r_bad), arrayPopFront(arrayPushBack(r_first, toUInt8(1)))) AS bad_upto,
            arrayFilter((d, f) -> f = 1, r_day, r_first) AS u_days,
            arrayMap(b -> toUInt8(b = 0), arrayPopFront(arrayDifference(arrayPushFront(bad_upto, toUInt64(0))))) AS u_covered,
            -- Identity as in branch 1 (per day): (client_id, zero bytes, day) or ('', event_id,
            -- day); and across a midnight: a client_id in the last 30 minutes of a day and in the
            -- first 30 minutes of the next share a key (client_id, the day after it), any other
            -- hit has ('', event_id).
            arrayFilter((x, n1, n2) -> n1 = 1 AND n2 = 1, raw,
                arrayEnumerateUniq(arrayMap(x -> x.7, raw), arrayMap(x -> if(x.7 = '', x.3, toFixedString('', 16)), raw),
                                   arrayMap(x -> x.1, raw)),
                arrayEnumerateUniq(arrayMap(x -> if(x.7 != '' AND (x.2 < toUInt64(x.1) * 86400000 + 1800000
                                                                   OR x.2 >= (toUInt64(x.1) + 1) * 86400000 - 1800000),
                                                    x.7, ''), raw),
                                   arrayMap(x -> if(x.7 != '' AND (x.2 < toUInt64(x.1) * 86400000 + 1800000
                                                                   OR x.2 >= (toUInt64(x.1) + 1) * 86400000 - 1800000),
                                                    toFixedString(toString(x.1 + (x.2 >= (toUInt64(x.1) + 1) * 86400000 - 1800000)), 16),
                                                    x.3), raw))) AS h
        FROM
        (
            SELECT
                site, visitor_id,
                -- (day, ts_ms, event_id, flags, path, person_id, client_id).
                arraySort(groupArray((
                    toDate(received_at), ts_ms, UUIDStringToNum(toString(event_id)),
                    -- @include fragments/hit_fields.sql
                ))) AS raw
            FROM hits
            -- Only the bridge visitors' rows are read past PREWHERE.
            PREWHERE cityHash64(site, visitor_id) IN
            (
                SELECT cityHash64(site, visitor_id)
                FROM
                (
                    -- @include fragments/bridge_visitors.sql (n=3; keys=site, visitor_id; to=toDateTime(?) + 86400; where=has(CAST(? AS Array(Date)) AS bd, m) OR has(bd, m - 1))
                )
            )
            WHERE received_at >= (toDateTime(?) - 86400 AS lo_4) AND received_at < (toDateTime(?) + 86400 AS hi_4)
              AND toDate(received_at) >= toDate(lo_4) AND toDate(received_at) <= toDate(hi_4)
              AND (has(CAST(? AS Array(Date)) AS cd, toDate(received_at))
                   OR has(cd, toDate(received_at) + 1) OR has(cd, toDate(received_at) - 1))
              AND type IN ('pageview', 'event', 'ping', 'outbound', 'download')
              AND is_bot = 0 AND visitor_id != ''
              AND cityHash64(visitor_id) % ? = ?
            GROUP BY site, visitor_id
        )
    )
)
ARRAY JOIN
    pv_sess AS s,
    pv_next_ts AS next_ts,
    pv_next_sess AS next_sess,
    pv_prev_sess AS prev_sess,
    pv_gcum AS g_cum,
    pv_goal AS g_here,
    pv_h AS pv,
    pv_visit_n AS v_n,
    pv_day_n AS d_n
WHERE has(CAST(? AS Array(Date)), pv.1)
  -- Always true: 18.16 drops the per-day arrays the session starts read inside a lambda
  -- unless something outside a lambda uses them too.
  AND length(u_covered) = length(u_days)
