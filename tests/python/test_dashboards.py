# Grafana dashboards: every panel and variable query, with the ClickHouse plugin's macros and
# the dashboard variables expanded, runs on a real ClickHouse 18.16 and on current ClickHouse
# (chdb) loaded with generated data and returns rows with the expected columns; every PromQL
# expression names only metrics from the binaries' catalogues; the provisioning files and the
# committed JSON agree with their sources.
import json
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import yaml

from conftest import DATA_FROM, DATA_TO, ROOT, load, run_jobs
from promql import catalogue_names, metric_names, uncatalogued

DASHBOARDS = ROOT / "dashboards"

# Values a user would pick for the variables (the account variable both as "All" and as one
# account); any other query variable gets the first value its own query returns, as in Grafana.
VARIABLES = {"site": "shop.example", "mailing": "m1", "person": "p03", "funnel": "signup"}
ACCOUNTS = ["__all", "acc2"]
INTERVAL_S = 3600

# The columns each panel's query must return, in order: what the panel's visualisation and
# field overrides rely on.
EXPECTED_COLUMNS = {
    ("tracking-traffic", "Visitors"): ["visitors"],
    ("tracking-traffic", "Pageviews"): ["pageviews"],
    ("tracking-traffic", "Known persons"): ["persons"],
    ("tracking-traffic", "Bot hits (not counted above)"): ["bot_hits"],
    ("tracking-traffic", "Visitors and pageviews"): ["time", "visitors", "pageviews"],
    ("tracking-traffic", "Sources (referrer kind)"): ["source", "visitors"],
    ("tracking-traffic", "Top referrers"): ["referrer_host", "referrer_kind", "visitors",
                                            "pageviews"],
    ("tracking-traffic", "Campaigns"): ["utm_source", "utm_medium", "utm_campaign", "visitors",
                                        "pageviews"],
    ("tracking-traffic", "Top pages"): ["path", "pageviews", "visitors"],
    ("tracking-traffic", "Countries"): ["country_code", "visitors"],
    ("tracking-traffic", "Cities"): ["country", "region", "city", "visitors"],
    ("tracking-traffic", "Devices"): ["device", "visitors"],
    ("tracking-traffic", "Browsers"): ["browser", "visitors"],
    ("tracking-traffic", "Operating systems"): ["os", "visitors"],
    ("tracking-traffic", "Bots: hits by reason"): ["time", "crawler", "other_bots"],
    ("tracking-traffic", "Bots: top user agents"): ["bot_reason", "browser", "os", "hits"],
    ("tracking-traffic", "Events"): ["type", "event_name", "events", "visitors"],
    ("tracking-mailing", "Response: raw and human"): [
        "sends", "unique_opens", "unique_clickers", "open_rate", "click_rate",
        "click_to_open_rate", "human_unique_opens", "human_unique_clickers", "human_open_rate",
        "human_click_rate", "human_click_to_open_rate"],
    ("tracking-mailing", "Opens and clicks over time"): [
        "time", "human_opens", "machine_opens", "human_clicks", "machine_clicks"],
    ("tracking-mailing", "Clicks per link"): [
        "link_id", "clicks", "unique_clickers", "human_clicks", "human_unique_clickers"],
    ("tracking-mailing", "Response by account"): [
        "account_id", "sends", "unique_opens", "unique_clickers", "human_unique_opens",
        "human_unique_clickers"],
    ("tracking-mailing", "Human clickers to follow up"): [
        "person_id", "account_id", "first_click", "clicks"],
    ("tracking-mailing", "All mailings in the time range"): [
        "mailing_id", "name", "sent_at", "sends", "human_unique_opens", "human_unique_clickers"],
    ("tracking-pages", "Page effectiveness"): [
        "path", "views", "visitors", "entries", "leaves", "exit_rate", "bounce_rate",
        "avg_time_s", "median_time_s", "visit_count", "conversion_share", "from_mailing",
        "from_campaign"],
    ("tracking-pages", "Pageviews, entrances and exits per day"): [
        "time", "views", "entries", "leaves", "bounce_count"],
    ("tracking-pages", "Pages that lead to conversions"): ["path", "conversion_share"],
    ("tracking-pages", "Outbound links and downloads per page"): [
        "path", "type", "target", "clicks", "visitors"],
    ("tracking-funnels", "Visitors per step"): ["step", "visitors"],
    ("tracking-funnels", "Conversion and drop-off"): [
        "step_number", "step", "visitors", "persons", "conversion_from_previous",
        "dropped_after"],
    ("tracking-funnels", "Persons to follow up (dropped)"): [
        "after_step", "person_id", "account_id"],
    ("tracking-people", "Most engaged accounts"): [
        "account_id", "persons", "pageviews", "events", "mail_clicks", "last_seen"],
    ("tracking-people", "Persons of the account"): [
        "person_id", "account_id", "pageviews", "active_days", "mail_opens", "mail_clicks",
        "events", "last_seen"],
    ("tracking-people", "Account activity"): [
        "time", "pageviews", "events", "mail_clicks", "active_persons"],
    ("tracking-people", "Person timeline"): [
        "at", "kind", "site", "path", "mailing_id", "link_id", "verdict", "event_name", "detail",
        "duration_s", "pages_seen"],
    ("tracking-health", "Committed metric generations"): [
        "job", "buckets", "newest_generation", "last_commit", "lag_s"],
    ("tracking-health", "Hits stored in ClickHouse (all sites)"): [
        "time", "hits", "rows_before_merge"],
}

NUMERIC = re.compile(r"^(Nullable\()?(U?Int\d+|Float\d+|Decimal.*)\)?$")


def dashboards():
    return [json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))]


def sql_queries():
    """(dashboard uid, title, panel type or 'variable', SQL) of every ClickHouse query."""
    out = []
    for d in dashboards():
        for v in d["templating"]["list"]:
            if v["type"] == "query":
                out.append((d["uid"], f"variable {v['name']}", "variable", v["query"]))
        for p in d["panels"]:
            for t in p.get("targets", []):
                if t["datasource"]["type"] == "grafana-clickhouse-datasource":
                    out.append((d["uid"], p["title"], p["type"], t["rawSql"]))
    return out


def promql_exprs():
    return [(d["uid"], p["title"], t["expr"]) for d in dashboards() for p in d["panels"]
            for t in p.get("targets", []) if t["datasource"]["type"] == "prometheus"]


def expand(sql, variables, start, end, interval_s):
    """What Grafana and the grafana-clickhouse-datasource plugin turn a query into."""
    f, t = int(start.timestamp()), int(end.timestamp())
    sql = re.sub(r"\$__timeFilter\((\w+)\)",
                 lambda m: f"{m[1]} >= toDateTime({f}) AND {m[1]} <= toDateTime({t})", sql)
    sql = re.sub(r"\$__dateFilter\((\w+)\)",
                 lambda m: f"{m[1]} >= toDate('{start:%Y-%m-%d}') AND "
                           f"{m[1]} <= toDate('{end:%Y-%m-%d}')", sql)
    sql = sql.replace("$__fromTime", f"toDateTime({f})").replace("$__toTime", f"toDateTime({t})")
    sql = sql.replace("$__interval_s", str(interval_s))
    for name, value in variables.items():
        # Grafana's percentencode: encodeURIComponent that also encodes !'()*.
        encoded = urllib.parse.quote(str(value), safe="-_.~")
        sql = re.sub(r"\$\{" + name + r"(:percentencode)?\}|\$" + name + r"\b",
                     lambda m: encoded if m[1] else str(value), sql)
    left = re.findall(r"\$\{?\w+", sql)
    assert not left, f"unexpanded macros or variables {left} in:\n{sql}"
    return sql


def check_shape(uid, title, kind, cols, types, rows, must_have_rows):
    key = (uid, title)
    if kind != "variable":
        assert key in EXPECTED_COLUMNS, f"no expected columns for panel {key}; add them"
        assert cols == EXPECTED_COLUMNS[key], f"{key}: columns {cols}"
    assert len(set(cols)) == len(cols), f"{key}: duplicate column names {cols}"
    for c in cols:
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", c), f"{key}: unaliased column {c!r}"
    if must_have_rows:
        assert rows, f"{key}: no rows on the generated data"
    if kind == "timeseries":
        assert cols[0] == "time" and types[0].startswith("DateTime"), f"{key}: {types}"
        assert all(NUMERIC.match(t) for t in types[1:]), f"{key}: non-numeric series {types}"
    if kind == "stat":
        assert len(rows) == 1 and all(NUMERIC.match(t) for t in types), f"{key}: {types}"
    if kind in ("piechart", "barchart"):
        assert types[0] == "String" and all(NUMERIC.match(t) for t in types[1:]), f"{key}"
    if kind == "variable":
        assert len(cols) == 1 and types[0] == "String", f"{key}: {types}"


def resolve_variables(engine, database, picked):
    """Fills in query variables nobody picked (hidden ones), in dashboard order."""
    variables = dict(picked)
    for d in dashboards():
        for v in d["templating"]["list"]:
            if v["type"] == "query" and v["name"] not in variables:
                sql = expand(v["query"], variables, DATA_FROM, DATA_TO, INTERVAL_S)
                _, _, rows = engine.select(sql, database)
                assert rows, f"variable {v['name']} has no value on the generated data"
                variables[v["name"]] = rows[0][0]
    return variables


def run_all(engine, database):
    checked = 0
    for account in ACCOUNTS:
        variables = resolve_variables(engine, database, dict(VARIABLES, account=account))
        for uid, title, kind, sql in sql_queries():
            text = expand(sql, variables, DATA_FROM, DATA_TO, INTERVAL_S)
            cols, types, rows = engine.select(text, database)
            check_shape(uid, title, kind, cols, types, rows, must_have_rows=account == "__all")
            checked += 1
    return checked


@pytest.fixture(scope="module")
def loaded_18(clickhouse, tracking_data):
    clickhouse.migrate("dash18")
    load(clickhouse, "dash18", tracking_data)
    run_jobs(clickhouse, "dash18")
    return clickhouse


@pytest.fixture(scope="module")
def loaded_chdb(chdb_engine, tracking_data):
    chdb_engine.migrate("dashchdb")
    load(chdb_engine, "dashchdb", tracking_data)
    run_jobs(chdb_engine, "dashchdb")
    return chdb_engine


def test_every_sql_query_runs_on_clickhouse_18(loaded_18):
    assert run_all(loaded_18, "dash18") == len(ACCOUNTS) * len(sql_queries())


def test_every_sql_query_runs_on_current_clickhouse(loaded_chdb):
    assert run_all(loaded_chdb, "dashchdb") == len(ACCOUNTS) * len(sql_queries())


def test_every_panel_has_expected_columns_listed():
    panels = {(uid, title) for uid, title, kind, _ in sql_queries() if kind != "variable"}
    assert panels == set(EXPECTED_COLUMNS), set(EXPECTED_COLUMNS) ^ panels


# Variables that only ever hold a number read from ClickHouse may go in raw.
RAW_VARIABLES = {"funnel_window"}


def test_text_variables_go_in_percent_encoded():
    for uid, title, _, sql in sql_queries():
        for name, fmt in re.findall(r"\$\{(\w+)(?::(\w+))?\}", sql):
            if name.startswith("ds_") or name in RAW_VARIABLES:
                continue
            assert f"decodeURLComponent('${{{name}:percentencode}}')" in sql and \
                fmt == "percentencode", f"{uid}/{title}: ${{{name}:{fmt}}}"
        assert not re.search(r"\$(?!\{|__)\w", sql), f"{uid}/{title}: bare $variable"


def test_a_hostile_variable_value_stays_a_string(loaded_18):
    hostile = "p03\\' OR 1 = 1 OR person_id = '' OR '"
    [(_, _, _, sql)] = [q for q in sql_queries() if q[:2] == ("tracking-people", "Person timeline")]
    variables = resolve_variables(loaded_18, "dash18",
                                  dict(VARIABLES, account="__all", person=hostile))
    _, _, rows = loaded_18.select(expand(sql, variables, DATA_FROM, DATA_TO, INTERVAL_S), "dash18")
    assert rows == []


def test_replayed_duplicates_are_not_counted(loaded_18):
    """The generated data holds replayed rows (same event_id); the Pageviews panel must count
    each hit once, as the single distinct-count query does."""
    [(_, _, _, sql)] = [q for q in sql_queries() if q[:2] == ("tracking-traffic", "Pageviews")]
    _, _, [[shown]] = loaded_18.select(
        expand(sql, dict(VARIABLES, account="__all"), DATA_FROM, DATA_TO, INTERVAL_S), "dash18")
    _, _, [[rows, distinct]] = loaded_18.select(
        "SELECT count(), uniqExact(event_id) FROM hits WHERE site = 'shop.example' "
        "AND type = 'pageview' AND is_bot = 0", "dash18")
    assert int(rows) > int(distinct), "generated data should contain replays"
    assert int(shown) == int(distinct)


# ---- Prometheus ---------------------------------------------------------------------------

def test_promql_names_only_catalogued_metrics():
    exprs = promql_exprs()
    assert exprs, "the health dashboard has PromQL panels"
    unknown = uncatalogued([(f"{uid}/{title}", expr) for uid, title, expr in exprs])
    assert not unknown, f"PromQL names metrics no catalogue exports: {unknown}"


def test_metric_name_extraction():
    assert metric_names('histogram_quantile(0.99, sum by (le) (rate(a_b_bucket{x="y"}[5m])))') \
        == ["a_b_bucket"]
    assert metric_names("sum(rate(x_total[$__rate_interval])) / sum(y)") == ["x_total", "y"]
    assert metric_names('sum by (reason) (rate(c{route="/e"}[1m]))') == ["c"]


def test_catalogue_parsing(tmp_path):
    f = tmp_path / "telemetry.rs"
    f.write_text('pub const A: &str = "svc_a_total";\n'
                 'pub const METRIC_NAMES: &[&str] = &[\n    A, // one\n    "svc_b",\n];\n')
    assert catalogue_names(f) == {"svc_a_total", "svc_b"}
    crate = tmp_path / "svc" / "src"
    (crate / "jobs").mkdir(parents=True)
    (crate / "jobs" / "telemetry.rs").write_text('pub const RUNS: &str = "svc_runs_total";\n')
    (crate / "telemetry.rs").write_text(
        'pub const METRIC_NAMES: &[&str] = &[crate::jobs::telemetry::RUNS];\n')
    assert catalogue_names(crate / "telemetry.rs") == {"svc_runs_total"}


# ---- files --------------------------------------------------------------------------------

def test_committed_json_matches_sources():
    r = subprocess.run([sys.executable, str(DASHBOARDS / "build.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dashboards_are_well_formed():
    uids = set()
    for d in dashboards():
        assert d["uid"] not in uids and len(d["uid"]) <= 40
        uids.add(d["uid"])
        names = [v["name"] for v in d["templating"]["list"]]
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), d["uid"]
        for p in d["panels"]:
            assert p["targets"], p["title"]
            for t in p["targets"]:
                uid = t["datasource"]["uid"]
                assert uid in ("${ds_clickhouse}", "${ds_prometheus}"), uid
                assert uid[2:-1] in names, f"{d['uid']}: {uid} is not a variable"
                if "rawSql" in t:
                    # grafana-clickhouse-datasource (sqlutil): format 0 time series, 1 table.
                    want = 0 if p["type"] == "timeseries" else 1
                    assert t["format"] == want and t["editorType"] == "sql", p["title"]
    assert {"tracking-traffic", "tracking-mailing", "tracking-pages", "tracking-funnels",
            "tracking-people", "tracking-health"} <= uids


def test_provisioning_points_at_the_plugin_and_prometheus():
    ds = yaml.safe_load((DASHBOARDS / "provisioning/datasources.yaml").read_text())
    types = {d["type"] for d in ds["datasources"]}
    assert types == {"grafana-clickhouse-datasource", "prometheus"}
    ch = next(d for d in ds["datasources"] if d["type"] == "grafana-clickhouse-datasource")
    assert ch["jsonData"]["defaultDatabase"] and ch["jsonData"]["port"]
    assert "password" not in ch["jsonData"], "passwords belong in secureJsonData"
    prov = yaml.safe_load((DASHBOARDS / "provisioning/dashboards.yaml").read_text())
    assert prov["providers"][0]["type"] == "file"
