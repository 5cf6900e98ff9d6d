-- Watermark of job "days": a fingerprint per UTC day of hits (row count and a sum of hashed
-- event ids). Any insert into a day changes it, a late replay of an old batch too; a merge
-- folding duplicates changes it as well, which only costs a harmless recompute.
-- params: none
SELECT
    toString(toDate(received_at)) AS day,
    concat(toString(count()), ':', toString(sum(cityHash64(reinterpretAsString(event_id))))) AS fp
FROM hits
GROUP BY day
ORDER BY day
