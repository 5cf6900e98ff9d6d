-- GET /api/persons/{id}/activities: the person's timeline in [from_ms, to_ms) from committed
-- r_activities, oldest first. The handler checks the person's tracking consent first.
-- params: person String = 'p01', from_ms UInt64 = 0, to_ms UInt64 = 18446744073709551615
SELECT ts_ms, kind, event_id, site, mailing_id, link_id, verdict, path, event_name, detail, pages, page_ts, duration_ms
FROM r_activities
WHERE (toString(day), version) IN
      (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
  AND person_id = ? AND ts_ms >= ? AND ts_ms < ?
ORDER BY ts_ms, activity_id
