-- Job "funnels": the pageviews and events of every site in [from, to) (a UTC day or a
-- calendar month) that match any step of one funnel, as funnel_hits.sql gives them for one
-- site, with the site first: one row per event_id, ordered by (site, visitor, ts_ms,
-- event_id), with the person's account.
-- params: from DateTime = 1767571200, to DateTime = 1767830400, paths Array(String) = ['/','/pricing'], prefixes Array(String) = ['/blog/'], events Array(String) = ['signup']
SELECT f_site, f_visitor, f_person, account_id, f_ts, f_event, f_type, f_path, f_name
FROM
(
    SELECT
        toString(event_id) AS f_event, any(site) AS f_site, any(visitor_id) AS f_visitor,
        any(person_id) AS f_person, any(ts_ms) AS f_ts, any(type) AS f_type, any(path) AS f_path,
        any(event_name) AS f_name
    FROM hits
    WHERE received_at >= toDateTime(?) AND received_at < toDateTime(?)
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
ORDER BY f_site, f_visitor, f_ts, f_event
