-- Job "funnels": the known persons' visits (with their pages) and events of the given days
-- of r_activities, day days[i] at the generation versions[i] of job "days" committed for it
-- (the day range lets the primary key skip the rest), each with its day, ordered by person
-- then time, for the walk of each funnel over each person's timeline. The job keeps them per
-- day between runs and reads only the days whose generation changed.
-- params: first_day String = '2026-01-05', last_day String = '2026-01-07', versions Array(UInt64) = [7,7,7], days Array(String) = ['2026-01-05','2026-01-06','2026-01-07']
SELECT toString(day) AS a_day, person_id, ts_ms, activity_id, kind, event_id, event_name,
       pages, page_ts
FROM r_activities
WHERE day >= toDate(?) AND day <= toDate(?)
  AND version = CAST(? AS Array(UInt64))[indexOf(CAST(? AS Array(String)), toString(day))]
  AND kind IN ('visit', 'event')
ORDER BY person_id, ts_ms, activity_id
