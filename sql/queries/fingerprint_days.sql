-- Watermark of job "days": a fingerprint per UTC day of hits: row count, the sum of the first
-- 8 bytes of every event id (random in a v4 UUID), and the latest ts_ms. Any new hit changes
-- it (a late replay of an old batch too); a merge folding replayed copies changes it as well,
-- which costs a harmless recompute of that day. Cheap: no hashing, no distinct set.
-- params: none
SELECT
    toString(toDate(received_at)) AS day,
    concat(toString(count()), ':',
           toString(sum(reinterpretAsUInt64(reinterpretAsString(event_id)))), ':',
           toString(max(ts_ms))) AS fp
FROM hits
GROUP BY day
ORDER BY day
