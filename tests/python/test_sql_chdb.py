# The aggregator's SQL (sql/queries/*.sql) gives the same results on ClickHouse 18.16 (the
# Debian server the Rust tests use) and on current ClickHouse (in-process chdb): every query
# runs on both engines over the same generated data and the outputs must be equal, row for row.
#
# Each query file documents its `?` placeholders in a `-- params:` header as
# `name Type = sample`, in the order they appear; the sample is a SQL literal that fits the
# generated data of conftest.generate(). The metric jobs run first (twice, as two generations,
# to show a rerun changes nothing), then every read query.
import re
import uuid

import pytest

from conftest import ROOT, load
from sqlfiles import read_query

QUERIES = ROOT / "sql" / "queries"
DAYS = "['2026-01-05','2026-01-06','2026-01-07']"
# Watermark queries whose answer a merge changes: compared only after OPTIMIZE ... FINAL.
MOVES_WITH_MERGES = ("fingerprint_days.sql", "fingerprint_parts.sql")
# Watermark queries about the server itself, not the data (its start time): each engine must
# answer with one whole number, which differs between them.
SERVER_STATE = ("fingerprint_server.sql",)


def answer(engine, path, db):
    """What `path` gives on `engine`; for SERVER_STATE, only whether it is one whole number."""
    text = engine.query(render(read_query(path)), db)
    if path.name in SERVER_STATE:
        return "one whole number" if re.fullmatch(r"\d+\n?", text) else text
    return text

# The jobs in the order the scheduler runs them, with overrides of the header samples where a
# step needs other values than the file's sample (the first commit is job "days", whose
# committed mailing hits job "mailings" reads; the second commit is job "mailings").
PLAN = [
    ("job_pageviews.sql", {}),
    ("job_page_daily.sql", {}),
    ("job_activities.sql", {}),
    ("job_mail_hits.sql", {}),
    ("commit_generations.sql", {}),
    ("job_mailing_recipients.sql", {}),
    ("job_mailing_links.sql", {}),
    ("commit_generations.sql", {"job": "'mailings'", "buckets": "['m1','m2']",
                                "fingerprints": "['x','y']"}),
    # Job "page_spans" as generation 1{v} over the days of generation {v} ({v}: 7, then 8).
    ("job_page_spans_days.sql", {"version": "1{v}", "versions": "[{v},{v},{v}]"}),
    ("job_page_spans_sums.sql", {"version": "1{v}", "versions": "[{v},{v},{v}]"}),
    ("job_page_spans_months.sql", {"version": "1{v}", "versions": "[1{v},1{v},1{v}]"}),
    # Job "funnels" writes rows the Rust side computes; the sample rows, as generation 1{v}.
    ("job_funnel_spans.sql", {"version": "1{v}"}),
    ("job_funnel_steps.sql", {"version": "1{v}"}),
    ("job_funnel_span_persons.sql", {"version": "1{v}"}),
]


def params(sql):
    """The (name, type, sample) of each placeholder, from the `-- params:` header."""
    for line in sql.splitlines():
        if line.startswith("-- params:"):
            body = line[len("-- params:"):].strip()
            if body == "none":
                return []
            return [(m.group(1), m.group(2), m.group(3).strip()) for m in re.finditer(
                r"(\w+) ([\w()]+) = (\[[^\]]*\]|'[^']*'|[^,]+)", body)]
    raise AssertionError("no -- params: header")


def render(sql, overrides=None):
    """The query with each `?` replaced by its sample (or override), comments dropped."""
    values = [(overrides or {}).get(name, sample) for name, _, sample in params(sql)]
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    parts = body.split("?")
    assert len(parts) - 1 == len(values), f"{len(parts) - 1} placeholders, {len(values)} params"
    out = [parts[0]]
    for value, part in zip(values, parts[1:]):
        out.extend([value, part])
    return "".join(out)


def run_all(engine, data):
    """Runs the plan twice (generations 7 and 8) and every read query; returns file -> text."""
    db = "sqlcmp_" + uuid.uuid4().hex[:8]
    engine.migrate(db)
    load(engine, db, data)
    for version in ("7", "8"):
        for name, overrides in PLAN:
            sql = read_query(name)
            names = {n for n, _, _ in params(sql)}
            extra = {k: version for k in ("version", "source_version") if k in names}
            given = {k: v.replace("{v}", version) for k, v in overrides.items()}
            engine.query(render(sql, {**extra, **given}), db)
    out = {}
    for path in sorted(QUERIES.glob("*.sql")):
        if path.name.startswith(("job_", "commit_", "funnel_put", "goal_put")) or \
                path.name in MOVES_WITH_MERGES:
            continue
        out[path.name] = answer(engine, path, db)
    # The mailing watermarks count distinct ids, so merges folding replayed copies (each
    # engine merges at its own pace) do not move them; the day watermark counts rows (cheaper
    # over millions of hits) and the parts one lists parts, so they are compared once both
    # engines have folded everything.
    for table in ("hits", "mailing_sends", "persons"):
        engine.query(f"OPTIMIZE TABLE {table} FINAL", db)
    for path in sorted(QUERIES.glob("fingerprint_*.sql")):
        again = answer(engine, path, db)
        if path.name not in MOVES_WITH_MERGES:
            assert again == out[path.name], f"{path.name} moved with a merge"
        out[path.name] = again
    return out


def test_every_query_has_a_params_header_matching_its_placeholders():
    for path in sorted(QUERIES.glob("*.sql")):
        sql = read_query(path)
        assert sql.startswith("-- "), f"{path.name}: no leading comment saying what it is for"
        # The Rust client binds every `?` of the text, comments included.
        assert sql.count("?") == len(params(sql)), f"{path.name}: a `?` outside the params"
        render(sql)


def test_writes_run_on_both_engines(clickhouse, chdb_engine):
    """The definition writes (PUT funnel/goal) are valid SQL on both engines."""
    for engine in (clickhouse, chdb_engine):
        db = "sqlput_" + uuid.uuid4().hex[:8]
        engine.migrate(db)
        for name in ("funnel_put.sql", "goal_put.sql"):
            engine.query(render(read_query(name)), db)
        assert engine.query("SELECT count() FROM funnels", db).strip() == "1"
        assert engine.query("SELECT count() FROM goals", db).strip() == "1"


@pytest.fixture(scope="module")
def results(clickhouse, chdb_engine, tracking_data):
    return run_all(clickhouse, tracking_data), run_all(chdb_engine, tracking_data)


def test_same_results_on_18_16_and_current(results):
    old, new = results
    assert old.keys() == new.keys()
    for name in old:
        assert old[name] == new[name], f"{name} differs:\n18.16:\n{old[name]}\nchdb:\n{new[name]}"


def test_results_are_not_empty(results):
    """Equality of two empty answers would prove nothing: the scenario reaches every query."""
    old, _ = results
    for name, text in old.items():
        assert text.strip(), f"{name} returned nothing on the generated data"
    pages = [line.split("\t") for line in old["api_pages.sql"].splitlines()]
    assert sum(int(r[2]) for r in pages) > 100
    # The page spans give r_page_daily's figures: the merged day rows for the same days, and
    # the month row (the generated data lies in those days of January).
    assert old["api_pages_days.sql"] == old["api_pages.sql"]
    assert old["api_pages_span.sql"] == old["api_pages.sql"]
    # Replays are in the data: pageviews counted once each, so no page has more pageviews
    # than distinct pageview events of the generated data.
    feed = old["api_activity_feed.sql"].splitlines()
    assert all(line.split("\t")[0] == "7" for line in feed), "first_seen kept across reruns"
