-- Cluster variant of sql/migrations/0010_funnel_span_persons.sql (written by sql/cluster/generate.py; edit the
-- migration or the generator, not this file). Applied by `aggregator migrate` on every node
-- whose config has the macro tracking_cluster; {cluster} and {database} are filled in.
-- Local tables use the single-node engines; with replicas, use the Replicated* engine of
-- the same family, e.g. ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/hits_local', '{replica}')
-- (needs ZooKeeper) and set internal_replication = true for the shards.

CREATE TABLE IF NOT EXISTS r_funnel_span_persons_local
(
    funnel String,
    site String,
    account String,
    span_start Date,
    span_end Date,
    version UInt64,
    person_id String,
    person_account String,
    level UInt32
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (funnel, site, account, span_start, span_end, person_id);

CREATE TABLE IF NOT EXISTS r_funnel_span_persons AS r_funnel_span_persons_local
ENGINE = Distributed({cluster}_all, {database}, r_funnel_span_persons_local, rand());
