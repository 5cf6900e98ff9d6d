-- GET /api/mailings/{id}/response: time from send to first open and to first click, median
-- and p90 in milliseconds, raw and human-only, with how many recipients each figure is over.
-- Quantiles are ClickHouse quantileExact: the value at index floor(q * n) of the sorted times.
-- params: mailing String = 'm1', account String = '', account2 String = ''
SELECT
    countIf(first_open_ms > 0) AS n_open,
    quantileExactIf(0.5)(toInt64(first_open_ms) - toInt64(sent_ms), first_open_ms > 0) AS open_p50,
    quantileExactIf(0.9)(toInt64(first_open_ms) - toInt64(sent_ms), first_open_ms > 0) AS open_p90,
    countIf(first_click_ms > 0) AS n_click,
    quantileExactIf(0.5)(toInt64(first_click_ms) - toInt64(sent_ms), first_click_ms > 0) AS click_p50,
    quantileExactIf(0.9)(toInt64(first_click_ms) - toInt64(sent_ms), first_click_ms > 0) AS click_p90,
    countIf(first_human_open_ms > 0) AS n_human_open,
    quantileExactIf(0.5)(toInt64(first_human_open_ms) - toInt64(sent_ms), first_human_open_ms > 0) AS human_open_p50,
    quantileExactIf(0.9)(toInt64(first_human_open_ms) - toInt64(sent_ms), first_human_open_ms > 0) AS human_open_p90,
    countIf(first_human_click_ms > 0) AS n_human_click,
    quantileExactIf(0.5)(toInt64(first_human_click_ms) - toInt64(sent_ms), first_human_click_ms > 0) AS human_click_p50,
    quantileExactIf(0.9)(toInt64(first_human_click_ms) - toInt64(sent_ms), first_human_click_ms > 0) AS human_click_p90
FROM r_mailing_recipients
WHERE (mailing_id, version) IN
      (SELECT bucket, max(version) FROM r_generations WHERE job = 'mailings' GROUP BY bucket)
  AND mailing_id = ?
  AND (? = '' OR account_id = ?)
