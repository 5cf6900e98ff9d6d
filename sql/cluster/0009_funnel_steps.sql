-- Cluster variant of sql/migrations/0009_funnel_steps.sql (written by sql/cluster/generate.py; edit the
-- migration or the generator, not this file). Applied by `aggregator migrate` on every node
-- whose config has the macro tracking_cluster; {cluster} and {database} are filled in.
-- Local tables use the single-node engines; with replicas, use the Replicated* engine of
-- the same family, e.g. ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/hits_local', '{replica}')
-- (needs ZooKeeper) and set internal_replication = true for the shards.

CREATE TABLE IF NOT EXISTS r_funnel_steps_local
(
    funnel String,
    version UInt64,
    first_seen UInt64,
    activity_id UInt64,
    person_id String,
    ts_ms UInt64,
    detail String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (funnel, activity_id);

CREATE TABLE IF NOT EXISTS r_funnel_steps AS r_funnel_steps_local
ENGINE = Distributed({cluster}_all, {database}, r_funnel_steps_local, rand());
