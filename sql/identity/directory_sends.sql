-- Recent per-person send times for the scanner verdict (clicks seconds after the send).
-- params: horizon_days UInt32 = 3650
SELECT mailing_id, person_id, toUInt32(max(sent_at)) FROM mailing_sends
WHERE sent_at >= now() - ? * 86400 GROUP BY mailing_id, person_id
