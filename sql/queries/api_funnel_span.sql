-- GET /api/funnels/{name} for a range that is exactly one span of r_funnel_spans (a UTC day
-- or a calendar month): the finished per-step figures of its committed generation for the
-- site and account ('' = every visitor); the dropped persons are in
-- api_funnel_span_persons.sql. No row: nobody of that account reached step 1.
-- params: funnel String = 'buy', site String = 'shop.example', account String = '', span_start String = '2026-01-01', span_end String = '2026-02-01', version UInt64 = 18
SELECT steps
FROM r_funnel_spans
WHERE funnel = ? AND site = ? AND account = ? AND span_start = toDate(?) AND span_end = toDate(?)
  AND version = ?
