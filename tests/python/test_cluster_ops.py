# Operating cluster mode for real, on two ClickHouse 18.16 servers on loopback as two shards
# (the layout of test_cluster.py): GDPR erasure through the real aggregator removes a person
# whose hits lie on both shards from every node's local tables, writes its receipt on every node
# and answers a repeat with the same receipt; and two real collectors writing through different
# nodes agree on the daily salt (one anonymous visitor id for the same visitor) and forget past
# days' salts.
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT, free_port, load
from test_cluster import DB, aggregator_binary, api, shards  # noqa: F401 (shards: fixture)

SECRETS = {"LINK_KEYS": "k1:0123456789abcdef0123", "ADMIN_TOKEN": "admin-token-0123456789",
           "PATH": "/usr/bin:/bin"}


def url(node):
    return f"http://127.0.0.1:{node.http_port}"


def count(node, sql):
    return int(node.select(sql, DB)[2][0][0])


def wait_http(proc, address, what, log):
    for _ in range(300):
        try:
            urllib.request.urlopen(address, timeout=1).read()
            return
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"{what} exited: " + log.read_text()[-3000:])
            time.sleep(0.1)
    raise AssertionError(f"{what} did not answer {address}")


class Processes:
    """Binaries started by a test, stopped at its end; their logs in one folder (a pipe
    nobody reads could fill and stall them)."""

    def __init__(self):
        self.running = []
        self.logs = Path(tempfile.mkdtemp(prefix="cluster-ops-logs-"))

    def start(self, args, env, probe, what):
        log = self.logs / f"{what}-{len(list(self.logs.iterdir()))}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(args, env=env, stdout=out, stderr=out)
        self.running.append(proc)
        wait_http(proc, probe, what, log)
        return proc

    def tail(self):
        """The end of every log, for a failure message."""
        return "\n".join(f"== {f.name}\n" + f.read_text()[-2000:]
                         for f in sorted(self.logs.iterdir()))

    def stop(self, proc):
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.running.remove(proc)

    def stop_all(self):
        for proc in list(self.running):
            self.stop(proc)


@pytest.fixture
def procs():
    p = Processes()
    yield p
    p.stop_all()


@pytest.fixture(scope="module")
def migrated(shards, tracking_data):  # noqa: F811 (the imported fixture)
    """Both nodes migrated by `aggregator migrate` (cluster schema), the generated data
    inserted through the Distributed tables of the first node."""
    a, b = shards
    binary = aggregator_binary()
    for node in (a, b):
        r = subprocess.run([str(binary), "migrate"], capture_output=True, text=True, timeout=120,
                           env=dict(SECRETS, CLICKHOUSE_URL=url(node), CLICKHOUSE_DATABASE=DB))
        assert r.returncode == 0, r.stdout + r.stderr
    load(a, DB, tracking_data)
    return a, b


def start_aggregator(procs, entry, extra):
    port = free_port()
    env = dict(SECRETS, CLICKHOUSE_URL=url(entry), CLICKHOUSE_DATABASE=DB,
               AGGREGATOR_LISTEN=f"127.0.0.1:{port}", AGGREGATOR_REFRESH_S="86400", **extra)
    base = f"http://127.0.0.1:{port}"
    procs.start([str(aggregator_binary()), "serve"], env, base + "/healthz", "aggregator")
    return base


def person_on_both_shards(a, b):
    """A person with hits in hits_local of both nodes (through different visitor ids)."""
    sql = "SELECT DISTINCT person_id FROM hits_local WHERE person_id != ''"
    on_a = {r[0] for r in a.select(sql, DB)[2]}
    on_b = {r[0] for r in b.select(sql, DB)[2]}
    both = sorted(on_a & on_b)
    assert len(both) >= 3, "the generated data should spread some persons over both shards"
    return both


def local_tables_with_person(node):
    """Every *_local table of the node with a person_id column."""
    return [t for [t] in node.select(
        f"SELECT table FROM system.columns WHERE database = '{DB}' AND name = 'person_id' "
        f"AND endsWith(table, '_local') AND table != 'erasures_local'")[2]]


def rows_of(node, person, visitors):
    """Rows of the person left on the node: any *_local row with the person id, and hits_local
    rows of the person's linked visitors that carry no other person."""
    left = {t: count(node, f"SELECT count() FROM {t} WHERE person_id = '{person}'")
            for t in local_tables_with_person(node)}
    vs = ",".join(f"'{v}'" for v in visitors) or "''"
    left["hits_local (linked visitors)"] = count(
        node, f"SELECT count() FROM hits_local WHERE visitor_id IN ({vs}) AND person_id = ''")
    return {t: n for t, n in left.items() if n}


def test_erasure_removes_a_person_from_every_shard(migrated, procs):
    a, b = migrated
    person, bystander = person_on_both_shards(a, b)[:2]
    visitors = [r[0] for r in a.select(
        f"SELECT DISTINCT visitor_id FROM identity_links WHERE person_id = '{person}'", DB)[2]]
    assert rows_of(a, person, visitors) and rows_of(b, person, visitors)
    before_hits = count(a, f"SELECT count() FROM hits WHERE person_id = '{person}'")
    others = {n: count(n, f"SELECT count() FROM hits_local WHERE person_id = '{bystander}'")
              for n in (a, b)}

    base = start_aggregator(procs, a, {
        "AGGREGATOR_CLICKHOUSE_NODES": f"{url(a)},{url(b)}"})
    receipt = api(base, f"/api/persons/{person}", method="DELETE")["receipt"]
    assert receipt["person_id"] == person
    assert receipt["rows_removed"]["hits"] >= before_hits > 0
    for node in (a, b):
        assert rows_of(node, person, visitors) == {}, f"rows left on node {node.http_port}"
        # The receipt is on every node; everyone else's rows are untouched.
        assert count(node, f"SELECT count() FROM erasures_local "
                           f"WHERE person_id = '{person}'") == 1
        assert count(node, f"SELECT count() FROM hits_local "
                           f"WHERE person_id = '{bystander}'") == others[node] > 0
    # No mutation left running anywhere, and a repeat answers the same receipt.
    for node in (a, b):
        assert count(node, f"SELECT count() FROM system.mutations "
                           f"WHERE database = '{DB}' AND is_done = 0") == 0
    again = api(base, f"/api/persons/{person}", method="DELETE")["receipt"]
    assert again == receipt
    exported = api(base, f"/api/persons/{person}/export")
    assert exported["hits"] == [] and exported["erasure"] == receipt


def test_erasure_refuses_to_guess_the_nodes(migrated, procs):
    """Without the node list, two nodes on one address cannot be told apart at
    CLICKHOUSE_URL's port: the erasure is refused and nothing is deleted anywhere."""
    a, b = migrated
    person = person_on_both_shards(a, b)[-1]
    before = [count(n, f"SELECT count() FROM hits_local WHERE person_id = '{person}'")
              for n in (a, b)]
    base = start_aggregator(procs, a, {})
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(base, f"/api/persons/{person}", method="DELETE")
    assert refused.value.code >= 500
    after = [count(n, f"SELECT count() FROM hits_local WHERE person_id = '{person}'")
             for n in (a, b)]
    assert after == before and min(before) > 0
    assert count(a, f"SELECT count() FROM erasures WHERE person_id = '{person}'") == 0


def collector_binary():
    r = subprocess.run(["cargo", "build", "-q", "-p", "collector", "--bin", "collector"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return ROOT / "target" / "debug" / "collector"


def start_collector(procs, node, spool):
    port, ops = free_port(), free_port()
    env = dict(SECRETS, CLICKHOUSE_URL=url(node), CLICKHOUSE_DATABASE=DB,
               COLLECTOR_LISTEN=f"127.0.0.1:{port}", COLLECTOR_OPS_LISTEN=f"127.0.0.1:{ops}",
               COLLECTOR_SPOOL_DIR=spool, COLLECTOR_BATCH_INTERVAL_MS="100")
    proc = procs.start([str(collector_binary())], env, f"http://127.0.0.1:{ops}/healthz",
                       "collector")
    return proc, f"http://127.0.0.1:{port}"


def pageview(collector, path):
    """An anonymous pageview (no visitor id, no consent): its visitor id is the salted hash."""
    q = urllib.parse.urlencode({"s": "salt.example", "u": f"https://salt.example{path}"})
    req = urllib.request.Request(f"{collector}/p.gif?{q}",
                                 headers={"User-Agent": "Mozilla/5.0 (X11; Linux) salt-test"})
    urllib.request.urlopen(req, timeout=10).read()


def visitor_of(node, path, deadline, procs):
    while time.monotonic() < deadline:
        rows = node.select(f"SELECT visitor_id FROM hits WHERE site = 'salt.example' "
                           f"AND path = '{path}'", DB)[2]
        if rows:
            return rows[0][0]
        time.sleep(0.2)
    raise AssertionError(f"the hit of {path} did not arrive\n{procs.tail()}")


def today():
    return int(time.time() // 86400)


def test_collectors_on_different_shards_share_the_daily_salt(migrated, procs):
    a, b = migrated
    spool = tempfile.mkdtemp(prefix="salt-spool-")
    _, col_a = start_collector(procs, a, os.path.join(spool, "a"))
    # The first collector proposes today's salt on its node at start.
    deadline = time.monotonic() + 30
    while count(a, f"SELECT count() FROM daily_salts WHERE day = {today()}") == 0:
        assert time.monotonic() < deadline, "collector a proposed no salt"
        time.sleep(0.2)
    col_b_proc, col_b = start_collector(procs, b, os.path.join(spool, "b"))
    # Same visitor through each collector: one visitor id. (Each collector re-reads the salt
    # every 30 s, so a start-up race settles within that.)
    deadline = time.monotonic() + 60
    for n in range(1000):
        pageview(col_a, f"/a{n}")
        pageview(col_b, f"/b{n}")
        va = visitor_of(a, f"/a{n}", deadline, procs)
        vb = visitor_of(a, f"/b{n}", deadline, procs)
        if va == vb:
            break
        assert time.monotonic() < deadline, "the two collectors never agreed on a salt"
        time.sleep(1)
    assert va and va == vb
    # One salt for the day, kept where it was proposed; b read it through daily_salts.
    assert count(a, f"SELECT uniqExact(salt) FROM daily_salts WHERE day = {today()}") == 1
    assert count(a, "SELECT count() FROM daily_salts_local") >= 1
    # Forgotten after the day: a past day's salt on b's node goes at b's next sync (at start).
    b.query(f"INSERT INTO daily_salts_local VALUES ({today() - 1}, '{'ab' * 32}', now())", DB)
    procs.stop(col_b_proc)
    start_collector(procs, b, os.path.join(spool, "b"))
    deadline = time.monotonic() + 30
    while count(b, f"SELECT count() FROM daily_salts_local WHERE day < {today()}"):
        assert time.monotonic() < deadline, "yesterday's salt was not deleted on node b"
        time.sleep(0.2)
    assert count(a, f"SELECT count() FROM daily_salts WHERE day < {today()}") == 0
