-- Cluster variant of sql/migrations/0001_core.sql (written by sql/cluster/generate.py; edit the
-- migration or the generator, not this file). Applied by `aggregator migrate` on every node
-- whose config has the macro tracking_cluster; {cluster} and {database} are filled in.
-- Local tables use the single-node engines; with replicas, use the Replicated* engine of
-- the same family, e.g. ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/hits_local', '{replica}')
-- (needs ZooKeeper) and set internal_replication = true for the shards.

CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime
)
ENGINE = ReplacingMergeTree()
ORDER BY version;

CREATE TABLE IF NOT EXISTS hits_local
(
    event_id UUID,
    received_at DateTime,
    ts_ms UInt64,
    site String,
    type String,
    url String,
    host String,
    path String,
    title String,
    referrer String,
    referrer_host String,
    referrer_kind String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_term String,
    utm_content String,
    country String,
    region String,
    city String,
    browser String,
    browser_version String,
    os String,
    device String,
    is_bot UInt8,
    bot_reason String,
    ip String,
    visitor_id String,
    person_id String,
    account_id String,
    consent UInt8,
    mailing_id String,
    link_id String,
    verdict String,
    event_name String,
    props String,
    client_id String,
    screen_w UInt16,
    screen_h UInt16,
    lang String,
    replica String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(received_at)
ORDER BY (site, toDate(received_at), received_at, event_id);

CREATE TABLE IF NOT EXISTS hits AS hits_local
ENGINE = Distributed({cluster}, {database}, hits_local, sipHash64(visitor_id));

CREATE TABLE IF NOT EXISTS accounts_local
(
    account_id String,
    name String,
    domain String,
    attributes String,
    updated_at DateTime,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY account_id;

CREATE TABLE IF NOT EXISTS accounts AS accounts_local
ENGINE = Distributed({cluster}_all, {database}, accounts_local, rand());

CREATE TABLE IF NOT EXISTS persons_local
(
    person_id String,
    account_id String,
    email String,
    attributes String,
    updated_at DateTime,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY person_id;

CREATE TABLE IF NOT EXISTS persons AS persons_local
ENGINE = Distributed({cluster}_all, {database}, persons_local, rand());

CREATE TABLE IF NOT EXISTS mailings_local
(
    mailing_id String,
    name String,
    subject String,
    sent_at DateTime,
    attributes String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY mailing_id;

CREATE TABLE IF NOT EXISTS mailings AS mailings_local
ENGINE = Distributed({cluster}_all, {database}, mailings_local, rand());

CREATE TABLE IF NOT EXISTS mailing_sends_local
(
    mailing_id String,
    person_id String,
    sent_at DateTime
)
ENGINE = ReplacingMergeTree()
ORDER BY (mailing_id, person_id);

CREATE TABLE IF NOT EXISTS mailing_sends AS mailing_sends_local
ENGINE = Distributed({cluster}_all, {database}, mailing_sends_local, rand());

CREATE TABLE IF NOT EXISTS consents_local
(
    consent_id String,
    person_id String,
    purpose String,
    granted UInt8,
    source String,
    text_version String,
    at DateTime,
    recorded_by String,
    recorded_at DateTime
)
ENGINE = ReplacingMergeTree()
ORDER BY (person_id, purpose, at, consent_id);

CREATE TABLE IF NOT EXISTS consents AS consents_local
ENGINE = Distributed({cluster}_all, {database}, consents_local, rand());

CREATE TABLE IF NOT EXISTS identity_links_local
(
    visitor_id String,
    person_id String,
    site String,
    source String,
    linked_at DateTime,
    revoked UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (visitor_id, person_id);

CREATE TABLE IF NOT EXISTS identity_links AS identity_links_local
ENGINE = Distributed({cluster}_all, {database}, identity_links_local, rand());

CREATE TABLE IF NOT EXISTS identity_conflicts_local
(
    visitor_id String,
    existing_person_id String,
    new_person_id String,
    site String,
    at DateTime
)
ENGINE = MergeTree()
ORDER BY (visitor_id, at);

CREATE TABLE IF NOT EXISTS identity_conflicts AS identity_conflicts_local
ENGINE = Distributed({cluster}_all, {database}, identity_conflicts_local, rand());

CREATE TABLE IF NOT EXISTS erasures_local
(
    person_id String,
    at DateTime,
    requested_by String,
    receipt String
)
ENGINE = MergeTree()
ORDER BY (person_id, at);

CREATE TABLE IF NOT EXISTS erasures AS erasures_local
ENGINE = Distributed({cluster}_all, {database}, erasures_local, rand());

CREATE TABLE IF NOT EXISTS goals_local
(
    name String,
    definition String,
    updated_at DateTime,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name;

CREATE TABLE IF NOT EXISTS goals AS goals_local
ENGINE = Distributed({cluster}_all, {database}, goals_local, rand());

CREATE TABLE IF NOT EXISTS funnels_local
(
    name String,
    definition String,
    updated_at DateTime,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name;

CREATE TABLE IF NOT EXISTS funnels AS funnels_local
ENGINE = Distributed({cluster}_all, {database}, funnels_local, rand());
