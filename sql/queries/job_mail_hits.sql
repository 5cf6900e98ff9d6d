-- Job "days", step 4: the mailing opens and clicks received on the given UTC days, as
-- generation `version` of r_mail_hits, the input of job "mailings". Replayed copies stay
-- (readers group by event_id, as they did over hits).
-- Every received_at range is also bound on toDate(received_at), the hits key's second column:
-- 18.16 does not derive that bound from a received_at range, and without it one day's read
-- scanned most of its month.
-- params: version UInt64 = 7, from DateTime = 1767571200, to DateTime = 1767830400, days Array(String) = ['2026-01-05','2026-01-06','2026-01-07']
INSERT INTO r_mail_hits
SELECT toDate(received_at), toUInt64(?), mailing_id, event_id, type, person_id, link_id, verdict, ts_ms
FROM hits
WHERE received_at >= (toDateTime(?) AS lo_9) AND received_at < (toDateTime(?) AS hi_9)
  AND toDate(received_at) >= toDate(lo_9) AND toDate(received_at) <= toDate(hi_9)
  AND has(CAST(? AS Array(Date)), toDate(received_at))
  AND type IN ('open', 'click') AND mailing_id != ''
