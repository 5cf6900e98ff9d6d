-- Job "days", step 1: sessionizes the web hits of the given UTC days and writes one row per
-- pageview with its session facts into r_pageviews_v2 as generation `version`.
-- Session rule: per (site, visitor), hits ordered by (ts_ms, event_id) - never by arrival or
-- replica; a gap of more than 30 minutes starts a new session, and so does UTC midnight (each
-- day is computed on its own, which keeps a recompute of one day exact). Replayed copies of a
-- hit (same event_id) and client retries (same non-empty client_id of the site's visitor that
-- day, each under its own event_id) are dropped after sorting: the first in order stays. Bots and hits without a visitor are left out.
-- Time on page: until the next pageview of the session, else until the last hit (ping, event,
-- ...) of the session; a pageview with nothing after it has no time (timed = 0).
-- Source of a pageview: 1 mailing (mailing_id, utm_medium or referrer kind email), 2 campaign
-- (utm_campaign or referrer kind campaign), else 0.
-- visit_first marks the first view of a path in its session and day_first the first view of
-- a path by the visitor that day, so page effectiveness sums flags instead of building exact
-- distinct sets per page.
-- Visitors are split into `parts` disjoint parts by a hash (this run computes part `part`),
-- so a recompute of many hits is done in parts that each fit a query's memory.
-- All array work happens in one SELECT: ClickHouse 18.16 loses scalar columns of a subquery
-- that are used only inside a lambda. No lambda captures an array column (a captured column is
-- copied once per element, which makes a visitor's day quadratic): neighbours come from
-- shifted copies (arrayPopFront/arrayPushBack) zipped in as lambda arguments instead.
-- The hits of a visitor's day are sorted once, as tuples (ts_ms, event_id, flags, path,
-- person, client_id): sorting each column by a key array costs a tuple sort per column. Only
-- pageviews carry their path into the arrays (strings in them are most of the GROUP BY's cost).
-- params: version UInt64 = 7, goal_events Array(String) = ['signup'], goal_paths Array(String) = ['/thank-you'], from DateTime = 1767571200, to DateTime = 1767830400, days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], parts UInt64 = 1, part UInt64 = 0
INSERT INTO r_pageviews_v2
SELECT
    day, toUInt64(?) AS version, site, visitor_id,
    pp_person[indexOf(pp_sess, s)] AS person_id,
    toUInt32(s) AS session_no,
    sess_start[s] AS session_start_ms,
    sess_end[s] AS session_end_ms,
    t AS ts_ms, pv.2 AS event_id, pv.4 AS path,
    toUInt8(prev_sess != s) AS is_entrance,
    toUInt8(next_sess != s) AS is_exit,
    toUInt8(prev_sess != s AND next_sess != s) AS is_bounce,
    toUInt8(next_sess = s OR sess_end[s] > t) AS timed,
    if(next_sess = s, next_ts, sess_end[s]) - t AS time_ms,
    toUInt8(bitShiftRight(pv.3, 2) = 1) AS from_mailing,
    toUInt8(bitShiftRight(pv.3, 2) = 2) AS from_campaign,
    toUInt8(sess_goal_end[s] - g_cum + g_here > 0) AS converts_after,
    toUInt8(v_n = 1) AS visit_first,
    toUInt8(d_n = 1) AS day_first
FROM
(
    SELECT
        toDate(received_at) AS day, site, visitor_id,
        -- Flags: bit 0 pageview, bit 1 goal, bits 2-3 source.
        arraySort(groupArray((ts_ms, toString(event_id), toUInt8(
            (type = 'pageview')
            + 2 * ((type = 'event' AND has(CAST(? AS Array(String)), event_name))
                   OR (type = 'pageview' AND has(CAST(? AS Array(String)), path)))
            + 4 * multiIf(mailing_id != '' OR utm_medium = 'email' OR referrer_kind = 'email', 1,
                          utm_campaign != '' OR referrer_kind = 'campaign', 2, 0)),
            if(type = 'pageview', path, ''), person_id, client_id))) AS sorted,
        -- A hit's identity: its client_id when it has one (a retry whose first answer was
        -- lost came again under a new event_id), else its event_id; the flag keeps the two
        -- kinds apart. The first hit of each identity stays.
        arrayFilter((x, n) -> n = 1, sorted,
                    arrayEnumerateUniq(arrayMap(x -> (x.6 = '', if(x.6 = '', x.2, x.6)), sorted))) AS h,
        arrayMap(x -> x.1, h) AS ts,
        arrayMap(x -> bitAnd(x.3, 1), h) AS is_pv,
        arrayMap(x -> bitAnd(bitShiftRight(x.3, 1), 1), h) AS is_goal,
        arrayMap(x -> x.5, h) AS persons,
        arrayMap((g, i) -> toUInt8(i = 1 OR g > 1800000), arrayDifference(ts), arrayEnumerate(ts)) AS starts,
        arrayCumSum(starts) AS sess,
        arrayCumSum(is_goal) AS gcum,
        arrayPopFront(arrayPushBack(starts, 1)) AS is_last,
        arrayFilter((x, st) -> st = 1, ts, starts) AS sess_start,
        arrayFilter((x, l) -> l = 1, ts, is_last) AS sess_end,
        arrayFilter((x, l) -> l = 1, gcum, is_last) AS sess_goal_end,
        arrayFilter((x, pp) -> pp != '', sess, persons) AS pp_sess,
        arrayFilter(x -> x != '', persons) AS pp_person,
        arrayFilter((x, pv) -> pv = 1, h, is_pv) AS pv_h,
        arrayMap(x -> x.1, pv_h) AS pv_ts,
        arrayFilter((x, pv) -> pv = 1, sess, is_pv) AS pv_sess,
        arrayPopFront(arrayPushBack(pv_ts, 0)) AS pv_next_ts,
        arrayPopFront(arrayPushBack(pv_sess, 0)) AS pv_next_sess,
        arrayPopBack(arrayPushFront(pv_sess, 0)) AS pv_prev_sess,
        arrayFilter((x, pv) -> pv = 1, gcum, is_pv) AS pv_gcum,
        arrayFilter((x, pv) -> pv = 1, is_goal, is_pv) AS pv_goal,
        arrayMap(x -> x.4, pv_h) AS pv_path,
        arrayEnumerateUniq(pv_sess, pv_path) AS pv_visit_n,
        arrayEnumerateUniq(pv_path) AS pv_day_n
    FROM hits
    WHERE received_at >= toDateTime(?) AND received_at < toDateTime(?)
      AND has(arrayMap(d -> toDate(d), CAST(? AS Array(String))), toDate(received_at))
      AND type IN ('pageview', 'event', 'ping', 'outbound', 'download')
      AND is_bot = 0 AND visitor_id != ''
      AND cityHash64(visitor_id) % ? = ?
    GROUP BY day, site, visitor_id
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
