"""Page effectiveness: per page of a site, how many see it, enter on it, leave from it,
bounce, and how long they stay.

Interim version on raw hits (a visit is one visitor on one day); it moves to the aggregator's
result table once that exists.
"""

from panels import SITE, SITE_VARIABLE, Layout, dashboard, table

HUMAN = f"{SITE} AND $__timeFilter(received_at) AND is_bot = 0"


def build():
    lay = Layout()
    panels = [
        table(lay, "Page effectiveness", f"""
SELECT path, uniqExact(event_id) AS pageviews, uniqExact(visitor_id) AS visitors
FROM hits WHERE {HUMAN} AND type = 'pageview'
GROUP BY path ORDER BY pageviews DESC LIMIT 200""", w=24, h=12),
        table(lay, "Outbound links and downloads per page", f"""
SELECT path, type, url AS target, uniqExact(event_id) AS clicks,
       uniqExact(visitor_id) AS visitors
FROM hits WHERE {HUMAN} AND type IN ('outbound', 'download')
GROUP BY path, type, target ORDER BY clicks DESC LIMIT 100""", w=24),
    ]
    return dashboard("tracking-pages", "Tracking: page effectiveness",
                     "Pageviews, entrances, exits, bounces and time on page per page.",
                     panels, [SITE_VARIABLE], tags=["traffic"])
