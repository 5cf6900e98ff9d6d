-- The fingerprint of the last committed generation of every bucket of a job.
-- params: job String = 'days'
SELECT bucket, argMax(fingerprint, version) AS fp, max(version) AS gen
FROM r_generations
WHERE job = ?
GROUP BY bucket
ORDER BY bucket
