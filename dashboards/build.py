#!/usr/bin/env python3
# Renders the Grafana dashboards from dashboards/gen/*.py into dashboards/*.json and the Helm
# chart's copy (helm/tracking/dashboards/, since Helm cannot read outside the chart).
#   python3 dashboards/build.py          write both
#   python3 dashboards/build.py --check  exit 1 if a committed file differs from the sources
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "gen"))

import funnels  # noqa: E402
import health  # noqa: E402
import mailing  # noqa: E402
import pages  # noqa: E402
import people  # noqa: E402
import traffic  # noqa: E402

MODULES = [traffic, mailing, pages, funnels, people, health]
OUTPUTS = [HERE, HERE.parent / "helm" / "tracking" / "dashboards"]


def render():
    out = {}
    for m in MODULES:
        d = m.build()
        out[d["uid"].removeprefix("tracking-") + ".json"] = json.dumps(d, indent=2) + "\n"
    return out


def main(check):
    stale = []
    for name, text in render().items():
        for folder in OUTPUTS:
            path = folder / name
            if check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path))
            else:
                folder.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if stale:
        print("out of date (run python3 dashboards/build.py):\n  " + "\n  ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
