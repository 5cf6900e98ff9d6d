-- Cluster variant of sql/migrations/0007_mail_hits.sql (written by sql/cluster/generate.py; edit the
-- migration or the generator, not this file). Applied by `aggregator migrate` on every node
-- whose config has the macro tracking_cluster; {cluster} and {database} are filled in.
-- Local tables use the single-node engines; with replicas, use the Replicated* engine of
-- the same family, e.g. ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/hits_local', '{replica}')
-- (needs ZooKeeper) and set internal_replication = true for the shards.

CREATE TABLE IF NOT EXISTS r_mail_hits_local
(
    day Date,
    version UInt64,
    mailing_id String,
    event_id UUID,
    type String,
    person_id String,
    link_id String,
    verdict String,
    ts_ms UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (mailing_id, day, event_id);

CREATE TABLE IF NOT EXISTS r_mail_hits AS r_mail_hits_local
ENGINE = Distributed({cluster}, {database}, r_mail_hits_local, sipHash64(mailing_id));
