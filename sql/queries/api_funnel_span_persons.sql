-- GET /api/funnels/{name} for a range that is one span: the persons who dropped out, from
-- the span's committed generation, for the site and account ('' = every visitor's).
-- params: funnel String = 'buy', site String = 'shop.example', account String = '', span_start String = '2026-01-01', span_end String = '2026-02-01', version UInt64 = 18
SELECT person_id, person_account, level
FROM r_funnel_span_persons
WHERE funnel = ? AND site = ? AND account = ? AND span_start = toDate(?) AND span_end = toDate(?)
  AND version = ?
ORDER BY person_id
