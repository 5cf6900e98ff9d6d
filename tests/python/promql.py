# PromQL checks shared by the dashboard and Helm tests: the metric names an expression
# selects, and the names the binaries' catalogues export (METRIC_NAMES in telemetry.rs).
import re

from conftest import ROOT

CATALOGUES = [ROOT / "collector/src/telemetry.rs", ROOT / "aggregator/src/telemetry.rs"]

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "le", "inf", "nan"}


def str_consts(path):
    return dict(re.findall(r'const\s+(\w+)\s*:\s*&(?:\'static\s+)?str\s*=\s*"([^"]+)"',
                           path.read_text()))


def module_file(catalogue, module_path):
    """The file of `crate::a::b` for a catalogue at <crate>/src/...: src/a/b.rs or mod.rs."""
    parts = module_path.split("::")
    assert parts[0] == "crate", f"{catalogue}: cannot resolve {module_path}::"
    src = next(p for p in catalogue.parents if p.name == "src")
    for f in (src.joinpath(*parts[1:]).with_suffix(".rs"), src.joinpath(*parts[1:], "mod.rs")):
        if f.exists():
            return f
    raise AssertionError(f"{catalogue}: no file for module {module_path}")


def catalogue_names(path):
    """The metric names a telemetry.rs exports: its METRIC_NAMES list, with constants resolved
    (also `crate::module::CONST` items, read from that module's file)."""
    src = path.read_text()
    m = re.search(r"METRIC_NAMES\s*:\s*&\[&(?:'static\s+)?str\]\s*=\s*&\[(.*?)\];", src, re.S)
    assert m, f"{path}: no `pub const METRIC_NAMES: &[&str] = &[...]`"
    body = re.sub(r"//[^\n]*", "", m[1])
    names = set(re.findall(r'"([^"]+)"', body))
    for module, ident in re.findall(r"((?:\w+::)*)([A-Z][A-Z0-9_]*)\b",
                                    re.sub(r'"[^"]*"', "", body)):
        consts = str_consts(module_file(path, module[:-2]) if module else path)
        assert ident in consts, f"{path}: METRIC_NAMES names {module}{ident}, not a &str constant"
        names.add(consts[ident])
    return names


def known_metrics():
    present = [p for p in CATALOGUES if p.exists()]
    assert present, "no metric catalogue exists yet (collector or aggregator telemetry.rs)"
    names = set()
    for p in present:
        names |= catalogue_names(p)
    return names, [p for p in CATALOGUES if not p.exists()]


def metric_names(expr):
    """Series names an expression selects: identifiers that are not functions, keywords,
    label names or label values."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    out = []
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        word, rest = m[0], e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        out.append(word)
    return out


def base_name(name, known):
    if name in known:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in known:
            return name[: -len(suffix)]
    return None


def uncatalogued(exprs):
    """(where, name) of every series name in [(where, expr)] that no catalogue exports; fails
    on an expression that selects no metric at all. A name from a catalogue that does not
    exist yet cannot be judged; once both exist every name must be found (the prefix tells
    which binary a name belongs to)."""
    known, missing = known_metrics()
    unknown = []
    for where, expr in exprs:
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        unknown += [(where, n) for n in names if base_name(n, known) is None]
    return [(w, n) for w, n in unknown if not any(n.startswith(p.parts[-3] + "_") for p in missing)]
