# The aggregator's SQL files (sql/queries/*.sql) as the tests run them: fragments expanded
# (read_query, from sqlinclude.py, the same text aggregator/build.rs compiles in), the
# `-- params:` header of each file gives its placeholders' names and sample literals, bound
# client-side the way the Rust client binds `?`; JOBS is the order the scheduler runs the
# metric jobs in. Read query files with read_query, never directly: a file's include lines
# are comments until expanded.
import re

from sqlinclude import QUERIES, read_query  # noqa: F401

# The metric jobs in the order the aggregator runs them, then the commits that make their
# generation visible to readers; each with the parameters that differ from its file's defaults.
JOBS = [
    ("job_pageviews", {}),
    ("job_page_daily", {}),
    ("job_activities", {}),
    ("job_mail_hits", {}),
    ("commit_generations", {}),
    ("job_mailing_recipients", {}),
    ("job_mailing_links", {}),
    ("commit_generations", {"job": "'mailings'", "buckets": "['m1','m2']",
                            "fingerprints": "['x','y']"}),
    ("job_page_spans_days", {}),
    ("job_page_spans_sums", {}),
    ("job_page_spans_months", {}),
    ("job_funnel_spans", {}),
    ("job_funnel_steps", {}),
    ("job_funnel_span_persons", {}),
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
    sql = read_query(f"{name}.sql")
    ps = params(sql)
    values = [dict(ps, **(overrides or {}))[n] for n, _ in ps]
    return bind(sql, values)


def run_jobs(engine, database):
    """Runs the metric jobs over the generated data, as the aggregator's scheduler would."""
    for job, overrides in JOBS:
        engine.query(query_file(job, overrides), database)
