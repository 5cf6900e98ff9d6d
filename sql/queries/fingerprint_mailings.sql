-- Watermark of job "mailings": a fingerprint per mailing of its open/click hits and of its
-- send log (each part tagged; the job joins the parts per mailing).
-- params: none
SELECT mailing, fp
FROM
(
    SELECT mailing_id AS mailing, concat('h', toString(count()), ':', toString(sum(ts_ms))) AS fp
    FROM hits
    WHERE type IN ('open', 'click') AND mailing_id != ''
    GROUP BY mailing_id
    UNION ALL
    SELECT mailing_id AS mailing, concat('s', toString(count()), ':', toString(sum(toUInt64(sent_at)))) AS fp
    FROM mailing_sends
    GROUP BY mailing_id
)
ORDER BY mailing, fp
