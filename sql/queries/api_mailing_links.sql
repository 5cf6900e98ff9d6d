-- GET /api/mailings/{id}/response: clicks and unique clickers per link, raw and human-only.
-- params: mailing String = 'm1'
SELECT link_id, clicks, unique_clickers, human_clicks, human_unique_clickers
FROM r_mailing_links
WHERE (mailing_id, version) IN
      (SELECT bucket, max(version) FROM r_generations WHERE job = 'mailings' GROUP BY bucket)
  AND mailing_id = ?
ORDER BY link_id
