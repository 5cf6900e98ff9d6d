# A tracker retry whose first answer was lost arrives again under a new event_id with the same
# non-empty client_id: job "days" (sessions, pages, person activities) counts it once, on
# ClickHouse 18.16 and on current ClickHouse (chdb). The generated data is run twice, once
# with a client_id on every web hit of a visitor, once with a later retry added for each of
# them; the stored pageviews and activities must be the same.
import copy
import uuid
from datetime import timedelta

import pytest

from conftest import load
from sqlfiles import query_file

WEB = ("pageview", "event", "ping", "outbound", "download")
PAGEVIEWS = ("SELECT day, site, visitor_id, person_id, session_no, ts_ms, event_id, path, "
             "is_entrance, is_exit, is_bounce, timed, time_ms, converts_after, visit_first, "
             "day_first FROM r_pageviews_v2 ORDER BY site, visitor_id, ts_ms, event_id")
ACTIVITIES = ("SELECT day, activity_id, person_id, ts_ms, event_id, kind, detail, pages "
              "FROM r_activities ORDER BY day, activity_id")


def with_client_ids(data, retries):
    data = copy.deepcopy(data)
    extra = []
    for row in data["hits"]:
        if row["type"] in WEB and row["visitor_id"]:
            # Replayed copies of a hit (same event_id) are the same tracker event.
            row["client_id"] = "c" + row["event_id"][:13]
            if retries:
                # One second later, so the first answer's hit stays the one counted.
                retry = dict(row, event_id=str(uuid.uuid4()),
                             received_at=row["received_at"] + timedelta(seconds=1),
                             ts_ms=row["ts_ms"] + 1000)
                if retry["received_at"].date() == row["received_at"].date():
                    extra.append(retry)
    data["hits"].extend(extra)
    return data, len(extra)


def run_days(engine, data):
    db = "retry_" + uuid.uuid4().hex[:8]
    engine.migrate(db)
    load(engine, db, data)
    for job in ("job_pageviews", "job_activities", "commit_generations"):
        engine.query(query_file(job), db)
    return engine.query(PAGEVIEWS, db), engine.query(ACTIVITIES, db)


@pytest.mark.parametrize("which", ["18.16", "chdb"])
def test_a_retry_counts_once(which, clickhouse, chdb_engine, tracking_data):
    engine = clickhouse if which == "18.16" else chdb_engine
    plain, _ = with_client_ids(tracking_data, retries=False)
    retried, added = with_client_ids(tracking_data, retries=True)
    assert added > 100
    pageviews, activities = run_days(engine, plain)
    assert pageviews.count("\n") > 100 and "\tevent\t" in activities
    assert run_days(engine, retried) == (pageviews, activities)
