-- The facts of one pageview row of r_pageviews_v2 (job_pageviews.sql, both branches), after
-- ARRAY JOIN of the session arrays (fragments/session_arrays.sql) as s (its session),
-- next_ts, next_sess, prev_sess, g_cum, g_here, v_n and d_n: entrance, exit, bounce; time on
-- page until the next pageview of the session, else until the session's last hit (timed = 0
-- when there is nothing after it); its source from the flags' bits 2-3; whether a goal follows
-- in the session; first view of its path in the visit and in the day.
-- Arguments: ts: the pageview's ts_ms; flags: its flags (fragments/hit_fields.sql).
toUInt8(prev_sess != s) AS is_entrance,
toUInt8(next_sess != s) AS is_exit,
toUInt8(prev_sess != s AND next_sess != s) AS is_bounce,
toUInt8(next_sess = s OR sess_end[s] > {{ts}}) AS timed,
if(next_sess = s, next_ts, sess_end[s]) - {{ts}} AS time_ms,
toUInt8(bitShiftRight({{flags}}, 2) = 1) AS from_mailing,
toUInt8(bitShiftRight({{flags}}, 2) = 2) AS from_campaign,
toUInt8(sess_goal_end[s] - g_cum + g_here > 0) AS converts_after,
toUInt8(v_n = 1) AS visit_first,
toUInt8(d_n = 1) AS day_first
