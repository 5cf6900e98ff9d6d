-- The committed generation of every bucket of the jobs whose tables the page API reads:
-- which spans of r_page_spans are current (their fingerprint names the generations of job
-- "days" they were computed from), and the key of the API's answer cache.
-- params: none
SELECT job, bucket, argMax(fingerprint, version) AS fp, max(version) AS gen
FROM r_generations
WHERE job IN ('days', 'page_spans')
GROUP BY job, bucket
ORDER BY job, bucket
