# Page effectiveness: per page of a site, how many see it, enter on it, leave from it,
# bounce, how long they stay and how often a visit through it converts.
#
# Reads the aggregator's r_page_daily (whole UTC days of the time range, committed generations
# only), as /api/pages does: sessionizing raw hits per dashboard refresh would be slow.

from panels import SITE, SITE_VARIABLE, Layout, barchart, dashboard, table, timeseries

# Only generations a job has committed (r_generations), never half a run.
COMMITTED_DAYS = ("(toString(day), version) IN (SELECT bucket, max(version) FROM r_generations "
                  "WHERE job = 'days' GROUP BY bucket)")
DAYS = f"{COMMITTED_DAYS} AND {SITE} AND day >= toDate($__fromTime) AND day <= toDate($__toTime)"
HUMAN = f"{SITE} AND $__timeFilter(received_at) AND is_bot = 0"


def build():
    lay = Layout()
    panels = [
        table(lay, "Page effectiveness", f"""
SELECT path, sum(pageviews) AS views, uniqExactMerge(visitors) AS visitors,
       sum(entrances) AS entries, sum(exits) AS leaves,
       round(if(views = 0, 0, leaves / views), 4) AS exit_rate,
       round(if(entries = 0, 0, sum(bounces) / entries), 4) AS bounce_rate,
       round(if(sum(timed) = 0, 0, sum(time_sum_ms) / sum(timed) / 1000), 1) AS avg_time_s,
       round(toFloat64(quantileExactMerge(0.5)(time_median)) / 1000, 1) AS median_time_s,
       sum(visits) AS visit_count,
       round(if(visit_count = 0, 0, sum(converting_visits) / visit_count), 4) AS conversion_share,
       sum(visits_from_mailing) AS from_mailing, sum(visits_from_campaign) AS from_campaign
FROM r_page_daily WHERE {DAYS}
GROUP BY path ORDER BY views DESC LIMIT 200""", w=24, h=12,
              description="Rates are fractions; exit rate = exits / pageviews, bounce rate = "
                          "single-page visits entering here / entrances; conversion share = "
                          "visits through the page that reach a goal afterwards."),
        timeseries(lay, "Pageviews, entrances and exits per day", f"""
SELECT toDateTime(day) AS time, sum(pageviews) AS views, sum(entrances) AS entries,
       sum(exits) AS leaves, sum(bounces) AS bounce_count
FROM r_page_daily WHERE {DAYS}
GROUP BY day ORDER BY day"""),
        barchart(lay, "Pages that lead to conversions", f"""
SELECT path, round(sum(converting_visits) / greatest(sum(visits), 1), 4) AS conversion_share
FROM r_page_daily WHERE {DAYS}
GROUP BY path HAVING sum(converting_visits) > 0
ORDER BY conversion_share DESC LIMIT 20"""),
        table(lay, "Outbound links and downloads per page", f"""
SELECT path, type, url AS target, uniqExact(event_id) AS clicks,
       uniqExact(visitor_id) AS visitors
FROM hits WHERE {HUMAN} AND type IN ('outbound', 'download')
GROUP BY path, type, target ORDER BY clicks DESC LIMIT 100""", w=24),
    ]
    return dashboard("tracking-pages", "Tracking: page effectiveness",
                     "Pageviews, entrances, exits, bounces and time on page per page.",
                     panels, [SITE_VARIABLE], tags=["traffic"])
