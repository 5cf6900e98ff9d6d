# The SQL fragment expander of the Python tests (sqlinclude.py): what an include line becomes,
# and that every mistake is an error naming file and line. (That it writes the same bytes as
# aggregator/build.rs is checked by a Rust test in queries.rs, which runs sqlinclude.py.)
import pytest

from sqlinclude import QUERIES, IncludeError, expand, expand_all, read_query

BAND = "-- Doc line, not copied.\n-- args: n\nSELECT x AS lo_{{n}}\n\n  FROM t -- {{n}}{{n}}\n"
FRAGMENTS = {
    "fragments/band.sql": BAND,
    "fragments/nested.sql": "-- h\n  -- @include fragments/band.sql\n",
    "fragments/doc_only.sql": "-- only a header\n",
}


def run(text):
    return expand(text, "sql/queries/q.sql", FRAGMENTS.get)


def test_an_include_becomes_the_fragment_indented_with_its_arguments():
    text = "SELECT 1\n    -- @include fragments/band.sql (n=7)\nEND\n"
    assert run(text) == "SELECT 1\n    SELECT x AS lo_7\n\n      FROM t -- 77\nEND\n"


def test_values_keep_commas_and_parentheses_and_are_trimmed():
    frag = {"fragments/x.sql": "-- h\nGROUP BY {{keys}}, {{to}}"}
    text = "-- @include fragments/x.sql ( keys = site, visitor_id ;to=f(?, 1) )"
    assert expand(text, "q", frag.get) == "GROUP BY site, visitor_id, f(?, 1)"


def test_text_without_includes_is_unchanged():
    text = "-- params: none\nSELECT '{{not a placeholder}}'\n-- @ include\n"
    assert run(text) == text


@pytest.mark.parametrize("text, want", [
    ("x\n-- @include fragments/nope.sql", "q.sql:2: unknown fragment"),
    ("-- @include fragments/band.sql", "q.sql:1: fragments/band.sql:3: missing argument `n`"),
    ("-- @include fragments/band.sql (n=1; m=2)", "q.sql:1: fragments/band.sql has no `{{m}}`"),
    ("-- @include fragments/band.sql (n=1; n=2)", "q.sql:1: argument `n` given twice"),
    ("-- @include fragments/band.sql (n)", "q.sql:1: `n` is not `name=value`"),
    ("-- @include fragments/band.sql n=1", "q.sql:1: arguments must be in parentheses"),
    ("-- @include ../secret.sql", "q.sql:1: `../secret.sql` is not a fragment path"),
    ("-- @includes fragments/band.sql", "q.sql:1: expected"),
    ("\n\n-- @include fragments/nested.sql", "q.sql:3: fragments/nested.sql:2: a fragment cannot"),
    ("-- @include fragments/doc_only.sql", "q.sql:1: fragments/doc_only.sql has no SQL"),
])
def test_errors_name_the_file_and_line(text, want):
    with pytest.raises(IncludeError) as e:
        run(text)
    assert str(e.value).startswith("sql/queries/" + want), str(e.value)


def test_every_query_file_expands_and_the_bridge_rule_is_written_once():
    queries = expand_all()
    assert len(queries) == len(list(QUERIES.glob("*.sql"))) > 40
    rule = "min(ts_ms >= (toUInt64(toDate(received_at)) + 1) * 86400000 - 1800000) = 0"
    raw = [p.name for p in QUERIES.rglob("*.sql") if rule in p.read_text()]
    assert raw == ["bridge_visitors.sql"], raw
    users = {"job_pageviews.sql": 2, "job_activities.sql": 2, "fingerprint_bridges.sql": 2}
    for name, copies in users.items():
        assert queries[name].count(rule) == copies, name
        assert "@include" not in queries[name] and "{{" not in queries[name], name
    assert read_query("job_pageviews.sql") == queries["job_pageviews.sql"]
