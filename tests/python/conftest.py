# Shared pytest fixtures: private ClickHouse 18.16 servers on free loopback ports (started
# through scripts/clickhouse, stopped at session end), the migrations applied the way
# `aggregator migrate` applies them, one in-process chdb session (current ClickHouse), and the
# generated tracking data (tracking_data.py). Test files import helpers from here.
import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from sqlfiles import JOBS, QUERIES, bind, params, query_file, run_jobs  # noqa: F401
from tracking_data import DATA_FROM, DATA_TO, generate  # noqa: F401

# chdb's DateTime follows the process time zone; the servers run in UTC.
os.environ.setdefault("TZ", "UTC")

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "sql" / "migrations"


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
