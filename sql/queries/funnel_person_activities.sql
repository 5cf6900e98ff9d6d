-- Job "funnels": every known person's visits (with their pages) and events from committed
-- r_activities, ordered by person then time, for the walk of each funnel over each
-- person's timeline.
-- params: none
SELECT person_id, ts_ms, kind, event_id, event_name, pages, page_ts
FROM r_activities
WHERE (toString(day), version) IN
      (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
  AND kind IN ('visit', 'event')
ORDER BY person_id, ts_ms, activity_id
