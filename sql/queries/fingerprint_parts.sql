-- Watermark of job "days", which days to fingerprint: the active parts of hits on this server,
-- each with its newest block number (an insert's part gets a number of its own, above every
-- earlier one; a merge keeps the newest of its sources; a mutated part takes the mutation's)
-- and the UTC days of its received_at range (min_time/max_time: the partition key's column).
-- A part whose number is above the one committed for its partition holds hits written since
-- the last run, on its days only (day_parts.rs). A Distributed hits (cluster mode) has no
-- parts here, and then every day is fingerprinted.
-- params: none
SELECT
    partition_id,
    greatest(max_block_number, data_version) AS block,
    toString(toDate(min_time)) AS first_day,
    toString(toDate(max_time)) AS last_day,
    engine
FROM system.parts
WHERE database = currentDatabase() AND table = 'hits' AND active
ORDER BY partition_id, block, first_day, last_day
