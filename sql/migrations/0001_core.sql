-- Core tables of the tracking database. Runs on ClickHouse 18.16 and on current ClickHouse.
-- Every statement is idempotent (IF NOT EXISTS) so `aggregator migrate` may run from several
-- replicas at once. Unknown strings are '' (never NULL).

CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime
)
ENGINE = ReplacingMergeTree()
ORDER BY version;

-- One row per accepted hit. A batch replayed from the spool carries the same event_id and
-- received_at, so ReplacingMergeTree folds duplicates on merge; every metric also counts
-- distinct event_id, so a duplicate is never counted before the merge either.
CREATE TABLE IF NOT EXISTS hits
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

CREATE TABLE IF NOT EXISTS accounts
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

CREATE TABLE IF NOT EXISTS persons
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

CREATE TABLE IF NOT EXISTS mailings
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

CREATE TABLE IF NOT EXISTS mailing_sends
(
    mailing_id String,
    person_id String,
    sent_at DateTime
)
ENGINE = ReplacingMergeTree()
ORDER BY (mailing_id, person_id);

-- Append-only consent ledger: rows are only ever added. consent_id is a hash of the event, so
-- the same event posted twice folds into one row.
CREATE TABLE IF NOT EXISTS consents
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

-- Visitor id -> person links, made only from a valid signed token while consent stands.
-- revoked = 1 rows (higher version) invalidate a link (withdrawal, erasure).
CREATE TABLE IF NOT EXISTS identity_links
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

-- A visitor that met a second person's token: recorded, never merged.
CREATE TABLE IF NOT EXISTS identity_conflicts
(
    visitor_id String,
    existing_person_id String,
    new_person_id String,
    site String,
    at DateTime
)
ENGINE = MergeTree()
ORDER BY (visitor_id, at);

-- GDPR erasure receipts (the audit record); never deleted.
CREATE TABLE IF NOT EXISTS erasures
(
    person_id String,
    at DateTime,
    requested_by String,
    receipt String
)
ENGINE = MergeTree()
ORDER BY (person_id, at);

CREATE TABLE IF NOT EXISTS goals
(
    name String,
    definition String,
    updated_at DateTime,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name;

CREATE TABLE IF NOT EXISTS funnels
(
    name String,
    definition String,
    updated_at DateTime,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name;
