-- Job "mailings", step 2: clicks per link of each given mailing, as generation `version`,
-- raw and human-only (see job_mailing_recipients.sql). Replayed hits count once. Clicks
-- come from r_mail_hits (committed generations of job "days").
-- params: version UInt64 = 7, mailings Array(String) = ['m1','m2']
INSERT INTO r_mailing_links
SELECT
    l_mailing, l_link, toUInt64(?) AS version,
    count() AS clicks,
    countIf(l_human = 1) AS human_clicks,
    uniqExact(l_person) AS unique_clickers,
    uniqExactIf(l_person, l_human = 1) AS human_unique_clickers
FROM
(
    SELECT
        event_id, any(mailing_id) AS l_mailing, any(link_id) AS l_link,
        any(person_id) AS l_person,
        toUInt8(any(verdict) NOT IN ('apple_mpp', 'scanner')) AS l_human
    FROM r_mail_hits
    WHERE has(CAST(? AS Array(String)), mailing_id) AND type = 'click'
      AND (toString(day), version) IN
          (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
    GROUP BY event_id
)
GROUP BY l_mailing, l_link
