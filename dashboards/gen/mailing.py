# Mailing response: per mailing and link, human vs raw counts, per account.
#
# Totals come from the aggregator's per-recipient table r_mailing_recipients and per-link table
# r_mailing_links (committed generations only), the same figures /api/mailings/{id}/response
# gives: a click counts as an open, "human" leaves out Apple Mail privacy prefetches and link
# scanners. A mailing's totals are not cut by the time range (opens keep coming for weeks); the
# time series reads raw hits for the range.

from panels import (ACCOUNT, ACCOUNT_VARIABLE, BUCKET, MAILING_VARIABLE, Layout, dashboard, var,
                    table, timeseries)

MAIL = f"mailing_id = {var('mailing')}"
COMMITTED = ("(mailing_id, version) IN (SELECT bucket, max(version) FROM r_generations "
             "WHERE job = 'mailings' GROUP BY bucket)")
RECIPIENTS = f"FROM r_mailing_recipients WHERE {COMMITTED} AND {MAIL} AND {ACCOUNT}"
HUMAN = "verdict NOT IN ('apple_mpp', 'scanner') AND is_bot = 0"


def rates(prefix):
    opens, clicks = f"{prefix}unique_opens", f"{prefix}unique_clickers"
    return (f"round(if(sends = 0, 0, {opens} / sends), 4) AS {prefix}open_rate,\n"
            f"       round(if(sends = 0, 0, {clicks} / sends), 4) AS {prefix}click_rate,\n"
            f"       round(if({opens} = 0, 0, {clicks} / {opens}), 4) AS {prefix}click_to_open_rate")


def build():
    lay = Layout()
    panels = [
        table(lay, "Response: raw and human", f"""
SELECT sends, unique_opens, unique_clickers, {rates('')},
       human_unique_opens, human_unique_clickers, {rates('human_')}
FROM
(
    SELECT count() AS sends,
           countIf(first_open_ms > 0) AS unique_opens,
           countIf(first_click_ms > 0) AS unique_clickers,
           countIf(first_human_open_ms > 0) AS human_unique_opens,
           countIf(first_human_click_ms > 0) AS human_unique_clickers
    {RECIPIENTS}
)""", w=24, h=5, description="Rates are fractions of sends (click-to-open: of unique opens). "
                             "Human: without machine opens and scanner clicks."),
        timeseries(lay, "Opens and clicks over time", f"""
SELECT {BUCKET},
       uniqExactIf(event_id, type = 'open' AND {HUMAN}) AS human_opens,
       uniqExactIf(event_id, type = 'open' AND NOT ({HUMAN})) AS machine_opens,
       uniqExactIf(event_id, type = 'click' AND {HUMAN}) AS human_clicks,
       uniqExactIf(event_id, type = 'click' AND NOT ({HUMAN})) AS machine_clicks
FROM hits WHERE {MAIL} AND {ACCOUNT} AND $__timeFilter(received_at) AND type IN ('open', 'click')
GROUP BY time ORDER BY time""", w=24),
        table(lay, "Clicks per link", f"""
SELECT link_id, clicks, unique_clickers, human_clicks, human_unique_clickers
FROM r_mailing_links WHERE {COMMITTED} AND {MAIL}
ORDER BY human_clicks DESC, link_id""", description="All recipients (not cut by account)."),
        table(lay, "Response by account", f"""
SELECT account_id, count() AS sends,
       countIf(first_open_ms > 0) AS unique_opens,
       countIf(first_click_ms > 0) AS unique_clickers,
       countIf(first_human_open_ms > 0) AS human_unique_opens,
       countIf(first_human_click_ms > 0) AS human_unique_clickers
{RECIPIENTS}
GROUP BY account_id ORDER BY human_unique_clickers DESC, account_id"""),
        table(lay, "Human clickers to follow up", f"""
SELECT person_id, account_id, toDateTime(intDiv(first_human_click_ms, 1000)) AS first_click,
       human_clicks AS clicks
{RECIPIENTS} AND first_human_click_ms > 0
ORDER BY first_click LIMIT 500"""),
        table(lay, "All mailings in the time range", f"""
SELECT mailing_id, name, sent_at, sends, human_unique_opens, human_unique_clickers
FROM
(
    SELECT mailing_id, argMax(name, version) AS name, argMax(sent_at, version) AS sent_at
    FROM mailings GROUP BY mailing_id
) AS m
ANY INNER JOIN
(
    SELECT mailing_id, count() AS sends,
           countIf(first_human_open_ms > 0) AS human_unique_opens,
           countIf(first_human_click_ms > 0) AS human_unique_clickers
    FROM r_mailing_recipients WHERE {COMMITTED} AND {ACCOUNT}
    GROUP BY mailing_id
) AS r USING mailing_id
WHERE sent_at >= $__fromTime AND sent_at <= $__toTime
ORDER BY sent_at DESC, mailing_id""", w=24),
    ]
    return dashboard("tracking-mailing", "Tracking: mailing response",
                     "Sends, opens, clicks and rates of one mailing, per link and per account.",
                     panels, [MAILING_VARIABLE, ACCOUNT_VARIABLE], tags=["mailing"],
                     time_from="now-30d")
