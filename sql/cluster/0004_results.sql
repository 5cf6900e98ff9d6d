-- Cluster variant of sql/migrations/0004_results.sql (written by sql/cluster/generate.py; edit the
-- migration or the generator, not this file). Applied by `aggregator migrate` on every node
-- whose config has the macro tracking_cluster; {cluster} and {database} are filled in.
-- Local tables use the single-node engines; with replicas, use the Replicated* engine of
-- the same family, e.g. ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/hits_local', '{replica}')
-- (needs ZooKeeper) and set internal_replication = true for the shards.

CREATE TABLE IF NOT EXISTS r_generations_local
(
    job String,
    bucket String,
    version UInt64,
    fingerprint String,
    committed_at DateTime
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (job, bucket);

CREATE TABLE IF NOT EXISTS r_generations AS r_generations_local
ENGINE = Distributed({cluster}_all, {database}, r_generations_local, rand());

CREATE TABLE IF NOT EXISTS r_pageviews_local
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
    converts_after UInt8
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, site, visitor_id, ts_ms, event_id);

CREATE TABLE IF NOT EXISTS r_pageviews AS r_pageviews_local
ENGINE = Distributed({cluster}, {database}, r_pageviews_local, sipHash64(visitor_id));

CREATE TABLE IF NOT EXISTS r_page_daily_local
(
    day Date,
    version UInt64,
    site String,
    path String,
    pageviews UInt64,
    visitors AggregateFunction(uniqExact, String),
    entrances UInt64,
    exits UInt64,
    bounces UInt64,
    timed UInt64,
    time_sum_ms UInt64,
    time_median AggregateFunction(quantileExact(0.5), UInt64),
    visits UInt64,
    converting_visits UInt64,
    visits_from_mailing UInt64,
    visits_from_campaign UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, site, path);

CREATE TABLE IF NOT EXISTS r_page_daily AS r_page_daily_local
ENGINE = Distributed({cluster}, {database}, r_page_daily_local, sipHash64(site, path));

CREATE TABLE IF NOT EXISTS r_activities_local
(
    day Date,
    version UInt64,
    first_seen UInt64,
    activity_id UInt64,
    person_id String,
    ts_ms UInt64,
    event_id String,
    kind String,
    site String,
    mailing_id String,
    link_id String,
    verdict String,
    path String,
    event_name String,
    detail String,
    pages Array(String),
    page_ts Array(UInt64),
    duration_ms UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, activity_id);

CREATE TABLE IF NOT EXISTS r_activities AS r_activities_local
ENGINE = Distributed({cluster}, {database}, r_activities_local, sipHash64(person_id));

CREATE TABLE IF NOT EXISTS r_mailing_recipients_local
(
    mailing_id String,
    person_id String,
    version UInt64,
    account_id String,
    sent_ms UInt64,
    first_open_ms UInt64,
    first_human_open_ms UInt64,
    first_click_ms UInt64,
    first_human_click_ms UInt64,
    clicks UInt64,
    human_clicks UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (mailing_id, person_id);

CREATE TABLE IF NOT EXISTS r_mailing_recipients AS r_mailing_recipients_local
ENGINE = Distributed({cluster}, {database}, r_mailing_recipients_local, sipHash64(person_id));

CREATE TABLE IF NOT EXISTS r_mailing_links_local
(
    mailing_id String,
    link_id String,
    version UInt64,
    clicks UInt64,
    human_clicks UInt64,
    unique_clickers UInt64,
    human_unique_clickers UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (mailing_id, link_id);

CREATE TABLE IF NOT EXISTS r_mailing_links AS r_mailing_links_local
ENGINE = Distributed({cluster}, {database}, r_mailing_links_local, sipHash64(mailing_id));
