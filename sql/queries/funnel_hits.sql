-- GET /api/funnels/{name}: the pageviews and events of one site in [from, to) that match any
-- step of the funnel (exact paths, path prefixes from patterns ending in '*', event names),
-- one row per event_id, ordered by (visitor, ts_ms, event_id), with the person's account.
-- A client retry (its first answer lost: the same non-empty client_id of the site's visitor,
-- received the same UTC day, under a new event_id) counts once, as in the sessionizer: the
-- first by (ts_ms, event_id) stays (LIMIT 1 BY after the ORDER BY).
-- The walk through the steps happens in Rust (metrics/funnel.rs): matching ordered steps
-- within a window from every start is a fold ClickHouse 18.16 cannot express
-- (no arrayFold; windowFunnel gives only the level, not the step times nor who dropped).
-- params: site String = 'shop.example', from DateTime = 1767571200, to DateTime = 1767830400, from2 DateTime = 1767571200, to2 DateTime = 1767830400, paths Array(String) = ['/','/pricing'], prefixes Array(String) = ['/blog/'], events Array(String) = ['signup']
SELECT f_visitor, f_person, account_id, f_ts, f_event, f_type, f_path, f_name
FROM
(
    SELECT
        toString(event_id) AS f_event, any(visitor_id) AS f_visitor, any(person_id) AS f_person,
        any(ts_ms) AS f_ts, any(type) AS f_type, any(path) AS f_path,
        any(event_name) AS f_name, any(client_id) AS f_client,
        toDate(min(received_at)) AS f_day
    FROM hits
    WHERE site = ? AND received_at >= toDateTime(?) AND received_at < toDateTime(?)
      -- The same range on the key's toDate(received_at), implied by the one above: 18.16
      -- skips the other days by the primary key only with this (else a day scans the month).
      AND toDate(received_at) >= toDate(toDateTime(?)) AND toDate(received_at) <= toDate(toDateTime(?) - 1)
      AND type IN ('pageview', 'event') AND is_bot = 0 AND visitor_id != ''
      AND ((type = 'pageview' AND (has(CAST(? AS Array(String)), path) OR arrayExists(x -> startsWith(path, x), CAST(? AS Array(String)))))
           OR (type = 'event' AND has(CAST(? AS Array(String)), event_name)))
    GROUP BY event_id
) AS l1
ANY LEFT JOIN
(
    SELECT person_id AS f_person, argMax(account_id, version) AS account_id
    FROM persons
    GROUP BY person_id
) AS r2 USING f_person
ORDER BY f_visitor, f_ts, f_event
LIMIT 1 BY f_visitor, f_day, f_client = '', if(f_client = '', f_event, f_client)
