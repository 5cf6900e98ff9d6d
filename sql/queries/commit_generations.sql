-- Commits a generation: one row per bucket (a day 'YYYY-MM-DD' for job "days", a mailing id
-- for job "mailings") with the fingerprint of the input it was computed from. Written after
-- every row of the generation, so readers (which only look at committed generations) never
-- see half a run.
-- params: job String = 'days', version UInt64 = 7, buckets Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], fingerprints Array(String) = ['a','b','c']
INSERT INTO r_generations (job, bucket, version, fingerprint, committed_at)
SELECT job_name, pair.1, gen, pair.2, now()
FROM
(
    SELECT
        ? AS job_name, toUInt64(?) AS gen,
        arrayJoin(arrayMap((b, f) -> (b, f), CAST(? AS Array(String)), CAST(? AS Array(String)))) AS pair
)
