-- Cluster variant of sql/migrations/0005_pageviews_v2.sql (written by sql/cluster/generate.py; edit the
-- migration or the generator, not this file). Applied by `aggregator migrate` on every node
-- whose config has the macro tracking_cluster; {cluster} and {database} are filled in.
-- Local tables use the single-node engines; with replicas, use the Replicated* engine of
-- the same family, e.g. ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/hits_local', '{replica}')
-- (needs ZooKeeper) and set internal_replication = true for the shards.

CREATE TABLE IF NOT EXISTS r_pageviews_v2_local
(
    day Date,
    version UInt64,
    site String,
    visitor_id String,
    person_id String,
    session_no UInt32,
    session_start_ms UInt64,
    session_end_ms UInt64,
    ts_ms UInt64,
    event_id String,
    path String,
    is_entrance UInt8,
    is_exit UInt8,
    is_bounce UInt8,
    timed UInt8,
    time_ms UInt64,
    from_mailing UInt8,
    from_campaign UInt8,
    converts_after UInt8,
    visit_first UInt8,
    day_first UInt8
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, site, visitor_id, ts_ms, event_id);

CREATE TABLE IF NOT EXISTS r_pageviews_v2 AS r_pageviews_v2_local
ENGINE = Distributed({cluster}, {database}, r_pageviews_v2_local, sipHash64(visitor_id));
