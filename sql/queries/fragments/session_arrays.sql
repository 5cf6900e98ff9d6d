-- The sessionizer's arrays over one visitor's hits (job_pageviews.sql, both branches), from
-- the hits h (sorted tuples, one per hit identity) and what the caller derived from them: ts,
-- is_pv, is_goal, persons, starts (1 where a session starts) and sess (session number of each
-- hit). Gives each session's start, end, goals up to its end and person (sess_*, pp_*), and
-- per pageview (pv_*): its tuple, time and session, the next pageview's time and session and
-- the previous one's session (shifted copies zipped in, never a captured array), goals so far
-- and at it, its path and whether it is its path's first view in the session.
-- Arguments: ts_at, path_at: the positions of ts_ms and of path in a hit tuple.
arrayCumSum(is_goal) AS gcum,
arrayPopFront(arrayPushBack(starts, toUInt8(1))) AS is_last,
arrayFilter((x, st) -> st = 1, ts, starts) AS sess_start,
arrayFilter((x, l) -> l = 1, ts, is_last) AS sess_end,
arrayFilter((x, l) -> l = 1, gcum, is_last) AS sess_goal_end,
arrayFilter((x, pp) -> pp != '', sess, persons) AS pp_sess,
arrayFilter(x -> x != '', persons) AS pp_person,
arrayFilter((x, pv) -> pv = 1, h, is_pv) AS pv_h,
arrayMap(x -> x.{{ts_at}}, pv_h) AS pv_ts,
arrayFilter((x, pv) -> pv = 1, sess, is_pv) AS pv_sess,
arrayPopFront(arrayPushBack(pv_ts, toUInt64(0))) AS pv_next_ts,
arrayPopFront(arrayPushBack(pv_sess, toUInt64(0))) AS pv_next_sess,
arrayPopBack(arrayPushFront(pv_sess, toUInt64(0))) AS pv_prev_sess,
arrayFilter((x, pv) -> pv = 1, gcum, is_pv) AS pv_gcum,
arrayFilter((x, pv) -> pv = 1, is_goal, is_pv) AS pv_goal,
arrayMap(x -> x.{{path_at}}, pv_h) AS pv_path,
arrayEnumerateUniq(pv_sess, pv_path) AS pv_visit_n
