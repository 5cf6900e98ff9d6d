-- Job "days", step 1: sessionizes the web hits of the given UTC days and writes one row per
-- pageview with its session facts into r_pageviews as generation `version`.
-- Session rule: per (site, visitor), hits ordered by (ts_ms, event_id) - never by arrival or
-- replica; a gap of more than 30 minutes starts a new session, and so does UTC midnight (each
-- day is computed on its own, which keeps a recompute of one day exact). Replayed copies of a
-- hit (same event_id) are dropped after sorting. Bots and hits without a visitor are left out.
-- Time on page: until the next pageview of the session, else until the last hit (ping, event,
-- ...) of the session; a pageview with nothing after it has no time (timed = 0).
-- Source of a pageview: 1 mailing (mailing_id, utm_medium or referrer kind email), 2 campaign
-- (utm_campaign or referrer kind campaign), else 0.
-- All array work happens in one SELECT: ClickHouse 18.16 loses scalar columns of a subquery
-- that are used only inside a lambda.
-- params: version UInt64 = 7, goal_events Array(String) = ['signup'], goal_paths Array(String) = ['/thank-you'], from DateTime = 1767571200, to DateTime = 1767830400, days Array(String) = ['2026-01-05','2026-01-06','2026-01-07']
INSERT INTO r_pageviews
SELECT
    day, toUInt64(?) AS version, site, visitor_id,
    arrayFilter((pp, ss) -> pp != '' AND ss = s, persons, sess)[1] AS person_id,
    toUInt32(s) AS session_no,
    sess_start[s] AS session_start_ms,
    sess_end[s] AS session_end_ms,
    t AS ts_ms, e AS event_id, p AS path,
    toUInt8(k = sess_pv_before[s] + 1) AS is_entrance,
    toUInt8(next_same = 0) AS is_exit,
    toUInt8(k = sess_pv_before[s] + 1 AND sess_pv_end[s] - sess_pv_before[s] = 1) AS is_bounce,
    toUInt8(next_same = 1 OR sess_end[s] > t) AS timed,
    if(next_same = 1, pv_ts[k + 1], sess_end[s]) - t AS time_ms,
    toUInt8(src = 1) AS from_mailing,
    toUInt8(src = 2) AS from_campaign,
    toUInt8(sess_goal_end[s] - gcum[hi] + is_goal[hi] > 0) AS converts_after
FROM
(
    SELECT
        toDate(received_at) AS day, site, visitor_id,
        arraySort(groupArray((ts_ms, toString(event_id), type, path, event_name, person_id,
            multiIf(mailing_id != '' OR utm_medium = 'email' OR referrer_kind = 'email', 1,
                    utm_campaign != '' OR referrer_kind = 'campaign', 2, 0)))) AS sorted,
        arrayFilter((x, i) -> i = 1 OR x.2 != sorted[i - 1].2, sorted, arrayEnumerate(sorted)) AS hs,
        length(hs) AS n,
        arrayMap(x -> x.1, hs) AS ts,
        arrayMap((g, i) -> toUInt8(i = 1 OR g > 1800000), arrayDifference(ts), arrayEnumerate(ts)) AS starts,
        arrayCumSum(starts) AS sess,
        arrayMap(x -> x.6, hs) AS persons,
        arrayMap(x -> toUInt8(x.3 = 'pageview'), hs) AS is_pv,
        arrayCumSum(is_pv) AS pvcum,
        arrayMap(x -> toUInt8((x.3 = 'event' AND has(CAST(? AS Array(String)), x.5)) OR (x.3 = 'pageview' AND has(CAST(? AS Array(String)), x.4))), hs) AS is_goal,
        arrayCumSum(is_goal) AS gcum,
        arrayMap(i -> toUInt8(i = n OR starts[i + 1] = 1), arrayEnumerate(ts)) AS is_last,
        arrayFilter((x, st) -> st = 1, ts, starts) AS sess_start,
        arrayFilter((x, l) -> l = 1, ts, is_last) AS sess_end,
        arrayFilter((x, l) -> l = 1, gcum, is_last) AS sess_goal_end,
        arrayFilter((x, l) -> l = 1, pvcum, is_last) AS sess_pv_end,
        arrayMap(i -> if(i = 1, 0, sess_pv_end[i - 1]), arrayEnumerate(sess_pv_end)) AS sess_pv_before,
        arrayFilter((x, pv) -> pv = 1, ts, is_pv) AS pv_ts,
        arrayFilter((x, pv) -> pv = 1, sess, is_pv) AS pv_sess,
        arrayFilter((x, pv) -> pv = 1, arrayEnumerate(ts), is_pv) AS pv_idx,
        arrayFilter((x, pv) -> pv = 1, arrayMap(h -> h.4, hs), is_pv) AS pv_path,
        arrayFilter((x, pv) -> pv = 1, arrayMap(h -> h.2, hs), is_pv) AS pv_eid,
        arrayFilter((x, pv) -> pv = 1, arrayMap(h -> h.7, hs), is_pv) AS pv_src,
        arrayMap((ss, i) -> toUInt8(i < length(pv_sess) AND pv_sess[i + 1] = ss), pv_sess, arrayEnumerate(pv_sess)) AS pv_next_same
    FROM hits
    WHERE received_at >= toDateTime(?) AND received_at < toDateTime(?)
      AND has(arrayMap(d -> toDate(d), CAST(? AS Array(String))), toDate(received_at))
      AND type IN ('pageview', 'event', 'ping', 'outbound', 'download')
      AND is_bot = 0 AND visitor_id != ''
    GROUP BY day, site, visitor_id
)
ARRAY JOIN
    pv_ts AS t,
    pv_sess AS s,
    pv_idx AS hi,
    pv_path AS p,
    pv_eid AS e,
    pv_src AS src,
    pv_next_same AS next_same,
    arrayEnumerate(pv_ts) AS k
