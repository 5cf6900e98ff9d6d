-- Watermark of job "days": the mutations of hits on this server (GDPR erasures, ALTER ...
-- DELETE): how many, how many still run, and the sum of their ids' hashes. A mutation rewrites
-- old parts under its own number, which can be below the blocks inserted after it, so block
-- numbers alone miss it: a run that finds a new or running one fingerprints every day
-- (day_parts.rs).
-- params: none
SELECT count() AS n, countIf(is_done = 0) AS running, sum(cityHash64(mutation_id)) AS ids
FROM system.mutations
WHERE database = currentDatabase() AND table = 'hits'
