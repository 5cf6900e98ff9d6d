# The sessionizer (job "days", sql/queries/job_pageviews.sql) breaks a tie on ts_ms by the
# event_id's written string, on ClickHouse 18.16 and on current ClickHouse (chdb), whatever the
# UUID's memory layout: it carries the event_id as the 16 bytes of its hex digits and writes the
# string back. One visitor's pageviews share one ts_ms; their ids differ in the first or only in
# the last hex digits and have the top bit set or not (a signed or little-endian compare would
# put them in another order); a replayed copy and a client retry are dropped.
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from conftest import load
from sqlfiles import query_file
from tracking_data import hit

AT = datetime(2026, 1, 6, 12, 0, tzinfo=timezone.utc)
# (event_id, path, client_id), in the order the string sorts them.
TIES = [
    ("0fffffff-ffff-4fff-bfff-ffffffffffff", "/same", ""),
    ("10000000-0000-4000-8000-000000000000", "/x", ""),
    ("10000000-0000-4000-8000-000000000001", "/x", "k1"),
    ("80000000-0000-4000-8000-000000000000", "/x", ""),
    ("f0000000-0000-4000-8000-000000000000", "/same", ""),
]
ROWS = ("SELECT event_id, path, session_no, is_entrance, is_exit, timed, time_ms, visit_first, "
        "day_first FROM r_pageviews_v2 WHERE visitor_id = 'vt' ORDER BY ts_ms, event_id")


def hits():
    rng = random.Random(4)
    ident = dict(site="shop.example", visitor_id="vt", type="pageview")
    rows = [hit(rng, AT, event_id=e, path=p, client_id=c, **ident) for e, p, c in TIES]
    # A replayed copy of the second, a retry of the third (same client_id, new event_id, later)
    # and a pageview one second after the ties.
    rows.append(dict(rows[1], replica="collector-1"))
    rows.append(hit(rng, AT, ts_ms=rows[2]["ts_ms"] + 500, path="/retry", client_id="k1",
                    **ident))
    rows.append(hit(rng, AT + timedelta(seconds=1), path="/z", **ident))
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("which", ["18.16", "chdb"])
def test_ties_on_ts_follow_the_event_id_string(which, clickhouse, chdb_engine):
    engine = clickhouse if which == "18.16" else chdb_engine
    db = "order_" + uuid.uuid4().hex[:8]
    engine.migrate(db)
    load(engine, db, {"hits": hits()})
    engine.query(query_file("job_pageviews"), db)
    rows = [line.split("\t") for line in engine.query(ROWS, db).splitlines()]
    ids = [r[0] for r in rows]
    assert ids[:5] == [e for e, _, _ in TIES] and rows[5][1] == "/z" and len(rows) == 6
    # (path, session_no, entrance, exit, timed, time_ms, visit_first, day_first)
    assert [r[1:] for r in rows] == [
        ["/same", "1", "1", "0", "1", "0", "1", "1"],
        ["/x", "1", "0", "0", "1", "0", "1", "1"],
        ["/x", "1", "0", "0", "1", "0", "0", "0"],
        ["/x", "1", "0", "0", "1", "0", "0", "0"],
        ["/same", "1", "0", "0", "1", "1000", "0", "0"],
        ["/z", "1", "0", "1", "0", "0", "1", "1"],
    ]
