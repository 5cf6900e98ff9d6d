# Funnels: steps, conversion and drop-off, and the known persons to follow up, for any funnel
# defined through PUT /api/funnels/{name} (stored in `funnels`).
#
# The steps are read from the stored JSON definition in SQL (ClickHouse 18.16 has no
# JSONExtract: the flat step objects are cut out with a regular expression and read with
# visitParamExtract*), and a visitor's progress is windowFunnel over the first MAX_STEPS steps
# within the funnel's window_s (a hidden variable, since aggregate parameters must be
# literals). The API (/api/funnels/{name}) is the authority on the figures; this view follows
# the same rules: steps in order, each within window_s of the first, bots left out.

from panels import (ACCOUNT, ACCOUNT_VARIABLE, SITE, SITE_VARIABLE, Layout, barchart, dashboard,
                    query_variable, table)

MAX_STEPS = 8
# The newest definition, with whitespace around ':' removed so visitParam* can read it.
DEFINITION = ("replaceRegexpAll(argMax(definition, version), '\"\\\\s*:\\\\s*', '\":')")
STEPS = ("WITH (SELECT arrayMap(s -> (visitParamExtractString(s, 'name'), "
         "visitParamExtractString(s, 'path'), visitParamExtractString(s, 'event')), "
         "extractAll(" + DEFINITION + ", '\\\\{[^{}]*\\\\}')) "
         "FROM funnels WHERE name = decodeURLComponent('${funnel:percentencode}')) AS steps")


def matches(i):
    """Step i (1-based) of `steps`: a pageview of its path ('*' at the end: a prefix), or
    its custom event."""
    p, e = f"steps[{i}].2", f"steps[{i}].3"
    return (f"(length(steps) >= {i} AND (({p} != '' AND type = 'pageview' AND (path = {p} OR "
            f"(endsWith({p}, '*') AND startsWith(path, substring({p}, 1, length({p}) - 1))))) "
            f"OR ({e} != '' AND type = 'event' AND event_name = {e})))")


REACHED = f"""
{STEPS}
SELECT visitor_id, any(person_id) AS known_person, any(account_id) AS known_account,
       windowFunnel(${{funnel_window}})(received_at,
           {(',' + chr(10) + '           ').join(matches(i) for i in range(1, MAX_STEPS + 1))}) AS level
FROM hits WHERE {SITE} AND {ACCOUNT} AND $__timeFilter(received_at) AND is_bot = 0
  AND type IN ('pageview', 'event') AND visitor_id != ''
GROUP BY visitor_id"""

PER_STEP = f"""
{STEPS}
SELECT arrayJoin(arrayEnumerate(steps)) AS n, steps[n].1 AS step,
       countIf(level >= n) AS visitors,
       uniqExactIf(known_person, level >= n AND known_person != '') AS persons,
       countIf(level >= n - 1) AS previous,
       countIf(level = n) AS stopped_here
FROM ({REACHED})
GROUP BY n, step"""

FUNNEL_VARIABLE = query_variable(
    "funnel", "Funnel", "SELECT DISTINCT name FROM funnels ORDER BY name")
WINDOW_VARIABLE = dict(query_variable(
    "funnel_window", "Window (s)",
    f"SELECT toString(greatest(visitParamExtractUInt({DEFINITION}, 'window_s'), 1)) AS window_s "
    "FROM funnels WHERE name = decodeURLComponent('${funnel:percentencode}')"), hide=2)


def build():
    lay = Layout()
    panels = [
        barchart(lay, "Visitors per step", f"""
SELECT step, visitors FROM ({PER_STEP}) ORDER BY n""", w=12),
        table(lay, "Conversion and drop-off", f"""
{STEPS}
SELECT n AS step_number, step, visitors, persons,
       round(if(n = 1, 1, visitors / greatest(previous, 1)), 4) AS conversion_from_previous,
       if(n = length(steps), 0, stopped_here) AS dropped_after
FROM ({PER_STEP})
ORDER BY n""", w=12),
        table(lay, "Persons to follow up (dropped)", f"""
{STEPS}
SELECT steps[furthest].1 AS after_step, person_id, account_id
FROM
(
    SELECT known_person AS person_id, any(known_account) AS account_id,
           max(level) AS furthest
    FROM ({REACHED})
    WHERE known_person != ''
    GROUP BY person_id
)
WHERE furthest >= 1 AND furthest < length(steps)
ORDER BY furthest DESC, person_id LIMIT 500""", w=24,
              description="Known persons who started the funnel and stopped before the end "
                          "(on all their devices), with the last step they reached."),
    ]
    return dashboard("tracking-funnels", "Tracking: funnels",
                     "Per-step visitors and persons, conversion, drop-off, persons who dropped.",
                     panels, [SITE_VARIABLE, ACCOUNT_VARIABLE, FUNNEL_VARIABLE, WINDOW_VARIABLE],
                     tags=["funnels"])
