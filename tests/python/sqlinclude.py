# Expands the `-- @include fragments/NAME.sql (arg=value; ...)` lines of the aggregator's SQL
# files (sql/queries/*.sql), exactly as aggregator/build.rs does (the same text byte for byte:
# the Rust test `queries::tests::the_python_expander_writes_the_same_text` runs this file as a
# script and compares). The rules are in sql/queries/fragments/README.md; in short: the line is
# replaced by the fragment's SQL (its leading `--` header dropped), each line indented like
# the include line, every `{{arg}}` replaced by its value. An unknown fragment, a missing or
# unused argument, a nested include or a malformed line is an error naming file and line.
import json
import re
import sys
from pathlib import Path

QUERIES = Path(__file__).resolve().parents[2] / "sql" / "queries"
DIRECTIVE = "-- @include"
ARG_NAME = re.compile(r"[a-z_][a-z0-9_]*")
FRAGMENT_PATH = re.compile(r"fragments/[a-z0-9_]+\.sql")
BLANKS = " \t"


class IncludeError(Exception):
    """A query file whose include lines cannot be expanded; the message names file and line."""


def parse_directive(rest, where):
    """The fragment path and arguments of an include line, `rest` following `-- @include`."""
    usage = "expected `-- @include fragments/NAME.sql (arg=value; ...)`"
    if not rest.startswith(" "):
        raise IncludeError(f"{where}: {usage}")
    rest = rest.strip(BLANKS)
    path, _, tail = rest.partition(" ")
    tail = tail.strip(BLANKS)
    if not FRAGMENT_PATH.fullmatch(path):
        raise IncludeError(f"{where}: `{path}` is not a fragment path; {usage}")
    args = {}
    if not tail:
        return path, args
    if not (tail.startswith("(") and tail.endswith(")")):
        raise IncludeError(f"{where}: arguments must be in parentheses; {usage}")
    inner = tail[1:-1]
    if not inner.strip(BLANKS):
        return path, args
    for item in inner.split(";"):
        name, eq, value = item.partition("=")
        name = name.strip(BLANKS)
        if not eq or not ARG_NAME.fullmatch(name):
            raise IncludeError(f"{where}: `{item.strip(BLANKS)}` is not `name=value`; {usage}")
        if name in args:
            raise IncludeError(f"{where}: argument `{name}` given twice")
        args[name] = value.strip(BLANKS)
    return path, args


def substitute(line, args, used, where):
    """The line with every `{{name}}` replaced by its argument."""
    out, pos = "", 0
    while True:
        start = line.find("{{", pos)
        if start < 0:
            return out + line[pos:]
        end = line.find("}}", start + 2)
        if end < 0:
            raise IncludeError(f"{where}: `{{{{` without `}}}}`")
        name = line[start + 2:end]
        if not ARG_NAME.fullmatch(name):
            raise IncludeError(f"{where}: `{{{{{name}}}}}` is not an argument name")
        if name not in args:
            raise IncludeError(f"{where}: missing argument `{name}`")
        used.add(name)
        out += line[pos:start] + args[name]
        pos = end + 2


def fragment_lines(path, text, args, where):
    """The fragment's SQL lines (its leading `--` header dropped) with the arguments in."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    skip = 0
    while skip < len(lines) and lines[skip].startswith("--"):
        skip += 1
    if skip == len(lines):
        raise IncludeError(f"{where}: {path} has no SQL after its header")
    used, out = set(), []
    for no, line in enumerate(lines[skip:], skip + 1):
        at = f"{where}: {path}:{no}"
        if line.lstrip(BLANKS).startswith(DIRECTIVE):
            raise IncludeError(f"{at}: a fragment cannot include another")
        out.append(substitute(line, args, used, at))
    unused = sorted(set(args) - used)
    if unused:
        raise IncludeError(f"{where}: {path} has no `{{{{{unused[0]}}}}}`")
    return out


def expand(text, shown, read_fragment):
    """The query text with its include lines expanded; `shown` names the file in errors and
    `read_fragment(path)` gives a fragment's text, or None when there is no such file."""
    out = []
    for no, line in enumerate(text.split("\n"), 1):
        body = line.lstrip(BLANKS)
        if not body.startswith(DIRECTIVE):
            out.append(line)
            continue
        where = f"{shown}:{no}"
        path, args = parse_directive(body[len(DIRECTIVE):], where)
        fragment = read_fragment(path)
        if fragment is None:
            raise IncludeError(f"{where}: unknown fragment {path}")
        indent = line[:len(line) - len(body)]
        out.extend(indent + l if l else "" for l in fragment_lines(path, fragment, args, where))
    return "\n".join(out)


def read_fragment(path):
    file = QUERIES / path
    return file.read_text() if file.is_file() else None


def read_query(path):
    """The text of a query file (a Path, or a name under sql/queries/) as the aggregator sends
    it: fragments expanded."""
    path = QUERIES / path if not isinstance(path, Path) else path
    return expand(path.read_text(), f"sql/queries/{path.name}", read_fragment)


def expand_all():
    """Every sql/queries/*.sql by file name, expanded."""
    return {p.name: read_query(p) for p in sorted(QUERIES.glob("*.sql"))}


if __name__ == "__main__":
    # `python3 tests/python/sqlinclude.py`: every expanded query as one JSON object (for the
    # Rust test that compares this expander with build.rs).
    try:
        json.dump(expand_all(), sys.stdout, sort_keys=True)
    except IncludeError as e:
        sys.exit(f"error: {e}")
