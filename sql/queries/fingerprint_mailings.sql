-- Watermark of job "mailings": a fingerprint per mailing of its open/click hits (distinct
-- event ids, latest ts_ms) and of its send log (distinct recipients, latest sent_at), each part
-- tagged; the job joins the parts per mailing. Merges folding duplicates change nothing.
-- The hits part reads r_mail_hits (committed generations of job "days", which runs first and
-- recomputes every day whose hits changed), so it sees every new open or click without
-- scanning the hits.
-- params: none
SELECT mailing, fp
FROM
(
    SELECT mailing_id AS mailing, concat('h', toString(uniqExact(event_id)), ':', toString(max(ts_ms))) AS fp
    FROM r_mail_hits
    WHERE (toString(day), version) IN
          (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket)
    GROUP BY mailing_id
    UNION ALL
    SELECT mailing_id AS mailing, concat('s', toString(uniqExact(person_id)), ':', toString(max(toUInt64(sent_at)))) AS fp
    FROM mailing_sends
    GROUP BY mailing_id
)
ORDER BY mailing, fp
