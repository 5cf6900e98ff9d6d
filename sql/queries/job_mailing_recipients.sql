-- Job "mailings", step 1: one row per recipient of the send log of each given mailing, as
-- generation `version`, with first open/click times (0 = never) raw and human-only, and click
-- counts. A click implies an open (an image-blocking client still clicked). Human-only leaves
-- out the machine verdicts apple_mpp (Apple Mail privacy prefetch) and scanner (link
-- scanners); human and unknown stay. Replayed hits count once (grouped by event_id).
-- Opens and clicks come from r_mail_hits (committed generations of job "days", which runs
-- first): read by mailing, not by scanning every hit.
-- params: version UInt64 = 7, mailings Array(String) = ['m1','m2'], mailings2 Array(String) = ['m1','m2']
INSERT INTO r_mailing_recipients
SELECT
    mailing_id, person_id, toUInt64(?) AS version, account_id, sent_ms,
    first_open_ms, first_human_open_ms, first_click_ms, first_human_click_ms,
    clicks, human_clicks
FROM
(
    SELECT mailing_id, person_id, account_id, sent_ms
    FROM
    (
        SELECT mailing_id, person_id, toUInt64(sent_at) * 1000 AS sent_ms
        FROM mailing_sends FINAL
        WHERE has(CAST(? AS Array(String)), mailing_id)
    ) AS l1
    ANY LEFT JOIN
    (
        SELECT person_id, argMax(account_id, version) AS account_id
        FROM persons
        GROUP BY person_id
    ) AS r3 USING person_id
) AS l2
ANY LEFT JOIN
(
    SELECT
        e_mailing AS mailing_id, e_person AS person_id,
        minIf(e_ts, e_type IN ('open', 'click')) AS first_open_ms,
        minIf(e_ts, e_type IN ('open', 'click') AND e_human = 1) AS first_human_open_ms,
        minIf(e_ts, e_type = 'click') AS first_click_ms,
        minIf(e_ts, e_type = 'click' AND e_human = 1) AS first_human_click_ms,
        countIf(e_type = 'click') AS clicks,
        countIf(e_type = 'click' AND e_human = 1) AS human_clicks
    FROM
    (
        SELECT
            event_id, any(mailing_id) AS e_mailing, any(person_id) AS e_person,
            any(type) AS e_type, any(ts_ms) AS e_ts,
            toUInt8(any(verdict) NOT IN ('apple_mpp', 'scanner')) AS e_human
        FROM r_mail_hits
        WHERE has(CAST(? AS Array(String)), mailing_id) AND person_id != ''
          AND (toString(day), version) IN
              (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
        GROUP BY event_id
    )
    GROUP BY e_mailing, e_person
) AS r4 USING (mailing_id, person_id)
