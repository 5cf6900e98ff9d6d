# Cluster mode for real: two ClickHouse 18.16 servers on loopback ports as two shards (the
# layout of sql/cluster/remote_servers.example.xml, the profile of sql/cluster/users.d/), the
# cluster schema (sql/cluster/) on both, generated data inserted through the Distributed
# tables. Hits spread over both shards with each visitor on one shard, and every aggregator
# query (sql/queries/*.sql: the metric jobs, then every read) gives exactly the figures it
# gives on a single node loaded with the same data.
import json
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import (QUERIES, ROOT, ClickHouse, ClickHouseError, free_port, load, query_file,
                      run_jobs, statements)
from sqlfiles import read_query

CLUSTER_SQL = ROOT / "sql" / "cluster"
DB = "tracking_cluster_test"


def cluster_schema(cluster, database):
    for f in sorted(CLUSTER_SQL.glob("*.sql")):
        text = f.read_text().replace("{cluster}", cluster).replace("{database}", database)
        yield from statements(text)


def normalise(rows):
    return sorted(tuple(str(v) for v in r) for r in rows)


@pytest.fixture(scope="module")
def shards():
    a, b = ClickHouse(), ClickHouse()
    layout = (CLUSTER_SQL / "remote_servers.example.xml").read_text().replace("@DATABASE@", DB)
    for n, s in ((1, a), (2, b)):
        layout = layout.replace(f"@HOST_{n}@", "127.0.0.1").replace(f"@PORT_{n}@", str(s.tcp_port))
    profile = (CLUSTER_SQL / "users.d" / "tracking-cluster.xml").read_text()
    for s in (a, b):
        s.set_extra_config(layout, users_d=profile)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture(scope="module")
def loaded(shards, clickhouse, tracking_data):
    """(entry node, other node, single node): same data, same jobs run on both layouts."""
    a, b = shards
    [[name]] = a.select("SELECT substitution FROM system.macros "
                        "WHERE macro = 'tracking_cluster'")[2]
    for s in (a, b):
        s.query(f"CREATE DATABASE IF NOT EXISTS {DB}")
        for stmt in cluster_schema(name, DB):
            s.query(stmt, DB)
    load(a, DB, tracking_data)
    clickhouse.migrate(DB)
    load(clickhouse, DB, tracking_data)
    run_jobs(a, DB)
    run_jobs(clickhouse, DB)
    return a, b, clickhouse


def test_cluster_schema_is_generated_from_the_migrations():
    r = subprocess.run([sys.executable, str(CLUSTER_SQL / "generate.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    versions = {p.name for p in (ROOT / "sql" / "migrations").glob("*.sql")}
    assert {p.name for p in CLUSTER_SQL.glob("*.sql")} == versions


def test_every_table_has_the_single_node_columns(loaded):
    a, b, single = loaded
    def layout(s):
        tables = [t for [t] in s.select(
            f"SELECT name FROM system.tables WHERE database = '{DB}' ORDER BY name")[2]]
        return {t: [tuple(r[:2]) for r in s.select(f"DESCRIBE TABLE {t}", DB)[2]]
                for t in tables}

    want = layout(single)
    for node in (a, b):
        have = layout(node)
        for table, cols in want.items():
            assert have.get(table) == cols, f"{table}: {have.get(table)} != {cols}"
            if f"{table}_local" in have:
                assert have[f"{table}_local"] == cols


def test_hits_spread_over_both_shards_and_each_visitor_stays_on_one(loaded):
    a, b, single = loaded
    total = int(single.select("SELECT count() FROM hits", DB)[2][0][0])
    counts = [int(s.select("SELECT count() FROM hits_local", DB)[2][0][0]) for s in (a, b)]
    assert all(c > total // 5 for c in counts), counts
    assert sum(counts) == total
    assert int(a.select("SELECT count() FROM hits", DB)[2][0][0]) == total
    visitors = [{r[0] for r in s.select("SELECT DISTINCT visitor_id FROM hits_local", DB)[2]}
                for s in (a, b)]
    assert visitors[0] and visitors[1] and not visitors[0] & visitors[1]
    # Small tables are complete on every node (so shards join them locally).
    for s in (a, b):
        assert s.select("SELECT count() FROM persons_local", DB)[2] == \
            single.select("SELECT count() FROM persons", DB)[2]


def result_tables(single):
    return [t for [t] in single.select(
        f"SELECT name FROM system.tables WHERE database = '{DB}' AND name LIKE 'r\\\\_%'")[2]]


def written_by_jobs():
    """The result tables some metric job still inserts into (older ones stay, unwritten)."""
    return {m for p in QUERIES.glob("job_*.sql")
            for m in re.findall(r"^INSERT INTO (r_\w+)", read_query(p), re.M)}


def test_metric_jobs_write_the_same_results(loaded):
    a, b, single = loaded
    tables = result_tables(single)
    written = written_by_jobs()
    assert written and written <= set(tables), written - set(tables)
    for t in tables:
        cols = [c for c, typ in single.select(f"SELECT name, type FROM system.columns WHERE "
                                              f"database = '{DB}' AND table = '{t}'")[2]
                if not typ.startswith("AggregateFunction") and c != "committed_at"]
        sql = f"SELECT {', '.join(cols)} FROM {t}"
        want = normalise(single.select(sql, DB)[2])
        assert want or t not in written, f"{t} is empty: the jobs wrote nothing"
        assert normalise(a.select(sql, DB)[2]) == want, t


# Metadata of the node asked, not figures: the parts of its own hits table, which a Distributed
# hits has none of (job days then fingerprints every day, see day_parts.rs), and when the
# node's server started.
NODE_LOCAL = {"fingerprint_parts", "fingerprint_server"}


def read_queries():
    return sorted(p.stem for p in QUERIES.glob("*.sql")
                  if p.stem not in NODE_LOCAL and not re.search(r"^\s*INSERT", "\n".join(
                      line for line in read_query(p).splitlines()
                      if not line.startswith("--")), re.M))


def test_every_read_query_gives_the_single_node_figures(loaded):
    a, b, single = loaded
    names = read_queries()
    assert len(names) >= 5
    compared = nonempty = 0
    for name in names:
        sql = query_file(name)
        want = single.select(sql, DB)
        for node in (a, b):
            have = node.select(sql, DB)
            assert have[0] == want[0], f"{name}: columns {have[0]} != {want[0]}"
            assert normalise(have[2]) == normalise(want[2]), name
        compared += 1
        nonempty += bool(want[2])
    assert compared == len(names)
    assert nonempty >= len(names) // 2, "most queries should return rows on the test data"


def aggregator_binary():
    """Builds (normally a no-op after `cargo test`) and returns the aggregator binary."""
    r = subprocess.run(["cargo", "build", "-q", "-p", "aggregator", "--bin", "aggregator"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return ROOT / "target" / "debug" / "aggregator"


def engines(node, database):
    return dict(node.select(f"SELECT name, engine FROM system.tables "
                            f"WHERE database = '{database}'")[2])


def test_aggregator_migrate_chooses_the_schema_by_the_node_config(shards, clickhouse):
    """`aggregator migrate` on a node with the tracking_cluster macro applies sql/cluster/
    (the same tables this test built by hand); on a plain node, sql/migrations/."""
    binary = aggregator_binary()
    env = {"LINK_KEYS": "k1:0123456789abcdef0123", "ADMIN_TOKEN": "admin-token-0123456789",
           "CLICKHOUSE_DATABASE": "tracking_migrated", "PATH": "/usr/bin:/bin"}
    for node in (*shards, clickhouse):
        url = f"http://127.0.0.1:{node.http_port}"
        r = subprocess.run([str(binary), "migrate"], env=dict(env, CLICKHOUSE_URL=url),
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    a, b = shards
    for node in (a, b):
        got = engines(node, "tracking_migrated")
        assert got["hits"] == "Distributed" and got["hits_local"] == "ReplacingMergeTree"
        assert got["persons"] == "Distributed" and got["schema_migrations"] == "ReplacingMergeTree"
        assert got == engines(node, DB), "migrate and the hand-applied cluster schema differ"
    plain = engines(clickhouse, "tracking_migrated")
    assert plain["hits"] == "ReplacingMergeTree" and "hits_local" not in plain
    # Versions recorded per node, so both binaries' schema check passes on each.
    for node in (a, b, clickhouse):
        [[v]] = node.select("SELECT max(version) FROM schema_migrations", "tracking_migrated")[2]
        assert int(v) == max(int(p.name[:4]) for p in (ROOT / "sql/migrations").glob("*.sql"))


API_CALLS = [
    "/api/pages?site=shop.example&from=2026-01-05&to=2026-01-08",
    "/api/pages?from=2026-01-05&to=2026-01-08",
    "/api/mailings/m1/response?goal=signup",
    "/api/mailings/m2/response?goal=signup&window_days=1",
    "/api/funnels/signup?site=shop.example&from=2026-01-05&to=2026-01-08",
    "/api/funnels/signup?site=shop.example&account=acc2&from=2026-01-05&to=2026-01-08",
    "/api/persons/p03/activities",
    "/api/persons/p10/activities",
]


def aggregator(binary, url, database):
    """Starts `aggregator serve` on a free port; returns (process, base URL)."""
    port = free_port()
    env = {"LINK_KEYS": "k1:0123456789abcdef0123", "ADMIN_TOKEN": "admin-token-0123456789",
           "CLICKHOUSE_URL": url, "CLICKHOUSE_DATABASE": database, "PATH": "/usr/bin:/bin",
           "AGGREGATOR_LISTEN": f"127.0.0.1:{port}", "AGGREGATOR_REFRESH_S": "86400"}
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1).read()
            return proc, base
        except OSError:
            if proc.poll() is not None:
                raise AssertionError("aggregator exited: " + proc.stderr.read()[-3000:])
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("aggregator did not answer /healthz")


def api(base, path, method="GET"):
    req = urllib.request.Request(base + path, method=method,
                                 headers={"Authorization": "Bearer admin-token-0123456789"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def test_the_aggregator_api_gives_the_single_node_figures_on_the_cluster(loaded):
    """The real aggregator (its scheduler's jobs via POST /api/refresh, then its endpoints)
    on the cluster's entry node answers exactly what it answers on a single node."""
    a, b, single = loaded
    binary = aggregator_binary()
    answers = []
    for node in (a, b, single):
        r = subprocess.run([str(binary), "migrate"], capture_output=True, text=True, timeout=120,
                           env={"LINK_KEYS": "k1:0123456789abcdef0123",
                                "ADMIN_TOKEN": "admin-token-0123456789", "PATH": "/usr/bin:/bin",
                                "CLICKHOUSE_URL": f"http://127.0.0.1:{node.http_port}",
                                "CLICKHOUSE_DATABASE": DB})
        assert r.returncode == 0, r.stderr
    for node in (a, single):
        proc, base = aggregator(binary, f"http://127.0.0.1:{node.http_port}", DB)
        try:
            api(base, "/api/refresh", method="POST")
            answers.append({p: api(base, p) for p in API_CALLS})
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    cluster, plain = answers
    for path in API_CALLS:
        assert cluster[path] == plain[path], path
    assert plain[API_CALLS[0]]["pages"] and plain[API_CALLS[2]]["sends"] > 0
    assert any(s["visitors"] for s in plain[API_CALLS[4]]["steps"])
    assert plain[API_CALLS[6]]["activities"]


def test_a_shard_outage_fails_the_insert_and_the_retry_folds(shards, tracking_data):
    """With insert_distributed_sync = 1 an INSERT through `hits` fails while a shard is down
    (so the collector spools the batch); the replay after the shard is back may write rows
    again on the shard that had them, and they fold: same event_id, same shard."""
    a, b = shards
    batch = [dict(h, site="outage.example") for h in tracking_data["hits"][:200]]
    subprocess.run(["kill", "-9", (b.dir / "server.pid").read_text().strip()], check=True)
    with pytest.raises(ClickHouseError):
        load(a, DB, {"hits": batch})
    b.start()
    load(a, DB, {"hits": batch})
    want = len({h["event_id"] for h in batch})
    [[distinct, rows]] = a.select("SELECT uniqExact(event_id), count() FROM hits "
                                  "WHERE site = 'outage.example'", DB)[2]
    assert int(distinct) == want and int(rows) >= want
    per_shard = [{r[0] for r in s.select("SELECT DISTINCT toString(event_id) FROM hits_local "
                                         "WHERE site = 'outage.example'", DB)[2]}
                 for s in (a, b)]
    assert per_shard[0] and per_shard[1] and not per_shard[0] & per_shard[1]
