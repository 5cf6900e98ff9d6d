-- Job "funnels": the pageviews and events of every site in [from, to) (the days and months
-- one run recomputes) that match any step of one funnel, each with its UTC day of arrival,
-- ordered by (site, visitor, ts_ms, event_id), with the person's account. Replayed copies
-- arriving the same day are folded (LIMIT 1 BY, whatever merges have folded yet), and so are
-- client retries (the same non-empty client_id of the site's visitor, received the same day,
-- under a new event_id: the first by (ts_ms, event_id) stays, as in the sessionizer); copies
-- on other days sort next to each other, and the job keeps one per span, as funnel_hits.sql
-- does for one site and range.
-- params: from DateTime = 1767571200, to DateTime = 1767830400, from2 DateTime = 1767571200, to2 DateTime = 1767830400, paths Array(String) = ['/','/pricing'], prefixes Array(String) = ['/blog/'], events Array(String) = ['signup']
SELECT f_day, f_site, f_visitor, f_person, account_id, f_ts, f_event, f_type, f_path, f_name
FROM
(
    SELECT
        toString(toDate(received_at)) AS f_day, site AS f_site, visitor_id AS f_visitor,
        person_id AS f_person, ts_ms AS f_ts, toString(event_id) AS f_event, type AS f_type,
        path AS f_path, event_name AS f_name, client_id AS f_client
    FROM hits
    WHERE received_at >= toDateTime(?) AND received_at < toDateTime(?)
      -- The same range on the key's toDate(received_at), implied by the one above: 18.16
      -- skips the other days by the primary key only with this (else a day scans the month).
      AND toDate(received_at) >= toDate(toDateTime(?)) AND toDate(received_at) <= toDate(toDateTime(?) - 1)
      AND type IN ('pageview', 'event') AND is_bot = 0 AND visitor_id != ''
      AND ((type = 'pageview' AND (has(CAST(? AS Array(String)), path) OR arrayExists(x -> startsWith(path, x), CAST(? AS Array(String)))))
           OR (type = 'event' AND has(CAST(? AS Array(String)), event_name)))
) AS l1
ANY LEFT JOIN
(
    SELECT person_id AS f_person, argMax(account_id, version) AS account_id
    FROM persons
    GROUP BY person_id
) AS r2 USING f_person
ORDER BY f_site, f_visitor, f_ts, f_event
LIMIT 1 BY f_day, f_site, f_visitor, f_client = '', if(f_client = '', f_event, f_client)
