-- Cluster variant of sql/migrations/0002_collector.sql (written by sql/cluster/generate.py; edit the
-- migration or the generator, not this file). Applied by `aggregator migrate` on every node
-- whose config has the macro tracking_cluster; {cluster} and {database} are filled in.
-- Local tables use the single-node engines; with replicas, use the Replicated* engine of
-- the same family, e.g. ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/hits_local', '{replica}')
-- (needs ZooKeeper) and set internal_replication = true for the shards.

CREATE TABLE IF NOT EXISTS daily_salts_local
(
    day UInt32,
    salt String,
    created_at DateTime
)
ENGINE = MergeTree()
ORDER BY day;

CREATE TABLE IF NOT EXISTS daily_salts AS daily_salts_local
ENGINE = Distributed({cluster}, {database}, daily_salts_local, rand());
