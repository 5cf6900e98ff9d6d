# Grafana's own schema for the committed dashboards: tests/dashboard-schema/check.mjs type-checks
# each dashboards/*.json against @grafana/schema (the TypeScript types Grafana generates from its
# CUE dashboard and panel kinds) with the TypeScript compiler. There is no Grafana server here,
# so this is the schema half of loading a dashboard (unknown keys, wrong value types, unknown
# panel types, bad panel options), not Grafana's migration code. The second test feeds it
# broken copies to show that it catches each kind of mistake.
import copy
import json
import shutil
import subprocess

import pytest

from conftest import ROOT

CHECK = ROOT / "tests" / "dashboard-schema"


def run_check(*files):
    if not (CHECK / "node_modules" / "@grafana" / "schema").is_dir():
        pytest.fail("tests/dashboard-schema/node_modules is missing: run scripts/setup")
    node = shutil.which("node")
    assert node, "node is missing: run scripts/setup"
    return subprocess.run([node, str(CHECK / "check.mjs"), *map(str, files)],
                          capture_output=True, text=True, timeout=300)


def test_every_dashboard_fits_grafanas_schema():
    r = run_check()
    assert r.returncode == 0, r.stdout + r.stderr
    n = len(list((ROOT / "dashboards").glob("*.json")))
    assert f"{n} dashboards checked" in r.stdout and "0 problem(s)" in r.stdout


def first_panel(d, kind):
    return next(p for p in d["panels"] if p["type"] == kind)


MISTAKES = {
    # name: (how to break a copy of traffic.json, text the compiler names)
    "misspelt panel key": (lambda d: d["panels"][0].update(gridpos={"x": 0}), "gridpos"),
    "unknown stat option value": (
        lambda d: first_panel(d, "stat")["options"].update(colorMode="rainbow"), "rainbow"),
    "unknown panel type": (lambda d: d["panels"][0].update(type="graph-old"), "graph-old"),
    "number where a string belongs": (
        lambda d: d["panels"][0]["fieldConfig"]["defaults"].update(unit=5), "unit"),
    "unknown dashboard key": (lambda d: d.update(refreshh="1m"), "refreshh"),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_the_check_catches_mistakes(mistake, tmp_path):
    breaker, named = MISTAKES[mistake]
    d = copy.deepcopy(json.loads((ROOT / "dashboards" / "traffic.json").read_text()))
    breaker(d)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(d, indent=2))
    r = run_check(broken)
    assert r.returncode == 1, r.stdout + r.stderr
    assert named in r.stderr, r.stderr
