-- Cluster variant of sql/migrations/0011_page_span_sums.sql (written by sql/cluster/generate.py; edit the
-- migration or the generator, not this file). Applied by `aggregator migrate` on every node
-- whose config has the macro tracking_cluster; {cluster} and {database} are filled in.
-- Local tables use the single-node engines; with replicas, use the Replicated* engine of
-- the same family, e.g. ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/hits_local', '{replica}')
-- (needs ZooKeeper) and set internal_replication = true for the shards.

CREATE TABLE IF NOT EXISTS r_page_span_sums_local
(
    span_start Date,
    version UInt64,
    site String,
    path String,
    checksum UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(span_start)
ORDER BY (span_start, site, path);

CREATE TABLE IF NOT EXISTS r_page_span_sums AS r_page_span_sums_local
ENGINE = Distributed({cluster}, {database}, r_page_span_sums_local, sipHash64(site, path));
