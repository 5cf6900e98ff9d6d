# The identity queries (sql/identity/*.sql: the collector's consent directory and the
# aggregator's link revocation) give the same, known results on ClickHouse 18.16 and on
# current ClickHouse (in-process chdb), over a small hand-made ledger.
import re
import uuid

import pytest

from conftest import ROOT

IDENTITY = ROOT / "sql" / "identity"

# Consents: alice granted; bob granted then withdrew; carol granted and withdrew in the same
# second (withdrawal wins); dave withdrew then granted again; erin only for another purpose.
LEDGER = [
    "INSERT INTO consents VALUES "
    "('1','alice','tracking',1,'form','v1',1700000000,'api',1700000000),"
    "('2','bob','tracking',1,'form','v1',1700000000,'api',1700000000),"
    "('3','bob','tracking',0,'centre','v1',1700000100,'api',1700000100),"
    "('4','carol','tracking',1,'form','v1',1700000000,'api',1700000000),"
    "('5','carol','tracking',0,'form','v1',1700000000,'api',1700000000),"
    "('6','dave','tracking',0,'form','v1',1700000000,'api',1700000000),"
    "('7','dave','tracking',1,'form','v1',1700000200,'api',1700000200),"
    "('8','erin','newsletter',1,'form','v1',1700000000,'api',1700000000)",
    "INSERT INTO persons VALUES ('alice','old-acct','','{}',1700000000,1),"
    "('alice','acme','','{}',1700000000,2),('dave','globex','','{}',1700000000,1)",
    # v1: alice; v2: bob then a revocation; v3: carol then alice (newer), both live;
    # v4: bob's live link (revoked by the revocation query below).
    "INSERT INTO identity_links VALUES ('v1','alice','shop','pt',1700000000,0,10),"
    "('v2','bob','shop','pt',1700000000,0,10),('v2','bob','shop','withdrawal',1700000000,1,20),"
    "('v3','carol','shop','pt',1700000000,0,10),('v3','alice','shop','pt',1700000000,0,30),"
    "('v4','bob','blog','pt',1700000000,0,10)",
    "INSERT INTO mailings VALUES ('m1','n','s',1700000000,'{}',1),('m1','n','s',1700000500,'{}',2)",
    "INSERT INTO mailing_sends VALUES ('m1','alice',1700000600),('m1','alice',1700000700)",
]

EXPECTED = {
    "directory_consented.sql": "alice\tacme\ndave\tglobex",
    "directory_links.sql": "blog\tv4\tbob\nshop\tv1\talice\nshop\tv3\talice",
    "directory_sends.sql": "m1\talice\t1700000700",
    "directory_mailings.sql": "m1\t1700000500",
}


def render(sql):
    """Comment lines dropped, each `?` replaced by its `-- params:` sample."""
    header = re.search(r"^-- params:(.*)$", sql, re.M).group(1).strip()
    samples = [] if header == "none" else [
        m.group(1) for m in re.finditer(r"\w+ [\w()]+ = (\[[^\]]*\]|[^,]+)", header)]
    body = "\n".join(l for l in sql.splitlines() if not l.lstrip().startswith("--"))
    parts = body.split("?")
    assert len(parts) - 1 == len(samples)
    out = [parts[0]]
    for value, part in zip(samples, parts[1:]):
        out += [value.strip(), part]
    return "".join(out)


def rows(engine, db, sql):
    """Sorted TSV lines, so both engines compare whatever order they return."""
    text = engine.query(sql + "\nFORMAT TSV", db) if "FORMAT" not in sql else engine.query(sql, db)
    return "\n".join(sorted(l for l in text.splitlines() if l))


@pytest.mark.parametrize("which", ["clickhouse", "chdb_engine"])
def test_identity_queries(which, request):
    engine = request.getfixturevalue(which)
    db = "ident_" + uuid.uuid4().hex[:8]
    engine.migrate(db)
    for stmt in LEDGER:
        engine.query(stmt, db)
    for name, want in EXPECTED.items():
        assert rows(engine, db, render((IDENTITY / name).read_text())) == want, name
    engine.query(render((IDENTITY / "revoke_links.sql").read_text()), db)
    # bob withdrew: his live link v4 is revoked (v2 was already); carol's withdrawal revokes
    # her older v3 link too; alice and dave keep theirs.
    revoked = rows(engine, db, "SELECT visitor_id, person_id, version FROM identity_links "
                               "WHERE source = 'withdrawal' AND version = 99")
    assert revoked == "v3\tcarol\t99\nv4\tbob\t99"
    links = rows(engine, db, render((IDENTITY / "directory_links.sql").read_text()))
    assert links == "shop\tv1\talice\nshop\tv3\talice"
