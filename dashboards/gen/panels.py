# Builders for Grafana dashboard JSON: panels, ClickHouse and Prometheus targets, variables.
#
# The dashboards are written as Python (dashboards/gen/*.py) and rendered by dashboards/build.py,
# so that layout, data source references and variables are the same everywhere and the SQL reads
# as SQL. Data sources are template variables (`ds_clickhouse`, `ds_prometheus`), so the same JSON
# works with file provisioning and with the Grafana sidecar of a Helm install.

CH = {"type": "grafana-clickhouse-datasource", "uid": "${ds_clickhouse}"}
PROM = {"type": "prometheus", "uid": "${ds_prometheus}"}

# grafana-clickhouse-datasource v4 query formats.
FORMAT_TIMESERIES = 0
FORMAT_TABLE = 1

# Filters shared by queries. Grafana fills in the variables before the plugin expands its
# macros, as text: so every text variable goes in percent-encoded by Grafana (percentencode
# leaves only [A-Za-z0-9-_.~%]) and is decoded by ClickHouse. No value, whatever quotes or
# backslashes it holds, can end the string literal (Grafana's sqlstring/singlequote formats do
# not escape backslashes, which ClickHouse honours inside strings).
def var(name):
    return f"decodeURLComponent('${{{name}:percentencode}}')"


SITE = f"site = {var('site')}"
# "__all" is the All value of the account variable.
ACCOUNT = f"({var('account')} = '__all' OR account_id = {var('account')})"

# Time buckets for time series: the plugin's $__timeInterval needs toStartOfInterval, which
# ClickHouse 18.16 lacks, so round the Unix time down to Grafana's interval (at least 60 s).
BUCKET = ("toDateTime(intDiv(toUInt32(received_at), greatest($__interval_s, 60))"
          " * greatest($__interval_s, 60)) AS time")


class Layout:
    """Places panels left to right in rows of 24 grid units."""

    def __init__(self):
        self.x, self.y, self.row_h, self.next_id = 0, 0, 0, 1

    def place(self, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        self.next_id += 1
        return pos, self.next_id - 1


def sql_target(sql, fmt, ref="A"):
    return {"datasource": CH, "editorType": "sql", "format": fmt, "rawSql": sql.strip(),
            "queryType": "timeseries" if fmt == FORMAT_TIMESERIES else "table",
            "refId": ref}


def prom_target(expr, legend, ref):
    return {"datasource": PROM, "editorMode": "code", "expr": expr, "legendFormat": legend,
            "range": True, "refId": ref}


def panel(layout, kind, title, targets, w, h, description="", unit=None, ds=CH, options=None):
    pos, pid = layout.place(w, h)
    p = {"id": pid, "type": kind, "title": title, "description": description,
         "datasource": ds, "gridPos": pos, "targets": targets,
         "fieldConfig": {"defaults": {}, "overrides": []}, "options": options or {}}
    if unit:
        p["fieldConfig"]["defaults"]["unit"] = unit
    return p


def stat(layout, title, sql, w=6, h=4, **kw):
    return panel(layout, "stat", title, [sql_target(sql, FORMAT_TABLE)], w, h,
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": ""},
                          "colorMode": "value", "graphMode": "none"}, **kw)


def timeseries(layout, title, sql, w=12, h=8, **kw):
    return panel(layout, "timeseries", title, [sql_target(sql, FORMAT_TIMESERIES)], w, h, **kw)


def table(layout, title, sql, w=12, h=8, **kw):
    return panel(layout, "table", title, [sql_target(sql, FORMAT_TABLE)], w, h,
                 options={"showHeader": True, "cellHeight": "sm"}, **kw)


def piechart(layout, title, sql, w=6, h=8, **kw):
    return panel(layout, "piechart", title, [sql_target(sql, FORMAT_TABLE)], w, h,
                 options={"reduceOptions": {"values": True, "calcs": [], "fields": ""},
                          "pieType": "donut", "legend": {"displayMode": "table",
                                                         "placement": "right"}}, **kw)


def barchart(layout, title, sql, w=12, h=8, **kw):
    return panel(layout, "barchart", title, [sql_target(sql, FORMAT_TABLE)], w, h,
                 options={"orientation": "horizontal", "xTickLabelRotation": 0}, **kw)


def prom_timeseries(layout, title, exprs, w=12, h=8, unit=None, description=""):
    targets = [prom_target(e, legend, chr(ord("A") + i)) for i, (e, legend) in enumerate(exprs)]
    return panel(layout, "timeseries", title, targets, w, h, description=description,
                 unit=unit, ds=PROM)


def prom_stat(layout, title, expr, w=6, h=4, unit=None, description=""):
    return panel(layout, "stat", title, [prom_target(expr, "", "A")], w, h,
                 description=description, unit=unit, ds=PROM,
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": ""}})


def ds_variable(name, plugin, label):
    return {"name": name, "label": label, "type": "datasource", "query": plugin,
            "hide": 0, "refresh": 1, "current": {}}


def query_variable(name, label, sql, include_all=False):
    v = {"name": name, "label": label, "type": "query", "datasource": CH,
         "query": sql.strip(), "definition": sql.strip(), "refresh": 2, "sort": 1,
         "hide": 0, "multi": False, "includeAll": include_all, "current": {}, "options": []}
    if include_all:
        v["allValue"] = "__all"
    return v


def text_variable(name, label, default=""):
    return {"name": name, "label": label, "type": "textbox", "query": default, "hide": 0,
            "current": {"text": default, "value": default}}


SITE_VARIABLE = query_variable(
    "site", "Site", "SELECT DISTINCT site FROM hits WHERE $__timeFilter(received_at) ORDER BY site")
ACCOUNT_VARIABLE = query_variable(
    "account", "Account", "SELECT DISTINCT account_id FROM accounts ORDER BY account_id",
    include_all=True)
MAILING_VARIABLE = query_variable(
    "mailing", "Mailing", "SELECT DISTINCT mailing_id FROM mailings ORDER BY mailing_id")


def dashboard(uid, title, description, panels, variables, tags=(), prometheus=False,
              time_from="now-7d"):
    ds = [ds_variable("ds_clickhouse", "grafana-clickhouse-datasource", "ClickHouse")]
    if prometheus:
        ds.append(ds_variable("ds_prometheus", "prometheus", "Prometheus"))
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["tracking", *tags], "timezone": "utc", "editable": True,
        "schemaVersion": 39, "version": 1, "refresh": "5m" if not prometheus else "30s",
        "time": {"from": time_from, "to": "now"},
        "templating": {"list": ds + variables},
        "annotations": {"list": []}, "links": [
            {"title": "Tracking dashboards", "type": "dashboards", "tags": ["tracking"],
             "asDropdown": True}],
        "panels": panels,
    }
