-- Watermark of job "days": when this ClickHouse server started (Unix seconds, from its
-- uptime; may jitter by a second between calls). A server that restarts numbers new parts
-- from the highest block it finds on disk: if the newest parts are gone (a month detached,
-- parts a power loss left broken and the server set aside), new inserts reuse numbers a run
-- already saw, so after a restart job days fingerprints every day once (day_parts.rs).
-- params: none
SELECT toUInt64(now()) - toUInt64(uptime()) AS started
