# Job "days" sessionizes visitors in disjoint parts run at once (job_pageviews.sql, params
# `parts` and `part`): on ClickHouse 18.16 and on current ClickHouse (chdb), the parts together
# give exactly the rows of one whole run, no visitor in two parts, and the per-pageview flags
# page effectiveness sums (visit_first, day_first) equal the distinct counts they replace.
import uuid

import pytest

from conftest import load
from sqlfiles import query_file

COLUMNS = ("day, site, visitor_id, person_id, session_no, session_start_ms, session_end_ms, "
           "ts_ms, event_id, path, is_entrance, is_exit, is_bounce, timed, time_ms, "
           "from_mailing, from_campaign, converts_after, visit_first, day_first")


def pageviews(engine, db, version):
    return engine.query(
        f"SELECT {COLUMNS} FROM r_pageviews_v2 WHERE version = {version} ORDER BY {COLUMNS}", db)


@pytest.fixture(scope="module", params=["18.16", "chdb"])
def sessionized(request, clickhouse, chdb_engine, tracking_data):
    engine = clickhouse if request.param == "18.16" else chdb_engine
    db = "parts_" + uuid.uuid4().hex[:8]
    engine.migrate(db)
    load(engine, db, tracking_data)
    engine.query(query_file("job_pageviews", {"version": "7"}), db)
    for part in ("0", "1", "2"):
        engine.query(query_file("job_pageviews", {"version": "8", "parts": "3", "part": part}), db)
    return engine, db


def test_parts_together_equal_one_run(sessionized):
    engine, db = sessionized
    whole = pageviews(engine, db, 7)
    assert whole.count("\n") > 100
    assert pageviews(engine, db, 8) == whole


def test_no_visitor_in_two_parts(sessionized):
    engine, db = sessionized
    spread = engine.query(
        "SELECT count() FROM (SELECT site, visitor_id, uniqExact(cityHash64(visitor_id) % 3) AS n "
        "FROM r_pageviews_v2 WHERE version = 8 GROUP BY site, visitor_id) WHERE n != 1", db)
    assert spread.strip() == "0"


def test_flags_equal_the_distinct_counts(sessionized):
    engine, db = sessionized
    # A session can run across midnight, so a visit is identified by (visitor, session start)
    # and counted on the day of its first view of the path: summed over the days, the visit
    # flags of a page equal its distinct visits. day_first is per day by definition.
    visits = engine.query(
        "SELECT sum(visit_first), sum(visit_first * converts_after), "
        "uniqExact(visitor_id, session_start_ms), "
        "uniqExactIf(visitor_id, session_start_ms, converts_after = 1) "
        "FROM r_pageviews_v2 WHERE version = 7 GROUP BY site, path ORDER BY site, path", db)
    rows = [line.split("\t") for line in visits.strip().splitlines()]
    assert rows and all(r[0] == r[2] and r[1] == r[3] for r in rows), visits
    sums = engine.query(
        "SELECT sum(day_first) FROM r_pageviews_v2 WHERE version = 7 "
        "GROUP BY day, site, path ORDER BY day, site, path", db)
    distinct = engine.query(
        "SELECT uniqExact(visitor_id) FROM r_pageviews_v2 WHERE version = 7 "
        "GROUP BY day, site, path ORDER BY day, site, path", db)
    assert sums.strip() and sums == distinct


def test_the_sample_has_visits_across_midnight(sessionized):
    # The flag sums above only prove the cross-midnight rule if such visits are in the sample.
    engine, db = sessionized
    spanning = engine.query(
        "SELECT count() FROM (SELECT visitor_id, session_start_ms, uniqExact(day) AS days "
        "FROM r_pageviews_v2 WHERE version = 7 GROUP BY visitor_id, session_start_ms) "
        "WHERE days > 1", db)
    assert int(spanning.strip()) > 0
