-- The fields the sessionizer (job_pageviews.sql, both branches) keeps of each web hit, after
-- its sort key (ts_ms, event_id): as tuple elements, in this order,
--   flags      bit 0 pageview, bit 1 goal (a goal event name or goal path), bits 2-3 source
--              (1 mailing: mailing_id, utm_medium or referrer kind email; 2 campaign:
--              utm_campaign or referrer kind campaign; else 0)
--   path       pageviews only (strings in the arrays are most of the GROUP BY's cost)
--   person_id, client_id
-- Two `?`: the goal event names, then the goal paths (Array(String)). No arguments; no
-- trailing comma, so it ends the tuple.
toUInt8((type = 'pageview')
        + 2 * ((type = 'event' AND has(CAST(? AS Array(String)), event_name))
               OR (type = 'pageview' AND has(CAST(? AS Array(String)), path)))
        + 4 * multiIf(mailing_id != '' OR utm_medium = 'email' OR referrer_kind = 'email', 1,
                      utm_campaign != '' OR referrer_kind = 'campaign', 2, 0)),
if(type = 'pageview', path, ''), person_id, client_id
