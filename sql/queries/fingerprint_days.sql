-- Watermark of job "days": a fingerprint per UTC day of hits (distinct event ids and the
-- latest ts_ms). Any new hit changes it, a late replay of an old batch that brings hits not
-- seen before too; replayed copies of known hits and merges folding them do not.
-- params: none
SELECT
    toString(toDate(received_at)) AS day,
    concat(toString(uniqExact(event_id)), ':', toString(max(ts_ms))) AS fp
FROM hits
GROUP BY day
ORDER BY day
