-- Watermark of job "days": a fingerprint per UTC day of hits: row count, the sum of the first
-- 8 bytes of every event id (random in a v4 UUID), and the latest ts_ms. Any new hit changes
-- it (a late replay of an old batch too); a merge folding replayed copies changes it as well,
-- which costs a harmless recompute of that day. Cheap: no hashing, no distinct set.
-- Every day when `all` is 1 (a forced run, the first one, cluster mode, after a mutation);
-- else only the listed days, those of the parts of hits written since the last run
-- (fingerprint_parts.sql, day_parts.rs). The list is tested on toDate(received_at), the hits
-- key's second column, so only those days' granules are read; `0 OR` folds away in 18.16's
-- index analysis (`toUInt8(0) = 1 OR` did not, and read every hit).
-- params: all UInt8 = 0, days Array(String) = ['2026-01-05','2026-01-06','2026-01-07']
SELECT
    toString(toDate(received_at)) AS day,
    concat(toString(count()), ':',
           toString(sum(reinterpretAsUInt64(reinterpretAsString(event_id)))), ':',
           toString(max(ts_ms))) AS fp
FROM hits
WHERE ? OR toDate(received_at) IN (SELECT arrayJoin(CAST(? AS Array(Date))))
GROUP BY day
ORDER BY day
