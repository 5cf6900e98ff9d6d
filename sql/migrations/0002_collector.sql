-- Collector: the shared daily salt for anonymous visitor ids. Runs on ClickHouse 18.16 and on
-- current ClickHouse.
--
-- Every replica proposes a random salt for the current UTC day and then uses min(salt) of
-- that day, so all replicas converge on the same salt without coordination. Rows of past days
-- are deleted by the collector once the day is over: the salt is then forgotten and yesterday's
-- anonymous visitor ids can no longer be linked to today's.
-- `day` is the number of days since 1970-01-01 (UTC); `salt` is 64 hex characters.
CREATE TABLE IF NOT EXISTS daily_salts
(
    day UInt32,
    salt String,
    created_at DateTime
)
ENGINE = MergeTree()
ORDER BY day;
