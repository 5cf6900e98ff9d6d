-- Job "days", step 3: the person-level activities of the given UTC days as generation
-- `version`: mailing opens and clicks, custom events (props in detail), conversions (one row
-- per goal a hit reaches; goal name in detail) and visits (one row per session of a known
-- person, with its pages from r_pageviews_v2 of the same generation).
-- first_seen is kept from the last committed generation of the day, so the change feed's
-- cursor (first_seen, ts_ms, activity_id) never sends a row twice and never skips one that
-- appears late (a replayed batch gets the first_seen of the run that first saw it).
-- params: version UInt64 = 7, days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], from DateTime = 1767571200, to DateTime = 1767830400, event_goal_names Array(String) = ['signup'], event_goal_values Array(String) = ['signup'], path_goal_names Array(String) = ['thanks'], path_goal_values Array(String) = ['/thank-you'], days2 Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], from2 DateTime = 1767571200, to2 DateTime = 1767830400, first_day String = '2026-01-05', last_day String = '2026-01-07', source_version UInt64 = 7, first_day2 String = '2026-01-05', last_day2 String = '2026-01-07', days3 Array(String) = ['2026-01-05','2026-01-06','2026-01-07']
INSERT INTO r_activities
SELECT
    a_day, a_version,
    if(prev_first_seen = 0, a_version, prev_first_seen),
    activity_id, a_person, a_ts, a_event, a_kind, a_site, a_mailing, a_link, a_verdict, a_path,
    a_name, a_detail, a_pages, a_page_ts, a_duration
FROM
(
    SELECT
        a_day, toUInt64(?) AS a_version,
        cityHash64(a_event, a_kind, a_detail) AS activity_id,
        a_person, a_ts, a_event, a_kind, a_site, a_mailing, a_link, a_verdict, a_path, a_name,
        a_detail, a_pages, a_page_ts, a_duration
    FROM
    (
        SELECT
            toDate(any(received_at)) AS a_day, toString(event_id) AS a_event,
            any(type) AS a_kind, any(person_id) AS a_person, any(ts_ms) AS a_ts,
            any(site) AS a_site, any(mailing_id) AS a_mailing, any(link_id) AS a_link,
            any(verdict) AS a_verdict, any(path) AS a_path, any(event_name) AS a_name,
            any(props) AS a_detail,
            emptyArrayString() AS a_pages, emptyArrayUInt64() AS a_page_ts,
            toUInt64(0) AS a_duration
        FROM hits
        WHERE has(arrayMap(d -> toDate(d), CAST(? AS Array(String))), toDate(received_at))
          AND received_at >= toDateTime(?) AND received_at < toDateTime(?)
          AND person_id != '' AND type IN ('open', 'click', 'event')
        GROUP BY event_id

        UNION ALL

        SELECT
            c_day AS a_day, c_event AS a_event, 'conversion' AS a_kind, c_person AS a_person,
            c_ts AS a_ts, c_site AS a_site, c_mailing AS a_mailing, '' AS a_link, '' AS a_verdict,
            c_path AS a_path, c_name AS a_name, goal AS a_detail,
            emptyArrayString() AS a_pages, emptyArrayUInt64() AS a_page_ts,
            toUInt64(0) AS a_duration
        FROM
        (
            SELECT
                toDate(any(received_at)) AS c_day, toString(event_id) AS c_event,
                any(type) AS c_type, any(person_id) AS c_person, any(ts_ms) AS c_ts,
                any(site) AS c_site, any(mailing_id) AS c_mailing, any(path) AS c_path,
                any(event_name) AS c_name,
                arrayConcat(
                    arrayFilter((g, v) -> c_type = 'event' AND v = c_name, CAST(? AS Array(String)), CAST(? AS Array(String))),
                    arrayFilter((g, v) -> c_type = 'pageview' AND v = c_path, CAST(? AS Array(String)), CAST(? AS Array(String)))) AS goals
            FROM hits
            WHERE has(arrayMap(d -> toDate(d), CAST(? AS Array(String))), toDate(received_at))
              AND received_at >= toDateTime(?) AND received_at < toDateTime(?)
              AND person_id != '' AND type IN ('pageview', 'event')
            GROUP BY event_id
        )
        ARRAY JOIN goals AS goal

        UNION ALL

        SELECT
            v_day AS a_day, v_sorted[1].2 AS a_event, 'visit' AS a_kind, v_person AS a_person,
            v_start AS a_ts, v_site AS a_site, '' AS a_mailing, '' AS a_link, '' AS a_verdict,
            v_sorted[1].3 AS a_path, '' AS a_name, v_visitor AS a_detail,
            arrayMap(x -> x.3, v_sorted) AS a_pages, arrayMap(x -> x.1, v_sorted) AS a_page_ts,
            toUInt64(v_end - v_start) AS a_duration
        FROM
        (
            SELECT
                day AS v_day, site AS v_site, visitor_id AS v_visitor, session_no,
                any(person_id) AS v_person, any(session_start_ms) AS v_start,
                any(session_end_ms) AS v_end,
                arraySort(groupArray((ts_ms, event_id, path))) AS v_sorted
            FROM r_pageviews_v2
            WHERE day >= toDate(?) AND day <= toDate(?) AND version = ? AND person_id != ''
            GROUP BY day, site, visitor_id, session_no
        )
    )
) AS l1
ANY LEFT JOIN
(
    SELECT activity_id, first_seen AS prev_first_seen
    FROM r_activities
    WHERE day >= toDate(?) AND day <= toDate(?)
      AND (toString(day), version) IN
          (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
      AND has(arrayMap(d -> toDate(d), CAST(? AS Array(String))), day)
) AS r2 USING activity_id
