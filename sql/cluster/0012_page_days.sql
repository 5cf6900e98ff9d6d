-- Cluster variant of sql/migrations/0012_page_days.sql (written by sql/cluster/generate.py; edit the
-- migration or the generator, not this file). Applied by `aggregator migrate` on every node
-- whose config has the macro tracking_cluster; {cluster} and {database} are filled in.
-- Local tables use the single-node engines; with replicas, use the Replicated* engine of
-- the same family, e.g. ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/hits_local', '{replica}')
-- (needs ZooKeeper) and set internal_replication = true for the shards.

CREATE TABLE IF NOT EXISTS r_page_days_local
(
    day Date,
    version UInt64,
    site String,
    path String,
    pageviews UInt64,
    visitors UInt64,
    entrances UInt64,
    exits UInt64,
    bounces UInt64,
    timed UInt64,
    time_sum_ms UInt64,
    median_ms UInt64,
    visits UInt64,
    converting_visits UInt64,
    visits_from_mailing UInt64,
    visits_from_campaign UInt64,
    visitor_hashes Array(UInt64),
    time_set AggregateFunction(quantileExact(0.5), UInt64)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path)
SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS r_page_days AS r_page_days_local
ENGINE = Distributed({cluster}, {database}, r_page_days_local, sipHash64(site, path));
