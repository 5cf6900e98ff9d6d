# Traffic overview: visitors, pageviews, sources, campaigns, geo, devices; bots shown apart.
#
# Raw `hits` is read here: it is ordered by (site, date, time), so a site and time range scan
# only their own parts. Every count is distinct `event_id`, since a replayed batch may still be
# duplicated until ClickHouse merges it.

from panels import (BUCKET, SITE, SITE_VARIABLE, Layout, barchart, dashboard, piechart, stat,
                    table, timeseries)

HUMAN = f"{SITE} AND $__timeFilter(received_at) AND is_bot = 0"
PAGEVIEWS = f"{HUMAN} AND type = 'pageview'"


def build():
    lay = Layout()
    panels = [
        stat(lay, "Visitors", f"""
SELECT uniqExact(visitor_id) AS visitors
FROM hits WHERE {PAGEVIEWS}""", description="Distinct visitors with a pageview (humans)."),
        stat(lay, "Pageviews", f"""
SELECT uniqExact(event_id) AS pageviews
FROM hits WHERE {PAGEVIEWS}"""),
        stat(lay, "Known persons", f"""
SELECT uniqExact(person_id) AS persons
FROM hits WHERE {PAGEVIEWS} AND person_id != ''""",
             description="Persons identified through a signed token while consent stands."),
        stat(lay, "Bot hits (not counted above)", f"""
SELECT uniqExact(event_id) AS bot_hits
FROM hits WHERE {SITE} AND $__timeFilter(received_at) AND is_bot = 1"""),
        timeseries(lay, "Visitors and pageviews", f"""
SELECT {BUCKET}, uniqExact(visitor_id) AS visitors, uniqExact(event_id) AS pageviews
FROM hits WHERE {PAGEVIEWS}
GROUP BY time ORDER BY time""", w=16),
        piechart(lay, "Sources (referrer kind)", f"""
SELECT referrer_kind AS source, uniqExact(visitor_id) AS visitors
FROM hits WHERE {PAGEVIEWS} AND referrer_kind != 'internal'
GROUP BY source ORDER BY visitors DESC""", w=8),
        table(lay, "Top referrers", f"""
SELECT referrer_host, referrer_kind, uniqExact(visitor_id) AS visitors,
       uniqExact(event_id) AS pageviews
FROM hits WHERE {PAGEVIEWS} AND referrer_host != '' AND referrer_kind != 'internal'
GROUP BY referrer_host, referrer_kind ORDER BY visitors DESC LIMIT 50"""),
        table(lay, "Campaigns", f"""
SELECT utm_source, utm_medium, utm_campaign, uniqExact(visitor_id) AS visitors,
       uniqExact(event_id) AS pageviews
FROM hits WHERE {PAGEVIEWS} AND utm_campaign != ''
GROUP BY utm_source, utm_medium, utm_campaign ORDER BY visitors DESC LIMIT 50"""),
        table(lay, "Top pages", f"""
SELECT path, uniqExact(event_id) AS pageviews, uniqExact(visitor_id) AS visitors
FROM hits WHERE {PAGEVIEWS}
GROUP BY path ORDER BY pageviews DESC LIMIT 50"""),
        barchart(lay, "Countries", f"""
SELECT if(country = '', 'unknown', country) AS country_code, uniqExact(visitor_id) AS visitors
FROM hits WHERE {PAGEVIEWS}
GROUP BY country_code ORDER BY visitors DESC LIMIT 20"""),
        table(lay, "Cities", f"""
SELECT country, region, city, uniqExact(visitor_id) AS visitors
FROM hits WHERE {PAGEVIEWS} AND city != ''
GROUP BY country, region, city ORDER BY visitors DESC LIMIT 50""", w=8),
        piechart(lay, "Devices", f"""
SELECT device, uniqExact(visitor_id) AS visitors
FROM hits WHERE {PAGEVIEWS}
GROUP BY device ORDER BY visitors DESC"""),
        piechart(lay, "Browsers", f"""
SELECT browser, uniqExact(visitor_id) AS visitors
FROM hits WHERE {PAGEVIEWS}
GROUP BY browser ORDER BY visitors DESC LIMIT 10""", w=5),
        piechart(lay, "Operating systems", f"""
SELECT os, uniqExact(visitor_id) AS visitors
FROM hits WHERE {PAGEVIEWS}
GROUP BY os ORDER BY visitors DESC LIMIT 10""", w=5),
        timeseries(lay, "Bots: hits by reason", f"""
SELECT {BUCKET}, uniqExactIf(event_id, bot_reason = 'crawler') AS crawler,
       uniqExactIf(event_id, bot_reason != 'crawler') AS other_bots
FROM hits WHERE {SITE} AND $__timeFilter(received_at) AND is_bot = 1
GROUP BY time ORDER BY time""", description="Automated traffic, kept out of every other panel."),
        table(lay, "Bots: top user agents", f"""
SELECT bot_reason, browser, os, uniqExact(event_id) AS hits
FROM hits WHERE {SITE} AND $__timeFilter(received_at) AND is_bot = 1
GROUP BY bot_reason, browser, os ORDER BY hits DESC LIMIT 20"""),
        table(lay, "Events", f"""
SELECT type, event_name, uniqExact(event_id) AS events, uniqExact(visitor_id) AS visitors
FROM hits WHERE {HUMAN} AND type IN ('event', 'outbound', 'download')
GROUP BY type, event_name ORDER BY events DESC LIMIT 50""", w=24),
    ]
    return dashboard("tracking-traffic", "Tracking: traffic overview",
                     "Visitors, pageviews, sources, campaigns, geo and devices of one site.",
                     panels, [SITE_VARIABLE], tags=["traffic"])
