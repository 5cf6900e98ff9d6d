-- GET /api/mailings/{id}/response: conversions per account = distinct recipients (send log)
-- who clicked the mailing and reached the goal at or after one of their clicks, within the
-- window (ms); goal '' counts any defined goal; human-only counts only human clicks (see
-- job_mailing_recipients.sql).
-- Clicks and conversions come from committed r_activities (job "days").
-- params: mailing String = 'm1', goal String = 'signup', goal2 String = 'signup', window_ms UInt64 = 604800000, mailing2 String = 'm1', account String = '', account2 String = ''
SELECT account_id, uniqExact(person_id) AS conversions, uniqExactIf(person_id, human = 1) AS human_conversions
FROM
(
    SELECT person_id, max(click_human) AS human
    FROM
    (
        SELECT person_id, ts_ms AS click_ts, toUInt8(verdict NOT IN ('apple_mpp', 'scanner')) AS click_human
        FROM r_activities
        WHERE (toString(day), version) IN
              (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
          AND kind = 'click' AND mailing_id = ?
    ) AS l1
    ALL INNER JOIN
    (
        SELECT person_id, ts_ms AS goal_ts
        FROM r_activities
        WHERE (toString(day), version) IN
              (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
          AND kind = 'conversion' AND (? = '' OR detail = ?)
    ) AS r3 USING person_id
    WHERE goal_ts >= click_ts AND goal_ts <= click_ts + ?
    GROUP BY person_id
) AS l2
ANY INNER JOIN
(
    SELECT person_id, account_id
    FROM r_mailing_recipients
    WHERE (mailing_id, version) IN
          (SELECT bucket, max(version) FROM r_generations WHERE job = 'mailings' GROUP BY bucket)
      AND mailing_id = ?
) AS r4 USING person_id
WHERE (? = '' OR account_id = ?)
GROUP BY account_id
ORDER BY account_id
