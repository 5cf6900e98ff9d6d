-- GET /api/mailings/{id}/response: counts per account over the send log of the mailing (last
-- committed generation), raw and human-only. The totals are the sums over accounts (each
-- recipient is in one account); rates are computed from them.
-- params: mailing String = 'm1', account String = '', account2 String = ''
SELECT
    account_id,
    count() AS sends,
    countIf(first_open_ms > 0) AS unique_opens,
    countIf(first_human_open_ms > 0) AS human_unique_opens,
    countIf(first_click_ms > 0) AS unique_clickers,
    countIf(first_human_click_ms > 0) AS human_unique_clickers,
    sum(clicks) AS total_clicks,
    sum(human_clicks) AS total_human_clicks
FROM r_mailing_recipients
WHERE (mailing_id, version) IN
      (SELECT bucket, max(version) FROM r_generations WHERE job = 'mailings' GROUP BY bucket)
  AND mailing_id = ?
  AND (? = '' OR account_id = ?)
GROUP BY account_id
ORDER BY account_id
