-- GET /api/activities (after=CURSOR): the change feed, ordered by (first_seen, ts_ms,
-- activity_id) strictly after the cursor, only persons whose tracking consent stands now
-- (latest consent event wins; a withdrawal at the same second as a grant wins): the
-- activities of committed r_activities and the funnel steps of committed r_funnel_steps
-- (kind 'funnel_step', the step as JSON in detail).
-- params: seen UInt64 = 0, seen2 UInt64 = 0, ts UInt64 = 0, ts2 UInt64 = 0, aid UInt64 = 0, limit UInt64 = 50
SELECT first_seen, ts_ms, activity_id, person_id, kind, event_id, site, mailing_id, link_id, verdict, path, event_name, detail, pages, page_ts, duration_ms
FROM
(
    SELECT first_seen, ts_ms, activity_id, person_id, kind, event_id, site, mailing_id, link_id, verdict, path, event_name, detail, pages, page_ts, duration_ms
    FROM r_activities
    WHERE (toString(day), version) IN
          (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
    UNION ALL
    SELECT first_seen, ts_ms, activity_id, person_id, 'funnel_step', '', '', '', '', '', '', '', detail, emptyArrayString(), emptyArrayUInt64(), toUInt64(0)
    FROM r_funnel_steps
    WHERE (concat(funnel, '|steps'), version) IN
          (SELECT bucket, max(version) FROM r_generations WHERE job = 'funnels' GROUP BY bucket)
)
WHERE person_id IN
      (SELECT person_id FROM consents WHERE purpose = 'tracking' GROUP BY person_id
       HAVING argMax(granted, toUInt64(at) * 2 + (1 - granted)) = 1)
  AND (first_seen > ? OR (first_seen = ? AND (ts_ms > ? OR (ts_ms = ? AND activity_id > ?))))
ORDER BY first_seen, ts_ms, activity_id
LIMIT ?
