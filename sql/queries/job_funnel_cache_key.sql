-- Job "funnels": which server and database the hits it keeps between runs belong to
-- (aggregator/src/metrics/funnel_cache.rs).
-- params: none
SELECT concat(hostName(), '/', currentDatabase())
