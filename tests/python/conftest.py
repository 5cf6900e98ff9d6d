# Shared pytest fixtures: private ClickHouse 18.16 servers on free loopback ports (started
# through scripts/clickhouse, stopped at session end), the migrations applied the way
# `aggregator migrate` applies them, one in-process chdb session (current ClickHouse), and a
# deterministic generator of tracking data (hits, persons, accounts, mailings, ...).
import json
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

# chdb's DateTime follows the process time zone; the servers run in UTC.
os.environ.setdefault("TZ", "UTC")

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "sql" / "migrations"
QUERIES = ROOT / "sql" / "queries"

# Generated data covers [DATA_FROM, DATA_TO): three days, fixed so every run sees the same rows.
DATA_FROM = datetime(2026, 1, 5, tzinfo=timezone.utc)
DATA_TO = DATA_FROM + timedelta(days=3)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def statements(sql):
    """Splits a migration file like common::schema::statements: `;` at a line end ends a
    statement, `--` comment lines are dropped."""
    out, cur = [], []
    for line in sql.splitlines():
        if line.lstrip().startswith("--"):
            continue
        cur.append(line)
        if line.rstrip().endswith(";"):
            stmt = "\n".join(cur).strip().rstrip(";").strip()
            if stmt:
                out.append(stmt)
            cur = []
    rest = "\n".join(cur).strip()
    if rest:
        out.append(rest)
    return out


def migration_files():
    return sorted(MIGRATIONS.glob("*.sql"))


class ClickHouseError(Exception):
    pass


class ClickHouse:
    """A ClickHouse server run by scripts/clickhouse in its own folder on free ports."""

    def __init__(self, remote_servers_xml=None):
        self.dir = Path(tempfile.mkdtemp(prefix="ch-pytest-"))
        self.http_port = free_port()
        self.tcp_port = free_port()
        self.env = dict(
            os.environ,
            CLICKHOUSE_DIR=str(self.dir),
            CLICKHOUSE_HTTP_PORT=str(self.http_port),
            CLICKHOUSE_TCP_PORT=str(self.tcp_port),
        )
        if remote_servers_xml is not None:
            self.set_extra_config(remote_servers_xml)

    def set_extra_config(self, xml, users_d=None):
        """XML put into the server config (e.g. <remote_servers>), and optionally a users.d
        file (profile settings), before start."""
        path = self.dir / "remote_servers.xml"
        path.write_text(xml)
        self.env["CLICKHOUSE_REMOTE_SERVERS_FILE"] = str(path)
        if users_d is not None:
            (self.dir / "users.d").mkdir(exist_ok=True)
            (self.dir / "users.d" / "extra.xml").write_text(users_d)

    def start(self):
        subprocess.run([str(ROOT / "scripts/clickhouse"), "start"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        # Kill the server if pytest dies without running its teardown (the script's nohup
        # would otherwise leave it behind).
        pid = (self.dir / "server.pid").read_text().strip()
        subprocess.Popen(
            ["sh", "-c", f"while kill -0 {os.getpid()} 2>/dev/null && kill -0 {pid} 2>/dev/null;"
             f" do sleep 1; done; kill {pid} 2>/dev/null"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        return self

    def stop(self):
        # The data is thrown away, so no graceful shutdown (it takes seconds on 18.16).
        pid = self.dir / "server.pid"
        if pid.exists():
            subprocess.run(["kill", "-9", pid.read_text().strip()], stderr=subprocess.DEVNULL,
                           check=False)
            # A killed server may linger as a zombie where nothing reaps orphans; the script
            # would wait for it, so tell it there is nothing to stop.
            pid.unlink()
        subprocess.run([str(ROOT / "scripts/clickhouse"), "stop"], env=self.env,
                       stdout=subprocess.DEVNULL, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql, database=None):
        """Runs one statement over HTTP; returns the body as text."""
        url = f"http://127.0.0.1:{self.http_port}/"
        if database:
            url += f"?database={database}"
        req = urllib.request.Request(url, data=sql.encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.read().decode()
        except urllib.error.HTTPError as e:
            raise ClickHouseError(f"{e.read().decode().strip()}\n-- in:\n{sql}") from None

    def select(self, sql, database=None):
        """Runs a SELECT; returns (column names, column types, rows)."""
        out = json.loads(self.query(sql + "\nFORMAT JSONCompact", database))
        return [m["name"] for m in out["meta"]], [m["type"] for m in out["meta"]], out["data"]

    def migrate(self, database, files=None):
        self.query(f"CREATE DATABASE IF NOT EXISTS {database}")
        for f in files or migration_files():
            for stmt in statements(f.read_text()):
                self.query(stmt, database)

    def insert(self, database, table, columns, rows):
        for chunk in range(0, len(rows), 5000):
            self.query(insert_sql(table, columns, rows[chunk:chunk + 5000]), database)


class Chdb:
    """Current ClickHouse in process (PyPI chdb-core): same calls as ClickHouse."""

    def __init__(self, session):
        self.session = session

    def query(self, sql, database=None):
        if database:
            self.session.query(f"USE {database}")
        try:
            return self.session.query(sql, "TSV").bytes().decode()
        except Exception as e:  # chdb raises its own error type
            raise ClickHouseError(f"{e}\n-- in:\n{sql}") from None

    def select(self, sql, database=None):
        if database:
            self.session.query(f"USE {database}")
        try:
            out = json.loads(self.session.query(sql, "JSONCompact").bytes())
        except Exception as e:
            raise ClickHouseError(f"{e}\n-- in:\n{sql}") from None
        return [m["name"] for m in out["meta"]], [m["type"] for m in out["meta"]], out["data"]

    def migrate(self, database, files=None):
        self.query(f"CREATE DATABASE IF NOT EXISTS {database}")
        for f in files or migration_files():
            for stmt in statements(f.read_text()):
                self.query(stmt, database)

    def insert(self, database, table, columns, rows):
        for chunk in range(0, len(rows), 5000):
            self.query(insert_sql(table, columns, rows[chunk:chunk + 5000]), database)


def literal(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, datetime):
        return "'" + v.strftime("%Y-%m-%d %H:%M:%S") + "'"
    s = str(v).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{s}'"


def insert_sql(table, columns, rows):
    values = ",".join("(" + ",".join(literal(r[c]) for c in columns) + ")" for r in rows)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"


def load(engine, database, data):
    """Inserts generated data (table -> list of row dicts) into a migrated database."""
    for table, rows in data.items():
        if rows:
            engine.insert(database, table, list(rows[0].keys()), rows)


# ---- the aggregator's queries (sql/queries/*.sql) --------------------------------------------

# The metric jobs in the order the aggregator runs them, then the commits that make their
# generation visible to readers; each with the parameters that differ from its file's defaults.
JOBS = [
    ("job_pageviews", {}),
    ("job_page_daily", {}),
    ("job_activities", {}),
    ("job_mailing_recipients", {}),
    ("job_mailing_links", {}),
    ("commit_generations", {}),
    ("commit_generations", {"job": "'mailings'", "buckets": "['m1','m2']",
                            "fingerprints": "['x','y']"}),
]


def split_top_level(text):
    """Splits `a T = 1, b T = ['x', 'y,z']` at commas outside quotes and brackets."""
    out, cur, depth, quote, i = [], "", 0, False, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                cur += text[i:i + 2]
                i += 2
                continue
            quote = ch != "'"
        elif ch == "'":
            quote = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur, i = "", i + 1
            continue
        cur += ch
        i += 1
    if cur.strip():
        out.append(cur.strip())
    return out


def params(sql):
    """The `-- params: name Type = literal, ...` header of a query file, in order."""
    m = re.search(r"^-- params:(.*)$", sql, re.M)
    assert m, "query file without a `-- params:` line"
    if m[1].strip() == "none":
        return []
    out = []
    for item in split_top_level(m[1]):
        name, rest = item.split(None, 1)
        _, value = rest.split("=", 1)
        out.append((name, value.strip()))
    return out


def bind(sql, values):
    """Puts literals in place of the `?` placeholders (outside quotes), as the Rust client
    does client-side."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    out, quote, it = "", False, iter(values)
    for ch in body:
        if ch == "'" and not out.endswith("\\"):
            quote = not quote
        if ch == "?" and not quote:
            out += next(it)
        else:
            out += ch
    assert next(it, None) is None, "more parameters than placeholders"
    return out


def query_file(name, overrides=None):
    sql = (QUERIES / f"{name}.sql").read_text()
    ps = params(sql)
    values = [dict(ps, **(overrides or {}))[n] for n, _ in ps]
    return bind(sql, values)


def run_jobs(engine, database):
    """Runs the metric jobs over the generated data, as the aggregator's scheduler would."""
    for job, overrides in JOBS:
        engine.query(query_file(job, overrides), database)


@pytest.fixture(scope="session")
def clickhouse():
    """A private ClickHouse 18.16 server for the whole session (each test: its own database)."""
    server = ClickHouse().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chdb_engine():
    """The one in-process chdb session (current ClickHouse) every test shares."""
    from chdb import session
    s = session.Session()
    yield Chdb(s)
    s.close()


@pytest.fixture(scope="session")
def tracking_data():
    return generate()


# ---- generated data -------------------------------------------------------------------------

SITES = ["shop.example", "blog.example"]
PATHS = ["/", "/pricing", "/features", "/blog/a", "/blog/b", "/signup", "/thank-you", "/docs"]
REFERRERS = [("", "", "direct"), ("https://www.google.com/", "www.google.com", "search"),
             ("https://t.co/x", "t.co", "social"), ("https://news.example/", "news.example", "other"),
             ("https://mail.example/", "mail.example", "email")]
GEO = [("DE", "DE-BE", "Berlin"), ("FR", "FR-IDF", "Paris"), ("US", "US-NY", "New York"),
       ("GB", "GB-ENG", "London")]
DEVICES = [("Chrome", "120", "Windows", "desktop"), ("Safari", "17", "iOS", "mobile"),
           ("Firefox", "121", "Linux", "desktop"), ("Safari", "17", "iPadOS", "tablet")]
CAMPAIGNS = [("", "", ""), ("newsletter", "email", "january"), ("google", "cpc", "brand")]


def hit(rng, at, **kw):
    row = dict(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        received_at=at, ts_ms=int(at.timestamp() * 1000), site=SITES[0], type="pageview",
        url="", host="", path="/", title="", referrer="", referrer_host="", referrer_kind="direct",
        utm_source="", utm_medium="", utm_campaign="", utm_term="", utm_content="",
        country="", region="", city="", browser="", browser_version="", os="", device="desktop",
        is_bot=0, bot_reason="", ip="192.0.2.0", visitor_id="", person_id="", account_id="",
        consent=0, mailing_id="", link_id="", verdict="", event_name="", props="", client_id="",
        screen_w=1280, screen_h=800, lang="en", replica="collector-0")
    row.update(kw)
    row["host"] = row["host"] or row["site"]
    row["url"] = row["url"] or f"https://{row['host']}{row['path']}"
    return row


def generate(seed=6, visitors=300):
    """Three days of traffic on two sites: sessions with pageviews, pings, events, outbound
    links and downloads, bots, campaigns, mailing opens and clicks (human and machine), persons
    of five accounts, and a few replayed duplicates (same event_id) as the spool would make."""
    rng = random.Random(seed)
    accounts = [dict(account_id=f"acc{i}", name=f"Account {i}", domain=f"a{i}.example",
                     attributes="{}", updated_at=DATA_FROM, version=1) for i in range(1, 6)]
    persons = [dict(person_id=f"p{i:02}", account_id=f"acc{1 + i % 5}",
                    email=f"p{i:02}@a{1 + i % 5}.example", attributes="{}",
                    updated_at=DATA_FROM, version=1) for i in range(1, 41)]
    mailings = [dict(mailing_id=m, name=f"Mailing {m}", subject="Hello", sent_at=DATA_FROM,
                     attributes="{}", version=1) for m in ("m1", "m2")]
    sends, consents, links, hits = [], [], [], []
    for p in persons:
        consents.append(dict(consent_id=f"c-{p['person_id']}", person_id=p["person_id"],
                             purpose="tracking", granted=1, source="crm", text_version="v1",
                             at=DATA_FROM, recorded_by="test", recorded_at=DATA_FROM))
    for m in mailings:
        for p in persons[:30]:
            sends.append(dict(mailing_id=m["mailing_id"], person_id=p["person_id"],
                              sent_at=DATA_FROM))
    for v in range(visitors):
        vid = f"v{v:05}visitor"
        site = SITES[v % 2]
        bot = v % 10 == 9
        person = persons[v % 40] if v % 3 == 0 and not bot else None
        if person:
            links.append(dict(visitor_id=vid, person_id=person["person_id"], site=site,
                              source="click", linked_at=DATA_FROM, revoked=0, version=1))
        browser, bver, os_, device = DEVICES[v % 4]
        country, region, city = GEO[v % 4]
        ident = dict(site=site, visitor_id=vid, country=country, region=region, city=city,
                     browser=browser, browser_version=bver, os=os_,
                     device="bot" if bot else device, is_bot=int(bot),
                     bot_reason="crawler" if bot else "",
                     person_id=person["person_id"] if person else "",
                     account_id=person["account_id"] if person else "",
                     consent=1 if person else 0)
        for _ in range(rng.randint(1, 3)):
            at = DATA_FROM + timedelta(seconds=rng.randrange(0, 3 * 86400 - 7200))
            ref, ref_host, kind = REFERRERS[rng.randrange(len(REFERRERS))]
            src, med, camp = CAMPAIGNS[rng.randrange(len(CAMPAIGNS))]
            for step in range(rng.randint(1, 6)):
                path = PATHS[min(step + rng.randrange(2), len(PATHS) - 1)] if step else "/"
                first = step == 0
                hits.append(hit(rng, at, path=path, title=path.strip("/") or "home",
                                referrer=ref if first else f"https://{site}/",
                                referrer_host=ref_host if first else site,
                                referrer_kind=kind if first else "internal",
                                utm_source=src, utm_medium=med, utm_campaign=camp, **ident))
                if rng.random() < 0.5:
                    hits.append(hit(rng, at + timedelta(seconds=15), type="ping", path=path,
                                    **ident))
                if path == "/signup" and rng.random() < 0.6:
                    hits.append(hit(rng, at + timedelta(seconds=20), type="event", path=path,
                                    event_name="signup", props='{"plan":"pro"}', **ident))
                if path == "/docs":
                    hits.append(hit(rng, at + timedelta(seconds=5), type="download", path=path,
                                    url="https://cdn.example/guide.pdf", **ident))
                if path == "/blog/a":
                    hits.append(hit(rng, at + timedelta(seconds=5), type="outbound", path=path,
                                    url="https://partner.example/", **ident))
                at += timedelta(seconds=rng.randint(10, 300))
    # Mailing opens and clicks: a machine open (Apple MPP) for some, human opens and clicks,
    # and a link scanner clicking every link of a few sends.
    for m in ("m1", "m2"):
        for i, p in enumerate(persons[:30]):
            at = DATA_FROM + timedelta(hours=1 + i)
            base = dict(site=SITES[0], mailing_id=m, person_id=p["person_id"],
                        account_id=p["account_id"], consent=1, visitor_id=f"mail-{p['person_id']}")
            if i % 5 == 0:
                hits.append(hit(rng, at, type="open", verdict="apple_mpp", path="/o", **base))
            if i % 2 == 0:
                hits.append(hit(rng, at + timedelta(minutes=5), type="open", verdict="human",
                                path="/o", **base))
            if i % 3 == 0:
                link = f"l{1 + i % 2}"
                hits.append(hit(rng, at + timedelta(minutes=6), type="click", verdict="human",
                                path="/r", link_id=link, **base))
                hits.append(hit(rng, at + timedelta(minutes=7), path="/pricing",
                                referrer_kind="email", utm_source="newsletter",
                                utm_medium="email", utm_campaign=m, **base))
                hits.append(hit(rng, at + timedelta(minutes=9), type="event", path="/signup",
                                event_name="signup", **base))
            if i % 7 == 0:
                for link in ("l1", "l2"):
                    hits.append(hit(rng, at + timedelta(seconds=2), type="click",
                                    verdict="scanner", path="/r", link_id=link, is_bot=1,
                                    bot_reason="scanner", **base))
    # Replays: the spool re-sends a batch with the same event ids and times.
    hits.extend(dict(h) for h in hits[:: 37])
    goals = [dict(name="signup", definition='{"event": "signup"}', updated_at=DATA_FROM,
                  version=1)]
    funnels = [dict(name="signup", definition=json.dumps({"steps": [
        {"name": "home", "path": "/"}, {"name": "pricing", "path": "/pricing"},
        {"name": "signup", "event": "signup"}], "window_s": 86400}),
        updated_at=DATA_FROM, version=1)]
    return dict(accounts=accounts, persons=persons, mailings=mailings, mailing_sends=sends,
                consents=consents, identity_links=links, goals=goals, funnels=funnels, hits=hits)
