# Person and account activity: what a known person did, and how engaged each account is.
#
# Only persons known through a signed token (with consent) appear here; anonymous visitors are
# never tied to a person. Accounts read raw hits (distinct event_id, so replays count once); the
# timeline reads the aggregator's r_activities, the same rows the CRM gets.

from panels import (ACCOUNT, ACCOUNT_VARIABLE, BUCKET, Layout, dashboard, table, text_variable,
                    timeseries)

KNOWN = f"person_id != '' AND {ACCOUNT} AND $__timeFilter(received_at)"
COMMITTED_DAYS = ("(toString(day), version) IN (SELECT bucket, max(version) FROM r_generations "
                  "WHERE job = 'days' GROUP BY bucket)")
HUMAN_MAIL = "verdict NOT IN ('apple_mpp', 'scanner')"


def build():
    lay = Layout()
    panels = [
        table(lay, "Most engaged accounts", f"""
SELECT account_id, uniqExact(person_id) AS persons,
       uniqExactIf(event_id, type = 'pageview') AS pageviews,
       uniqExactIf(event_id, type = 'event') AS events,
       uniqExactIf(event_id, type = 'click' AND {HUMAN_MAIL}) AS mail_clicks,
       max(received_at) AS last_seen
FROM hits WHERE {KNOWN} AND is_bot = 0
GROUP BY account_id ORDER BY pageviews + 5 * events + 3 * mail_clicks DESC LIMIT 100"""),
        table(lay, "Persons of the account", f"""
SELECT person_id, account_id, uniqExactIf(event_id, type = 'pageview') AS pageviews,
       uniqExact(toDate(received_at)) AS active_days,
       uniqExactIf(event_id, type = 'open' AND {HUMAN_MAIL}) AS mail_opens,
       uniqExactIf(event_id, type = 'click' AND {HUMAN_MAIL}) AS mail_clicks,
       uniqExactIf(event_id, type = 'event') AS events, max(received_at) AS last_seen
FROM hits WHERE {KNOWN} AND is_bot = 0
GROUP BY person_id, account_id ORDER BY last_seen DESC LIMIT 500"""),
        timeseries(lay, "Account activity", f"""
SELECT {BUCKET}, uniqExactIf(event_id, type = 'pageview') AS pageviews,
       uniqExactIf(event_id, type = 'event') AS events,
       uniqExactIf(event_id, type = 'click' AND {HUMAN_MAIL}) AS mail_clicks,
       uniqExact(person_id) AS active_persons
FROM hits WHERE {KNOWN} AND is_bot = 0
GROUP BY time ORDER BY time""", w=24),
        table(lay, "Person timeline", f"""
SELECT toDateTime(intDiv(ts_ms, 1000)) AS at, kind, site, path, mailing_id, link_id, verdict,
       event_name, detail, round(duration_ms / 1000, 1) AS duration_s,
       arrayStringConcat(pages, ' > ') AS pages_seen
FROM r_activities
WHERE {COMMITTED_DAYS} AND person_id = decodeURLComponent('${{person:percentencode}}')
  AND ts_ms >= toUInt64(toUInt32($__fromTime)) * 1000 AND ts_ms < toUInt64(toUInt32($__toTime)) * 1000
ORDER BY ts_ms DESC, activity_id LIMIT 500""", w=24, h=12,
              description="The person's activities as the CRM gets them "
                          "(/api/persons/{id}/activities): opens, clicks, visits with their "
                          "pages, events, conversions (goal in detail)."),
    ]
    return dashboard("tracking-people", "Tracking: person and account activity",
                     "Engagement of accounts and the activity timeline of one person.",
                     panels, [ACCOUNT_VARIABLE, text_variable("person", "Person id")],
                     tags=["crm"], time_from="now-30d")
