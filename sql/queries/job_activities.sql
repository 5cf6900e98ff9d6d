-- Job "days", step 3: the person-level activities of the given UTC days as generation
-- `version`: mailing opens and clicks, custom events (props in detail), conversions (one row
-- per goal a hit reaches; goal name in detail) and visits (one row per session of a known
-- person, with its pages from r_pageviews_v2).
-- A hit counts once: replayed copies share the event_id, and a client retry (its first answer
-- lost) shares the non-empty client_id of the site's visitor that day under a new event_id;
-- the first by (ts_ms, event_id) stands for them, as in the sessionizer. As there too, a
-- client_id the visitor's web hits carry in the first 30 minutes of a day and in the last 30
-- minutes of the day before belongs to the day before: that day's hits with it are dropped.
-- A visit belongs to the first day of its pageviews (a session can run across midnight,
-- job_pageviews.sql) and lists the pages of both days: the neighbour days' rows come from
-- their committed generation of job "days", the given days' from generation `version`.
-- first_seen is kept from the last committed generation of the day, so the change feed's
-- cursor (first_seen, ts_ms, activity_id) never sends a row twice and never skips one that
-- appears late (a replayed batch gets the first_seen of the run that first saw it).
-- Every received_at range is also bound on toDate(received_at), the hits key's second column:
-- 18.16 does not derive that bound from a received_at range, and without it one day's read
-- scanned most of its month.
-- params: version UInt64 = 7, days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], from DateTime = 1767571200, to DateTime = 1767830400, retry_from DateTime = 1767571200, retry_to DateTime = 1767830400, retry_days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], event_goal_names Array(String) = ['signup'], event_goal_values Array(String) = ['signup'], path_goal_names Array(String) = ['thanks'], path_goal_values Array(String) = ['/thank-you'], days2 Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], from2 DateTime = 1767571200, to2 DateTime = 1767830400, retry_from2 DateTime = 1767571200, retry_to2 DateTime = 1767830400, retry_days2 Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], first_day String = '2026-01-05', last_day String = '2026-01-07', visit_days Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], source_version UInt64 = 7, visit_days2 Array(String) = ['2026-01-05','2026-01-06','2026-01-07'], first_day2 String = '2026-01-05', last_day2 String = '2026-01-07', days3 Array(String) = ['2026-01-05','2026-01-06','2026-01-07']
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
            toDate(f.3) AS a_day, f.1 AS a_event, f.4 AS a_kind, f.5 AS a_person, f.2 AS a_ts,
            f.6 AS a_site, f.7 AS a_mailing, f.8 AS a_link, f.9 AS a_verdict, f.10 AS a_path,
            f.11 AS a_name, f.12 AS a_detail,
            emptyArrayString() AS a_pages, emptyArrayUInt64() AS a_page_ts,
            toUInt64(0) AS a_duration
        FROM
        (
            SELECT argMin((toString(event_id), ts_ms, received_at, type, person_id, site,
                           mailing_id, link_id, verdict, path, event_name, props),
                          (ts_ms, toString(event_id))) AS f
            FROM hits
            WHERE has(CAST(? AS Array(Date)), toDate(received_at))
              AND received_at >= (toDateTime(?) AS lo_5) AND received_at < (toDateTime(?) AS hi_5)
              AND toDate(received_at) >= toDate(lo_5) AND toDate(received_at) <= toDate(hi_5)
              AND person_id != '' AND type IN ('open', 'click', 'event')
              -- concat(site, '') and + 0: no key expression in the tuple, or 18.16 runs the
              -- subquery for the primary key index on every analysis pass (~0.2 s per run).
              AND (client_id = '' OR (concat(site, ''), visitor_id, client_id, toDate(received_at) + 0) NOT IN
                  (
                      -- Client ids in the first 30 minutes of a day that the visitor's web
                      -- hits also carried in the last 30 minutes of the day before.
                      -- @include fragments/bridge_visitors.sql (n=6; keys=site, visitor_id, client_id; to=toDateTime(?); where=client_id != '' AND has(CAST(? AS Array(Date)), m))
                  ))
            GROUP BY toDate(received_at), client_id = '', if(client_id = '', toString(event_id), site),
                     if(client_id = '', '', visitor_id), client_id
        )

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
                argMin((toString(event_id), ts_ms, received_at, type, person_id, site,
                        mailing_id, path, event_name),
                       (ts_ms, toString(event_id))) AS f,
                toDate(f.3) AS c_day, f.1 AS c_event, f.4 AS c_type, f.5 AS c_person,
                f.2 AS c_ts, f.6 AS c_site, f.7 AS c_mailing, f.8 AS c_path, f.9 AS c_name,
                arrayConcat(
                    arrayFilter((g, v) -> c_type = 'event' AND v = c_name, CAST(? AS Array(String)), CAST(? AS Array(String))),
                    arrayFilter((g, v) -> c_type = 'pageview' AND v = c_path, CAST(? AS Array(String)), CAST(? AS Array(String)))) AS goals
            FROM hits
            WHERE has(CAST(? AS Array(Date)), toDate(received_at))
              AND received_at >= (toDateTime(?) AS lo_7) AND received_at < (toDateTime(?) AS hi_7)
              AND toDate(received_at) >= toDate(lo_7) AND toDate(received_at) <= toDate(hi_7)
              AND person_id != '' AND type IN ('pageview', 'event')
              AND (client_id = '' OR (concat(site, ''), visitor_id, client_id, toDate(received_at) + 0) NOT IN
                  (
                      -- @include fragments/bridge_visitors.sql (n=8; keys=site, visitor_id, client_id; to=toDateTime(?); where=client_id != '' AND has(CAST(? AS Array(Date)), m))
                  ))
            GROUP BY toDate(received_at), client_id = '', if(client_id = '', toString(event_id), site),
                     if(client_id = '', '', visitor_id), client_id
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
                min(day) AS v_day, site AS v_site, visitor_id AS v_visitor,
                any(person_id) AS v_person, session_start_ms AS v_start,
                any(session_end_ms) AS v_end,
                arraySort(groupArray((ts_ms, event_id, path))) AS v_sorted
            FROM r_pageviews_v2
            WHERE day >= toDate(?) - 1 AND day <= toDate(?) + 1 AND person_id != ''
              AND if(has(CAST(? AS Array(Date)), day),
                     version = ?,
                     (toString(day), version) IN
                         (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket))
            GROUP BY site, visitor_id, session_start_ms
            HAVING has(CAST(? AS Array(Date)), v_day)
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
      AND has(CAST(? AS Array(Date)), day)
) AS r2 USING activity_id
