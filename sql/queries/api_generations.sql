-- The committed generation of every bucket of the jobs whose tables the page and funnel API
-- read: which spans of r_page_spans and r_funnel_spans are current (their fingerprints name
-- the generations of job "days" they were computed from), and the key of the answer cache.
-- params: none
SELECT job, bucket, argMax(fingerprint, version) AS fp, max(version) AS gen
FROM r_generations
WHERE job IN ('days', 'page_spans', 'funnels')
GROUP BY job, bucket
ORDER BY job, bucket
