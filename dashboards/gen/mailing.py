"""Mailing response: per mailing and link, human vs raw counts, per account.

A mailing's totals are not cut by the dashboard's time range (opens keep coming for weeks);
only the time series is. "Human" leaves out machine opens (Apple Mail privacy protection) and
link-scanner clicks, as judged by the collector's `verdict`.
"""

from panels import (ACCOUNT, ACCOUNT_VARIABLE, BUCKET, MAILING_VARIABLE, Layout, dashboard,
                    table, timeseries)

MAIL = "mailing_id = '${mailing}'"
HUMAN = "verdict NOT IN ('apple_mpp', 'scanner') AND is_bot = 0"
# A person's account is the newest version of the person row.
PERSON_ACCOUNT = ("SELECT person_id, argMax(account_id, version) AS account_id "
                  "FROM persons GROUP BY person_id")
SENT_TO = (f"('${{account}}' = '__all' OR person_id IN "
           f"(SELECT person_id FROM ({PERSON_ACCOUNT}) WHERE account_id = '${{account}}'))")


def build():
    lay = Layout()
    panels = [
        table(lay, "Response: raw and human", f"""
SELECT counting, sends, unique_opens, unique_clickers,
       if(sends = 0, 0, unique_opens / sends) AS open_rate,
       if(sends = 0, 0, unique_clickers / sends) AS click_rate,
       if(unique_opens = 0, 0, unique_clickers / unique_opens) AS click_to_open_rate
FROM
(
    SELECT 'raw' AS counting,
           uniqExactIf(person_id, type = 'open') AS unique_opens,
           uniqExactIf(person_id, type = 'click') AS unique_clickers,
           (SELECT uniqExact(person_id) FROM mailing_sends WHERE {MAIL} AND {SENT_TO}) AS sends
    FROM hits WHERE {MAIL} AND {ACCOUNT} AND person_id != ''
    UNION ALL
    SELECT 'human' AS counting,
           uniqExactIf(person_id, type = 'open' AND {HUMAN}) AS unique_opens,
           uniqExactIf(person_id, type = 'click' AND {HUMAN}) AS unique_clickers,
           (SELECT uniqExact(person_id) FROM mailing_sends WHERE {MAIL} AND {SENT_TO}) AS sends
    FROM hits WHERE {MAIL} AND {ACCOUNT} AND person_id != ''
)
ORDER BY counting DESC""", w=24, h=5,
              description="Rates are fractions of sends (click-to-open: of unique opens)."),
        timeseries(lay, "Opens and clicks over time", f"""
SELECT {BUCKET},
       uniqExactIf(event_id, type = 'open' AND {HUMAN}) AS human_opens,
       uniqExactIf(event_id, type = 'open' AND NOT ({HUMAN})) AS machine_opens,
       uniqExactIf(event_id, type = 'click' AND {HUMAN}) AS human_clicks,
       uniqExactIf(event_id, type = 'click' AND NOT ({HUMAN})) AS machine_clicks
FROM hits WHERE {MAIL} AND {ACCOUNT} AND $__timeFilter(received_at) AND type IN ('open', 'click')
GROUP BY time ORDER BY time""", w=24),
        table(lay, "Clicks per link", f"""
SELECT link_id, uniqExact(event_id) AS clicks, uniqExact(person_id) AS unique_clickers,
       uniqExactIf(event_id, {HUMAN}) AS human_clicks,
       uniqExactIf(person_id, {HUMAN}) AS human_unique_clickers
FROM hits WHERE {MAIL} AND {ACCOUNT} AND type = 'click'
GROUP BY link_id ORDER BY human_clicks DESC"""),
        table(lay, "Response by account", f"""
SELECT account_id, sends, unique_opens, unique_clickers, human_unique_opens,
       human_unique_clickers
FROM
(
    SELECT account_id, uniqExact(person_id) AS sends
    FROM mailing_sends ANY LEFT JOIN ({PERSON_ACCOUNT}) AS pa USING person_id
    WHERE {MAIL} AND {ACCOUNT}
    GROUP BY account_id
) AS s
ANY LEFT JOIN
(
    SELECT account_id,
           uniqExactIf(person_id, type = 'open') AS unique_opens,
           uniqExactIf(person_id, type = 'click') AS unique_clickers,
           uniqExactIf(person_id, type = 'open' AND {HUMAN}) AS human_unique_opens,
           uniqExactIf(person_id, type = 'click' AND {HUMAN}) AS human_unique_clickers
    FROM hits WHERE {MAIL} AND person_id != ''
    GROUP BY account_id
) AS r USING account_id
ORDER BY human_unique_clickers DESC, account_id"""),
        table(lay, "Human clickers to follow up", f"""
SELECT person_id, account_id, min(received_at) AS first_click,
       uniqExact(event_id) AS clicks, groupUniqArray(link_id) AS links
FROM hits WHERE {MAIL} AND {ACCOUNT} AND type = 'click' AND {HUMAN} AND person_id != ''
GROUP BY person_id, account_id ORDER BY first_click LIMIT 200"""),
        table(lay, "All mailings in the time range", f"""
SELECT mailing_id, name, sent_at, sends, human_unique_opens, human_unique_clickers
FROM
(
    SELECT mailing_id, name, sent_at, sends
    FROM
    (
        SELECT mailing_id, argMax(name, version) AS name, argMax(sent_at, version) AS sent_at
        FROM mailings GROUP BY mailing_id
    ) AS m
    ANY LEFT JOIN
    (
        SELECT mailing_id, uniqExact(person_id) AS sends FROM mailing_sends
        WHERE {SENT_TO} GROUP BY mailing_id
    ) AS s USING mailing_id
) AS ms
ANY LEFT JOIN
(
    SELECT mailing_id,
           uniqExactIf(person_id, type = 'open' AND {HUMAN}) AS human_unique_opens,
           uniqExactIf(person_id, type = 'click' AND {HUMAN}) AS human_unique_clickers
    FROM hits WHERE mailing_id != '' AND {ACCOUNT} AND person_id != ''
    GROUP BY mailing_id
) AS r USING mailing_id
WHERE sent_at >= $__fromTime AND sent_at <= $__toTime
ORDER BY sent_at DESC""", w=24),
    ]
    return dashboard("tracking-mailing", "Tracking: mailing response",
                     "Sends, opens, clicks and rates of one mailing, per link and per account.",
                     panels, [MAILING_VARIABLE, ACCOUNT_VARIABLE], tags=["mailing"],
                     time_from="now-30d")
