#!/usr/bin/env python3
# Writes the cluster variant of the schema: for every sql/migrations/NNNN_name.sql a
# sql/cluster/NNNN_name.sql with the same version, in which each table becomes a local table
# `<name>_local` on every node plus a Distributed table under the original name, so the
# binaries' queries run unchanged. `{cluster}` and `{database}` are filled in at migrate time.
#   python3 sql/cluster/generate.py          write the files
#   python3 sql/cluster/generate.py --check  exit 1 when a file is missing or out of date
#
# Placement of each table (add new tables here; an unknown table is an error):
# - SHARDED: big tables, spread over the shards of cluster {cluster} by the key. hits and
#   r_pageviews by visitor, so a visitor's sessions are computed on one shard.
# - EVERYWHERE: small tables written to every node through cluster {cluster}_all (one shard,
#   every node a replica, internal_replication false), so a shard joins them locally (with
#   distributed_product_mode = 'local', see README "Operating it").
# - LOCAL: per-node tables, not distributed (the migration ledger of that node).
# - daily_salts is SHARDED with a random key but never written through its Distributed table:
#   each collector proposes into daily_salts_local of the node it talks to and reads min(salt)
#   of the day through daily_salts (every shard), so collectors on different nodes agree on one
#   salt; each collector deletes past days from its node's daily_salts_local (a mutation, which
#   a Distributed table refuses), so a node holds past salts only until a collector next syncs
#   through it (collector/src/salt.rs).
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "sql" / "migrations"
OUT = ROOT / "sql" / "cluster"

SHARDED = {
    "hits": "sipHash64(visitor_id)",
    "r_pageviews": "sipHash64(visitor_id)",
    "r_pageviews_v2": "sipHash64(visitor_id)",
    "r_activities": "sipHash64(person_id)",
    "r_mailing_recipients": "sipHash64(person_id)",
    "r_mailing_links": "sipHash64(mailing_id)",
    "r_mail_hits": "sipHash64(mailing_id)",
    "r_page_daily": "sipHash64(site, path)",
    "r_page_spans": "sipHash64(site, path)",
    "r_page_span_sums": "sipHash64(site, path)",
    "r_page_days": "sipHash64(site, path)",
    "daily_salts": "rand()",
}
EVERYWHERE = {"accounts", "persons", "mailings", "mailing_sends", "consents", "identity_links",
              "identity_conflicts", "erasures", "goals", "funnels", "r_generations",
              "r_funnel_spans", "r_funnel_steps", "r_funnel_span_persons"}
LOCAL = {"schema_migrations"}

HEADER = """-- Cluster variant of sql/migrations/{name} (written by sql/cluster/generate.py; edit the
-- migration or the generator, not this file). Applied by `aggregator migrate` on every node
-- whose config has the macro tracking_cluster; {{cluster}} and {{database}} are filled in.
-- Local tables use the single-node engines; with replicas, use the Replicated* engine of
-- the same family, e.g. ReplicatedReplacingMergeTree('/clickhouse/tables/{{shard}}/{{database}}/hits_local', '{{replica}}')
-- (needs ZooKeeper) and set internal_replication = true for the shards.
"""

CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\s*(\(.*\))\s*(ENGINE\s*=.*)", re.S)
ALTER = re.compile(r"ALTER TABLE (\w+)\s+(.*)", re.S)


def statements(sql):
    """Like common::schema::statements: `;` at a line end ends one, `--` lines dropped."""
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
    if "\n".join(cur).strip():
        out.append("\n".join(cur).strip())
    return out


def placement(table):
    if table in SHARDED:
        return "{cluster}", SHARDED[table]
    if table in EVERYWHERE:
        return "{cluster}_all", "rand()"
    if table in LOCAL:
        return None, None
    raise SystemExit(f"sql/cluster/generate.py: place table {table!r} in SHARDED, EVERYWHERE "
                     "or LOCAL")


def convert(stmt):
    m = CREATE.fullmatch(stmt)
    if m:
        table, columns, engine = m.groups()
        cluster, key = placement(table)
        if cluster is None:
            return [stmt]
        return [f"CREATE TABLE IF NOT EXISTS {table}_local\n{columns}\n{engine}",
                f"CREATE TABLE IF NOT EXISTS {table} AS {table}_local\n"
                f"ENGINE = Distributed({cluster}, {{database}}, {table}_local, {key})"]
    m = ALTER.fullmatch(stmt)
    if m and re.match(r"(ADD|DROP|MODIFY|COMMENT) COLUMN", m[2]):
        table, change = m.groups()
        if placement(table)[0] is None:
            return [stmt]
        return [f"ALTER TABLE {table}_local {change}", f"ALTER TABLE {table} {change}"]
    raise SystemExit(f"sql/cluster/generate.py: cannot translate statement:\n{stmt}")


def render(path):
    parts = [HEADER.format(name=path.name)]
    for stmt in statements(path.read_text()):
        parts += [s + ";\n" for s in convert(stmt)]
    return "\n".join(parts)


def main(check):
    stale = []
    wanted = {p.name: render(p) for p in sorted(SRC.glob("*.sql"))}
    for name, text in wanted.items():
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    extra = {p.name for p in OUT.glob("*.sql")} - set(wanted)
    if extra:
        stale += sorted(extra)
        if not check:
            for name in extra:
                (OUT / name).unlink()
    if check and stale:
        print("sql/cluster out of date (run python3 sql/cluster/generate.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
