"""Funnels: steps, conversion and drop-off, and the known persons to follow up.

Interim version on raw hits for the demo funnel home -> pricing -> signup (a visitor's steps
within a day, in order, via windowFunnel); it moves to the aggregator's funnel result table,
which knows every defined funnel, once that exists.
"""

from panels import ACCOUNT, ACCOUNT_VARIABLE, SITE, SITE_VARIABLE, Layout, barchart, dashboard, table

STEPS = "path = '/', path = '/pricing', type = 'event' AND event_name = 'signup'"
REACHED = f"""
SELECT visitor_id, any(person_id) AS known_person, any(account_id) AS known_account,
       windowFunnel(86400)(received_at, {STEPS}) AS level
FROM hits WHERE {SITE} AND {ACCOUNT} AND $__timeFilter(received_at) AND is_bot = 0
GROUP BY visitor_id"""


def build():
    lay = Layout()
    panels = [
        barchart(lay, "Visitors per step", f"""
SELECT step, visitors FROM
(
    SELECT arrayJoin([1, 2, 3]) AS n, ['home', 'pricing', 'signup'][n] AS step,
           countIf(level >= n) AS visitors
    FROM ({REACHED})
    GROUP BY n, step
)
ORDER BY n""", w=12),
        table(lay, "Conversion and drop-off", f"""
SELECT n AS step_number, step, visitors, persons,
       if(n = 1, 1, visitors / greatest(previous, 1)) AS conversion_from_previous
FROM
(
    SELECT n, step, visitors, persons, previous FROM
    (
        SELECT arrayJoin([1, 2, 3]) AS n, ['home', 'pricing', 'signup'][n] AS step,
               countIf(level >= n) AS visitors,
               uniqExactIf(known_person, level >= n AND known_person != '') AS persons,
               countIf(level >= n - 1) AS previous
        FROM ({REACHED})
        GROUP BY n, step
    )
)
ORDER BY n""", w=12),
        table(lay, "Persons to follow up (dropped)", f"""
SELECT ['home', 'pricing', 'signup'][level] AS after_step, known_person AS person_id,
       known_account AS account_id
FROM ({REACHED})
WHERE known_person != '' AND level >= 1 AND level < 3
ORDER BY level DESC, person_id LIMIT 500""", w=24),
    ]
    return dashboard("tracking-funnels", "Tracking: funnels",
                     "Per-step visitors and persons, conversion, drop-off, persons who dropped.",
                     panels, [SITE_VARIABLE, ACCOUNT_VARIABLE], tags=["funnels"])
